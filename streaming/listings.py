"""The streaming side of :class:`expo.showcase.LiveListings`: live and upcoming broadcasts, and
booths' walk-in rooms, for the home page, the visitor's home, the floor and booth pages.

Each strip is one query (stream, its expo and its approved booth joined), narrowed in SQL to what
the reader may watch and then put to :func:`streaming.services.can_watch` itself, so the pages
list nothing the watch page would refuse. Viewer counts come from :class:`Audience`. A booth page
offers only a room its booth opened to walk in (``Room.walk_in``): every other room's guest link
stays with whoever its host sent it to.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothStatus
from expo.accounts.models import User
from expo.db import utcnow
from expo.expos.models import Expo
from expo.i18n import localized
from expo.showcase import STRIP_LIMIT, BoothShowcase, Listing, ListingKind, LiveListings
from streaming.audience import Audience
from streaming.models import Room, Sanction, SanctionKind, Stream, StreamStatus, Visibility
from streaming.room_services import RoomRole, room_path
from streaming.services import as_utc, can_watch


def _watchable(user: User | None) -> ColumnElement[bool]:
    """SQL for :func:`can_watch`, less the streams ``user`` is banned from."""
    if user is None or not user.is_active or user.id is None:
        return col(Stream.visibility) == Visibility.PUBLIC.value
    banned = exists().where(
        col(Sanction.stream_id) == col(Stream.id),
        col(Sanction.user_id) == user.id,
        col(Sanction.kind) == SanctionKind.BAN.value,
        or_(col(Sanction.until).is_(None), col(Sanction.until) > utcnow()),
    )
    return ~banned


def _stream_rows(expo_id: int | None, booth_id: int | None, user: User | None) -> Any:
    """Streams with their expo and (approved) booth, narrowed to what ``user`` may watch."""
    booth_join = and_(col(Booth.id) == col(Stream.booth_id), col(Booth.status) == BoothStatus.APPROVED.value)
    query = (
        select(Stream, Expo, Booth)
        .join(Expo, col(Expo.id) == col(Stream.expo_id))
        .outerjoin(Booth, booth_join)
        .where(_watchable(user))
    )
    if expo_id is not None:
        query = query.where(col(Stream.expo_id) == expo_id)
    if booth_id is not None:
        query = query.where(col(Stream.booth_id) == booth_id)
    return query


def _upcoming() -> ColumnElement[bool]:
    """Scheduled, and neither started nor over: its start (or its planned end) is still ahead."""
    now = utcnow()
    return and_(
        col(Stream.status) == StreamStatus.SCHEDULED.value,
        col(Stream.scheduled_start).is_not(None),
        or_(col(Stream.scheduled_start) >= now, col(Stream.planned_end) >= now),
    )


class StreamListings(LiveListings):
    """:class:`LiveListings` read from the broadcast tables and the audience's live figures."""

    def __init__(self, audience: Audience) -> None:
        self.audience = audience

    async def live_now(
        self,
        session: AsyncSession,
        user: User | None,
        *,
        expo_id: int | None = None,
        locale: str,
        limit: int = STRIP_LIMIT,
    ) -> list[Listing]:
        query = (
            _stream_rows(expo_id, None, user)
            .where(col(Stream.status) == StreamStatus.LIVE.value)
            .order_by(col(Stream.started_at).desc(), col(Stream.id).desc())
            .limit(limit)
        )
        rows = [r for r in (await session.exec(query)).all() if can_watch(user, r[0])]
        counts = await asyncio.gather(*(self.audience.shown_viewers(s.id or 0) for s, _, _ in rows))
        return [self._listing(s, e, b, locale, viewers=n) for (s, e, b), n in zip(rows, counts, strict=True)]

    async def coming_up(
        self,
        session: AsyncSession,
        user: User | None,
        *,
        expo_id: int | None = None,
        locale: str,
        limit: int = STRIP_LIMIT,
    ) -> list[Listing]:
        query = (
            _stream_rows(expo_id, None, user)
            .where(_upcoming())
            .order_by(col(Stream.scheduled_start), col(Stream.id))
            .limit(limit)
        )
        rows = (await session.exec(query)).all()
        return [self._listing(s, e, b, locale) for s, e, b in rows if can_watch(user, s)]

    async def for_booth(
        self, session: AsyncSession, user: User | None, booth_id: int, *, locale: str
    ) -> BoothShowcase:
        # Live first, then the soonest scheduled: one query for the booth's broadcast.
        live_first = (
            col(Stream.status) != StreamStatus.LIVE.value,
            col(Stream.scheduled_start),
            col(Stream.id),
        )
        query = (
            _stream_rows(None, booth_id, user)
            .where(or_(col(Stream.status) == StreamStatus.LIVE.value, _upcoming()))
            .order_by(*live_first)
            .limit(1)
        )
        found = (await session.exec(query)).first()
        broadcast = None
        if found is not None and can_watch(user, found[0]):
            stream, expo, booth = found
            viewers = await self.audience.shown_viewers(stream.id or 0) if stream.status == "live" else None
            broadcast = self._listing(stream, expo, booth, locale, viewers=viewers)
        room_query = (
            select(Room, Expo)
            .join(Expo, col(Expo.id) == col(Room.expo_id))
            .where(col(Room.booth_id) == booth_id, col(Room.walk_in), col(Room.ended_at).is_(None))
            .order_by(col(Room.id).desc())
            .limit(1)
        )
        open_room = (await session.exec(room_query)).first()
        room = None
        if open_room is not None:
            row, expo = open_room
            room = Listing(
                kind=ListingKind.ROOM,
                id=row.id or 0,
                title=localized(row, "title", locale),
                url=room_path(row, RoomRole.GUEST),
                expo_slug=expo.slug,
                expo_title=localized(expo, "title", locale),
                timezone=expo.timezone,
                live=True,
                booth_id=booth_id,
            )
        return BoothShowcase(broadcast=broadcast, room=room)

    async def live_booths(
        self, session: AsyncSession, user: User | None, expo_id: int, booth_ids: set[int]
    ) -> set[int]:
        if not booth_ids:
            return set()
        query = (
            select(Stream.booth_id)
            .where(
                col(Stream.expo_id) == expo_id,
                col(Stream.status) == StreamStatus.LIVE.value,
                col(Stream.booth_id).in_(booth_ids),
                _watchable(user),
            )
            .distinct()
        )
        return {b for b in (await session.exec(query)).all() if b is not None}

    @staticmethod
    def _listing(
        stream: Stream, expo: Expo, booth: Booth | None, locale: str, *, viewers: int | None = None
    ) -> Listing:
        return Listing(
            kind=ListingKind.BROADCAST,
            id=stream.id or 0,
            title=localized(stream, "title", locale),
            url=f"/watch/{stream.id}",
            expo_slug=expo.slug,
            expo_title=localized(expo, "title", locale),
            timezone=expo.timezone,
            live=stream.status == StreamStatus.LIVE.value,
            starts_at=as_utc(stream.scheduled_start),
            booth_id=booth.id if booth is not None else None,
            booth_name=localized(booth, "name", locale) if booth is not None else "",
            live_viewers=viewers,
        )
