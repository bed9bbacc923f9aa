"""Telepresence rooms over HTTP: the room page and the API its script (or any client) uses.

``/rooms/{id}?key=K`` is the room page: opened, it joins with camera and microphone. The API,
with ``{room}`` for ``/api/rooms/{id}`` and ``{me}`` for ``{room}/participants/{participant}``:

- ``POST /api/rooms`` ``{"title", "expo"?}`` → ``201 {"id", "host_url", "guest_url"}``, as ``expo
  rooms create`` prints it; in an expo where you may present (its organizers, the staff of its
  booths). Without ``expo``, the only expo where you may present, or the default one among
  several (else 422 ``room.choose_expo``); never an expo created for it (403 if you may present
  nowhere).
- ``POST {room}/participants`` ``{"key", "name"?}`` → ``201`` with the participant's ``id``, its
  ``secret`` (the bearer token of every call below), the room's realtime ``channel`` and who is
  there already, and a ``rejoin`` token: ``{"key", "rejoin"}`` later gives the same seat back
  after a dropped connection (see :mod:`streaming.rooms`). Media state and screen sharing:
  :mod:`streaming.room_media_api`. ``GET {room}/participants?key=K`` → who is there.
- ``POST {me}/publish``, an ``application/sdp`` offer that sends → ``201`` with the answer.
- ``POST {me}/subscriptions/{other}``, an offer that receives → ``201`` with the answer and the
  subscription's ``Location``; ``DELETE`` it to stop receiving.
- ``PUT {me}/name`` ``{"name"}`` → the participant as the others now see it (``renamed`` on the
  channel); trimmed, 1 to 60 characters, else 422 ``room.invalid_name``.
- Room control. ``PUT {room}/settings`` ``{"key": host key, "capacity"?, "lobby"?, "locked"?}`` →
  the room's settings (``settings`` on the channel): capacity 2 to the server's limit, guests
  waiting in a lobby or not, locked (no guest gets in) or not. A guest of a room with a lobby
  joins ``waiting``; the host's ``POST {me}/lobby/{other}/admit`` lets them in (``admitted``),
  ``POST {me}/lobby/{other}/turn-away`` sends them off (``turned_away``). The host's ``POST
  {me}/others/{other}/remove`` takes someone out (``removed``), ``POST {me}/others/{other}/mute``
  asks their page to mute their microphone (``mute``), ``DELETE {me}/others/{other}/hand`` lowers
  their hand. ``PUT {me}/hand`` ``{"raised"}``: raise or lower one's own hand (``hand``).
- ``DELETE {me}`` → ``204``: leave; ``POST {me}/leave`` with the secret as a ``text/plain`` body
  does the same for a closing page's ``navigator.sendBeacon``. ``POST {room}/end``
  ``{"key": host key}`` → ends it for all.

Errors: 404 ``room.not_found`` for an unknown room or a wrong key, 409 ``room.ended``,
``room.full``, ``room.not_publishing``, 401 ``room.bad_secret``, 403 ``room.host_only``, and the
SDP errors of WHIP/WHEP (see :mod:`streaming.media_api`); for room control 409 ``room.locked``,
``room.lobby_full``, 403 ``room.host_only`` (not the host), ``room.lobby`` (still waiting), 404
``room.not_waiting``, 422 ``room.invalid_capacity``.

Any server process answers: the ``{room}`` routes are forwarded, before their body is read, to the
process that holds the room when that is another one (see :mod:`streaming.room_http`). The page
and the realtime channel need no forwarding: the page is the same everywhere, and the channel's
events go over the bus.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo import realtime
from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.errors import Forbidden, NotFound, Unauthorized
from expo.http.api import Endpoint, path_int
from expo.http.bodies import read_body
from expo.http.pages import render
from expo.realtime import Realtime
from streaming import room_host, room_services
from streaming.media_api import SDP, sdp_offer
from streaming.models import Room
from streaming.room_bus import CHANNEL_PREFIX
from streaming.room_http import ME, ROOM, SUBSCRIPTION, TAGS, participant_of, room_plane, routed, sdp_route
from streaming.room_participants import NAME_MAX, Participant
from streaming.room_schemas import (
    HandIn,
    JoinIn,
    JoinOut,
    KeyIn,
    NameIn,
    ParticipantList,
    ParticipantOut,
    RoomIn,
    RoomOut,
    SettingsIn,
    SettingsOut,
)
from streaming.room_services import (
    RoomRole,
    RoomSettings,
    admit,
    change_settings,
    create_room,
    end_room,
    get_room,
    role_for,
    room_settings,
    room_urls,
)
from streaming.rooms import RoomPlane

SECRET_MAX_BYTES = 256
"""Largest body of a leave beacon (a participant secret is 32 characters)."""


def _others(plane: RoomPlane, room_id: int, me: Participant | None = None) -> list[ParticipantOut]:
    return [ParticipantOut(**p.public()) for p in plane.participants(room_id) if p is not me]


def _settings(request: Request, room: Room) -> RoomSettings:
    return room_settings(room, room_plane(request).max_participants)


def _other_id(request: Request) -> str:
    other: str = request.path_params["other_id"]
    return other


async def open_room(request: Request, body: RoomIn, user: User) -> RoomOut:
    """Open a room where you may present: its id and the host's and guests' page URLs."""
    p = platform(request)
    async with p.db.session() as session:
        expo = await room_services.room_expo(session, p.settings, body.expo, user)
        room = await create_room(session, expo=expo, title=body.title, owner=user)
    assert room.id is not None
    urls = room_urls(p.settings, room)
    return RoomOut(id=room.id, host_url=urls.host_url, guest_url=urls.guest_url)


async def join_room(request: Request, body: JoinIn) -> JoinOut:
    """Enter the room with its host or guest key; the answer carries your participant secret."""
    room_id = path_int(request, "room_id")
    async with platform(request).db.session() as session:
        room, role = await admit(session, room_id, body.key)
    plane = room_plane(request)
    settings = _settings(request, room)
    me = await plane.join(room, role, body.name, await current_user(request), settings, body.rejoin)
    return JoinOut(
        id=me.id,
        secret=me.secret,
        rejoin=me.rejoin,
        name=me.label,
        named=bool(me.name),
        role=me.role.value,
        waiting=me.waiting,
        channel=plane.channel(room_id),
        participants=[] if me.waiting else _others(plane, room_id, me),
        settings=SettingsOut(**settings.public()),
    )


async def room_participants(request: Request, query: KeyIn) -> ParticipantList:
    """Who is in the room now (``?key=`` the host or guest key); the host's key also lists who
    waits in the lobby."""
    room_id = path_int(request, "room_id")
    async with platform(request).db.session() as session:
        room, role = await admit(session, room_id, query.key)
    plane = room_plane(request)
    waiting = plane.waiting(room_id) if role is RoomRole.HOST else []
    return ParticipantList(
        participants=_others(plane, room_id),
        waiting=[ParticipantOut(**p.public()) for p in waiting],
        settings=SettingsOut(**_settings(request, room).public()),
    )


async def update_settings(request: Request, body: SettingsIn) -> SettingsOut:
    """Change the room's capacity, lobby or lock (the host's key only); the pages hear it."""
    room_id = path_int(request, "room_id")
    async with platform(request).db.session() as session:
        room, role = await admit(session, room_id, body.key)
        if role is not RoomRole.HOST:
            raise Forbidden("Only the host can change the room's settings.", code="room.host_only")
        settings = await change_settings(
            session,
            room,
            room_plane(request).max_participants,
            capacity=body.capacity,
            lobby=body.lobby,
            locked=body.locked,
        )
    await room_host.settings_changed(room_plane(request), room_id, settings)
    return SettingsOut(**settings.public())


async def admit_guest(request: Request) -> ParticipantOut:
    """The host lets someone waiting in the lobby into the room."""
    me = participant_of(request)
    async with platform(request).db.session() as session:
        room = await get_room(session, me.room_id)
    admitted = await room_host.admit(room_plane(request), me, _other_id(request), _settings(request, room))
    return ParticipantOut(**admitted.public())


async def turn_away_guest(request: Request) -> None:
    """The host turns away someone waiting in the lobby."""
    await room_host.turn_away(room_plane(request), participant_of(request), _other_id(request))


async def remove_participant(request: Request) -> None:
    """The host removes someone from the room at once."""
    await room_host.remove(room_plane(request), participant_of(request), _other_id(request))


async def ask_to_mute(request: Request) -> None:
    """The host asks someone to mute: their page turns their microphone off."""
    await room_host.ask_to_mute(room_plane(request), participant_of(request), _other_id(request))


async def raise_hand(request: Request, body: HandIn) -> ParticipantOut:
    """Raise or lower your hand: everyone's tile for you shows it."""
    me = await room_plane(request).raise_hand(participant_of(request), body.raised)
    return ParticipantOut(**me.public())


