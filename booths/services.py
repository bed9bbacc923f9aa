"""Expo floor rules: expos, halls, the category tree, booths with their staff, and products.

Every writing function validates first, then changes rows, the search index and the audit log in
one transaction, and commits: a failure leaves nothing half-written. Permission checks live here
too (:func:`require_booth_editor` and friends) so pages and the API apply the same rules:

* organizers manage expos, halls and categories, create, approve, reject and place booths
  (hall, number, tier), and may edit any booth and product;
* an exhibitor applies for a booth (it starts ``pending``, the applicant its owner), and the
  booth's staff (owner or staff) edit its profile and products; only owners manage staff;
* everyone (signed in or not) reads approved booths and their products.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from babel import Locale
from babel.numbers import is_currency
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search
from booths.models import Booth, BoothStaff, BoothStatus, Category, Hall, Product
from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import Conflict, Forbidden, Invalid, NotFound
from expo.expos.models import Expo
from expo.permissions import (
    BoothRole,
    Perm,
    may_apply_for_booth,
    may_edit_booth,
    may_manage_booth_staff,
    require,
    standing,
)

if TYPE_CHECKING:
    from booths.mail import BoothMailer

# CLDR's two-letter territories, less its groupings and placeholders (EU, UN, ZZ "unknown", ...).
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}
COUNTRIES = frozenset(
    str(code)
    for code in Locale("en").territories
    if len(str(code)) == 2 and str(code).isalpha() and str(code) not in _NOT_COUNTRIES
)
MAX_PRICE = 10**13  # hundredths: ten thousand billion units is more than any listed price
PAGE_SIZE = 50


def check_currency(code: str) -> str:
    """An ISO 4217 code (upper case, as CLDR lists them), or :class:`Invalid`."""
    if not (len(code) == 3 and code.isascii() and code.isupper() and is_currency(code)):
        raise Invalid(
            f"{code!r} is not an ISO 4217 currency code (e.g. USD, CNY).", code="product.invalid_currency"
        )
    return code


def check_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased, or :class:`Invalid`."""
    upper = code.strip().upper()
    if upper not in COUNTRIES:
        raise Invalid(
            f"{code!r} is not an ISO 3166 country code (e.g. CN, DE).", code="booth.invalid_country"
        )
    return upper


# Input shapes, shared by the API, the pages and the catalogue import ----------------------------------------


class Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextFields(Fields):
    """One language's version of an object's text fields."""

    name: str | None = Field(default=None, max_length=200)
    tagline: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20000)


class Link(Fields):
    label: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=500, pattern=r"^https?://")


