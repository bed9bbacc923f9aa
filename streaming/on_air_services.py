"""The stored side of rooms on air: which broadcast a room may feed, and the link while it does.

A room goes on air into a broadcast of its own expo that the host's account may manage and that
has not started (one of those listed by :func:`candidates`), or into a new one titled after the
room. While it is on air a :class:`~streaming.models.RoomOnAir` row links the two; it goes when
the room goes off air, and a process that starts finds the rows that nobody feeds any more
(:func:`links`) and ends their broadcasts.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.errors import N_, Conflict, NotFound
from expo.expos import services as expos
from streaming import access, services
from streaming.models import Room, RoomOnAir, Stream, StreamStatus

MAX_CANDIDATES = 50
AUTO = "auto"


async def candidates(session: AsyncSession, user: User, room: Room) -> list[Stream]:
    """The scheduled broadcasts of the room's expo that ``user`` manages, newest first."""
    rows = await access.managed_rows(session, user, Stream, limit=MAX_CANDIDATES)
    return [s for s, _ in rows if s.expo_id == room.expo_id and s.status == StreamStatus.SCHEDULED]


async def broadcast_for(session: AsyncSession, user: User, room: Room, stream_id: int | None) -> Stream:
    """The broadcast ``room`` goes on air into: ``stream_id`` (of the room's expo, managed by
    ``user``: else 404 ``stream.unknown`` or 403 ``stream.forbidden``; 409 ``stream.ended`` or
    ``stream.live`` unless scheduled), or a new one titled after the room (403 unless ``user``
    may present in the expo)."""
    if stream_id is None:
        expo = await expos.expo_by_id(session, room.expo_id)
        return await services.create_stream(session, expo=expo, title=room.title, owner=user)
    stream = await session.get(Stream, stream_id)
    if stream is None or stream.expo_id != room.expo_id:
        raise NotFound(N_("Choose one of your broadcasts in this expo."), code="stream.unknown")
    await access.require_manager(session, user, stream)
    if stream.status == StreamStatus.ENDED:
        raise Conflict(N_("That broadcast has ended."), code="stream.ended")
    if stream.status == StreamStatus.LIVE:
        raise Conflict(N_("That broadcast is live already."), code="stream.live")
    return stream


async def link(session: AsyncSession, room: Room, stream: Stream, user: User, feed: str) -> RoomOnAir:
    """Record that ``room`` feeds ``stream`` from now on (409 ``on_air.busy`` if either is taken)."""
    assert room.id is not None
    taken = await session.exec(
        select(RoomOnAir).where(
            (col(RoomOnAir.room_id) == room.id) | (col(RoomOnAir.stream_id) == services.stored_id(stream))
        )
    )
    if taken.first() is not None:
        raise Conflict(N_("This room or that broadcast is on air already."), code="on_air.busy")
    row = RoomOnAir(room_id=room.id, stream_id=services.stored_id(stream), feed=feed, started_by=user.id)
    session.add(row)
    audit.record(session, "room.on_air", actor_id=user.id, target=f"room:{room.id}", stream=row.stream_id)
    await session.commit()
    return row


async def set_feed(session: AsyncSession, room_id: int, feed: str) -> None:
    """Remember whom the host put on air (``"auto"``, or a participant id)."""
    row = await session.get(RoomOnAir, room_id)
    if row is not None:
        row.feed = feed
        session.add(row)
        await session.commit()


async def unlink(session: AsyncSession, room_id: int) -> RoomOnAir | None:
    """Forget that the room is on air; the row it had, if any."""
    row = await session.get(RoomOnAir, room_id)
    if row is not None:
        await session.delete(row)
        audit.record(session, "room.off_air", target=f"room:{room_id}", stream=row.stream_id)
        await session.commit()
    return row


async def links(session: AsyncSession) -> list[RoomOnAir]:
    """Every room on air, whichever process feeds it."""
    return list((await session.exec(select(RoomOnAir))).all())


async def link_of(session: AsyncSession, room_id: int) -> RoomOnAir | None:
    return await session.get(RoomOnAir, room_id)
