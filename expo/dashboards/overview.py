"""The two dashboards as data: an expo's for its organizers, and an exhibitor's for their booths.

The pages, the JSON API and the exports all read these, so the figures a person sees, downloads
and fetches are the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from booths.models import Booth
from expo.accounts.models import User
from expo.dashboards import access, history, registrations, rooms, sessions
from expo.dashboards.figures import (
    BoothFigures,
    BroadcastFigures,
    DayCount,
    LiveFigures,
    RoomFigures,
    SessionFigures,
)
from expo.dashboards.live import live_figures
from expo.expos.models import Expo
from expo.permissions import Standing
from expo.platform import Platform
from streaming.audience import Audience
from streaming.models import Stream


@dataclass
class ExpoDashboard:
    expo: Expo
    viewer: Standing  # what the reader may do in the expo: which other pages to link
    live: LiveFigures
    registrations_per_day: list[DayCount]
    broadcasts: list[BroadcastFigures]
    booths: list[BoothFigures]
    sessions: list[SessionFigures]
    rooms: list[RoomFigures]


@dataclass
class ExhibitorDashboard:
    expo: Expo
    my_booths: list[Booth]
    broadcasts: list[BroadcastFigures]
    booths: list[BoothFigures]
    rooms: list[RoomFigures]  # the rooms of their booths


async def expo_dashboard(p: Platform, slug: str, user: User) -> ExpoDashboard:
    """Everything the organizer's dashboard shows (403 unless ``user`` may read it)."""
    async with p.db.session() as session:
        expo, viewer = await access.organized_expo(session, slug, user)
        assert expo.id is not None
        per_day = await registrations.per_day_counts(session, expo.id)
        broadcasts = await history.broadcasts(session, p.get(Audience), expo.id)
        booths = await history.booth_ranking(session, expo.id)
        programs = await sessions.session_attendance(session, expo.id)
        in_rooms = await rooms.room_figures(session, expo.id)
    live = await live_figures(p.db, p.bus, p.get(Audience), expo)
    return ExpoDashboard(expo, viewer, live, per_day, broadcasts, booths, programs, in_rooms)


async def live_dashboard(p: Platform, slug: str, user: User) -> LiveFigures:
    """The live figures only (403 unless ``user`` may read the expo's dashboard)."""
    async with p.db.session() as session:
        expo, _ = await access.organized_expo(session, slug, user)
    return await live_figures(p.db, p.bus, p.get(Audience), expo)


async def exhibitor_dashboard(p: Platform, slug: str, user: User) -> ExhibitorDashboard:
    """The figures of ``user``'s booths at the expo, the broadcasts they present and those ``user``
    owns (403 when they have neither there)."""
    async with p.db.session() as session:
        expo, mine = await access.exhibitor_expo(session, slug, user)
        assert expo.id is not None
        ids = [b.id for b in mine if b.id is not None]
        broadcasts = await history.broadcasts(session, p.get(Audience), expo.id, ids, owner_id=user.id)
        booths = await history.booth_ranking(session, expo.id, ids)
        in_rooms = await rooms.room_figures(session, expo.id, ids)
    return ExhibitorDashboard(expo, mine, broadcasts, booths, in_rooms)


async def exhibitor_expos(p: Platform, user: User) -> list[Expo]:
    """The expos where ``user`` staffs a booth or owns a broadcast, by title."""
    async with p.db.session() as session:
        booths = await access.staffed_booths(session, user)
        owned = await session.exec(select(Stream.expo_id).where(Stream.owner_id == user.id))
        ids = {b.expo_id for b in booths} | set(owned.all())
        expos = [await session.get(Expo, expo_id) for expo_id in sorted(ids)]
    return sorted((e for e in expos if e is not None), key=lambda e: e.title)
