"""What a room plane says on the bus: its rooms' realtime channels, and which rooms it holds.

Everyone in a room hears, on its realtime channel (``/ws``; its name carries a MAC so that only
those given it on joining can subscribe)::

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
    {"type": "on_air", "on_air": {...} | null}   it went on air, or off (see :mod:`streaming.on_air`)

The rooms with people in them are named in two bus presences, renewed every few seconds while
they have people (:meth:`RoomBus.renew`): the holders (:data:`HOLDERS_KEY`, members
``{room id}/{process}``), where the other processes forward a room's requests
(:mod:`streaming.room_api`), and the expo's rooms in session
(:func:`~streaming.room_services.in_session_key`), counted on the organizers' live dashboard.
A bus hiccup costs an event or a renewal, never a room: pages re-read the participant list when
their socket comes back, and the next renewal names the room again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
from typing import Any

from expo import events, realtime
from expo.bus import Bus
from streaming.room_services import in_session_key

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "room:"
HOLDERS_KEY = "room-holders"
"""Bus presence of the rooms each process holds; members are ``{room id}/{process}``."""
IN_SESSION_TTL = 15.0  # renewed every sweep while a room has people in it
_CHANNEL = re.compile(r"^room:([1-9][0-9]{0,17}):([0-9a-f]{24})$")


class RoomBus:
    """One process's rooms on the bus: their channels, and the rooms it holds (by expo)."""

    def __init__(self, bus: Bus, secret: str, instance: str) -> None:
        self.bus = bus
        self._secret = secret
        self._instance = instance
        self._expo_of: dict[int, int] = {}  # room id -> expo id, while the room has people

    def channel(self, room_id: int) -> str:
        """The realtime channel of ``room_id``; only those given its name can subscribe."""
        mac = hmac.new(self._secret.encode(), f"room-channel:{room_id}".encode(), hashlib.sha256)
        return f"{CHANNEL_PREFIX}{room_id}:{mac.hexdigest()[:24]}"

    def channel_allowed(self, channel: str) -> bool:
        """Whether ``channel`` is a room channel this process named (its MAC checks out)."""
        match = _CHANNEL.match(channel)
        return match is not None and hmac.compare_digest(channel, self.channel(int(match.group(1))))

    async def announce(self, room_id: int, event: dict[str, Any]) -> None:
        """Publish ``event`` on the room's channel (a failure is logged, not raised)."""
        try:
            await realtime.publish_event(self.bus, self.channel(room_id), event)
        except Exception:
            # The others' pages re-read the participant list when their socket comes back.
            logger.exception("rooms: announcing %s in room %s failed", event.get("type"), room_id)

    def holds(self, room_id: int) -> bool:
        """Whether this process named the room as having people in it."""
        return room_id in self._expo_of

    async def occupied(self, room_id: int, expo_id: int) -> None:
        """The room's first participant came: name it held here and in session."""
        self._expo_of[room_id] = expo_id
        await self._count(room_id, expo_id, True)

    async def vacated(self, room_id: int) -> None:
        """The room's last participant left: it is no longer held here nor in session."""
        expo_id = self._expo_of.pop(room_id, None)
        if expo_id is not None:
            await self._count(room_id, expo_id, False)

    async def renew(self) -> None:
        """Name every held room again for :data:`IN_SESSION_TTL` seconds (the sweep's beat)."""
        for room_id, expo_id in list(self._expo_of.items()):
            with contextlib.suppress(Exception):  # a bus hiccup: the next sweep renews it
                await self._touch(room_id, expo_id)

    async def release(self) -> None:
        """Stop naming this process as the holder of its rooms (it is closing)."""
        for room_id in list(self._expo_of):
            with contextlib.suppress(Exception):  # else it lapses after IN_SESSION_TTL
                await self.bus.presence_leave(HOLDERS_KEY, self._held(room_id))

    async def _count(self, room_id: int, expo_id: int, occupied: bool) -> None:
        """Count the room in (or out of) its expo's rooms in session, and refresh the dashboard."""
        try:
            if occupied:
                await self._touch(room_id, expo_id)
            else:
                await self.bus.presence_leave(HOLDERS_KEY, self._held(room_id))
                await self.bus.presence_leave(in_session_key(expo_id), str(room_id))
            await events.figures_changed(self.bus, expo_id)
        except Exception:
            # The figure lapses or is renewed by the next sweep; the room itself is unaffected.
            logger.exception("rooms: counting room %s in session failed", room_id)

    async def _touch(self, room_id: int, expo_id: int) -> None:
        await self.bus.presence_touch(HOLDERS_KEY, self._held(room_id), IN_SESSION_TTL)
        await self.bus.presence_touch(in_session_key(expo_id), str(room_id), IN_SESSION_TTL)

    def _held(self, room_id: int) -> str:
        """This process's member of :data:`HOLDERS_KEY` for ``room_id``."""
        return f"{room_id}/{self._instance}"