async def lower_hand(request: Request) -> None:
    """The host lowers someone's raised hand."""
    await room_host.lower_hand(room_plane(request), participant_of(request), _other_id(request))


async def publish_media(request: Request) -> Response:
    """Send your camera and microphone: an SDP offer in, the answer out."""
    me = participant_of(request)
    answer = await room_plane(request).publish(me, await sdp_offer(request, sending=True))
    return Response(answer, status_code=201, media_type=SDP)


async def subscribe_media(request: Request) -> Response:
    """Receive another participant: an SDP offer in, the answer out (their media, forwarded)."""
    me = participant_of(request)
    other: str = request.path_params["other_id"]
    answer = await room_plane(request).subscribe(me, other, await sdp_offer(request, sending=False))
    location = f"/api/rooms/{me.room_id}/participants/{me.id}/subscriptions/{other}"
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})


async def unsubscribe_media(request: Request) -> None:
    """Stop receiving that participant."""
    await room_plane(request).unsubscribe(participant_of(request), request.path_params["other_id"])


async def rename(request: Request, body: NameIn) -> ParticipantOut:
    """Change the name the others see on your tile (they hear ``renamed`` at once)."""
    me = await room_plane(request).rename(participant_of(request), body.name)
    return ParticipantOut(**me.public())


