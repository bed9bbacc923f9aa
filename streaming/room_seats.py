"""A seat in a room: its attendance row, and how long it is kept without a working connection.

Entering the room (joining, or being let in from the lobby) opens the seat's attendance row and
leaving closes it (:mod:`streaming.room_attendance`); a store hiccup costs the row, never the room.

- When a participant's sending connection fails, closes or never connects, their seat is kept
  for the plane's ``rejoin_grace`` seconds (the others hear ``reconnecting``): their page joins
  again with its ``rejoin`` token and publishes anew (see :meth:`~streaming.rooms.RoomPlane.join`).
  Then, or at once without a grace, they leave.
- Someone who has had no working connection for ``idle_timeout`` seconds (they joined, then the
  tab vanished before or without publishing or subscribing) leaves at the next sweep.
- A guest waiting in the lobby longer than :data:`LOBBY_TIMEOUT` (the host never came) leaves it.

The sweep runs every ``sweep_interval`` seconds while the plane has people, and also names their
rooms on the bus again (:meth:`~streaming.room_bus.RoomBus.renew`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from expo.db import Database
from streaming import room_attendance
from streaming.room_participants import Participant
from streaming.whip import PublisherSession

if TYPE_CHECKING:  # the plane starts these; they only call it back
    from streaming.rooms import RoomPlane

logger = logging.getLogger(__name__)

LOBBY_TIMEOUT = 600.0  # a guest waiting longer (the host never came) leaves the lobby


async def entered(db: Database, participant: Participant) -> None:
    """Open their attendance row (kept as ``participant.stay``)."""
    try:
        participant.stay = await room_attendance.entered(
            db,
            participant.room_id,
            participant.id,
            participant.user_id,
            participant.label,
            participant.role.value,
        )
    except Exception:
        logger.exception("rooms: recording %s entering room %s failed", participant.id, participant.room_id)


async def left(db: Database, participants: list[Participant], how: str) -> None:
    """Close the attendance rows of those who had one, ``how`` they left."""
    stays = [(p.stay, p.label) for p in participants if p.stay is not None]
    for participant in participants:
        participant.stay = None
    try:
        await room_attendance.left(db, stays, how)
    except Exception:
        logger.exception("rooms: recording %d leaving failed", len(stays))


async def keep_seat(plane: RoomPlane, participant: Participant, session: PublisherSession) -> None:
    """Watch the participant's sending connection ``session``; once it is gone, keep their seat
    ``rejoin_grace`` seconds, then they leave unless they published again meanwhile."""
    try:
        async with asyncio.timeout(plane.media.connect_timeout):
            await session.connected.wait()
        await session.ended.wait()
    except TimeoutError:
        logger.info("rooms: participant %s never connected", participant.id)
    if participant.publisher is not session:
        return
    if plane.rejoin_grace <= 0:
        await plane.leave(participant)
        return
    participant.reconnecting = True
    await plane.announce(participant.room_id, {"type": "reconnecting", "id": participant.id})
    await asyncio.sleep(plane.rejoin_grace)
    if participant.publisher is session:  # they did not publish again in time
        await plane.leave(participant)


async def sweep(plane: RoomPlane) -> None:
    """Every ``sweep_interval`` seconds while the plane has people: renew their rooms on the bus,
    and drop those idle for ``idle_timeout`` seconds or waiting past :data:`LOBBY_TIMEOUT`."""
    idle_since: dict[Participant, float] = {}
    while plane.rooms:
        await asyncio.sleep(plane.sweep_interval)
        now = time.monotonic()
        await plane.room_bus.renew()
        for participant in [p for people in plane.rooms.values() for p in people.values()]:
            if participant.waiting:  # no connection yet, by design: only an endless wait ends
                if now - participant.joined >= LOBBY_TIMEOUT:
                    await plane.leave(participant, event="turned_away")
                continue
            if participant.publishing or participant.subscriptions or participant.reconnecting:
                idle_since.pop(participant, None)
                continue
            since = idle_since.setdefault(participant, max(participant.joined, now - plane.sweep_interval))
            if now - since >= plane.idle_timeout:
                idle_since.pop(participant, None)
                await plane.leave(participant)
