"""Favourites: the booths and products a signed-in user bookmarks, listed on their favourites page."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import services
from booths.models import Booth, Favourite, FavouriteKind, Product
from expo.accounts.models import User


async def _check_target(session: AsyncSession, kind: FavouriteKind, target_id: int, user: User) -> None:
    """:class:`~expo.errors.NotFound` unless ``user`` may see the booth or product."""
    if kind is FavouriteKind.BOOTH:
        await services.get_booth(session, target_id, user)
    else:
        await services.get_product(session, target_id, user)


async def is_favourite(session: AsyncSession, user: User | None, kind: FavouriteKind, target_id: int) -> bool:
    if user is None or user.id is None:
        return False
    return await session.get(Favourite, (user.id, kind.value, target_id)) is not None


async def set_favourite(
    session: AsyncSession, user: User, kind: FavouriteKind, target_id: int, on: bool
) -> bool:
    """Add (``on``) or remove a favourite; idempotent. Returns the new state."""
    assert user.id is not None
    await _check_target(session, kind, target_id, user)
    existing = await session.get(Favourite, (user.id, kind.value, target_id))
    if on and existing is None:
        session.add(Favourite(user_id=user.id, kind=kind.value, target_id=target_id))
    elif not on and existing is not None:
        await session.delete(existing)
    await session.commit()
    return on


async def list_favourites(
    session: AsyncSession, user: User
) -> tuple[list[Booth], list[tuple[Product, Booth]]]:
    """The user's favourite booths and products that they may still see, newest first."""
    rows = (
        await session.exec(
            select(Favourite).where(Favourite.user_id == user.id).order_by(col(Favourite.created_at).desc())
        )
    ).all()
    booth_ids = [f.target_id for f in rows if f.kind == FavouriteKind.BOOTH.value]
    product_ids = [f.target_id for f in rows if f.kind == FavouriteKind.PRODUCT.value]
    booths = {b.id: b for b in (await session.exec(select(Booth).where(col(Booth.id).in_(booth_ids)))).all()}
    products = (await session.exec(select(Product).where(col(Product.id).in_(product_ids)))).all()
    owners = {
        b.id: b
        for b in (
            await session.exec(select(Booth).where(col(Booth.id).in_({p.booth_id for p in products})))
        ).all()
    }
    visible_booths = [
        booths[i] for i in booth_ids if i in booths and await services.can_see_booth(session, booths[i], user)
    ]
    by_id = {p.id: p for p in products}
    visible_products = [
        (by_id[i], owners[by_id[i].booth_id])
        for i in product_ids
        if i in by_id and await services.can_see_booth(session, owners[by_id[i].booth_id], user)
    ]
    return visible_booths, visible_products
