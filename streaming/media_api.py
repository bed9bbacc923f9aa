"""WHIP ingest and WHEP playback over HTTP (RFC 9725 and the WHEP draft).

``POST /api/streams/{id}/whip`` (``Authorization: Bearer <stream key>``) and
``POST /api/streams/{id}/whep`` take an ``application/sdp`` offer and answer ``201`` with the SDP
answer, a ``Location`` (the session resource), an ``ETag`` and one ``Link: <...>;
rel="ice-server"`` per configured STUN/TURN server. ``DELETE <Location>`` ends the session (for
WHIP: the broadcast; it needs the same bearer key). ``OPTIONS`` answers ``Accept-Post:
application/sdp`` and the ICE servers, and CORS preflights.

Rehearsal (not in the public contract, which a plain WHIP POST keeps): ``POST .../whip?rehearsal=1``
publishes while the stream stays *scheduled*; WHEP then answers only the stream's managers (409
``stream.not_live`` for everyone else), without HLS or view counting, and ``POST
/api/streams/{id}/golive`` (its managers) makes it live, the same publisher still sending.

No trickle ICE nor ICE restart: the answer carries every server candidate and clients send
complete offers, so ``PATCH`` on a session answers ``405`` (as RFC 9725 requires of servers that
support neither).

Errors: 415 for a body that is not ``application/sdp``, 413 over 64 KiB, 400 ``sdp.invalid`` /
``sdp.no_media`` / ``sdp.unsupported`` / ``sdp.no_fingerprint`` for offers that cannot be used
(see :func:`streaming.whip.parse_offer`), 401 for a missing or wrong
key, 404 for an unknown stream or session, 409 ``stream.publisher_connected`` for a second
publisher, 409 ``stream.ended`` for a stream that has ended, 409 ``stream.not_live`` for WHEP
without a publisher, 409 ``stream.live`` to rehearse a live stream, 409 ``stream.not_rehearsing``
to take live a stream that is not rehearsing.

Any server process answers for any stream (see :mod:`streaming.cluster`): a WHEP POST for a stream
whose publisher another process holds is served from a relay link (:mod:`streaming.relay`); a
session's DELETE, PATCH or OPTIONS on a process other than the one named in its id, ``golive`` on a
process without the rehearsal, and a WHIP POST for a stream another process holds (a publisher
there, or one it lost and waits for) are forwarded to the process that holds it, which answers
(409 for a second publisher, or takes the encoder back). The relay link
itself, ``/internal/relay/{id}`` (a WebSocket), is for the other processes only: on the private
socket, with the cluster's HMAC.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.errors import BadRequest, Unauthorized, UnsupportedMediaType
from expo.http.api import Endpoint, Handler, path_int
from expo.http.bodies import media_type, read_body
from streaming import access, services
from streaming.audience import identify_viewer
from streaming.chat import check_can_watch
from streaming.cluster import session_owner
from streaming.ice import link_headers
from streaming.models import Stream, StreamStatus
from streaming.plane import PUBLISHERS_KEY, MediaPlane
from streaming.relay import END, LINK_PATH, serve_link
from streaming.whip import MAX_SDP_BYTES, MediaSession, parse_offer

SDP = "application/sdp"
_COLLECTION_ALLOW = "OPTIONS, POST"
_SESSION_ALLOW = "OPTIONS, DELETE"
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Location, Link, ETag, Accept-Post, Allow",
}


def _plane(request: HTTPConnection) -> MediaPlane:
    return platform(request).get(MediaPlane)


async def sdp_offer(request: Request, *, sending: bool) -> str:
    """The request's ``application/sdp`` body, checked (see :func:`streaming.whip.parse_offer`)."""
    if media_type(request) != SDP:
        raise UnsupportedMediaType("Send the offer as application/sdp.", code="sdp.content_type")
    return parse_offer(await read_body(request, MAX_SDP_BYTES), sending=sending)


async def _stream(request: Request) -> Stream:
    async with platform(request).db.session() as session:
        return await services.get_stream(session, path_int(request, "stream_id"))


