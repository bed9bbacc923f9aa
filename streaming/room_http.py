"""What the rooms' HTTP modules share: their paths, the participant a request speaks for, and
forwarding a room's request to the process that holds the room.

A room's people and media live in one process (the first to admit someone: its WebRTC sessions
cannot move); a request about the room that reaches another process is forwarded there, before
its body is read, over the holder's private address (:data:`~streaming.room_bus.HOLDERS_KEY`,
:mod:`streaming.cluster`). :mod:`streaming.room_api`, :mod:`streaming.room_media_api` and
:mod:`streaming.on_air_api` wrap their room routes in :func:`routed`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from expo.auth import platform
from expo.bus import BusError
from expo.http.api import Endpoint, Handler, path_int
from streaming.media_api import SDP, bearer
from streaming.room_bus import HOLDERS_KEY
from streaming.room_participants import Participant
from streaming.rooms import RoomPlane

ROOM = "/api/rooms/{room_id:int}"
ME = ROOM + "/participants/{participant_id:str}"
SUBSCRIPTION = ME + "/subscriptions/{other_id:str}"
TAGS = ["rooms"]


def room_plane(request: Request) -> RoomPlane:
    return platform(request).get(RoomPlane)


def participant_of(request: Request) -> Participant:
    """The participant of a ``{me}`` path, checked against the secret in its bearer token."""
    room_id = path_int(request, "room_id")
    participant_id: str = request.path_params["participant_id"]
    secret = bearer(request, "your participant secret", "room.secret_required")
    return room_plane(request).participant(room_id, participant_id, secret)


def sdp_route(path: str, handler: Handler) -> Endpoint:
    """A POST taking an SDP offer and answering 201 with the SDP answer."""
    return Endpoint(path, handler, method="POST", status=201, body_media=SDP, response_media=SDP, tags=TAGS)


def routed(route: Endpoint) -> Endpoint:
    """``route``, forwarded to the process holding its room when that is another one (before
    anything, the body included, is read here)."""
    inner = route.app

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        forwarded = await _at_holder(Request(scope, receive))
        await (inner if forwarded is None else forwarded)(scope, receive, send)

    route.app = app
    return route


async def _at_holder(request: Request) -> Response | None:
    """The answer of the process that holds the room, if another one does; ``None``: this
    process answers (it holds the room, or nobody does and it will once someone joins here)."""
    plane = room_plane(request)
    room_id = request.path_params["room_id"]
    cluster = plane.media.cluster
    if room_id in plane.rooms or not cluster.may_forward(request):
        return None
    try:
        holder = await cluster.holder(HOLDERS_KEY, str(room_id))
    except BusError:
        return None  # cannot tell: answered here
    return await cluster.forward(request, holder) if holder is not None else None
