"""A booth's products: reading, checking, creating, changing and removing them."""

from __future__ import annotations

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search
from booths.models import Booth, Product
from booths.services.access import can_see_booth, require_booth_editor
from booths.services.fields import ProductFields, assign, check_currency, check_translations
from booths.services.layout import get_category
from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import Invalid, NotFound
from expo.expos.models import Expo

PAGE_SIZE = 50


async def get_product(
    session: AsyncSession, product_id: int, viewer: User | None = None
) -> tuple[Product, Booth]:
    """The product and its booth if ``viewer`` may see the booth, else :class:`NotFound`."""
    product = await session.get(Product, product_id)
    booth = await session.get(Booth, product.booth_id) if product is not None else None
    if product is None or booth is None or not await can_see_booth(session, booth, viewer):
        raise NotFound(f"There is no product {product_id}.", code="product.unknown")
    return product, booth


async def list_products(session: AsyncSession, booth: Booth, *, page: int = 1) -> tuple[int, list[Product]]:
    where = Product.booth_id == booth.id
    total = (await session.exec(select(func.count()).select_from(Product).where(where))).one()
    query = (
        select(Product).where(where).order_by(col(Product.id)).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    )
    return int(total), list((await session.exec(query)).all())


async def check_product(
    session: AsyncSession, expo: Expo, product: Product, fields: ProductFields
) -> list[str]:
    """Check ``fields`` against every rule, then apply them to ``product``; the changed names."""
    changes = fields.model_dump(exclude_unset=True)
    if "translations" in changes:
        changes["translations"] = check_translations(expo, fields.translations)
    if changes.get("currency") is not None:
        check_currency(changes["currency"])
    if changes.get("category_id") is not None:
        await get_category(session, expo, changes["category_id"])
    if "tags" in changes:
        tags = [t.strip() for t in fields.tags or [] if t.strip()]
        if any(len(t) > 50 for t in tags):
            raise Invalid("A tag has at most 50 characters.", code="product.invalid_tags")
        changes["tags"] = tags
    for name, value in changes.items():
        if value is None and name in ("name", "description", "translations", "tags"):
            if name == "name":
                raise Invalid("A product needs a name.", code="product.invalid_name")
            changes[name] = "" if name == "description" else {} if name == "translations" else []
    merged = {k: changes.get(k, getattr(product, k)) for k in ("price_min", "price_max", "currency")}
    check_prices(merged["price_min"], merged["price_max"], merged["currency"])
    assign(product, changes)
    return sorted(changes)


def check_prices(price_min: int | None, price_max: int | None, currency: str | None) -> None:
    if price_min is not None and price_max is not None and price_max < price_min:
        raise Invalid("The highest price is below the lowest.", code="product.invalid_prices")
    if (price_min is not None or price_max is not None) and currency is None:
        raise Invalid("A price needs a currency.", code="product.missing_currency")


async def create_product(session: AsyncSession, booth: Booth, fields: ProductFields, actor: User) -> Product:
    await require_booth_editor(session, booth, actor)
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and booth.id is not None
    if not fields.name:
        raise Invalid("A product needs a name.", code="product.invalid_name")
    product = Product(booth_id=booth.id, expo_id=booth.expo_id, name=fields.name)
    await check_product(session, expo, product, fields)
    session.add(product)
    await session.flush()
    assert product.id is not None
    audit.record(
        session, "product.created", actor_id=actor.id, target=f"product:{product.id}", booth_id=booth.id
    )
    await search.reindex_products(session, product.expo_id, [product.id])
    await session.commit()
    return product


async def update_product(
    session: AsyncSession, product: Product, booth: Booth, fields: ProductFields, actor: User
) -> Product:
    await require_booth_editor(session, booth, actor)
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and product.id is not None
    changed = await check_product(session, expo, product, fields)
    product.updated_at = utcnow()
    session.add(product)
    await session.flush()
    audit.record(
        session, "product.updated", actor_id=actor.id, target=f"product:{product.id}", fields=changed
    )
    await search.reindex_products(session, product.expo_id, [product.id])
    await session.commit()
    return product


async def delete_product(session: AsyncSession, product: Product, booth: Booth, actor: User) -> None:
    await require_booth_editor(session, booth, actor)
    assert product.id is not None
    await search.delete_docs(session, [search.product_doc_id(product.expo_id, product.id)])
    audit.record(
        session, "product.deleted", actor_id=actor.id, target=f"product:{product.id}", booth_id=booth.id
    )
    await session.delete(product)
    await session.commit()