def bearer(request: Request, what: str = "the stream key", code: str = "stream.key_required") -> str:
    """The ``Authorization: Bearer`` token, or 401 ``code`` asking for ``what``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized(f"Send {what} as 'Authorization: Bearer <token>'.", code=code)
    return value.strip()


async def _at_owner(request: Request) -> Response | None:
    """The answer of the process named in the session id, if that is another one (the
    session lives there); ``None``: this process answers."""
    plane = _plane(request)
    owner = session_owner(request.path_params["session_id"])
    if not owner or owner == plane.instance or not plane.cluster.may_forward(request):
        return None
    return await plane.cluster.forward(request, owner)


def _ice_links(plane: MediaPlane) -> dict[str, str]:
    links = link_headers(plane.ice_servers)
    return {"Link": links} if links else {}


def _created(request: Request, kind: str, session: MediaSession, answer: str) -> Response:
    location = f"/api/streams/{session.stream_id}/{kind}/{session.id}"
    headers = {"Location": location, "ETag": session.etag, **_ice_links(_plane(request)), **_CORS}
    return Response(answer, status_code=201, media_type=SDP, headers=headers)


def _options(request: Request, allow: str) -> Response:
    headers = {
        "Allow": allow,
        "Access-Control-Allow-Methods": allow,
        "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
        "Access-Control-Max-Age": "86400",
        **_ice_links(_plane(request)),
        **_CORS,
    }
    if "POST" in allow:
        headers["Accept-Post"] = SDP
    return Response(status_code=204, headers=headers)


# WHIP ---------------------------------------------------------------------------------------------


async def whip_publish(request: Request) -> Response:
    """Publish the broadcast (WHIP, RFC 9725): the encoder's SDP offer in, the answer out.

    Authenticated by the stream key as bearer token. 201 with the answer and the session's
    ``Location``; 409 if a publisher is already connected or the stream has ended.
    """
    stream = await _stream(request)
    key = bearer(request)
    if not services.key_matches(stream, key):  # before the body: a wrong key is a 401, whatever it sent
        raise Unauthorized("The stream key is wrong.", code="stream.bad_key")
    plane = _plane(request)
    stream_id = services.stored_id(stream)
    if stream_id not in plane.publishers and plane.cluster.may_forward(request):
        # Another process holds the stream (a publisher there, or one it lost and waits for): it
        # answers, with a 409 or by taking the encoder back. Before the body is read here.
        holder = await plane.cluster.holder(PUBLISHERS_KEY, str(stream_id))
        if holder is not None and (forwarded := await plane.cluster.forward(request, holder)) is not None:
            return forwarded
    offer = await sdp_offer(request, sending=True)
    session, answer = await plane.publish(stream, key, offer, rehearsal=_rehearsal(request))
    return _created(request, "whip", session, answer)


def _rehearsal(request: Request) -> bool:
    """``?rehearsal=1`` (or ``true``): publish privately; absent, ``0`` or ``false``: go live."""
    value = request.query_params.get("rehearsal", "").strip().lower()
    if value not in ("", "0", "1", "false", "true"):
        raise BadRequest("'rehearsal' is 1 or 0.", code="stream.invalid_rehearsal")
    return value in ("1", "true")


async def go_public(request: Request, user: User) -> dict[str, str] | Response:
    """End the rehearsal: the broadcast goes live for everyone, its publisher still sending
    (the stream's managers; 409 ``stream.not_rehearsing`` when it is not rehearsing)."""
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        await access.require_manager(session, user, stream)
    plane = _plane(request)
    stream_id = services.stored_id(stream)
    if not plane.rehearsing(stream_id) and plane.cluster.may_forward(request):
        holder = await plane.cluster.holder(PUBLISHERS_KEY, str(stream_id))
        if holder is not None:  # the rehearsal is in another process: it takes the stream live
            forwarded = await plane.cluster.forward(request, holder)
            if forwarded is not None:
                return forwarded
    stream = await plane.go_public(stream, actor=user)
    return {"status": stream.status}


async def whip_options(request: Request) -> Response:
    """WHIP endpoint options: ``Accept-Post: application/sdp`` and the ICE servers (CORS preflight too);
    404 for a stream that does not exist, like every other method on its URL."""
    await _stream(request)
    return _options(request, _COLLECTION_ALLOW)


async def whip_delete(request: Request) -> Response:
    """End the broadcast: the publisher, every viewer and HLS stop, the recording is stored."""
    if (forwarded := await _at_owner(request)) is not None:
        return forwarded
    plane = _plane(request)
    stream_id = path_int(request, "stream_id")
    session_id: str = request.path_params["session_id"]
    plane.publisher(stream_id, session_id)  # 404 before 401: the URL is wrong whoever asks
    await plane.unpublish(stream_id, session_id, bearer(request))
    return Response(status_code=200, headers=_CORS)


async def whip_patch(request: Request) -> Response:
    """Trickle ICE and ICE restarts are not supported: always 405 (send complete offers)."""
    return await _at_owner(request) or _not_patchable(request, "whip")


async def whip_session_options(request: Request) -> Response:
    """WHIP session options (CORS preflight for DELETE)."""
    if (forwarded := await _at_owner(request)) is not None:
        return forwarded
    _plane(request).publisher(path_int(request, "stream_id"), request.path_params["session_id"])
    return _options(request, _SESSION_ALLOW)


# WHEP ---------------------------------------------------------------------------------------------


async def whep_play(request: Request) -> Response:
    """Watch the broadcast over WebRTC (WHEP): the player's SDP offer in, the answer out.

    Public streams need no credentials; ``registered`` ones a signed-in user (cookie or bearer).
    201 with the answer and the session's ``Location``; 409 ``stream.not_live`` without a publisher.
    """
    offer = await sdp_offer(request, sending=False)
    stream = await _stream(request)
    user = await current_user(request)
    async with platform(request).db.session() as session:
        await check_can_watch(session, stream, user)
    viewer = await identify_viewer(request)
    plane = _plane(request)
    manager = False
    # A private preview, for its managers only: rehearsing here, or (scheduled) in another process.
    if plane.rehearsing(services.stored_id(stream)) or stream.status == StreamStatus.SCHEDULED:
        async with platform(request).db.session() as session:
            manager = await access.can_manage(session, user, stream)
    if viewer.startswith("anon:") and "expo_viewer" not in request.cookies:
        # A player without cookies: one connection, one viewer (the address+agent fallback would
        # count every player behind one NAT as one person).
        viewer = "anon:whep-" + services.new_key()[:22]
    viewer_session, answer = await plane.play(stream, viewer, offer, manager=manager)
    return _created(request, "whep", viewer_session, answer)


async def whep_options(request: Request) -> Response:
    """WHEP endpoint options: ``Accept-Post: application/sdp`` and the ICE servers (CORS preflight too);
    404 for a stream that does not exist, like every other method on its URL."""
    await _stream(request)
    return _options(request, _COLLECTION_ALLOW)


async def whep_delete(request: Request) -> Response:
    """Leave: the viewer's connection is closed. The session URL itself is the credential."""
    if (forwarded := await _at_owner(request)) is not None:
        return forwarded
    await _plane(request).leave(path_int(request, "stream_id"), request.path_params["session_id"])
    return Response(status_code=200, headers=_CORS)


async def whep_patch(request: Request) -> Response:
    """Trickle ICE and ICE restarts are not supported: always 405 (send complete offers)."""
    return await _at_owner(request) or _not_patchable(request, "whep")


async def whep_session_options(request: Request) -> Response:
    """WHEP session options (CORS preflight for DELETE)."""
    if (forwarded := await _at_owner(request)) is not None:
        return forwarded
    _plane(request).viewer(path_int(request, "stream_id"), request.path_params["session_id"])
    return _options(request, _SESSION_ALLOW)


def _not_patchable(request: Request, kind: str) -> Response:
    plane = _plane(request)
    stream_id = path_int(request, "stream_id")
    session_id: str = request.path_params["session_id"]
    if kind == "whip":
        plane.publisher(stream_id, session_id)
    else:
        plane.viewer(stream_id, session_id)
    message = "Trickle ICE and ICE restarts are not supported: send a complete offer."
    error = {"error": {"code": "sdp.no_trickle", "message": message}}
    return JSONResponse(error, status_code=405, headers={"Allow": _SESSION_ALLOW, **_CORS})


async def relay_link(websocket: WebSocket) -> None:
    """A relay link to another server process (see :mod:`streaming.relay`): only on the private
    socket, with the cluster's signature; the stream's frames while its publisher is here."""
    plane = _plane(websocket)
    if not plane.cluster.verify(websocket, "GET"):
        await websocket.close(code=4403)  # before accepting: the handshake is refused
        return
    publications = plane.relay_source(int(websocket.path_params["stream_id"]))
    await websocket.accept()
    if not publications:
        await websocket.send_bytes(END)
        await websocket.close()
        return
    await serve_link(websocket, publications)


_ID = "/api/streams/{stream_id:int}"
_TAGS = ["streams"]


def _session_routes(kind: str, delete: Handler, patch: Handler, options: Handler) -> list[Endpoint]:
    path = f"{_ID}/{kind}/{{session_id:str}}"
    return [
        Endpoint(path, delete, method="DELETE", tags=_TAGS),
        Endpoint(path, patch, method="PATCH", status=405, tags=_TAGS),
        Endpoint(path, options, method="OPTIONS", status=204, tags=_TAGS),
    ]


ROUTES: list[BaseRoute] = [
    Endpoint(
        f"{_ID}/whip", whip_publish, method="POST", status=201, body_media=SDP, response_media=SDP, tags=_TAGS
    ),
    Endpoint(f"{_ID}/whip", whip_options, method="OPTIONS", status=204, tags=_TAGS),
    *_session_routes("whip", whip_delete, whip_patch, whip_session_options),
    Endpoint(
        f"{_ID}/whep", whep_play, method="POST", status=201, body_media=SDP, response_media=SDP, tags=_TAGS
    ),
    Endpoint(f"{_ID}/whep", whep_options, method="OPTIONS", status=204, tags=_TAGS),
    *_session_routes("whep", whep_delete, whep_patch, whep_session_options),
    Endpoint(f"{_ID}/golive", go_public, method="POST", auth="user", tags=_TAGS),
    WebSocketRoute(LINK_PATH.replace("{stream_id}", "{stream_id:int}"), relay_link),
]
