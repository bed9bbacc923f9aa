"""Telepresence rooms live: who is in each room, and the media the server forwards between them.

Each participant sends its camera and microphone on one peer connection (a WHIP-like publish)
and receives each other participant on one more (a WHEP-like subscription), so joining or
leaving never renegotiates anyone else's connection. Media goes through this process's
:class:`~streaming.router.MediaRouter`, encoded frames forwarded and never decoded: the server is
an SFU, not a relay of decoded pictures and not a peer-to-peer broker.

Everyone in a room hears of arrivals, departures and changes on the room's realtime channel
(:meth:`RoomPlane.channel`; its events are listed in :mod:`streaming.room_bus`).

A participant whose sending connection drops keeps their seat for ``rejoin_grace`` seconds: their
page joins again with the ``rejoin`` token it got on joining and is the same participant (same
id, hand, attendance, no lobby), publishing anew; the others hear ``reconnecting`` and then
``published``, never ``left`` and ``joined`` (how long seats are kept: :mod:`streaming.room_seats`).
Screen sharing is a second sending connection of its own (:mod:`streaming.room_screens`), so it
too never renegotiates anyone else's.

Room control (the host's: admit, turn away, remove, ask to mute, lower a hand) is
:mod:`streaming.room_host`; media is never forced: a page asked to mute mutes itself. Those
modules use the plane's public methods (:meth:`RoomPlane.announce`, :meth:`RoomPlane.other`,
:meth:`RoomPlane.accept_sending`, :meth:`RoomPlane.receive`, ...).

A room's people and media live in the process that admitted its first participant; that process
names the room on the bus, and the others forward the room's requests to it (see
:mod:`streaming.room_http`); which rooms have people in them is counted there too, for the
organizers' live dashboard (both: :mod:`streaming.room_bus`). Who was in a room when is written
to the store (:mod:`streaming.room_attendance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Coroutine
from typing import Any

from expo.accounts.models import User
from expo.bus import Bus
from expo.errors import N_, Conflict, Invalid, NotFound
from streaming import room_seats
from streaming.codecs import request_dtx
from streaming.ice import rtc_configuration
from streaming.models import Room
from streaming.plane import MediaPlane
from streaming.publication import Publication
from streaming.room_bus import RoomBus
from streaming.room_participants import NAME_MAX, Participant, clean_name, screen_key
from streaming.room_services import RoomRole, RoomSettings
from streaming.room_speakers import RoomSpeakers, meter_audio
from streaming.whip import PublisherSession, ViewerSession, accept_publisher, accept_viewer

MAX_PARTICIPANTS = 12
SWEEP_INTERVAL = 5.0
LOBBY_MAX = 20  # people waiting at once in one room's lobby


class RoomPlane:
    """The rooms of this process: their participants and their peer connections.

    States: *open*, then *closed* after :meth:`close` (everyone removed, every connection closed
    and every task awaited; joining refused). A participant leaves on ``DELETE``, when the host
    ends the room, when their publishing connection fails or closes, or when they have had no
    working connection for ``idle_timeout`` seconds (a tab that vanished without a word).
    """

    def __init__(
        self,
        media: MediaPlane,
        bus: Bus,
        secret: str,
        *,
        max_participants: int = MAX_PARTICIPANTS,
        idle_timeout: float = 30.0,
        sweep_interval: float = SWEEP_INTERVAL,
        rejoin_grace: float = 20.0,
    ) -> None:
        self.media = media
        self.bus = bus
        self.room_bus = RoomBus(bus, secret, media.instance)
        self.max_participants = max_participants
        self.idle_timeout = idle_timeout
        self.sweep_interval = sweep_interval
        self.rejoin_grace = rejoin_grace
        self.speakers = RoomSpeakers(self._speaking)
        self.rooms: dict[int, dict[str, Participant]] = {}
        self._arrivals: dict[int, int] = {}  # room id -> people admitted, while it has people
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.closed = False

    def channel(self, room_id: int) -> str:
        """The realtime channel of ``room_id``; only those given its name can subscribe."""
        return self.room_bus.channel(room_id)

    def channel_allowed(self, channel: str) -> bool:
        """Whether ``channel`` is a room channel this process named (its MAC checks out)."""
        return self.room_bus.channel_allowed(channel)

    # -- people ----------------------------------------------------------------------------------

    def participants(self, room_id: int) -> list[Participant]:
        """Who is in the room now, in order of arrival (not those waiting in its lobby)."""
        people = self.rooms.get(room_id, {}).values()
        return sorted((p for p in people if not p.waiting), key=lambda p: p.joined)

    def waiting(self, room_id: int) -> list[Participant]:
        """Who waits in the room's lobby, the longest waiting first."""
        people = self.rooms.get(room_id, {}).values()
        return sorted((p for p in people if p.waiting), key=lambda p: p.joined)

    def participant(self, room_id: int, participant_id: str, secret: str) -> Participant:
        """The participant (in the room or its lobby), checked against their secret: 404
        ``room.no_participant``, 401."""
        found = self.rooms.get(room_id, {}).get(participant_id)
        if found is None:
            raise NotFound("There is no such participant in this room.", code="room.no_participant")
        found.check(secret)
        return found

    def other(self, participant: Participant, other_id: str) -> Participant:
        """Someone else inside ``participant``'s room, once ``participant`` is inside: 403
        ``room.lobby``, 404 ``room.no_participant``."""
        participant.require_inside()
        other = self.rooms.get(participant.room_id, {}).get(other_id)
        if other is None or other is participant or other.waiting:
            raise NotFound("There is no such participant in this room.", code="room.no_participant")
        return other

    def check_capacity(self, room_id: int, capacity: int) -> None:
        """409 ``room.full`` unless one more person fits in the room."""
        if len(self.participants(room_id)) >= capacity:
            raise Conflict(f"This room is full ({capacity} people).", code="room.full")

    async def join(
        self,
        room: Room,
        role: RoomRole,
        name: str,
        user: User | None,
        settings: RoomSettings | None = None,
        rejoin: str = "",
    ) -> Participant:
        """Let someone in (their key was checked), or into the lobby: a guest of a room with a
        lobby waits there (``waiting``) until the host admits or turns them away. 409
        ``room.locked`` for a guest of a locked room, ``room.full`` past the room's capacity
        (``settings``; else ``max_participants``), ``room.lobby_full`` past :data:`LOBBY_MAX`.

        ``rejoin``, the token of someone still in the room (or whose seat is still kept after
        their connection dropped), gives them back that seat: nobody hears ``joined``, nothing
        is checked again; their page's next publish replaces the sending connection the server
        may not have seen drop yet. An unknown or expired token is ignored: a new seat."""
        if self.closed:
            raise Conflict("The media server is shutting down.", code="stream.router_closed")
        assert room.id is not None
        room_id = room.id
        for seat in self.rooms.get(room_id, {}).values():
            if rejoin and hmac.compare_digest(seat.rejoin.encode(), rejoin.encode()) and seat.role is role:
                seat.reconnecting = seat.reconnecting or seat.publishing
                return seat
        capacity = min(settings.capacity, self.max_participants) if settings else self.max_participants
        if settings is not None and settings.locked and role is RoomRole.GUEST:
            raise Conflict(N_("The host has locked this room: nobody new can join."), code="room.locked")
        self.check_capacity(room_id, capacity)
        waits = settings is not None and settings.lobby and role is RoomRole.GUEST
        if waits and len(self.waiting(room_id)) >= LOBBY_MAX:
            raise Conflict(
                N_("Too many people are waiting to join. Try again later."), code="room.lobby_full"
            )
        people = self.rooms.setdefault(room_id, {})
        number = self._arrivals.get(room_id, 0) + 1
        self._arrivals[room_id] = number
        fallback = clean_name(user.name[:NAME_MAX]) if user is not None else ""
        participant = Participant(room_id, clean_name(name, fallback), role, number, waiting=waits)
        participant.user_id = user.id if user is not None else None
        people[participant.id] = participant
        self._start_sweeper()
        if not self.room_bus.holds(room_id):
            await self.room_bus.occupied(room_id, room.expo_id)
        kind = "waiting" if waits else "joined"
        if not waits:
            await room_seats.entered(self.media.db, participant)
        await self.announce(room_id, {"type": kind, "participant": participant.public()})
        return participant

    async def let_in(self, participant: Participant) -> None:
        """A guest waiting in the lobby enters (the host admitted them: see
        :func:`streaming.room_host.admit`); everyone hears ``admitted``."""
        participant.waiting = False
        participant.joined = time.monotonic()  # in the room from now on: order and idle sweep
        await room_seats.entered(self.media.db, participant)
        await self.announce(participant.room_id, {"type": "admitted", "participant": participant.public()})

    async def raise_hand(self, participant: Participant, raised: bool) -> Participant:
        """Raise or lower one's own hand (403 ``room.lobby`` while waiting); everyone hears ``hand``."""
        participant.require_inside()
        if participant.hand != raised:
            participant.hand = raised
            await self.announce(participant.room_id, {"type": "hand", "participant": participant.public()})
        return participant

    async def rename(self, participant: Participant, name: str) -> Participant:
        """Change the name on their tile (trimmed, 1 to 60 characters, else 422
        ``room.invalid_name``); everyone else's page hears ``renamed``."""
        cleaned = clean_name(name)
        if not cleaned:
            raise Invalid("Type a name (1 to 60 characters).", code="room.invalid_name")
        participant.name = cleaned
        await self.announce(participant.room_id, {"type": "renamed", "participant": participant.public()})
        return participant

    async def set_media(
        self, participant: Participant, muted: bool | None, camera_off: bool | None
    ) -> Participant:
        """Their page muted or unmuted, turned the camera off or on: everyone hears ``media``
        (tiles show an icon, or initials instead of a frozen picture). The media itself is the
        page's: the server forwards what comes."""
        participant.require_inside()
        participant.muted = participant.muted if muted is None else muted
        participant.camera_off = participant.camera_off if camera_off is None else camera_off
        await self.announce(participant.room_id, {"type": "media", "participant": participant.public()})
        return participant

    # -- media -----------------------------------------------------------------------------------

    async def publish(self, participant: Participant, offer: str) -> str:
        """Take the participant's camera and microphone (an SDP offer that sends); the answer.

        409 ``room.already_publishing`` while their previous connection is up (unless they joined
        again since: then this one replaces it).
        """
        participant.require_inside()
        if participant.publishing and not participant.reconnecting:
            raise Conflict(
                "You are already sending media; leave and join again.", code="room.already_publishing"
            )
        media_id = f"room:{participant.room_id}:{participant.id}"
        session, answer = await self.accept_sending(participant, media_id, offer)
        previous, participant.publisher = participant.publisher, session
        if previous is not None:
            await self.close_publisher(previous)
        participant.reconnecting = False
        for transceiver in session.pc.getTransceivers():
            if transceiver.kind == "audio":
                meter_audio(transceiver.receiver, self.speakers.meter(participant.room_id, participant.id))
        session.tasks.append(self.spawn(room_seats.keep_seat(self, participant, session)))
        await self.announce(participant.room_id, {"type": "published", "participant": participant.public()})
        return answer

    async def subscribe(self, participant: Participant, other_id: str, offer: str) -> str:
        """Receive ``other_id``'s media (an SDP offer that receives); the answer. A previous
        subscription to the same person is replaced. 404 for nobody, 409 ``room.not_publishing``."""
        other = self.other(participant, other_id)
        publisher = other.publisher
        publications = [p for p in publisher.publications if p.state == "live"] if publisher else []
        if not other.publishing or not publications:
            raise Conflict("That participant is not sending media.", code="room.not_publishing")
        return await self.receive(participant, other_id, publications, offer)

    async def unsubscribe(self, participant: Participant, other_id: str) -> None:
        """Stop receiving ``other_id`` (404 ``room.no_subscription`` if not subscribed)."""
        session = participant.subscriptions.pop(other_id, None)
        if session is None:
            raise NotFound("You are not receiving that participant.", code="room.no_subscription")
        await session.close()

    async def accept_sending(
        self, participant: Participant, media_id: str, offer: str
    ) -> tuple[PublisherSession, str]:
        """A sending connection of ``participant``'s, published on the router as ``media_id``,
        and the SDP answer (asking for Opus DTX: :func:`~streaming.codecs.request_dtx`); 404
        ``room.no_participant`` if they left while it was negotiated."""
        config = rtc_configuration(self.media.ice_servers)
        session, answer = await accept_publisher(
            self.media.router, config, participant.room_id, "", offer, media_id=media_id
        )
        if self.rooms.get(participant.room_id, {}).get(participant.id) is not participant:
            await self.close_publisher(session)  # they left while negotiating
            raise NotFound("There is no such participant in this room.", code="room.no_participant")
        return session, request_dtx(answer)  # silent microphones send next to nothing

    async def receive(
        self, participant: Participant, key: str, publications: list[Publication], offer: str
    ) -> str:
        """A receiving connection of ``participant``'s for ``publications``, kept among their
        subscriptions as ``key`` (replacing one there) until it fails or closes; the answer."""
        config = rtc_configuration(self.media.ice_servers)
        session, answer = await accept_viewer(
            publications, config, participant.room_id, participant.id, offer
        )
        previous = participant.subscriptions.pop(key, None)
        if previous is not None:
            await previous.close()
        participant.subscriptions[key] = session
        session.tasks.append(self.spawn(self._supervise_subscription(participant, key, session)))
        return answer

    async def close_publisher(self, session: PublisherSession) -> None:
        """Take a sending connection's media off the router and close it."""
        for publication in session.publications:
            await self.media.router.unpublish(publication)
        await session.close()

    # -- leaving ---------------------------------------------------------------------------------

    async def leave(self, participant: Participant, *, event: str = "left") -> None:
        """Remove the participant (from the room or its lobby): their connections close, and so
        do everyone's subscriptions to them; the others are told (``event``: ``left``, or the
        host's ``removed`` or ``turned_away``). Idempotent."""
        people = self.rooms.get(participant.room_id, {})
        if people.get(participant.id) is not participant:
            return
        del people[participant.id]
        self.speakers.forget(participant.room_id, participant.id)
        if not people:
            self.rooms.pop(participant.room_id, None)
            self._arrivals.pop(participant.room_id, None)
            await self.room_bus.vacated(participant.room_id)
        await room_seats.left(self.media.db, [participant], "removed" if event == "removed" else "left")
        await self._disconnect(participant)
        for other in list(people.values()):  # others may join or leave while a session closes
            for key in (participant.id, screen_key(participant.id)):
                session = other.subscriptions.pop(key, None)
                if session is not None:
                    await session.close()
        await self.announce(participant.room_id, {"type": event, "id": participant.id})

    async def end(self, room_id: int) -> None:
        """Everyone leaves (the room was ended): connections closed, pages told ``ended``."""
        people = self.rooms.pop(room_id, {})
        self._arrivals.pop(room_id, None)
        for participant in people.values():
            self.speakers.forget(room_id, participant.id)
        await room_seats.left(self.media.db, list(people.values()), "ended")
        for participant in people.values():
            await self._disconnect(participant)
        if people:
            await self.room_bus.vacated(room_id)
        await self.announce(room_id, {"type": "ended"})

    async def close(self) -> None:
        """Close every room's connections and await every task (the rooms stay as stored)."""
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.speakers.close()
        rooms, self.rooms = self.rooms, {}
        await room_seats.left(
            self.media.db, [p for people in rooms.values() for p in people.values()], "closed"
        )
        for people in rooms.values():
            for participant in people.values():
                await self._disconnect(participant)
        await self.room_bus.release()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- for the modules beside the plane --------------------------------------------------------

    async def announce(self, room_id: int, event: dict[str, Any]) -> None:
        """Tell the room's pages ``event`` on its channel (a failure is logged, not raised)."""
        await self.room_bus.announce(room_id, event)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task of the plane: cancelled and awaited when it closes."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- internals -------------------------------------------------------------------------------

    async def _speaking(self, room_id: int, ids: list[str]) -> None:
        await self.announce(room_id, {"type": "speaking", "ids": ids})

    async def _disconnect(self, participant: Participant) -> None:
        subscriptions, participant.subscriptions = participant.subscriptions, {}
        for session in subscriptions.values():
            await session.close()
        for publisher in (participant.publisher, participant.screen):
            if publisher is not None:
                await self.close_publisher(publisher)
        participant.publisher = participant.screen = None

    async def _supervise_subscription(
        self, participant: Participant, key: str, session: ViewerSession
    ) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.media.connect_timeout):
                await session.connected.wait()
            await session.ended.wait()
        if participant.subscriptions.get(key) is session:
            del participant.subscriptions[key]
            await session.close()

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(room_seats.sweep(self), name="rooms-sweeper")
