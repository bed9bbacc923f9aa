"""Booths and their staff: applying, creating, editing, placing, deciding and removing booths, and
managing who staffs them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search
from booths.models import Booth, BoothStaff, BoothStatus, Product
from booths.services.access import (
    can_see_booth,
    require_booth_editor,
    require_booth_owner,
    require_in_expo,
)
from booths.services.fields import BoothFields, Placement, assign, check_country, check_translations
from booths.services.layout import get_hall
from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound
from expo.expos.models import Expo
from expo.permissions import BoothRole, Perm, may_apply_for_booth, standing

if TYPE_CHECKING:
    from booths.mail import BoothMailer

PAGE_SIZE = 50


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


def _booth_changes(expo: Expo, fields: BoothFields) -> dict[str, Any]:
    """``fields`` checked and normalised into column values."""
    changes = fields.model_dump(exclude_unset=True)
    if "translations" in changes:
        changes["translations"] = check_translations(expo, fields.translations)
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
    assign(booth, {**changes, **placed})
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
    assign(booth, changes)
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
    assign(booth, await _placement_changes(session, expo, placement))
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


async def clear_booth_image(session: AsyncSession, booth: Booth, slot: str, actor: User) -> Booth:
    """Take the booth's ``logo`` or ``banner`` off its page (its staff and organizers); the stored
    file stays, as other rows may use the same content."""
    await require_booth_editor(session, booth, actor)
    if slot not in ("logo", "banner"):
        raise Invalid(N_("Only the logo or the banner can be removed this way."), code="booth.invalid_slot")
    setattr(booth, f"{slot}_path", None)
    session.add(booth)
    audit.record(session, f"booth.{slot}_removed", actor_id=actor.id, target=f"booth:{booth.id}")
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
