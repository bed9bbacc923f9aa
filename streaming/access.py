"""Who manages a broadcast or a room, and who may present in an expo: the facts the platform's one
permission rule (:mod:`expo.permissions`) weighs, gathered for the streaming domain.

The rule is asked, never restated: this module reads the facts (a stream's or room's owner,
whether someone staffs its booth or a booth of its expo, their standing in the expo) and hands
them to :func:`~expo.permissions.may_manage_broadcast` and :func:`~expo.permissions.may_present`.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.services import booth_role, booths_of, staffs_a_booth
from expo.accounts.models import User
from expo.config import Settings
from expo.errors import N_, Forbidden
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.permissions import (
    Perm,
    Standing,
    is_admin,
    may_manage_broadcast,
    may_present,
    may_run_broadcasts,
    require,
    standing,
)
from streaming.models import Room, Stream

M = TypeVar("M", Stream, Room)


class Presented(Protocol):
    """What the permission rule needs to know of a broadcast or a room."""

    expo_id: int
    booth_id: int | None
    owner_id: int | None


async def staffs_booth_of(session: AsyncSession, user: User | None, item: Presented) -> bool:
    """``user`` is on the staff of the booth that presents ``item`` (if a booth does)."""
    if item.booth_id is None:
        return False
    return await booth_role(session, item.booth_id, user) is not None


async def can_manage(session: AsyncSession, user: User | None, item: Presented) -> bool:
    """May ``user`` manage this broadcast or room (edit, end, re-key it, read its keys)? Its owner,
    its booth's staff and the broadcast managers of its expo may
    (:func:`expo.permissions.may_manage_broadcast`)."""
    st = await standing(session, user, item.expo_id)
    staff = await staffs_booth_of(session, user, item)
    return may_manage_broadcast(st, owner_id=item.owner_id, booth_staff=staff)


async def managed_rows(
    session: AsyncSession, user: User, model: type[M], *, limit: int
) -> list[tuple[M, str]]:
    """The broadcasts (or rooms) ``user`` manages, newest first, each with its expo's title.

    The query narrows the rows down to those the user owns, presents by booth or finds in an expo
    where they manage broadcasts; each is then put to the rule itself.
    """
    managing = {e.id for e in await expos.expos_where(session, user, Perm.MANAGE_BROADCASTS)}
    booths = {b.id for b in await booths_of(session, user)}
    query = (
        select(model, Expo.title)
        .join(Expo, col(Expo.id) == col(model.expo_id))
        .where(
            or_(
                col(model.owner_id) == user.id,
                col(model.expo_id).in_(managing),
                col(model.booth_id).in_(booths),
            )
        )
        .order_by(col(model.id).desc())
        .limit(limit)
    )
    standings: dict[int, Standing] = {}
    kept = []
    for row, expo_title in (await session.exec(query)).all():
        if row.expo_id not in standings:
            standings[row.expo_id] = await standing(session, user, row.expo_id)
        staff = row.booth_id is not None and row.booth_id in booths
        if may_manage_broadcast(standings[row.expo_id], owner_id=row.owner_id, booth_staff=staff):
            kept.append((row, expo_title))
    return kept


async def require_manager(session: AsyncSession, user: User | None, stream: Stream) -> User:
    """The user if they may manage ``stream`` (:func:`can_manage`): :class:`Unauthorized` signed
    out, else :class:`Forbidden` (``stream.forbidden``)."""
    allowed = await can_manage(session, user, stream)
    require(
        allowed,
        user,
        "Only the stream's owner, its booth's staff and the expo's organizers may do this.",
        "stream.forbidden",
    )
    assert user is not None
    return user


async def may_present_in(session: AsyncSession, user: User | None, expo_id: int) -> bool:
    """May ``user`` add broadcasts and rooms to the expo ``expo_id`` (see
    :func:`expo.permissions.may_present`): its broadcast managers, and exhibitors who staff one of
    its (approved) booths."""
    if not may_run_broadcasts(user):
        return False
    st = await standing(session, user, expo_id)
    # A pending application is not yet one of the expo's booths: it presents nothing.
    staff = await staffs_a_booth(session, user, expo_id, approved=True)
    return may_present(st, staffs_a_booth=staff)


async def require_presenter(session: AsyncSession, user: User, expo: Expo, code: str) -> None:
    """:class:`Forbidden` (``code``) unless ``user`` may add broadcasts and rooms to ``expo``."""
    assert expo.id is not None
    allowed = await may_present_in(session, user, expo.id)
    require(
        allowed,
        user,
        N_("Only this expo's organizers and the staff of its booths may present in it."),
        code,
    )


async def presenting_expo(
    session: AsyncSession, settings: Settings, slug: str | None, user: User, code: str
) -> Expo:
    """Where ``user`` adds a broadcast or room from the web: the expo ``slug`` names (``expo.unknown``
    when there is none; :func:`require_presenter` is the creating service's check), or without
    one the default expo, if ``user`` may present there.

    Unlike the command line, a web request never creates the default expo for someone who could
    not use it: they are asked to name their expo (403 ``code``).
    """
    if slug is not None:
        return await expos.get_expo(session, slug)  # creating there checks that they may present
    found = await expos.find_expo(session, settings.default_expo)
    if found is None and is_admin(user):
        found = await expos.default_expo(session, settings)  # nobody else could present in it yet
    if found is None or found.id is None or not await may_present_in(session, user, found.id):
        raise Forbidden(
            N_("Name the expo to present in ('expo'): you may not present in the default expo."), code=code
        )
    return found


async def presenting_expos(session: AsyncSession, user: User) -> list[Expo]:
    """The expos ``user`` may present in (:func:`may_present_in`), by title: those where they
    manage broadcasts and those where they staff a booth."""
    candidates = {e.id: e for e in await expos.expos_where(session, user, Perm.MANAGE_BROADCASTS)}
    for booth in await booths_of(session, user):
        if booth.expo_id not in candidates:
            candidates[booth.expo_id] = await expos.expo_by_id(session, booth.expo_id)
    found = [e for i, e in candidates.items() if i is not None and await may_present_in(session, user, i)]
    return sorted(found, key=lambda e: (e.title, e.id or 0))
