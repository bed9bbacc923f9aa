"""An expo's layout: its halls and its product category tree (organizers change them)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search
from booths.models import Booth, Category, Hall
from booths.services.access import require_in_expo
from booths.services.fields import CategoryFields, HallFields, assign, check_translations
from expo import audit
from expo.accounts.models import User
from expo.errors import Invalid, NotFound
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


async def delete_hall(session: AsyncSession, hall: Hall, actor: User) -> None:
    """Remove a hall; its booths stay, unplaced (and their index entries lose the hall filter)."""
    await require_in_expo(session, hall.expo_id, actor, Perm.CHANGE_EXPO)
    booth_ids = list((await session.exec(select(Booth.id).where(Booth.hall_id == hall.id))).all())
    audit.record(session, "hall.deleted", actor_id=actor.id, target=f"hall:{hall.id}", name=hall.name)
    await session.delete(hall)
    await session.flush()
    await search.reindex_booths(session, hall.expo_id, [b for b in booth_ids if b is not None])
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


async def delete_category(session: AsyncSession, expo: Expo, category: Category, actor: User) -> None:
    """Remove a category and its subtree; their products stay, uncategorised."""
    assert expo.id is not None
    await require_in_expo(session, expo.id, actor, Perm.CHANGE_EXPO)
    audit.record(
        session, "category.deleted", actor_id=actor.id, target=f"category:{category.id}", name=category.name
    )
    await session.delete(category)
    await session.flush()
    await search.reindex_expo(session, expo.id)
    await session.commit()