async def leave_room(request: Request) -> None:
    """Leave the room: your connections close and the others are told."""
    await room_plane(request).leave(participant_of(request))


async def leave_on_close(request: Request) -> None:
    """Leave from a closing page: ``navigator.sendBeacon`` cannot send headers, so the participant
    secret is the ``text/plain`` body (401 ``room.secret_required`` / ``room.bad_secret``)."""
    room_id = path_int(request, "room_id")
    secret = (await read_body(request, SECRET_MAX_BYTES)).decode("utf-8", "replace").strip()
    if not secret:
        raise Unauthorized("Send your participant secret as the body.", code="room.secret_required")
    plane = room_plane(request)
    await plane.leave(plane.participant(room_id, request.path_params["participant_id"], secret))


async def finish_room(request: Request, body: KeyIn) -> dict[str, Any]:
    """End the room for everyone (the host's key only); nobody can join it afterwards."""
    room_id = path_int(request, "room_id")
    async with platform(request).db.session() as session:
        _, role = await admit(session, room_id, body.key)
        if role is not RoomRole.HOST:
            raise Forbidden("Only the host can end the room.", code="room.host_only")
        await end_room(session, room_id)
    await room_plane(request).end(room_id)
    return {"ended": True}


async def room_page(request: Request) -> Response:
    """``/rooms/{id}?key=K``: the room; opening it joins with camera and microphone at once. A
    guest may type a name meanwhile (remembered by the browser for the next room)."""
    room_id = path_int(request, "room_id")
    key = request.query_params.get("key", "")
    async with platform(request).db.session() as session:
        room = await get_room(session, room_id)
        if room.ended_at is None:
            _, role = await admit(session, room_id, key)
        elif role_for(room, key) is None:
            raise NotFound("No such room.", code="room.not_found")
        else:
            role = RoomRole.GUEST  # an ended room's page only says so
    config = {
        "room": room_id,
        "key": key,
        "role": role.value,
        "ended": room.ended_at is not None,
        "settings": _settings(request, room).public(),
    }
    guest_url = room_urls(platform(request).settings, room).guest_url if role is RoomRole.HOST else None
    context = {
        "room": room,
        "role": role.value,
        "config": config,
        "guest_url": guest_url,
        "name_max": NAME_MAX,
    }
    return await render(request, "room.html", context)


