"""HLS playback over HTTP: ``/live/{id}/index.m3u8``, a per-viewer media playlist, and segments.

``index.m3u8`` (the contract's URL) is a multivariant playlist with a single variant whose URL
carries a signed viewer token: ``media.m3u8?v=<token>``. A player polls that media playlist every
few seconds, and each poll is the viewer's audience heartbeat, so people who only play HLS are
counted live, each once (a signed-in user or a browser with the ``expo_viewer`` cookie gets the
same viewer id as on the watch page). Segments are served from memory.

Who may fetch what (:mod:`streaming.hls_access`): every media playlist poll asks whether its viewer
may still watch (a ban, a disabled account or a stream made private answers 403 from the next
poll on). A public stream's playlist is the same text for everyone and its segments need no
credentials, so a CDN may keep them (``public, immutable``). A non-public stream's playlist is
the viewer's own copy: every segment and part URI carries ``?t=<token>``, signed for that viewer
and stream and valid for a few minutes (each poll renews it); a segment without a valid token,
or whose viewer may no longer watch, is a 403, and segments are ``private``: no shared cache
keeps them.

Low latency (RFC 8216bis): the media playlist lists partial segments, ``{period}-{msn}.{part}.ts``.
A player asks for the next playlist with ``_HLS_msn`` (and ``_HLS_part``) and the answer waits
until that segment (or part) exists; a request for the part the playlist's preload hint names
waits for it the same way. Either wait ends after three target durations with a 503, and a
request too far ahead of the live edge is refused at once with a 400.

Answers here are plain text, even errors: players show no error pages, and a 4xx must never
become a redirect to the login form.

Any server process answers: one that does not package the stream forwards the request to the one
that does (it holds the publisher: :data:`streaming.plane.PUBLISHERS_KEY`), over its private
address (see :mod:`streaming.cluster`), where it is answered as if it had come directly (the
viewer's heartbeat counts there). Public segments, immutable, are kept a little while by the
forwarding process; playlists pass through.
"""

from __future__ import annotations

import logging
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.auth import current_user, platform
from expo.errors import ExpoError
from streaming import services
from streaming.audience import VIEWER_COOKIE, Audience, identify_viewer, sign_viewer, unsign_viewer
from streaming.chat import check_can_watch
from streaming.cluster import Cluster
from streaming.hls import HlsPackager, HlsRegistry
from streaming.hls_access import HlsGate, StreamRules
from streaming.models import ViewVia
from streaming.plane import PUBLISHERS_KEY

logger = logging.getLogger(__name__)

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
_SEGMENT_NAME = re.compile(r"^([0-9a-f]{8})-([0-9]{1,15})(?:\.([0-9]{1,4}))?\.ts$")
# How far past the live edge a blocking request may ask, in segments and in parts (RFC 8216bis
# 6.2.5.2: two segments, and an "advance part limit" of three part targets' worth of time).
_AHEAD_SEGMENTS = 2
_AHEAD_SECONDS = 3.0
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
# A non-public stream's segments: the viewer's browser may keep them, a shared cache may not.
_PRIVATE_SEGMENT_CACHE = {"Cache-Control": "private, max-age=86400, immutable"}
# A refusal holds for this viewer only, and only until their rights change.
_REFUSAL_CACHE = {"Cache-Control": "no-store"}
SEGMENT_TOKEN = "t"  # noqa: S105 (the name of the query parameter)


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        text + "\n", status_code=status, media_type="text/plain", headers={**_CORS, **(headers or {})}
    )


def _refused(text: str) -> Response:
    return _plain(403, text, _REFUSAL_CACHE)


async def _admit(request: Request, stream_id: int, viewer: str | None) -> StreamRules | Response:
    """The stream's access rules if ``viewer`` may watch it, else a 403 (a 503 when the store
    cannot say: players retry). ``viewer`` ``None`` is a segment request: anyone may fetch a
    public stream's segments, others need a token from the playlist, which names the viewer."""
    gate = platform(request).get(HlsGate)
    try:
        rules = await gate.rules(stream_id)
        if viewer is None:
            if rules.public:
                return rules
            viewer = gate.segment_viewer(stream_id, request.query_params.get(SEGMENT_TOKEN, ""))
            if viewer is None:
                return _refused("This segment needs a current token from the stream's playlist.")
        if await gate.allows(rules, viewer):
            return rules
    except Exception:
        logger.exception("hls: reading who may watch stream %s failed", stream_id)
        return _plain(503, "Try again in a moment.")
    # Banned, account disabled or the stream is no longer open to them: no more playlists, and
    # their segment tokens stop working too.
    return _refused("You may not watch this broadcast.")


async def _elsewhere(request: Request) -> Response | None:
    """The answer of the process that packages the stream, if another one does; else ``None``."""
    cluster = platform(request).get(Cluster)
    if not cluster.may_forward(request):
        return None
    stream_id: int = request.path_params["stream_id"]
    try:
        holder = await cluster.holder(PUBLISHERS_KEY, str(stream_id))
    except Exception:
        logger.exception("hls: cannot ask the bus which process holds stream %s", stream_id)
        return None
    if holder is None:
        return None
    return await cluster.forward_cached(request, holder)


