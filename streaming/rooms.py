"""Telepresence rooms live: who is in each room, and the media the server forwards between them.

Each participant sends its camera and microphone on one peer connection (a WHIP-like publish)
and receives each other participant on one more (a WHEP-like subscription), so joining or
leaving never renegotiates anyone else's connection. Media goes through this process's
:class:`~streaming.router.MediaRouter`, encoded frames forwarded and never decoded: the server is
an SFU, not a relay of decoded pictures and not a peer-to-peer broker.

Everyone in a room hears of arrivals and departures on the realtime channel :meth:`RoomPlane.channel`
(``/ws``; its name carries a MAC so that only participants can subscribe)::

    {"type": "joined", "participant": {...}}     someone entered
    {"type": "waiting", "participant": {...}}    a guest waits in the lobby for the host
    {"type": "admitted", "participant": {...}}   the host let them in (they entered)
    {"type": "turned_away", "id": "..."}         the host turned them away from the lobby
    {"type": "removed", "id": "..."}             the host removed them from the room
    {"type": "mute", "id": "..."}                the host asks them to mute (their page does it)
    {"type": "hand", "participant": {...}}       they raised or lowered their hand
    {"type": "settings", "settings": {...}}      the host changed capacity, lobby or lock
    {"type": "published", "participant": {...}}  their media can be subscribed to
    {"type": "renamed", "participant": {...}}    they changed the name shown on their tile
    {"type": "media", "participant": {...}}      they muted or unmuted, turned their camera off or on
    {"type": "screen", "participant": {...}}     they started (``screen`` names it) or stopped sharing
    {"type": "speaking", "ids": [...]}           who speaks now (see :mod:`streaming.room_speakers`)
    {"type": "reconnecting", "id": "..."}        their connection dropped; their seat is kept a while
    {"type": "left", "id": "..."}                they left (or did not come back in time)
    {"type": "ended"}                            the host ended the room for everyone

A participant whose sending connection drops keeps their seat for ``rejoin_grace`` seconds: their
page joins again with the ``rejoin`` token it got on joining and is the same participant (same
id, hand, attendance, no lobby), publishing anew; the others hear ``reconnecting`` and then
``published``, never ``left`` and ``joined``. Screen sharing is a second sending connection of its
own (:mod:`streaming.room_screens`), so it too never renegotiates anyone else's.

Room control (the host's: admit, turn away, remove, ask to mute, lower a hand) is checked here
against the participant's role; media is never forced: a page asked to mute mutes itself.

A room's people and media live in the process that admitted its first participant; that process
names the room in a presence on the bus (:data:`HOLDERS_KEY`, members ``{room id}/{process}``,
renewed by the sweep while the room has people), and the others forward the room's requests to it
(see :mod:`streaming.room_api`). Which rooms have people in them is shared over the bus
(:func:`~streaming.room_services.in_session_key`), for the organizers' live dashboard. Who was in
a room when is written to the store (:mod:`streaming.room_attendance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from expo import events, realtime
from expo.accounts.models import User
from expo.bus import Bus
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound, Unauthorized
from streaming import room_attendance
from streaming.ice import rtc_configuration
from streaming.models import Room
from streaming.plane import MediaPlane
from streaming.room_services import RoomRole, RoomSettings, in_session_key
from streaming.room_speakers import RoomSpeakers, meter_audio
from streaming.whip import PublisherSession, ViewerSession, accept_publisher, accept_viewer

logger = logging.getLogger(__name__)

MAX_PARTICIPANTS = 12
NAME_MAX = 60
CHANNEL_PREFIX = "room:"
SWEEP_INTERVAL = 5.0
IN_SESSION_TTL = 15.0  # renewed every sweep while a room has people in it
LOBBY_MAX = 20  # people waiting at once in one room's lobby
LOBBY_TIMEOUT = 600.0  # a guest waiting longer (the host never came) leaves the lobby
HOLDERS_KEY = "room-holders"
"""Bus presence of the rooms each process holds; members are ``{room id}/{process}``."""
_CHANNEL = re.compile(r"^room:([1-9][0-9]{0,17}):([0-9a-f]{24})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(eq=False)
class Participant:
    """One person in a room. ``id`` is public (the page's ``data-participant``); ``secret`` is
    their credential for publishing, subscribing and leaving. ``name`` is what they (or their
    account) said, or empty: then pages show ``number``, e.g. "Guest 3", in their own language."""

    room_id: int
    name: str
    role: RoomRole
    number: int = 1
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    joined: float = field(default_factory=time.monotonic)
    # Waiting in the lobby: known to the host, not yet in the room (no media, no hand).
    waiting: bool = False
    hand: bool = False
    user_id: int | None = None  # their account, if they were signed in
    stay: int | None = None  # their attendance row while they are in the room
    # Presented on joining again after a dropped connection: the same seat (see RoomPlane.join).
    rejoin: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    reconnecting: bool = False  # their connection dropped; the seat is kept for a while
    muted: bool = False  # what their page says of their microphone and camera (shown on tiles)
    camera_off: bool = False
    publisher: PublisherSession | None = None
    screen: PublisherSession | None = None  # their shared screen (streaming.room_screens)
    # Their subscriptions, by the id of the participant whose media they receive.
    subscriptions: dict[str, ViewerSession] = field(default_factory=dict)

    @property
    def publishing(self) -> bool:
        return self.publisher is not None and not self.publisher.ended.is_set()

    def public(self) -> dict[str, Any]:
        """What the others see of this participant. ``media`` names their current sending
        session: a page subscribes again only when it changes (they reconnected)."""
        media = self.publisher.id[:12] if self.publisher is not None and self.publishing else None
        screen = self.screen.id[:12] if self.screen is not None and not self.screen.ended.is_set() else None
        return {
            "id": self.id,
            "name": self.label,
            "named": bool(self.name),
            "number": self.number,
            "role": self.role.value,
            "publishing": media is not None,
            "media": media,
            "hand": self.hand,
            "muted": self.muted,
            "camera_off": self.camera_off,
            "screen": screen,
            "reconnecting": self.reconnecting,
        }

    @property
    def label(self) -> str:
        """Their name, or in English for API clients "Host" or "Guest 3" when they gave none."""
        if self.name:
            return self.name
        return "Host" if self.role is RoomRole.HOST else f"Guest {self.number}"

    def check(self, secret: str) -> None:
        if not hmac.compare_digest(self.secret.encode(), secret.encode()):
            raise Unauthorized(
                "Present this participant's secret as the bearer token.", code="room.bad_secret"
            )


def screen_key(participant_id: str) -> str:
    """The key, among someone's subscriptions, of their subscription to ``participant_id``'s screen."""
    return f"{participant_id}:screen"


def clean_name(name: str, fallback: str = "") -> str:
    """A display name: control characters dropped and trimmed, at most 60 characters (else 422
    ``room.invalid_name``); ``fallback`` when nothing is left."""
    name = _CONTROL.sub("", name).strip()
    if len(name) > NAME_MAX:
        raise Invalid(f"A name has at most {NAME_MAX} characters.", code="room.invalid_name")
    return name or fallback


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
        self._secret = secret
        self.max_participants = max_participants
        self.idle_timeout = idle_timeout
        self.sweep_interval = sweep_interval
        self.rejoin_grace = rejoin_grace
        self.speakers = RoomSpeakers(self._speaking)
        self.rooms: dict[int, dict[str, Participant]] = {}
        self._arrivals: dict[int, int] = {}  # room id -> people admitted, while it has people
        self._expo_of: dict[int, int] = {}  # room id -> expo id, while the room has people
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.closed = False

    # -- the channel -----------------------------------------------------------------------------

    def channel(self, room_id: int) -> str:
        """The realtime channel of ``room_id``; only those given its name can subscribe."""
        mac = hmac.new(self._secret.encode(), f"room-channel:{room_id}".encode(), hashlib.sha256)
        return f"{CHANNEL_PREFIX}{room_id}:{mac.hexdigest()[:24]}"

    def channel_allowed(self, channel: str) -> bool:
        """Whether ``channel`` is a room channel this process named (its MAC checks out)."""
        match = _CHANNEL.match(channel)
        return match is not None and hmac.compare_digest(channel, self.channel(int(match.group(1))))

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
        self._check_room_for_one_more(room_id, capacity)
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
        if room_id not in self._expo_of:
            self._expo_of[room_id] = room.expo_id
            await self._in_session(room_id, True)
        kind = "waiting" if waits else "joined"
        if not waits:
            await self._entered(participant)
        await self._announce(room_id, {"type": kind, "participant": participant.public()})
        return participant

    # -- the host's control ----------------------------------------------------------------------

    async def admit(self, host: Participant, other_id: str, settings: RoomSettings) -> Participant:
        """The host lets a waiting guest in (404 ``room.not_waiting`` unless one is waiting;
        409 ``room.full`` when the room is at its capacity); everyone hears ``admitted``."""
        other = self._waiting_one(host, other_id)
        self._check_room_for_one_more(host.room_id, min(settings.capacity, self.max_participants))
        other.waiting = False
        other.joined = time.monotonic()  # in the room from now on, for the order and the idle sweep
        await self._entered(other)
        await self._announce(host.room_id, {"type": "admitted", "participant": other.public()})
        return other

    async def turn_away(self, host: Participant, other_id: str) -> None:
        """The host turns a waiting guest away: their page hears ``turned_away`` and says so."""
        await self.leave(self._waiting_one(host, other_id), event="turned_away")

    async def remove(self, host: Participant, other_id: str) -> None:
        """The host removes someone from the room at once: their connections close and their
        page hears ``removed``. Their seat's secret is void; they could come back only with the
        room's key, through the lobby or not at all once the host locks the room."""
        await self.leave(self._other(host, other_id), event="removed")

    async def ask_to_mute(self, host: Participant, other_id: str) -> None:
        """The host asks someone to mute: their own page turns their microphone off (the server
        never touches anyone's media)."""
        other = self._other(host, other_id)
        await self._announce(host.room_id, {"type": "mute", "id": other.id})

    async def raise_hand(self, participant: Participant, raised: bool) -> Participant:
        """Raise or lower one's own hand (403 ``room.lobby`` while waiting); everyone hears ``hand``."""
        self._require_inside(participant)
        if participant.hand != raised:
            participant.hand = raised
            await self._announce(participant.room_id, {"type": "hand", "participant": participant.public()})
        return participant

    async def lower_hand(self, host: Participant, other_id: str) -> Participant:
        """The host lowers someone's raised hand (they had their turn)."""
        return await self.raise_hand(self._other(host, other_id), False)

    async def settings_changed(self, room_id: int, settings: RoomSettings) -> None:
        """Tell the room's pages that the host changed its capacity, lobby or lock."""
        await self._announce(room_id, {"type": "settings", "settings": settings.public()})

    async def rename(self, participant: Participant, name: str) -> Participant:
        """Change the name on their tile (trimmed, 1 to 60 characters, else 422
        ``room.invalid_name``); everyone else's page hears ``renamed``."""
        cleaned = clean_name(name)
        if not cleaned:
            raise Invalid("Type a name (1 to 60 characters).", code="room.invalid_name")
        participant.name = cleaned
        await self._announce(participant.room_id, {"type": "renamed", "participant": participant.public()})
        return participant

    async def publish(self, participant: Participant, offer: str) -> str:
        """Take the participant's camera and microphone (an SDP offer that sends); the answer.

        409 ``room.already_publishing`` while their previous connection is up (unless they joined
        again since: then this one replaces it).
        """
        self._require_inside(participant)
        if participant.publishing and not participant.reconnecting:
            raise Conflict(
                "You are already sending media; leave and join again.", code="room.already_publishing"
            )
        config = rtc_configuration(self.media.ice_servers)
        media_id = f"room:{participant.room_id}:{participant.id}"
        session, answer = await accept_publisher(
            self.media.router, config, participant.room_id, "", offer, media_id=media_id
        )
        if participant.room_id not in self.rooms or participant.id not in self.rooms[participant.room_id]:
            await self._close_publisher(session)  # they left while negotiating
            raise NotFound("There is no such participant in this room.", code="room.no_participant")
        previous, participant.publisher = participant.publisher, session
        if previous is not None:
            await self._close_publisher(previous)
        participant.reconnecting = False
        for transceiver in session.pc.getTransceivers():
            if transceiver.kind == "audio":
                meter_audio(transceiver.receiver, self.speakers.meter(participant.room_id, participant.id))
        session.tasks.append(self._spawn(self._supervise_publisher(participant, session)))
        await self._announce(participant.room_id, {"type": "published", "participant": participant.public()})
        return answer

    async def subscribe(self, participant: Participant, other_id: str, offer: str) -> str:
        """Receive ``other_id``'s media (an SDP offer that receives); the answer. A previous
        subscription to the same person is replaced. 404 for nobody, 409 ``room.not_publishing``."""
        self._require_inside(participant)
        other = self.rooms.get(participant.room_id, {}).get(other_id)
        if other is None or other is participant or other.waiting:
            raise NotFound("There is no such participant in this room.", code="room.no_participant")
        publisher = other.publisher
        publications = [p for p in publisher.publications if p.state == "live"] if publisher else []
        if not other.publishing or not publications:
            raise Conflict("That participant is not sending media.", code="room.not_publishing")
        config = rtc_configuration(self.media.ice_servers)
        session, answer = await accept_viewer(
            publications, config, participant.room_id, participant.id, offer
        )
        previous = participant.subscriptions.pop(other_id, None)
        if previous is not None:
            await previous.close()
        participant.subscriptions[other_id] = session
        session.tasks.append(self._spawn(self._supervise_subscription(participant, other_id, session)))
        return answer

    async def unsubscribe(self, participant: Participant, other_id: str) -> None:
        """Stop receiving ``other_id`` (404 ``room.no_subscription`` if not subscribed)."""
        session = participant.subscriptions.pop(other_id, None)
        if session is None:
            raise NotFound("You are not receiving that participant.", code="room.no_subscription")
        await session.close()

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
            await self._in_session(participant.room_id, False)
        await self._left([participant], "removed" if event == "removed" else "left")
        await self._disconnect(participant)
        for other in people.values():
            for key in (participant.id, screen_key(participant.id)):
                session = other.subscriptions.pop(key, None)
                if session is not None:
                    await session.close()
        await self._announce(participant.room_id, {"type": event, "id": participant.id})

    async def end(self, room_id: int) -> None:
        """Everyone leaves (the room was ended): connections closed, pages told ``ended``."""
        people = self.rooms.pop(room_id, {})
        self._arrivals.pop(room_id, None)
        for participant in people.values():
            self.speakers.forget(room_id, participant.id)
        await self._left(list(people.values()), "ended")
        for participant in people.values():
            await self._disconnect(participant)
        if people:
            await self._in_session(room_id, False)
        await self._announce(room_id, {"type": "ended"})

    async def close(self) -> None:
        """Close every room's connections and await every task (the rooms stay as stored)."""
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.speakers.close()
        rooms, self.rooms = self.rooms, {}
        await self._left([p for people in rooms.values() for p in people.values()], "closed")
        for people in rooms.values():
            for participant in people.values():
                await self._disconnect(participant)
        for room_id in rooms:
            with contextlib.suppress(Exception):  # else it lapses after IN_SESSION_TTL
                await self.bus.presence_leave(HOLDERS_KEY, self._held(room_id))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def set_media(
        self, participant: Participant, muted: bool | None, camera_off: bool | None
    ) -> Participant:
        """Their page muted or unmuted, turned the camera off or on: everyone hears ``media``
        (tiles show an icon, or initials instead of a frozen picture). The media itself is the
        page's: the server forwards what comes."""
        self._require_inside(participant)
        participant.muted = participant.muted if muted is None else muted
        participant.camera_off = participant.camera_off if camera_off is None else camera_off
        await self._announce(participant.room_id, {"type": "media", "participant": participant.public()})
        return participant

    # -- internals -------------------------------------------------------------------------------

    async def _speaking(self, room_id: int, ids: list[str]) -> None:
        await self._announce(room_id, {"type": "speaking", "ids": ids})

    async def _entered(self, participant: Participant) -> None:
        """Open their attendance row (a store hiccup costs the row, never the room)."""
        try:
            participant.stay = await room_attendance.entered(
                self.media.db,
                participant.room_id,
                participant.id,
                participant.user_id,
                participant.label,
                participant.role.value,
            )
        except Exception:
            logger.exception(
                "rooms: recording %s entering room %s failed", participant.id, participant.room_id
            )

    async def _left(self, participants: list[Participant], how: str) -> None:
        """Close the attendance rows of those who had one, ``how`` they left."""
        stays = [(p.stay, p.label) for p in participants if p.stay is not None]
        for participant in participants:
            participant.stay = None
        try:
            await room_attendance.left(self.media.db, stays, how)
        except Exception:
            logger.exception("rooms: recording %d leaving failed", len(stays))

    def _check_room_for_one_more(self, room_id: int, capacity: int) -> None:
        if len(self.participants(room_id)) >= capacity:
            raise Conflict(f"This room is full ({capacity} people).", code="room.full")

    @staticmethod
    def _require_inside(participant: Participant) -> None:
        if participant.waiting:
            raise Forbidden(N_("Wait for the host to let you in."), code="room.lobby")

    @staticmethod
    def _require_host(participant: Participant) -> None:
        if participant.role is not RoomRole.HOST:
            raise Forbidden(N_("Only the host can do this."), code="room.host_only")

    def _other(self, host: Participant, other_id: str) -> Participant:
        """Someone else in the host's room (404 ``room.no_participant``), once ``host`` is one."""
        self._require_host(host)
        self._require_inside(host)
        other = self.rooms.get(host.room_id, {}).get(other_id)
        if other is None or other is host or other.waiting:
            raise NotFound("There is no such participant in this room.", code="room.no_participant")
        return other

    def _waiting_one(self, host: Participant, other_id: str) -> Participant:
        """Someone waiting in the host's lobby (404 ``room.not_waiting``), once ``host`` is one."""
        self._require_host(host)
        other = self.rooms.get(host.room_id, {}).get(other_id)
        if other is None or not other.waiting:
            raise NotFound(N_("That person is not waiting in the lobby."), code="room.not_waiting")
        return other

    async def _in_session(self, room_id: int, occupied: bool) -> None:
        """Count the room in (or out of) its expo's rooms in session, and refresh the dashboard."""
        expo_id = self._expo_of[room_id] if occupied else self._expo_of.pop(room_id, None)
        if expo_id is None:
            return
        try:
            if occupied:
                await self.bus.presence_touch(HOLDERS_KEY, self._held(room_id), IN_SESSION_TTL)
                await self.bus.presence_touch(in_session_key(expo_id), str(room_id), IN_SESSION_TTL)
            else:
                await self.bus.presence_leave(HOLDERS_KEY, self._held(room_id))
                await self.bus.presence_leave(in_session_key(expo_id), str(room_id))
            await events.figures_changed(self.bus, expo_id)
        except Exception:
            # The figure lapses or is renewed by the next sweep; the room itself is unaffected.
            logger.exception("rooms: counting room %s in session failed", room_id)

    def _held(self, room_id: int) -> str:
        """This process's member of :data:`HOLDERS_KEY` for ``room_id``."""
        return f"{room_id}/{self.media.instance}"

    async def _announce(self, room_id: int, event: dict[str, Any]) -> None:
        try:
            await realtime.publish_event(self.bus, self.channel(room_id), event)
        except Exception:
            # The others' pages re-read the participant list when their socket comes back.
            logger.exception("rooms: announcing %s in room %s failed", event.get("type"), room_id)

    async def _disconnect(self, participant: Participant) -> None:
        subscriptions, participant.subscriptions = participant.subscriptions, {}
        for session in subscriptions.values():
            await session.close()
        for publisher in (participant.publisher, participant.screen):
            if publisher is not None:
                await self._close_publisher(publisher)
        participant.publisher = participant.screen = None

    async def _close_publisher(self, session: PublisherSession) -> None:
        for publication in session.publications:
            await self.media.router.unpublish(publication)
        await session.close()

    async def _supervise_publisher(self, participant: Participant, session: PublisherSession) -> None:
        """When their sending connection fails, closes or never connects, the participant's seat
        is kept ``rejoin_grace`` seconds for their page to join again (the others hear
        ``reconnecting``); then, or at once without a grace, they leave."""
        try:
            async with asyncio.timeout(self.media.connect_timeout):
                await session.connected.wait()
            await session.ended.wait()
        except TimeoutError:
            logger.info("rooms: participant %s never connected", participant.id)
        if participant.publisher is not session:
            return
        if self.rejoin_grace <= 0:
            await self.leave(participant)
            return
        participant.reconnecting = True
        await self._announce(participant.room_id, {"type": "reconnecting", "id": participant.id})
        await asyncio.sleep(self.rejoin_grace)
        if participant.publisher is session:  # they did not publish again in time
            await self.leave(participant)

    async def _supervise_subscription(
        self, participant: Participant, other_id: str, session: ViewerSession
    ) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.media.connect_timeout):
                await session.connected.wait()
            await session.ended.wait()
        if participant.subscriptions.get(other_id) is session:
            del participant.subscriptions[other_id]
            await session.close()

    def _start_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep(), name="rooms-sweeper")

    async def _sweep(self) -> None:
        """Drop participants who have had no working connection for ``idle_timeout`` seconds
        (they joined, then the tab vanished before or without publishing or subscribing)."""
        idle_since: dict[Participant, float] = {}
        while self.rooms:
            await asyncio.sleep(self.sweep_interval)
            now = time.monotonic()
            for room_id, expo_id in list(self._expo_of.items()):
                with contextlib.suppress(Exception):  # a bus hiccup: the next sweep renews it
                    await self.bus.presence_touch(HOLDERS_KEY, self._held(room_id), IN_SESSION_TTL)
                    await self.bus.presence_touch(in_session_key(expo_id), str(room_id), IN_SESSION_TTL)
            for participant in [p for people in self.rooms.values() for p in people.values()]:
                if participant.waiting:  # no connection yet, by design: only an endless wait ends
                    if now - participant.joined >= LOBBY_TIMEOUT:
                        await self.leave(participant, event="turned_away")
                    continue
                if participant.publishing or participant.subscriptions or participant.reconnecting:
                    idle_since.pop(participant, None)
                    continue
                since = idle_since.setdefault(participant, max(participant.joined, now - self.sweep_interval))
                if now - since >= self.idle_timeout:
                    idle_since.pop(participant, None)
                    await self.leave(participant)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