def may_listen(user: User | None, channel: str) -> bool:
    """``room:{id}:{mac}``: whoever was given the name on joining (the MAC proves it)."""
    return platform(realtime.current_connection()).get(RoomPlane).channel_allowed(channel)


def register_channels(pages: Realtime) -> None:
    """Let participants' pages subscribe to their room's channel (called by ``create_app``)."""
    pages.allow_prefix(CHANNEL_PREFIX, may_listen)


_WAITING = ME + "/lobby/{other_id:str}"
_OTHER = ME + "/others/{other_id:str}"

# A room's requests go to the process that holds its people and media (streaming.room_http): one
# process forwarding a room's media to another would only add a hop. Rooms are small (12 people),
# so one process's share of the rooms is what scales.
ROUTES: list[BaseRoute] = [
    Endpoint(
        "/api/rooms",
        open_room,
        method="POST",
        body=RoomIn,
        response=RoomOut,
        status=201,
        auth="user",
        tags=TAGS,
    ),
    *[
        routed(route)
        for route in [
            Endpoint(
                f"{ROOM}/participants",
                join_room,
                method="POST",
                body=JoinIn,
                response=JoinOut,
                status=201,
                tags=TAGS,
            ),
            Endpoint(
                f"{ROOM}/participants", room_participants, query=KeyIn, response=ParticipantList, tags=TAGS
            ),
            Endpoint(f"{ROOM}/end", finish_room, method="POST", body=KeyIn, tags=TAGS),
            Endpoint(
                f"{ROOM}/settings",
                update_settings,
                method="PUT",
                body=SettingsIn,
                response=SettingsOut,
                tags=TAGS,
            ),
            sdp_route(f"{ME}/publish", publish_media),
            sdp_route(SUBSCRIPTION, subscribe_media),
            Endpoint(SUBSCRIPTION, unsubscribe_media, method="DELETE", status=204, tags=TAGS),
            Endpoint(f"{ME}/name", rename, method="PUT", body=NameIn, response=ParticipantOut, tags=TAGS),
            Endpoint(ME, leave_room, method="DELETE", status=204, tags=TAGS),
            Endpoint(f"{_WAITING}/admit", admit_guest, method="POST", response=ParticipantOut, tags=TAGS),
            Endpoint(f"{_WAITING}/turn-away", turn_away_guest, method="POST", status=204, tags=TAGS),
            Endpoint(f"{_OTHER}/remove", remove_participant, method="POST", status=204, tags=TAGS),
            Endpoint(f"{_OTHER}/mute", ask_to_mute, method="POST", status=204, tags=TAGS),
            Endpoint(f"{_OTHER}/hand", lower_hand, method="DELETE", status=204, tags=TAGS),
            Endpoint(f"{ME}/hand", raise_hand, method="PUT", body=HandIn, response=ParticipantOut, tags=TAGS),
            Endpoint(
                f"{ME}/leave", leave_on_close, method="POST", status=204, body_media="text/plain", tags=TAGS
            ),
        ]
    ],
    Route("/rooms/{room_id:int}", room_page),
]
