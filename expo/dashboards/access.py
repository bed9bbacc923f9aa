"""Who may read which dashboard.

An expo's dashboard belongs to its team: members whose role grants
:attr:`~expo.permissions.Perm.VIEW_DASHBOARD` (and platform administrators), whatever their
account type; an organizer of another expo is refused like anyone else. An exhibitor's dashboard
covers only the booths they are on the staff of, the broadcasts those booths present and the
broadcasts they own: facts about the person, never their account role. Everyone else gets a 403;
an unknown expo is a 404.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothStaff
from expo.accounts.models import User
from expo.errors import N_, Forbidden
from expo.expos.models import Expo
from expo.expos.services import get_expo
from expo.permissions import Perm, Standing, require_permission
from streaming.models import Stream


async def organized_expo(session: AsyncSession, slug: str, user: User) -> tuple[Expo, Standing]:
    """The expo ``slug`` and ``user``'s standing in it, if they may read its dashboard (404 when
    unknown, 403 for anyone off its team)."""
    expo = await get_expo(session, slug)
    assert expo.id is not None
    message = N_("Only this expo's organizers see its dashboard.")
    st = await require_permission(session, user, expo.id, Perm.VIEW_DASHBOARD, message, "dashboard.forbidden")
    return expo, st


async def staffed_booths(session: AsyncSession, user: User, expo_id: int | None = None) -> list[Booth]:
    """The booths ``user`` is on the staff of (in one expo when ``expo_id`` is given), by name."""
    query = (
        select(Booth)
        .join(BoothStaff, col(BoothStaff.booth_id) == col(Booth.id))
        .where(BoothStaff.user_id == user.id)
        .order_by(col(Booth.name))
    )
    if expo_id is not None:
        query = query.where(Booth.expo_id == expo_id)
    return list((await session.exec(query)).all())


async def exhibitor_expo(session: AsyncSession, slug: str, user: User) -> tuple[Expo, list[Booth]]:
    """The expo ``slug`` and ``user``'s booths in it; 403 when they neither staff a booth nor own a
    broadcast there."""
    expo = await get_expo(session, slug)
    booths = await staffed_booths(session, user, expo.id)
    if not booths:
        owned = await session.exec(
            select(Stream.id).where(Stream.expo_id == expo.id, Stream.owner_id == user.id).limit(1)
        )
        if owned.first() is None:
            raise Forbidden(
                N_("You are not on the staff of a booth at this expo."), code="dashboard.no_booth"
            )
    return expo, booths
