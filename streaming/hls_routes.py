"""HLS playback over HTTP: ``/live/{id}/index.m3u8``, a per-viewer media playlist, and segments.

``index.m3u8`` (the contract's URL) is a multivariant playlist with a single variant whose URL
carries a signed viewer token: ``media.m3u8?v=<token>``. A player polls that media playlist every
few seconds, and each poll is the viewer's audience heartbeat, so people who only play HLS are
counted live, each once (a signed-in user or a browser with the ``expo_viewer`` cookie gets the
same viewer id as on the watch page). Segments are shared by everyone, served from memory.

Answers here are plain text, even errors: players show no error pages, and a 4xx must never
become a redirect to the login form.
"""

from __future__ import annotations

import logging
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.errors import ExpoError
from expo.permissions import current_user, platform
from streaming import services
from streaming.audience import VIEWER_COOKIE, identify_viewer, sign_viewer, unsign_viewer
from streaming.chat import check_can_watch
from streaming.hls import HlsPackager
from streaming.models import ViewVia

logger = logging.getLogger(__name__)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
_SEGMENT_NAME = re.compile(r"^([0-9a-f]{8})-([0-9]{1,15})\.ts$")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range",
}
# Playlists change every segment; a second of caching lets a CDN or proxy absorb a crowd.
_PLAYLIST_CACHE = {"Cache-Control": "max-age=1"}
_PRIVATE_PLAYLIST_CACHE = {"Cache-Control": "no-cache, private"}
# A segment's name is never reused for other bytes (it carries the live period's id).
_SEGMENT_CACHE = {"Cache-Control": "public, max-age=86400, immutable"}


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status_code=status, media_type="text/plain", headers=_CORS)


def _packager(request: Request) -> HlsPackager | None:
    stream_id: int = request.path_params["stream_id"]
    return platform(request).hls.get(stream_id)


def _preflight() -> Response:
    return Response(status_code=204, headers={**_CORS, "Access-Control-Max-Age": "86400"})


async def index(request: Request) -> Response:
    """The multivariant playlist, with a viewer token in the media playlist's URL."""
    if request.method == "OPTIONS":
        return _preflight()
    packager = _packager(request)
    if packager is None or not packager.ready:
        return _plain(404, "This stream is not live.")
    p = platform(request)
    stream_id = packager.stream_id
    try:
        async with p.db.session() as session:
            stream = await services.get_stream(session, stream_id)
            await check_can_watch(session, stream, await current_user(request))
        viewer = await identify_viewer(request)
    except ExpoError as error:
        return _plain(error.status, error.message)
    if viewer.startswith("anon:") and VIEWER_COOKIE not in request.cookies:
        # A player without cookies (ffmpeg, VLC, a TV): one playback, one viewer. The audience's
        # address+agent fallback would count a whole office behind one NAT as one person.
        viewer = "anon:hls-" + secrets.token_urlsafe(16)
    token = sign_viewer(p.secret, stream_id, viewer)
    attributes = [f"BANDWIDTH={max(packager.bandwidth, 1)}"]
    info = packager.video_info
    if info is not None and info.width and info.height:
        attributes.append(f"RESOLUTION={info.width}x{info.height}")
    attributes.append(f'CODECS="{packager.codecs}"')
    body = (
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f"#EXT-X-STREAM-INF:{','.join(attributes)}\nmedia.m3u8?v={token}\n"
    )
    # Each fetch gets its own token when the viewer is anonymous: never let a cache share it.
    return Response(body, media_type=PLAYLIST_TYPE, headers={**_CORS, **_PRIVATE_PLAYLIST_CACHE})


async def media(request: Request) -> Response:
    """The rolling media playlist; fetching it is the viewer's heartbeat."""
    if request.method == "OPTIONS":
        return _preflight()
    packager = _packager(request)
    if packager is None or not packager.ready:
        return _plain(404, "This stream is not live.")
    p = platform(request)
    viewer = unsign_viewer(p.secret, packager.stream_id, request.query_params.get("v", ""))
    if viewer is None:
        return _plain(403, "Open the stream from its index.m3u8.")
    if not packager.ended and request.method == "GET":
        audience = getattr(p, "audience", None)
        if audience is not None:
            try:
                await audience.watch(packager.stream_id, viewer, ViewVia.HLS)
            except Exception:
                # Playback must not depend on the audience figures (bus or store trouble).
                logger.exception("hls: audience heartbeat failed for stream %s", packager.stream_id)
    return Response(packager.playlist, media_type=PLAYLIST_TYPE, headers={**_CORS, **_PLAYLIST_CACHE})


async def segment(request: Request) -> Response:
    """One MPEG-TS segment, straight from memory."""
    if request.method == "OPTIONS":
        return _preflight()
    match = _SEGMENT_NAME.match(request.path_params["name"])
    packager = _packager(request)
    found = None
    if packager is not None and match is not None and match.group(1) == packager.period:
        found = packager.segment(int(match.group(2)))
    if found is None:
        return _plain(404, "No such segment.")
    return Response(found.data, media_type=SEGMENT_TYPE, headers={**_CORS, **_SEGMENT_CACHE})


_METHODS = ["GET", "HEAD", "OPTIONS"]
ROUTES: list[BaseRoute] = [
    Route("/live/{stream_id:int}/index.m3u8", index, methods=_METHODS),
    Route("/live/{stream_id:int}/media.m3u8", media, methods=_METHODS),
    Route("/live/{stream_id:int}/{name:str}", segment, methods=_METHODS),
]
