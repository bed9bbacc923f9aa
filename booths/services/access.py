"""Who may do what to a booth: the facts the platform's one rule (:mod:`expo.permissions`) weighs,
read from the store (a user's role on a booth's staff, whether they staff a booth of an expo)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothStaff, BoothStatus
from expo.accounts.models import User
from expo.permissions import (
    BoothRole,
    Perm,
    may_edit_booth,
    may_manage_booth_staff,
    require,
    require_permission,
    standing,
)


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
    message = "Only this expo's organizers may do this."
    await require_permission(session, user, expo_id, perm, message, "expo.organizers_only")


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