def _packager(request: Request) -> HlsPackager | None:
    stream_id: int = request.path_params["stream_id"]
    return platform(request).get(HlsRegistry).get(stream_id)


def _blocking_target(request: Request, packager: HlsPackager) -> tuple[int, int | None] | Response | None:
    """The segment (and part) a blocking request waits for, ``None`` for none, or a 400."""
    msn, part = request.query_params.get("_HLS_msn"), request.query_params.get("_HLS_part")
    if msn is None and part is None:
        return None
    if msn is None or not msn.isdigit() or (part is not None and not part.isdigit()):
        return _plain(400, "_HLS_msn must be a media sequence number, and _HLS_part a part index with it.")
    sequence, index = int(msn), (int(part) if part is not None else None)
    edge = packager.next_sequence
    parts_ahead = max(1, round(_AHEAD_SECONDS / packager.part_target)) if packager.part_target else 0
    too_far = sequence > edge - 1 + _AHEAD_SEGMENTS or (
        index is not None and sequence == edge and index > packager.open_parts + parts_ahead
    )
    if too_far:
        return _plain(400, "That segment is too far ahead of the live edge.")
    return sequence, index


async def _wait(packager: HlsPackager, sequence: int, index: int | None) -> bool:
    return await packager.wait_for(sequence, index, timeout=3 * packager.target_duration)


def _preflight() -> Response:
    return Response(status_code=204, headers={**_CORS, "Access-Control-Max-Age": "86400"})


async def index(request: Request) -> Response:
    """The multivariant playlist, with a viewer token in the media playlist's URL."""
    if request.method == "OPTIONS":
        return _preflight()
    packager = _packager(request)
    if packager is None and (forwarded := await _elsewhere(request)) is not None:
        return forwarded
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
    if packager is None and (forwarded := await _elsewhere(request)) is not None:
        return forwarded
    if packager is None or not packager.ready:
        return _plain(404, "This stream is not live.")
    p = platform(request)
    viewer = unsign_viewer(p.secret, packager.stream_id, request.query_params.get("v", ""))
    if viewer is None:
        return _refused("Open the stream from its index.m3u8.")
    rules = await _admit(request, packager.stream_id, viewer)
    if isinstance(rules, Response):
        return rules
    target = _blocking_target(request, packager)
    if isinstance(target, Response):
        return target
    if not packager.ended and request.method == "GET":
        try:
            await p.get(Audience).watch(packager.stream_id, viewer, ViewVia.HLS)
        except Exception:
            # Playback must not depend on the audience figures (bus or store trouble).
            logger.exception("hls: audience heartbeat failed for stream %s", packager.stream_id)
    if target is not None and not await _wait(packager, *target):
        return _plain(503, "That segment is late; ask again.")
    if rules.public:
        return Response(packager.playlist, media_type=PLAYLIST_TYPE, headers={**_CORS, **_PLAYLIST_CACHE})
    token = p.get(HlsGate).segment_token(packager.stream_id, viewer)
    body = packager.playlist_with_query(f"{SEGMENT_TOKEN}={token}")
    return Response(body, media_type=PLAYLIST_TYPE, headers={**_CORS, **_PRIVATE_PLAYLIST_CACHE})


async def segment(request: Request) -> Response:
    """One MPEG-TS segment or partial segment, straight from memory.

    A non-public stream's segments need the viewer's token (see the module's docstring). The part
    right after the last one made (the playlist's preload hint) is waited for.
    """
    if request.method == "OPTIONS":
        return _preflight()
    match = _SEGMENT_NAME.match(request.path_params["name"])
    packager = _packager(request)
    if packager is None and match is not None and (forwarded := await _elsewhere(request)) is not None:
        return forwarded
    if packager is None or match is None or match.group(1) != packager.period:
        return _plain(404, "No such segment.")
    rules = await _admit(request, packager.stream_id, None)
    if isinstance(rules, Response):
        return rules
    cache = _SEGMENT_CACHE if rules.public else _PRIVATE_SEGMENT_CACHE
    sequence = int(match.group(2))
    if match.group(3) is None:
        found = packager.segment(sequence)
        data = found.data if found is not None else None
    else:
        index = int(match.group(3))
        hinted = sequence == packager.next_sequence and index == packager.open_parts
        if hinted and not await _wait(packager, sequence, index):
            return _plain(503, "That part is late; ask again.")
        part = packager.part(sequence, index)
        data = part.data if part is not None else None
    if data is None:
        return _plain(404, "No such segment.")
    return Response(data, media_type=SEGMENT_TYPE, headers={**_CORS, **cache})


_METHODS = ["GET", "HEAD", "OPTIONS"]
ROUTES: list[BaseRoute] = [
    Route("/live/{stream_id:int}/index.m3u8", index, methods=_METHODS),
    Route("/live/{stream_id:int}/media.m3u8", media, methods=_METHODS),
    Route("/live/{stream_id:int}/{name:str}", segment, methods=_METHODS),
]
