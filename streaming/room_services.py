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
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth
from booths.services import booth_role
from expo import audit
from expo.accounts.models import User
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.permissions import may_manage_broadcast, require, standing
from streaming.access import can_manage, presenting_expos, require_presenter
from streaming.models import Room, RoomKind
from streaming.services import new_key

TITLE_MAX = 200
MIN_CAPACITY = 2
DEFAULT_CAPACITY = {
    # A visitor or two at a booth; delegations across a table; the signatories and witnesses.
    RoomKind.BOOTH_MEETING: 6,
    RoomKind.NEGOTIATION: 12,
    RoomKind.SIGNING_CEREMONY: 8,
}
# Guests of negotiations and signing ceremonies wait until the host lets them in (unless the room
# is a booth's walk-in room, or the host said otherwise).
LOBBY_BY_DEFAULT = {RoomKind.NEGOTIATION, RoomKind.SIGNING_CEREMONY}


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


@dataclass(frozen=True)
class RoomSettings:
    """How a room admits people: at most ``capacity`` in it (its own figure or its kind's default,
    never more than the server's ``limit``), guests waiting in a ``lobby`` for the host, or
    nobody new at all while ``locked`` (but its host)."""

    capacity: int
    lobby: bool
    locked: bool
    limit: int

    def public(self) -> dict[str, int | bool]:
        return {"capacity": self.capacity, "lobby": self.lobby, "locked": self.locked, "limit": self.limit}


def room_settings(room: Room, limit: int) -> RoomSettings:
    """``room``'s settings, its kind's defaults where it has none, on a server taking ``limit``
    people a room."""
    kind = RoomKind(room.kind)
    capacity = room.capacity if room.capacity is not None else DEFAULT_CAPACITY[kind]
    # "Meet us now" on a booth page invites its visitors to walk straight in.
    lobby = room.lobby if room.lobby is not None else kind in LOBBY_BY_DEFAULT and not room.walk_in
    return RoomSettings(capacity=min(capacity, limit), lobby=lobby, locked=room.locked, limit=limit)


async def change_settings(
    session: AsyncSession,
    room: Room,
    limit: int,
    *,
    capacity: int | None = None,
    lobby: bool | None = None,
    locked: bool | None = None,
) -> RoomSettings:
    """Change what is given (the host's doing, checked by the caller) and commit: a capacity of 2
    to ``limit`` (else 422 ``room.invalid_capacity``; below the people in the room now, nobody is
    sent out, only newcomers are refused), the lobby on or off, the lock. 409 ``room.ended``."""
    if room.ended_at is not None:
        raise Conflict(N_("This room has ended."), code="room.ended")
    if capacity is not None and not MIN_CAPACITY <= capacity <= limit:
        raise Invalid(
            f"A room takes {MIN_CAPACITY} to {limit} people.",
            code="room.invalid_capacity",
        )
    changes: dict[str, Any] = {
        name: value
        for name, value in (("capacity", capacity), ("lobby", lobby), ("locked", locked))
        if value is not None and getattr(room, name) != value
    }
    if changes:
        for name, value in changes.items():
            setattr(room, name, value)
        session.add(room)
        audit.record(session, "room.settings", actor_id=None, target=f"room:{room.id}", **changes)
        await session.commit()
    return room_settings(room, limit)


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


async def room_expo(
    session: AsyncSession, settings: Settings, slug: str | None, user: User, *, default: bool = True
) -> Expo:
    """Where ``user`` opens a room: the expo ``slug`` names (``expo.unknown`` when there is none;
    :func:`create_room` checks that they may present there), or without one the only expo where
    they may present, or (``default``) the default expo among several. Never creates an expo:
    someone who may present nowhere is refused (403 ``room.forbidden``), and among several expos
    they are otherwise asked to choose (422 ``room.choose_expo``)."""
    if slug:
        return await expos.get_expo(session, slug)
    choices = await presenting_expos(session, user)
    if len(choices) == 1:
        return choices[0]
    for expo in choices:
        if default and expo.slug == settings.default_expo:
            return expo
    if not choices:
        raise Forbidden(
            N_("Name the expo to present in ('expo'): you may not present in the default expo."),
            code="room.forbidden",
        )
    raise Invalid(N_("Choose the expo to open the room in."), code="room.choose_expo")


