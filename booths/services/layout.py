"""An expo's layout: its halls and its product category tree (organizers change them).

Deleting a hall that booths stand in, or a category that products are filed under, is refused
(:class:`~expo.errors.Conflict` with the ``count``) unless the caller says where they go: another
hall or category, or none. A category with subcategories is refused until they are moved or
deleted. Nothing is left pointing at a deleted row without the organizer having chosen it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search
from booths.models import Booth, Category, Hall, Product
from booths.services.access import require_in_expo
from booths.services.fields import CategoryFields, HallFields, assign, check_translations
from expo import audit
from expo.accounts.models import User
from expo.errors import Conflict, Invalid, NotFound
from expo.expos.models import Expo
from expo.permissions import Perm


async def list_halls(session: AsyncSession, expo: Expo) -> list[Hall]:
    query = select(Hall).where(Hall.expo_id == expo.id).order_by(col(Hall.position), col(Hall.id))
    return list((await session.exec(query)).all())


async def get_hall(session: AsyncSession, expo: Expo, hall_id: int) -> Hall:
    hall = await session.get(Hall, hall_id)
    if hall is None or hall.expo_id != expo.id:
        raise NotFound(f"This expo has no hall {hall_id}.", code="hall.unknown")
    return hall


async def save_hall(
    session: AsyncSession, expo: Expo, fields: HallFields, actor: User, hall: Hall | None = None
) -> Hall:
    """Create a hall (``hall`` is ``None``) or change one; organizers only."""
    assert expo.id is not None
    await require_in_expo(session, expo.id, actor, Perm.CHANGE_EXPO)
    changes = fields.model_dump(exclude_unset=True)
    if hall is None:
        if not fields.name:
            raise Invalid("A hall needs a name.", code="hall.invalid_name")
        hall = Hall(expo_id=expo.id, name=fields.name)
    if "translations" in changes:
        changes["translations"] = check_translations(expo, fields.translations)
    if any(value is None for value in changes.values()):
        raise Invalid("A hall's fields cannot be emptied with null.", code="hall.invalid")
    assign(hall, changes)
    session.add(hall)
    await session.flush()
    audit.record(session, "hall.saved", actor_id=actor.id, target=f"hall:{hall.id}", fields=sorted(changes))
    await session.commit()
    return hall


async def count_booths_in(session: AsyncSession, hall: Hall) -> int:
    query = select(func.count()).select_from(Booth).where(Booth.hall_id == hall.id)
    return int((await session.exec(query)).one())


async def delete_hall(
    session: AsyncSession, hall: Hall, actor: User, *, move_to: Hall | None = None, unplace: bool = False
) -> None:
    """Remove a hall. Its booths move to ``move_to``, or with ``unplace`` stay without a hall;
    with neither, a hall that has booths is refused (``hall.in_use``, with their ``count``)."""
    await require_in_expo(session, hall.expo_id, actor, Perm.CHANGE_EXPO)
    if move_to is not None and (move_to.expo_id != hall.expo_id or move_to.id == hall.id):
        raise Invalid("Move the booths to another hall of this expo.", code="hall.invalid_move")
    booths = list((await session.exec(select(Booth).where(Booth.hall_id == hall.id))).all())
    if booths and move_to is None and not unplace:
        raise Conflict(
            f"{hall.name} has {len(booths)} booth(s): choose another hall for them, or none.",
            code="hall.in_use",
            count=len(booths),
        )
    for booth in booths:
        booth.hall_id = move_to.id if move_to is not None else None
        session.add(booth)
    audit.record(
        session,
        "hall.deleted",
        actor_id=actor.id,
        target=f"hall:{hall.id}",
        name=hall.name,
        booths=len(booths),
        moved_to=move_to.id if move_to is not None else None,
    )
    await session.delete(hall)
    await session.flush()
    await search.reindex_booths(session, hall.expo_id, [b.id for b in booths if b.id is not None])
    await session.commit()


def _swap(rows: list[Any], index: int, step: int) -> list[Any]:
    """The rows with the one at ``index`` moved ``step`` places (clamped to the list)."""
    target = max(0, min(len(rows) - 1, index + step))
    rows = list(rows)
    rows.insert(target, rows.pop(index))
    return rows


async def move_hall(session: AsyncSession, expo: Expo, hall: Hall, step: int, actor: User) -> None:
    """Move a hall ``step`` places up (negative) or down the expo's list; positions are renumbered."""
    assert expo.id is not None
    await require_in_expo(session, expo.id, actor, Perm.CHANGE_EXPO)
    halls = await list_halls(session, expo)
    index = next(i for i, h in enumerate(halls) if h.id == hall.id)
    for position, row in enumerate(_swap(halls, index, step)):
        row.position = position
        session.add(row)
    audit.record(session, "hall.moved", actor_id=actor.id, target=f"hall:{hall.id}", step=step)
    await session.commit()


