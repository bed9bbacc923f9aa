"""Telepresence rooms in the store: create, find, tell host from guest by key, end.

A room's two page URLs carry their own access token (the contract's ``host_url`` and
``guest_url``): ``/rooms/{id}?key=<host_key>`` lets its holder end the room for everyone,
``?key=<guest_key>`` only joins. Who is in the room right now is not stored: see
:mod:`streaming.rooms`.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid, NotFound
from expo.expos.models import Expo
from expo.permissions import require
from streaming.access import can_manage, require_presenter
from streaming.models import Room
from streaming.services import new_key

TITLE_MAX = 200


class RoomRole(enum.StrEnum):
    HOST = "host"
    GUEST = "guest"


@dataclass(frozen=True)
class RoomUrls:
    """The contract's page URLs of a room, absolute."""

    host_url: str
    guest_url: str


def room_path(room: Room, role: RoomRole) -> str:
    """The page of ``room`` with the key of ``role`` (relative)."""
    return f"/rooms/{room.id}?key={room.host_key if role is RoomRole.HOST else room.guest_key}"


def room_urls(settings: Settings, room: Room) -> RoomUrls:
    """The page URLs of ``room`` for its host and for its guests."""
    return RoomUrls(
        host_url=settings.url(room_path(room, RoomRole.HOST)),
        guest_url=settings.url(room_path(room, RoomRole.GUEST)),
    )


def in_session_key(expo_id: int) -> str:
    """The bus presence key whose members are the expo's rooms with someone in them now (kept by
    :class:`streaming.rooms.RoomPlane`, read by the organizers' live dashboard)."""
    return f"rooms:in-session:{expo_id}"


def check_title(title: str) -> str:
    """The title stripped, if it has 1 to 200 characters."""
    title = title.strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise Invalid(N_("A room title has 1 to 200 characters."), code="room.invalid_title")
    return title


def role_for(room: Room, key: str) -> RoomRole | None:
    """Whom ``key`` lets into ``room``, compared in constant time; ``None`` for a wrong key."""
    presented = key.encode()
    if hmac.compare_digest(room.host_key.encode(), presented):
        return RoomRole.HOST
    if hmac.compare_digest(room.guest_key.encode(), presented):
        return RoomRole.GUEST
    return None


async def create_room(
    session: AsyncSession, *, expo: Expo, title: str, owner: User | None, booth_id: int | None = None
) -> Room:
    """A new room with fresh keys. ``owner`` is ``None`` for command-line rooms; otherwise they
    must be allowed to present in the expo, as for broadcasts (403 ``room.forbidden``)."""
    if owner is not None:
        await require_presenter(session, owner, expo, "room.forbidden")
    room = await add_room(session, expo=expo, title=title, owner=owner, booth_id=booth_id)
    await session.commit()
    return room


async def add_room(
    session: AsyncSession, *, expo: Expo, title: str, owner: User | None, booth_id: int | None = None
) -> Room:
    """:func:`create_room` inside the caller's transaction (which commits it), for a service that
    opens a room as part of something else (a booth accepting a meeting)."""
    assert expo.id is not None
    room = Room(
        expo_id=expo.id,
        booth_id=booth_id,
        owner_id=owner.id if owner is not None else None,
        title=check_title(title),
        host_key=new_key(),
        guest_key=new_key(),
    )
    session.add(room)
    await session.flush()
    audit.record(session, "room.created", actor_id=room.owner_id, target=f"room:{room.id}", title=room.title)
    return room


async def get_room(session: AsyncSession, room_id: int) -> Room:
    """The room with this id, or :class:`NotFound` (``room.not_found``)."""
    room = await session.get(Room, room_id)
    if room is None:
        raise NotFound("No such room.", code="room.not_found")
    return room


async def require_room_manager(session: AsyncSession, user: User | None, room: Room) -> None:
    """:class:`Forbidden` (``room.not_owner``) unless ``user`` manages ``room`` as they would a
    broadcast: its owner, its booth's staff, its expo's broadcast managers."""
    allowed = await can_manage(session, user, room)
    require(
        allowed, user, N_("Only the room's owner and the expo's organizers can end it."), "room.not_owner"
    )


async def admit(session: AsyncSession, room_id: int, key: str) -> tuple[Room, RoomRole]:
    """The room and the role ``key`` gives in it: :class:`NotFound` for an unknown room or a
    wrong key (which does not reveal that the room exists), :class:`Conflict` once it ended."""
    room = await get_room(session, room_id)
    role = role_for(room, key)
    if role is None:
        raise NotFound("No such room.", code="room.not_found")
    if room.ended_at is not None:
        raise Conflict("This room has ended.", code="room.ended")
    return room, role


async def end_room(session: AsyncSession, room_id: int, *, commit: bool = True) -> Room:
    """Mark the room ended (idempotent): nobody can join it any more. ``commit=False`` leaves the
    commit to the caller's transaction."""
    room = await get_room(session, room_id)
    if room.ended_at is None:
        room.ended_at = utcnow()
        audit.record(session, "room.ended", actor_id=None, target=f"room:{room.id}")
        if commit:
            await session.commit()
    return room


async def room_links(session: AsyncSession, room_ids: Iterable[int | None], role: RoomRole) -> dict[int, str]:
    """The page link (relative) of each open room among ``room_ids`` for ``role``: the host's or
    the guests'. Ended and unknown rooms are left out."""
    wanted = {i for i in room_ids if i is not None}
    if not wanted:
        return {}
    rooms = (await session.exec(select(Room).where(col(Room.id).in_(wanted)))).all()
    return {room.id: room_path(room, role) for room in rooms if room.id is not None and room.ended_at is None}