async def create_room(
    session: AsyncSession,
    *,
    expo: Expo,
    title: str,
    owner: User | None,
    booth_id: int | None = None,
    title_zh: str = "",
    walk_in: bool = False,
) -> Room:
    """A new room with fresh keys. ``owner`` is ``None`` for command-line rooms; otherwise they
    must be allowed to present in the expo, as for broadcasts (403 ``room.forbidden``), and
    ``booth_id`` must be a booth of the expo they staff (or they manage its broadcasts).
    ``walk_in`` opens it to visitors from that booth's page (422 ``room.walk_in_needs_booth``
    without a booth). A command-line room has no lobby (its guests join at once) until its host
    turns one on."""
    if owner is not None:
        await require_presenter(session, owner, expo, "room.forbidden")
    if booth_id is not None:
        await check_booth(session, expo, booth_id, owner)
    if walk_in and booth_id is None:
        raise Invalid(
            N_("Choose the booth whose page offers the room to its visitors."),
            code="room.walk_in_needs_booth",
        )
    room = await add_room(session, expo=expo, title=title, owner=owner, booth_id=booth_id)
    room.walk_in = walk_in
    if owner is None:
        # The contract: a command-line room's page URL joins the room when opened, no lobby between.
        room.lobby = False
    if title_zh.strip() and "zh_Hans" in expo.language_list:  # the title Chinese readers see
        room.translations = {"zh_Hans": {"title": check_title(title_zh)}}
        session.add(room)
    await session.commit()
    return room


async def check_booth(session: AsyncSession, expo: Expo, booth_id: int, owner: User | None) -> None:
    """:class:`Invalid` (``room.unknown_booth``) unless ``booth_id`` is a booth of ``expo``;
    :class:`Forbidden` (``room.forbidden``) unless ``owner`` staffs it or manages the expo's
    broadcasts (``None``: a command-line room)."""
    booth = await session.get(Booth, booth_id)
    if booth is None or booth.expo_id != expo.id:
        raise Invalid(N_("Choose one of your booths in this expo."), code="room.unknown_booth")
    if owner is None:
        return
    st = await standing(session, owner, booth.expo_id)
    staff = await booth_role(session, booth_id, owner) is not None
    allowed = may_manage_broadcast(st, owner_id=None, booth_staff=staff)
    require(allowed, owner, N_("You can only open rooms for your own booth."), "room.forbidden")


async def set_walk_in(session: AsyncSession, user: User | None, room: Room, walk_in: bool) -> Room:
    """Open ``room`` to its booth page's visitors ("Meet us now") or close it to them again, for
    whoever manages it (403 ``room.not_owner``). Only an open room of a booth can be offered:
    409 ``room.ended`` after it ended, 422 ``room.walk_in_needs_booth`` without a booth."""
    allowed = await can_manage(session, user, room)
    require(allowed, user, N_("Only the room's managers can change who may walk in."), "room.not_owner")
    if room.ended_at is not None:
        raise Conflict(N_("This room has ended."), code="room.ended")
    if walk_in and room.booth_id is None:
        raise Invalid(
            N_("Only a room opened for a booth can be offered on its booth page."),
            code="room.walk_in_needs_booth",
        )
    if room.walk_in != walk_in:
        room.walk_in = walk_in
        session.add(room)
        audit.record(
            session,
            "room.walk_in",
            actor_id=user.id if user else None,
            target=f"room:{room.id}",
            walk_in=walk_in,
        )
        await session.commit()
    return room


async def add_room(
    session: AsyncSession,
    *,
    expo: Expo,
    title: str,
    owner: User | None,
    booth_id: int | None = None,
    kind: RoomKind = RoomKind.NEGOTIATION,
) -> Room:
    """:func:`create_room` inside the caller's transaction (which commits it), for a service that
    opens a room as part of something else (a booth accepting a meeting: ``kind`` booth meeting)."""
    assert expo.id is not None
    room = Room(
        expo_id=expo.id,
        booth_id=booth_id,
        kind=kind.value,
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


async def require_room_manager(
    session: AsyncSession,
    user: User | None,
    room: Room,
    message: str = N_("Only the room's owner and the expo's organizers can end it."),
) -> None:
    """:class:`Forbidden` (``room.not_owner``, ``message``) unless ``user`` manages ``room`` as they
    would a broadcast: its owner, its booth's staff, its expo's broadcast managers."""
    allowed = await can_manage(session, user, room)
    require(allowed, user, message, "room.not_owner")


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