async def list_categories(session: AsyncSession, expo: Expo) -> list[Category]:
    query = (
        select(Category).where(Category.expo_id == expo.id).order_by(col(Category.position), col(Category.id))
    )
    return list((await session.exec(query)).all())


async def get_category(session: AsyncSession, expo: Expo, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None or category.expo_id != expo.id:
        raise NotFound(f"This expo has no category {category_id}.", code="category.unknown")
    return category


async def save_category(
    session: AsyncSession, expo: Expo, fields: CategoryFields, actor: User, category: Category | None = None
) -> Category:
    """Create a category (``category`` is ``None``) or change one; a move may not make a cycle."""
    assert expo.id is not None
    await require_in_expo(session, expo.id, actor, Perm.CHANGE_EXPO)
    changes = fields.model_dump(exclude_unset=True)
    if category is None:
        if not fields.name:
            raise Invalid("A category needs a name.", code="category.invalid_name")
        category = Category(expo_id=expo.id, name=fields.name)
    moved = "parent_id" in changes and changes["parent_id"] != category.parent_id and category.id is not None
    if changes.get("parent_id") is not None:
        parent = await get_category(session, expo, changes["parent_id"])
        parents = await search.category_parents(session, expo.id)
        if category.id is not None and category.id in search.ancestry(parents, parent.id):
            raise Invalid("A category cannot be moved under itself.", code="category.cycle")
    if "translations" in changes:
        changes["translations"] = check_translations(expo, fields.translations)
    if any(value is None for name, value in changes.items() if name != "parent_id"):
        raise Invalid("A category's fields cannot be emptied with null.", code="category.invalid")
    assign(category, changes)
    session.add(category)
    await session.flush()
    if moved:  # every product below it now has other ancestors to filter by
        await search.reindex_expo(session, expo.id)
    audit.record(
        session, "category.saved", actor_id=actor.id, target=f"category:{category.id}", fields=sorted(changes)
    )
    await session.commit()
    return category


async def category_use(session: AsyncSession, category: Category) -> tuple[int, int]:
    """How many subcategories and products the category has (directly)."""
    children = select(func.count()).select_from(Category).where(Category.parent_id == category.id)
    products = select(func.count()).select_from(Product).where(Product.category_id == category.id)
    return int((await session.exec(children)).one()), int((await session.exec(products)).one())


async def delete_category(
    session: AsyncSession,
    expo: Expo,
    category: Category,
    actor: User,
    *,
    move_to: Category | None = None,
    uncategorise: bool = False,
) -> None:
    """Remove a category without subcategories (else ``category.has_children``). Its products
    move to ``move_to``, or with ``uncategorise`` stay without a category; with neither, a
    category with products is refused (``category.in_use``, with their ``count``)."""
    assert expo.id is not None
    await require_in_expo(session, expo.id, actor, Perm.CHANGE_EXPO)
    children, products = await category_use(session, category)
    if children:
        raise Conflict(
            f"{category.name} has {children} subcategories: move or delete them first.",
            code="category.has_children",
            count=children,
        )
    if move_to is not None and (move_to.expo_id != expo.id or move_to.id == category.id):
        raise Invalid("Move the products to another category of this expo.", code="category.invalid_move")
    if products and move_to is None and not uncategorise:
        raise Conflict(
            f"{category.name} has {products} product(s): choose another category for them, or none.",
            code="category.in_use",
            count=products,
        )
    rows = (await session.exec(select(Product).where(Product.category_id == category.id))).all()
    for product in rows:
        product.category_id = move_to.id if move_to is not None else None
        session.add(product)
    audit.record(
        session,
        "category.deleted",
        actor_id=actor.id,
        target=f"category:{category.id}",
        name=category.name,
        products=products,
        moved_to=move_to.id if move_to is not None else None,
    )
    await session.delete(category)
    await session.flush()
    await search.reindex_expo(session, expo.id)
    await session.commit()


async def move_category(
    session: AsyncSession, expo: Expo, category: Category, step: int, actor: User
) -> None:
    """Move a category ``step`` places among its siblings; their positions are renumbered."""
    assert expo.id is not None
    await require_in_expo(session, expo.id, actor, Perm.CHANGE_EXPO)
    siblings = [c for c in await list_categories(session, expo) if c.parent_id == category.parent_id]
    index = next(i for i, c in enumerate(siblings) if c.id == category.id)
    for position, row in enumerate(_swap(siblings, index, step)):
        row.position = position
        session.add(row)
    audit.record(session, "category.moved", actor_id=actor.id, target=f"category:{category.id}", step=step)
    await session.commit()
