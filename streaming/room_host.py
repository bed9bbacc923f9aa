"""Room control: what the host of a telepresence room may do to the others in it.

The host admits guests waiting in the lobby or turns them away, removes someone, asks them to
mute and lowers their raised hand; each is checked here against the acting participant's role
(403 ``room.host_only``) and told to the room on its channel (see :mod:`streaming.rooms`). Media
is never forced: a page asked to mute mutes itself. The room's stored settings (capacity, lobby,
lock) are changed by :func:`streaming.room_services.change_settings`; :func:`settings_changed`
tells the pages.
"""

from __future__ import annotations

from expo.errors import N_, NotFound
from streaming.room_participants import Participant
from streaming.room_services import RoomSettings
from streaming.rooms import RoomPlane


async def admit(plane: RoomPlane, host: Participant, other_id: str, settings: RoomSettings) -> Participant:
    """The host lets a waiting guest in (404 ``room.not_waiting`` unless one is waiting;
    409 ``room.full`` when the room is at its capacity); everyone hears ``admitted``."""
    other = _waiting_one(plane, host, other_id)
    plane.check_capacity(host.room_id, min(settings.capacity, plane.max_participants))
    await plane.let_in(other)
    return other


async def turn_away(plane: RoomPlane, host: Participant, other_id: str) -> None:
    """The host turns a waiting guest away: their page hears ``turned_away`` and says so."""
    await plane.leave(_waiting_one(plane, host, other_id), event="turned_away")


async def remove(plane: RoomPlane, host: Participant, other_id: str) -> None:
    """The host removes someone from the room at once: their connections close and their
    page hears ``removed``. Their seat's secret is void; they could come back only with the
    room's key, through the lobby or not at all once the host locks the room."""
    await plane.leave(_other(plane, host, other_id), event="removed")


async def ask_to_mute(plane: RoomPlane, host: Participant, other_id: str) -> None:
    """The host asks someone to mute: their own page turns their microphone off (the server
    never touches anyone's media)."""
    other = _other(plane, host, other_id)
    await plane.announce(host.room_id, {"type": "mute", "id": other.id})


async def lower_hand(plane: RoomPlane, host: Participant, other_id: str) -> Participant:
    """The host lowers someone's raised hand (they had their turn)."""
    return await plane.raise_hand(_other(plane, host, other_id), False)


async def settings_changed(plane: RoomPlane, room_id: int, settings: RoomSettings) -> None:
    """Tell the room's pages that the host changed its capacity, lobby or lock."""
    await plane.announce(room_id, {"type": "settings", "settings": settings.public()})


def _other(plane: RoomPlane, host: Participant, other_id: str) -> Participant:
    """Someone else in the host's room (404 ``room.no_participant``), once ``host`` is one."""
    host.require_host()
    return plane.other(host, other_id)


def _waiting_one(plane: RoomPlane, host: Participant, other_id: str) -> Participant:
    """Someone waiting in the host's lobby (404 ``room.not_waiting``), once ``host`` is one."""
    host.require_host()
    other = plane.rooms.get(host.room_id, {}).get(other_id)
    if other is None or not other.waiting:
        raise NotFound(N_("That person is not waiting in the lobby."), code="room.not_waiting")
    return other
