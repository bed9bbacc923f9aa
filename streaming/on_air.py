"""Rooms on air: a room's people feed one of the expo's broadcasts, with no WHIP publisher.

The host of a room (a signing ceremony, a negotiation) puts it on air into a broadcast: the
broadcast goes live as if an encoder published it (:meth:`~streaming.plane.MediaPlane.feed`), so
its WHEP and HLS viewers, its audience figures, chat and likes are those of any broadcast, and a
WHIP publisher for it is refused (409) while the room feeds it. What they see and hear is one
participant at a time (:class:`~streaming.on_air_switch.OnAirSwitch`): the one the host chose,
or with ``"auto"`` the room's active speaker (:mod:`streaming.room_speakers`). When the chosen
one stops sending, the feed falls back on the active speaker, else on whoever was on air, else on
the host, else on the first participant sending.

An :class:`OnAirDesk` lives beside the :class:`~streaming.rooms.RoomPlane` of each process and
feeds the rooms that process holds (the room API forwards a room's requests to its holder). It
follows each room on its realtime channel: someone (re)publishing, leaving or starting to speak
makes it choose again, the room ending or emptying takes it off air. Off air (by the host, or
with the room) ends the broadcast. A broadcast ended by its managers elsewhere takes the room off
air. The link is stored (:mod:`streaming.on_air_services`): a process that starts ends the
broadcasts of rooms that no process holds any more (the one that fed them stopped).

Everyone in the room hears ``{"type": "on_air", "on_air": {...} | null}`` on its channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from expo import realtime
from expo.accounts.models import User
from expo.bus import BusError
from expo.errors import N_, Conflict, NotFound
from streaming import on_air_services
from streaming.models import Room, Stream
from streaming.on_air_services import AUTO
from streaming.on_air_switch import OnAirSwitch, can_feed
from streaming.room_bus import HOLDERS_KEY
from streaming.room_participants import Participant
from streaming.room_services import RoomRole
from streaming.rooms import RoomPlane

logger = logging.getLogger(__name__)

Suggest = Callable[[AsyncSession, Room], Awaitable[int | None]]
"""Finds a room's own broadcast: the app gives the desk the signing ceremonies' (a domain above)."""

_RECHOOSE = frozenset({"published", "left", "removed", "speaking", "admitted", "joined"})


@dataclass(eq=False)
class OnAir:
    """A room on air in this process: the broadcast it feeds, whom the host chose, the switch."""

    room_id: int
    stream_id: int
    feed: str  # a participant id, or AUTO
    switch: OnAirSwitch
    task: asyncio.Task[None] | None = None

    def public(self) -> dict[str, Any]:
        """What the room's pages see: the broadcast, the host's choice, who is on air now."""
        return {"stream_id": self.stream_id, "feed": self.feed, "source": self.switch.source}


def _sending(participant: Participant) -> bool:
    publisher = participant.publisher
    if publisher is None or not participant.publishing:
        return False
    live = [p for p in publisher.publications if p.state == "live"]
    return bool(live) and all(can_feed(p) for p in live if p.kind == "video")


class OnAirDesk:
    """The rooms of this process that are on air; added to the platform after the room plane.

    States: *open*, then *closed* after :meth:`close` (every room taken off air, its broadcast
    ended, every task awaited).

    :param suggest: finds the broadcast a room goes on air into when the host names none.
    """

    def __init__(self, rooms: RoomPlane, *, suggest: Suggest | None = None) -> None:
        self.rooms = rooms
        self._suggest = suggest
        self.media = rooms.media
        self.on_air: dict[int, OnAir] = {}
        self._starting: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    async def suggested_stream(self, session: AsyncSession, room: Room) -> int | None:
        """The room's own broadcast, if it has one (a signing ceremony's: see ``suggest``)."""
        return await self._suggest(session, room) if self._suggest is not None else None

    def state(self, room_id: int) -> OnAir | None:
        """The room's broadcast while it is on air from this process."""
        return self.on_air.get(room_id)

    async def go_on_air(self, room: Room, stream: Stream, user: User, feed: str = AUTO) -> OnAir:
        """Put ``room`` on air into ``stream`` (already checked: the user manages it).

        409 ``on_air.busy`` if the room is on air already, ``on_air.empty`` with nobody in it,
        and the media plane's refusals (``stream.publisher_connected`` for a WHIP publisher).
        """
        assert room.id is not None and stream.id is not None
        room_id = room.id
        self.check_ready(room_id, feed)
        self._starting.add(room_id)
        try:
            async with self.media.db.session() as session:
                await on_air_services.link(session, room, stream, user, feed)
            switch = OnAirSwitch(self.media.router, stream.id)
            try:
                await self.media.feed(stream, switch.publications, actor=user)
            except BaseException:
                await switch.close()
                async with self.media.db.session() as session:
                    await on_air_services.unlink(session, room_id)
                raise
            on_air = self.on_air[room_id] = OnAir(room_id, stream.id, feed, switch)
        finally:
            self._starting.discard(room_id)
        self._choose(on_air)
        on_air.task = self._spawn(self._follow(on_air))
        await self._announce(on_air.room_id, on_air)
        return on_air

    def check_ready(self, room_id: int, feed: str = AUTO) -> None:
        """Whether the room can go on air with ``feed`` now: 409 ``on_air.busy`` if it is on air
        already, ``on_air.empty`` with nobody in it; 404 ``room.no_participant``."""
        if self.closed:
            raise Conflict("The media server is shutting down.", code="stream.router_closed")
        if room_id in self.on_air or room_id in self._starting:
            raise Conflict(N_("This room is on air already."), code="on_air.busy")
        if not self.rooms.participants(room_id):
            raise Conflict(N_("Nobody is in the room yet."), code="on_air.empty")
        self._check_feed(room_id, feed)

    async def choose(self, room_id: int, feed: str) -> OnAir:
        """Put ``feed`` (a participant id, or ``"auto"``) on air at its next keyframe. 409
        ``on_air.off`` when the room is not on air, 404 ``room.no_participant``."""
        on_air = self._require(room_id)
        self._check_feed(room_id, feed)
        on_air.feed = feed
        if feed != AUTO:
            chosen = self.rooms.rooms.get(room_id, {}).get(feed)
            if chosen is None or not _sending(chosen):
                raise Conflict(N_("That participant is not sending media."), code="room.not_publishing")
        self._choose(on_air)
        async with self.media.db.session() as session:
            await on_air_services.set_feed(session, room_id, feed)
        await self._announce(room_id, on_air)
        return on_air

    async def off_air(self, room_id: int) -> None:
        """Take the room off air: its broadcast ends (viewers hear it) and the link goes."""
        on_air = self.on_air.pop(room_id, None)
        if on_air is None:
            await self._forget_link(room_id)
            return
        if on_air.task is not None and on_air.task is not asyncio.current_task():
            on_air.task.cancel()
            await asyncio.gather(on_air.task, return_exceptions=True)
        try:
            await self.media.unfeed(on_air.stream_id)
        finally:
            await on_air.switch.close()
            await self._forget_link(room_id)
            await self._announce(room_id, None)
        logger.info("on air: room %s is off air (stream %s ended)", room_id, on_air.stream_id)

    async def start(self) -> None:
        """End the broadcasts of stored rooms on air that no process holds any more."""
        try:
            async with self.media.db.session() as session:
                rows = await on_air_services.links(session)
            for row in rows:
                if row.room_id in self.rooms.rooms or await self._held_elsewhere(row.room_id):
                    continue
                logger.info("on air: room %s was left on air by a stopped process", row.room_id)
                await self._forget_link(row.room_id)
                await self.media.unfeed(row.stream_id)
        except Exception:
            logger.exception("on air: cannot reconcile the rooms left on air")

    async def close(self) -> None:
        """Take every room off air (their people are about to lose their connections too)."""
        self.closed = True
        for room_id in list(self.on_air):
            with contextlib.suppress(Exception):
                await self.off_air(room_id)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- internals -------------------------------------------------------------------------------

    def _require(self, room_id: int) -> OnAir:
        on_air = self.on_air.get(room_id)
        if on_air is None:
            raise Conflict(N_("This room is not on air."), code="on_air.off")
        return on_air

    def _check_feed(self, room_id: int, feed: str) -> None:
        if feed != AUTO and feed not in {p.id for p in self.rooms.participants(room_id)}:
            raise NotFound("There is no such participant in this room.", code="room.no_participant")

    def _pick(self, on_air: OnAir) -> Participant | None:
        """Who should be on air now (see the module docstring)."""
        people = {p.id: p for p in self.rooms.participants(on_air.room_id) if _sending(p)}
        if not people:
            return None
        switch = on_air.switch
        preferred = [on_air.feed] if on_air.feed != AUTO else []
        preferred += [self.rooms.speakers.active_speaker(on_air.room_id) or ""]
        preferred += [switch.next_source or "", switch.source or ""]
        for candidate in preferred:
            if candidate in people:
                return people[candidate]
        hosts = [p for p in people.values() if p.role is RoomRole.HOST]
        return (hosts or list(people.values()))[0]

    def _choose(self, on_air: OnAir) -> None:
        chosen = self._pick(on_air)
        switch = on_air.switch
        if chosen is None:
            if switch.source is not None or switch.next_source is not None:
                switch.clear()
            return
        if chosen.id == switch.next_source:
            return  # already waiting for its keyframe
        assert chosen.publisher is not None
        try:
            switch.switch_to(chosen.id, chosen.publisher.publications)
        except Conflict:
            logger.info("on air: %s in room %s cannot go on air", chosen.id, on_air.room_id)

    async def _follow(self, on_air: OnAir) -> None:
        """Choose again as the room changes; off air when it ends or empties, or when the
        broadcast was ended elsewhere (by its managers)."""
        ended = asyncio.create_task(on_air.switch.video.wait_ended())
        room = asyncio.create_task(self._watch_room(on_air))
        try:
            await asyncio.wait([ended, room], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ended, room):
                task.cancel()
            await asyncio.gather(ended, room, return_exceptions=True)
        if self.on_air.get(on_air.room_id) is on_air:
            await self.off_air(on_air.room_id)

    async def _watch_room(self, on_air: OnAir) -> None:
        """Returns once the room has ended or has nobody left in it."""
        try:
            async with self.media.bus.subscribe(self.rooms.channel(on_air.room_id)) as subscription:
                async for message in subscription:
                    with contextlib.suppress(ValueError, AttributeError):
                        kind = json.loads(message).get("type")
                        if kind == "ended" or on_air.room_id not in self.rooms.rooms:
                            return
                        if kind in _RECHOOSE:
                            self._choose(on_air)
        except BusError:
            logger.exception("on air: cannot follow room %s on the bus", on_air.room_id)
        await asyncio.Event().wait()  # the bus closed: the broadcast's end still takes it off air

    async def _held_elsewhere(self, room_id: int) -> bool:
        try:
            return await self.media.cluster.holder(HOLDERS_KEY, str(room_id)) is not None
        except BusError:
            return True  # cannot tell: leave it to a later start

    async def _forget_link(self, room_id: int) -> None:
        try:
            async with self.media.db.session() as session:
                await on_air_services.unlink(session, room_id)
        except Exception:
            logger.exception("on air: cannot forget that room %s was on air", room_id)

    async def _announce(self, room_id: int, on_air: OnAir | None) -> None:
        event = {"type": "on_air", "on_air": on_air.public() if on_air is not None else None}
        try:
            await realtime.publish_event(self.media.bus, self.rooms.channel(room_id), event)
        except Exception:
            logger.exception("on air: announcing room %s failed", room_id)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
