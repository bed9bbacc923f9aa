"""Rooms on air over HTTP: the host's control (see :mod:`streaming.on_air`).

With ``{room}`` for ``/api/rooms/{id}``; every call carries the room's host key:

- ``GET {room}/on-air?key=K`` → whether the room is on air, into which broadcast, whom the host
  chose and who is on air now; for a signed-in host also the broadcasts they may put it on air
  into (the expo's scheduled broadcasts they manage) and the one suggested (a signing
  ceremony's own broadcast).
- ``PUT {room}/on-air`` ``{"key", "stream_id"?, "feed"?}`` (signed in) → on air into
  ``stream_id``, or without it into the suggested broadcast, else a new one titled after the
  room; ``feed``: a participant id or ``"auto"`` (the active speaker).
- ``PUT {room}/on-air/feed`` ``{"key", "feed"}`` → that feed goes on air at its next keyframe.
- ``POST {room}/on-air/end`` ``{"key"}`` → off air: the broadcast ends.

Errors: 404 ``room.not_found`` (unknown room, wrong key), 403 ``room.host_only`` (a guest's key),
409 ``on_air.busy``, ``on_air.empty``, ``on_air.off``, ``room.not_publishing``,
``stream.publisher_connected`` (a WHIP publisher holds the broadcast), ``stream.live``,
``stream.ended``; 403 ``stream.forbidden`` for a broadcast the user does not manage.
Like the room's other routes they are answered by the process that holds the room.
"""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.errors import Forbidden
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import Id
from streaming import on_air_services, services
from streaming.models import Room, Stream
from streaming.on_air import OnAirDesk
from streaming.on_air_services import AUTO
from streaming.room_http import routed
from streaming.room_services import RoomRole, admit

_ROOM = "/api/rooms/{room_id:int}/on-air"
_TAGS = ["rooms"]
FEED_MAX = 16


class KeyIn(Schema):
    key: str = Field(min_length=1, max_length=100, description="the room's host key")


class GoOnAirIn(KeyIn):
    stream_id: Id | None = Field(default=None, description="a scheduled broadcast you manage")
    feed: str = Field(default=AUTO, min_length=1, max_length=FEED_MAX, pattern=r"^[0-9a-z]+$")


class FeedIn(KeyIn):
    feed: str = Field(min_length=1, max_length=FEED_MAX, pattern=r"^[0-9a-z]+$")


class StreamChoice(Schema):
    id: int
    title: str


class OnAirOut(Schema):
    on_air: bool
    stream_id: int | None = Field(description="The broadcast the room feeds while on air.")
    watch_url: str | None
    feed: str | None = Field(description='The host\'s choice: a participant id or "auto".')
    source: str | None = Field(description="The participant on air now (none between feeds).")
    streams: list[StreamChoice] = Field(description="Broadcasts the signed-in host may use.")
    suggested: int | None = Field(description="The broadcast of the room's signing ceremony, if any.")


def _desk(request: Request) -> OnAirDesk:
    return platform(request).get(OnAirDesk)


async def _host_room(request: Request, key: str) -> Room:
    async with platform(request).db.session() as session:
        room, role = await admit(session, path_int(request, "room_id"), key)
    if role is not RoomRole.HOST:
        raise Forbidden("Only the host can put the room on air.", code="room.host_only")
    return room


async def _state(request: Request, room: Room) -> OnAirOut:
    assert room.id is not None
    desk = _desk(request)
    on_air = desk.state(room.id)
    user = await current_user(request)
    choices: list[Stream] = []
    async with platform(request).db.session() as session:
        if user is not None:
            choices = await on_air_services.candidates(session, user, room)
        suggested = await desk.suggested_stream(session, room)
    watch_url = None
    if on_air is not None:
        watch_url = platform(request).settings.url(f"/watch/{on_air.stream_id}")
    return OnAirOut(
        on_air=on_air is not None,
        stream_id=on_air.stream_id if on_air else None,
        watch_url=watch_url,
        feed=on_air.feed if on_air else None,
        source=on_air.switch.source if on_air else None,
        streams=[StreamChoice(id=services.stored_id(s), title=s.title) for s in choices],
        suggested=suggested,
    )


async def on_air_state(request: Request, query: KeyIn) -> OnAirOut:
    """Whether the room is on air, and what the host may put on air."""
    return await _state(request, await _host_room(request, query.key))


async def go_on_air(request: Request, body: GoOnAirIn, user: User) -> OnAirOut:
    """Put the room on air into one of your broadcasts (or a new one titled after the room)."""
    room = await _host_room(request, body.key)
    desk = _desk(request)
    assert room.id is not None
    desk.check_ready(room.id, body.feed)  # before a broadcast is made for it
    async with platform(request).db.session() as session:
        stream_id = body.stream_id or await desk.suggested_stream(session, room)
        stream = await on_air_services.broadcast_for(session, user, room, stream_id)
    await desk.go_on_air(room, stream, user, body.feed)
    return await _state(request, room)


async def choose_feed(request: Request, body: FeedIn) -> OnAirOut:
    """Put a participant (or ``"auto"``, the active speaker) on air at their next keyframe."""
    room = await _host_room(request, body.key)
    assert room.id is not None
    await _desk(request).choose(room.id, body.feed)
    return await _state(request, room)


async def go_off_air(request: Request, body: KeyIn) -> OnAirOut:
    """Take the room off air: its broadcast ends."""
    room = await _host_room(request, body.key)
    assert room.id is not None
    await _desk(request).off_air(room.id)
    return await _state(request, room)


ROUTES: list[BaseRoute] = [
    routed(route)
    for route in [
        Endpoint(_ROOM, on_air_state, query=KeyIn, response=OnAirOut, tags=_TAGS),
        Endpoint(_ROOM, go_on_air, method="PUT", body=GoOnAirIn, response=OnAirOut, auth="user", tags=_TAGS),
        Endpoint(f"{_ROOM}/feed", choose_feed, method="PUT", body=FeedIn, response=OnAirOut, tags=_TAGS),
        Endpoint(f"{_ROOM}/end", go_off_air, method="POST", body=KeyIn, response=OnAirOut, tags=_TAGS),
    ]
]
