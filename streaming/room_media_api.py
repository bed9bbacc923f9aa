"""A room participant's media beyond camera and microphone, over HTTP (see :mod:`streaming.room_api`
for ``{me}``, the participant secret as bearer token, and forwarding to the room's process):

- ``PUT {me}/media`` ``{"muted"?, "camera_off"?}`` → the participant as the others now see it
  (``media`` on the channel): what their page did to its own microphone and camera.
- ``POST {me}/screen``, an ``application/sdp`` offer that sends video → ``201`` with the answer
  and its ``Location``:
  share one's screen (``screen`` on the channel); 409 ``room.already_sharing`` while sharing.
  ``DELETE {me}/screen`` → ``204``: stop (404 ``room.not_sharing``).
- ``POST {me}/subscriptions/{other}/screen``, an offer that receives → ``201`` with the answer and
  its ``Location``: receive their screen (409 ``room.not_sharing``); ``DELETE`` it to stop.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from expo.http.api import Endpoint, Schema
from streaming import room_screens
from streaming.media_api import SDP, sdp_offer
from streaming.room_http import ME, SUBSCRIPTION, TAGS, participant_of, room_plane, routed, sdp_route
from streaming.room_schemas import ParticipantOut


class MediaIn(Schema):
    muted: bool | None = None
    camera_off: bool | None = None


async def media_state(request: Request, body: MediaIn) -> ParticipantOut:
    """Say that your microphone is muted or your camera off (or on again): tiles show it."""
    me = await room_plane(request).set_media(participant_of(request), body.muted, body.camera_off)
    return ParticipantOut(**me.public())


async def share_screen(request: Request) -> Response:
    """Share your screen beside your camera: an SDP offer that sends video in, the answer out."""
    me = participant_of(request)
    answer = await room_screens.share(room_plane(request), me, await sdp_offer(request, sending=True))
    location = f"/api/rooms/{me.room_id}/participants/{me.id}/screen"  # DELETE it to stop
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})


async def stop_screen(request: Request) -> None:
    """Stop sharing your screen."""
    await room_screens.stop(room_plane(request), participant_of(request))


async def watch_screen(request: Request) -> Response:
    """Receive another participant's shared screen: an SDP offer in, the answer out."""
    me = participant_of(request)
    other: str = request.path_params["other_id"]
    offer = await sdp_offer(request, sending=False)
    answer = await room_screens.watch(room_plane(request), me, other, offer)
    location = f"/api/rooms/{me.room_id}/participants/{me.id}/subscriptions/{other}/screen"
    return Response(answer, status_code=201, media_type=SDP, headers={"Location": location})


async def unwatch_screen(request: Request) -> None:
    """Stop receiving that participant's screen."""
    await room_screens.unwatch(room_plane(request), participant_of(request), request.path_params["other_id"])


ROUTES: list[BaseRoute] = [
    routed(route)
    for route in [
        Endpoint(f"{ME}/media", media_state, method="PUT", body=MediaIn, response=ParticipantOut, tags=TAGS),
        sdp_route(f"{ME}/screen", share_screen),
        Endpoint(f"{ME}/screen", stop_screen, method="DELETE", status=204, tags=TAGS),
        sdp_route(f"{SUBSCRIPTION}/screen", watch_screen),
        Endpoint(f"{SUBSCRIPTION}/screen", unwatch_screen, method="DELETE", status=204, tags=TAGS),
    ]
]