class HallFields(Fields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    translations: dict[str, TextFields] | None = None
    position: int | None = Field(default=None, ge=0, le=100000)


class CategoryFields(Fields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent_id: int | None = Field(default=None, ge=1)
    translations: dict[str, TextFields] | None = None
    position: int | None = Field(default=None, ge=0, le=100000)


class BoothFields(Fields):
    """What booth staff edit. Placement and status are the organizers' (:class:`Placement`)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tagline: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    translations: dict[str, TextFields] | None = None
    country: str | None = Field(default=None, max_length=2)
    contact_name: str | None = Field(default=None, max_length=120)
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=40)
    website: str | None = Field(default=None, max_length=500, pattern=r"^(https?://.*)?$")
    links: list[Link] | None = Field(default=None, max_length=20)


class Placement(Fields):
    hall_id: int | None = Field(default=None, ge=1)
    number: str | None = Field(default=None, max_length=32)
    tier: str | None = Field(default=None, min_length=1, max_length=16)


class ProductFields(Fields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    translations: dict[str, TextFields] | None = None
    category_id: int | None = Field(default=None, ge=1)
    price_min: int | None = Field(default=None, ge=0, le=MAX_PRICE, description="hundredths of the currency")
    price_max: int | None = Field(default=None, ge=0, le=MAX_PRICE, description="hundredths of the currency")
    currency: str | None = Field(default=None, max_length=3)
    moq: int | None = Field(default=None, ge=1, le=10**9)
    tags: list[str] | None = Field(default=None, max_length=30)


# Permissions (the rules are expo.permissions'; these read the facts they weigh) ------------------------


async def booth_role(session: AsyncSession, booth_id: int, user: User | None) -> BoothRole | None:
    """``user``'s role in the booth's staff, or ``None``."""
    if user is None or user.id is None:
        return None
    row = await session.get(BoothStaff, (booth_id, user.id))
    return BoothRole(row.role) if row is not None else None


async def staffs_a_booth(
    session: AsyncSession, user: User | None, expo_id: int, *, approved: bool = False
) -> bool:
    """``user`` is on the staff of a booth in this expo (any status; ``approved``: an approved one,
    not a pending or rejected application)."""
    if user is None or user.id is None:
        return False
    query = (
        select(BoothStaff.user_id)
        .join(Booth, col(Booth.id) == col(BoothStaff.booth_id))
        .where(BoothStaff.user_id == user.id, Booth.expo_id == expo_id)
        .limit(1)
    )
    if approved:
        query = query.where(Booth.status == BoothStatus.APPROVED.value)
    return (await session.exec(query)).first() is not None


async def require_in_expo(session: AsyncSession, expo_id: int, user: User, perm: Perm) -> None:
    """``user`` holds ``perm`` in the expo, or :class:`Forbidden` (``expo.organizers_only``)."""
    st = await standing(session, user, expo_id)
    require(st.has(perm), user, "Only this expo's organizers may do this.", "expo.organizers_only")


async def require_booth_editor(session: AsyncSession, booth: Booth, user: User) -> None:
    """The booth's staff and the expo's booth managers edit a booth and its products."""
    assert booth.id is not None
    st = await standing(session, user, booth.expo_id)
    allowed = may_edit_booth(st, await booth_role(session, booth.id, user))
    require(allowed, user, "Only this booth's staff and organizers may change it.", "booth.not_staff")


async def require_booth_owner(session: AsyncSession, booth: Booth, user: User) -> None:
    assert booth.id is not None
    st = await standing(session, user, booth.expo_id)
    allowed = may_manage_booth_staff(st, await booth_role(session, booth.id, user))
    require(allowed, user, "Only this booth's owners and organizers may manage its staff.", "booth.not_owner")


async def may_edit(session: AsyncSession, booth: Booth, user: User | None) -> bool:
    """Whether ``user`` may edit ``booth`` (:func:`expo.permissions.may_edit_booth`)."""
    assert booth.id is not None
    st = await standing(session, user, booth.expo_id)
    return may_edit_booth(st, await booth_role(session, booth.id, user))


async def can_see_booth(session: AsyncSession, booth: Booth, user: User | None) -> bool:
    if booth.status == BoothStatus.APPROVED.value:
        return True
    return await may_edit(session, booth, user)


def _check_translations(expo: Expo, translations: dict[str, TextFields] | None) -> dict[str, Any]:
    if not translations:
        return {}
    unknown = set(translations) - set(expo.language_list)
    if unknown:
        raise Invalid(
            f"Translations for languages this expo does not use: {', '.join(sorted(unknown))}.",
            code="expo.invalid_languages",
        )
    return {lang: t.model_dump(exclude_none=True) for lang, t in translations.items()}


# Halls ---------------------------------------------------------------------------------------------------


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
        changes["translations"] = _check_translations(expo, fields.translations)
    if any(value is None for value in changes.values()):
        raise Invalid("A hall's fields cannot be emptied with null.", code="hall.invalid")
    _assign(hall, changes)
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


# Categories ----------------------------------------------------------------------------------------------


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
        changes["translations"] = _check_translations(expo, fields.translations)
    if any(value is None for name, value in changes.items() if name != "parent_id"):
        raise Invalid("A category's fields cannot be emptied with null.", code="category.invalid")
    _assign(category, changes)
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


# Booths --------------------------------------------------------------------------------------------------


async def get_booth(session: AsyncSession, booth_id: int, viewer: User | None = None) -> Booth:
    """The booth if ``viewer`` may see it (approved, or theirs, or an organizer), else :class:`NotFound`."""
    booth = await session.get(Booth, booth_id)
    if booth is None or not await can_see_booth(session, booth, viewer):
        raise NotFound(f"There is no booth {booth_id}.", code="booth.unknown")
    return booth


async def list_booths(
    session: AsyncSession,
    expo: Expo,
    *,
    hall_id: int | None = None,
    status: BoothStatus = BoothStatus.APPROVED,
    page: int = 1,
) -> tuple[int, list[Booth]]:
    """A page of the expo's booths in this status (by hall, then number and name) and the total."""
    where = [Booth.expo_id == expo.id, Booth.status == status.value]
    if hall_id is not None:
        where.append(Booth.hall_id == hall_id)
    total = (await session.exec(select(func.count()).select_from(Booth).where(*where))).one()
    query = (
        select(Booth)
        .where(*where)
        .order_by(col(Booth.hall_id), col(Booth.number), col(Booth.name), col(Booth.id))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return int(total), list((await session.exec(query)).all())


def _assign(obj: SQLModel, changes: dict[str, Any]) -> None:
    """Set checked values. Services check everything first and assign last, so a refused change
    leaves the caller's objects as they were (and nothing for a later commit to store)."""
    for name, value in changes.items():
        setattr(obj, name, value)


def _booth_changes(expo: Expo, fields: BoothFields) -> dict[str, Any]:
    """``fields`` checked and normalised into column values."""
    changes = fields.model_dump(exclude_unset=True)
    if "translations" in changes:
        changes["translations"] = _check_translations(expo, fields.translations)
    if changes.get("country"):
        changes["country"] = check_country(changes["country"])
    if "links" in changes:
        changes["links"] = [link.model_dump() for link in fields.links or []]
    for name, value in changes.items():
        if value is None and name != "country":
            if name == "name":
                raise Invalid("A booth needs a name.", code="booth.invalid_name")
            changes[name] = [] if name == "links" else {} if name == "translations" else ""
    return changes


async def _name_taken(session: AsyncSession, expo_id: int, name: str, booth_id: int | None) -> bool:
    query = select(Booth.id).where(Booth.expo_id == expo_id, Booth.name == name)
    with session.no_autoflush:  # the booth being renamed must not be written before this check
        found = (await session.exec(query)).first()
    return found is not None and found != booth_id


async def create_booth(
    session: AsyncSession,
    expo: Expo,
    fields: BoothFields,
    actor: User,
    placement: Placement | None = None,
    mailer: BoothMailer | None = None,
) -> Booth:
    """An organizer's booth (approved at once) or an exhibitor's application (pending, they own it);
    with a ``mailer``, the expo's organizers are e-mailed about an application."""
    assert expo.id is not None and actor.id is not None
    organizer = (await standing(session, actor, expo.id)).has(Perm.MANAGE_BOOTHS)
    if not organizer and not may_apply_for_booth(actor):
        raise Forbidden("Only exhibitors apply for booths.", code="booth.exhibitors_only")
    if not organizer and not expo.applications_open:
        raise Forbidden("This expo does not take booth applications now.", code="booth.applications_closed")
    if placement is not None and not organizer:
        raise Forbidden("Only organizers place booths in halls.", code="expo.organizers_only")
    if not fields.name:
        raise Invalid("A booth needs a name.", code="booth.invalid_name")
    status = BoothStatus.APPROVED if organizer else BoothStatus.PENDING
    changes = _booth_changes(expo, fields)
    placed = await _placement_changes(session, expo, placement) if placement is not None else {}
    if await _name_taken(session, expo.id, fields.name, None):
        raise Conflict(f"This expo has a booth named {fields.name!r} already.", code="booth.name_taken")
    booth = Booth(expo_id=expo.id, name=fields.name, status=status.value)
    _assign(booth, {**changes, **placed})
    session.add(booth)
    await session.flush()
    assert booth.id is not None
    if not organizer:
        session.add(BoothStaff(booth_id=booth.id, user_id=actor.id, role=BoothRole.OWNER.value))
        if mailer is not None:
            await mailer.application_received(session, expo, booth)
    audit.record(session, "booth.created", actor_id=actor.id, target=f"booth:{booth.id}", status=status.value)
    await search.reindex_booths(session, booth.expo_id, [booth.id], products=False)
    await session.commit()
    return booth


async def update_booth(session: AsyncSession, booth: Booth, fields: BoothFields, actor: User) -> Booth:
    """Change a booth's profile (its staff or an organizer)."""
    await require_booth_editor(session, booth, actor)
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and booth.id is not None
    changes = _booth_changes(expo, fields)
    name = changes.get("name", booth.name)
    if await _name_taken(session, booth.expo_id, name, booth.id):
        raise Conflict(f"This expo has a booth named {name!r} already.", code="booth.name_taken")
    _assign(booth, changes)
    changed = sorted(changes)
    booth.updated_at = utcnow()
    session.add(booth)
    await session.flush()
    audit.record(session, "booth.updated", actor_id=actor.id, target=f"booth:{booth.id}", fields=changed)
    # Products carry the booth's name and country in their documents.
    await search.reindex_booths(
        session, booth.expo_id, [booth.id], products=bool({"name", "country", "translations"} & set(changed))
    )
    await session.commit()
    return booth


async def _placement_changes(session: AsyncSession, expo: Expo, placement: Placement) -> dict[str, Any]:
    changes = placement.model_dump(exclude_unset=True)
    if changes.get("hall_id") is not None:
        await get_hall(session, expo, changes["hall_id"])
    if "tier" in changes and changes["tier"] is None:
        raise Invalid("tier cannot be empty.", code="booth.invalid_tier")
    return changes


async def place_booth(session: AsyncSession, booth: Booth, placement: Placement, actor: User) -> Booth:
    """Assign a booth its hall, number and tier (the expo's booth managers only)."""
    await require_in_expo(session, booth.expo_id, actor, Perm.MANAGE_BOOTHS)
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and booth.id is not None
    _assign(booth, await _placement_changes(session, expo, placement))
    session.add(booth)
    await session.flush()
    audit.record(
        session,
        "booth.placed",
        actor_id=actor.id,
        target=f"booth:{booth.id}",
        **placement.model_dump(exclude_unset=True),
    )
    await search.reindex_booths(session, booth.expo_id, [booth.id])
    await session.commit()
    return booth


async def set_booth_status(
    session: AsyncSession, booth: Booth, status: BoothStatus, actor: User, mailer: BoothMailer | None = None
) -> Booth:
    """Approve or reject an application (organizers only); only approved booths are public. With a
    ``mailer``, the booth's owners hear of a changed decision in the same transaction."""
    await require_in_expo(session, booth.expo_id, actor, Perm.MANAGE_BOOTHS)
    assert booth.id is not None
    changed = booth.status != status.value
    booth.status = status.value
    session.add(booth)
    await session.flush()
    if mailer is not None and changed:
        expo = await session.get(Expo, booth.expo_id)
        assert expo is not None
        for staff, owner in await list_staff(session, booth):
            if staff.role == BoothRole.OWNER.value:
                await mailer.application_decided(session, expo, booth, owner)
    audit.record(session, f"booth.{status.value}", actor_id=actor.id, target=f"booth:{booth.id}")
    await search.reindex_booths(session, booth.expo_id, [booth.id])
    await session.commit()
    return booth


async def set_booth_media(
    session: AsyncSession, booth: Booth, *, logo_path: str | None = None, banner_path: str | None = None
) -> Booth:
    """Point the booth at stored images (paths relative to the uploads directory, made by the upload
    service, never taken from a client). ``None`` leaves a field as it is."""
    if logo_path is not None:
        booth.logo_path = logo_path
    if banner_path is not None:
        booth.banner_path = banner_path
    session.add(booth)
    await session.commit()
    return booth


async def delete_booth(session: AsyncSession, booth: Booth, actor: User) -> None:
    """Remove a booth with its products (the expo's booth managers only)."""
    await require_in_expo(session, booth.expo_id, actor, Perm.MANAGE_BOOTHS)
    assert booth.id is not None
    product_ids = list((await session.exec(select(Product.id).where(Product.booth_id == booth.id))).all())
    await search.delete_docs(
        session,
        [search.booth_doc_id(booth.expo_id, booth.id)]
        + [search.product_doc_id(booth.expo_id, p) for p in product_ids if p],
    )
    audit.record(session, "booth.deleted", actor_id=actor.id, target=f"booth:{booth.id}", name=booth.name)
    await session.delete(booth)
    await session.commit()


# Staff ---------------------------------------------------------------------------------------------------


async def list_staff(session: AsyncSession, booth: Booth) -> list[tuple[BoothStaff, User]]:
    query = (
        select(BoothStaff, User)
        .join(User, col(User.id) == col(BoothStaff.user_id))
        .where(BoothStaff.booth_id == booth.id)
        .order_by(col(BoothStaff.created_at))
    )
    return [(s, u) for s, u in (await session.exec(query)).all()]


async def add_staff(
    session: AsyncSession, booth: Booth, email: str, role: BoothRole, actor: User
) -> BoothStaff:
    """Add an exhibitor account (found by e-mail) to the booth's staff, or change its role."""
    await require_booth_owner(session, booth, actor)
    assert booth.id is not None
    user = (await session.exec(select(User).where(User.email == email.strip().lower()))).first()
    if user is None or user.id is None:
        raise NotFound(f"There is no account {email!r}; they sign up first.", code="booth.unknown_user")
    if not may_apply_for_booth(user):
        raise Invalid("Only exhibitor accounts join a booth's staff.", code="booth.not_exhibitor")
    staff = await session.get(BoothStaff, (booth.id, user.id)) or BoothStaff(
        booth_id=booth.id, user_id=user.id
    )
    staff.role = role.value
    session.add(staff)
    audit.record(
        session,
        "booth.staff_added",
        actor_id=actor.id,
        target=f"booth:{booth.id}",
        user_id=user.id,
        role=role.value,
    )
    await session.commit()
    return staff


async def remove_staff(session: AsyncSession, booth: Booth, user_id: int, actor: User) -> None:
    """Remove someone from the staff; the last owner stays (a booth always has someone in charge)."""
    await require_booth_owner(session, booth, actor)
    assert booth.id is not None
    staff = await session.get(BoothStaff, (booth.id, user_id))
    if staff is None:
        raise NotFound("That account is not on this booth's staff.", code="booth.unknown_staff")
    if staff.role == BoothRole.OWNER.value:
        owners = (
            await session.exec(
                select(func.count())
                .select_from(BoothStaff)
                .where(BoothStaff.booth_id == booth.id, BoothStaff.role == BoothRole.OWNER.value)
            )
        ).one()
        if owners <= 1:
            raise Conflict("A booth keeps at least one owner.", code="booth.last_owner")
    await session.delete(staff)
    audit.record(
        session, "booth.staff_removed", actor_id=actor.id, target=f"booth:{booth.id}", user_id=user_id
    )
    await session.commit()


async def booths_of(session: AsyncSession, user: User) -> list[Booth]:
    """The booths ``user`` is on the staff of."""
    query = (
        select(Booth)
        .join(BoothStaff, col(BoothStaff.booth_id) == col(Booth.id))
        .where(BoothStaff.user_id == user.id)
    )
    return list((await session.exec(query)).all())


# Products ------------------------------------------------------------------------------------------------


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
        changes["translations"] = _check_translations(expo, fields.translations)
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
    _assign(product, changes)
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
