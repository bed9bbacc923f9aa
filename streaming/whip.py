"""WHIP ingest and WHEP playback sessions: the peer connections the server holds for them.

A :class:`PublisherSession` is one encoder (OBS, a browser, the demo broadcaster) sending a
broadcast's audio and video; its tracks are handed to the media router, never decoded. A
:class:`ViewerSession` is one WHEP player receiving those tracks. Both are non-trickle: aiortc
gathers its candidates during ``setLocalDescription``, so the SDP answer is complete.

Offers are checked before a peer connection exists (:func:`parse_offer`), and everything aiortc
can raise on a hostile offer becomes a :class:`~expo.errors.BadRequest` (``sdp.invalid``, or
``sdp.unsupported`` when no codec is shared): a client mistake is never a 500. An offer must carry
a DTLS fingerprint for its media (``sdp.no_fingerprint``): without one the DTLS handshake
authenticates nobody, so whoever reaches the port first could inject or receive the media.

These classes hold state and negotiate; :class:`streaming.plane.MediaPlane` decides when sessions
start and end and what that means for the broadcast.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, sdp
from aiortc.exceptions import OperationError
from aiortc.rtcdtlstransport import X509_DIGEST_ALGORITHMS

from expo.errors import BadRequest
from streaming.direct_receive import receive_directly_on
from streaming.dtls import PeerConnection, serve_dtls_when_asked
from streaming.publication import Publication
from streaming.router import MediaRouter

MAX_SDP_BYTES = 64 * 1024
"""Largest SDP offer read: real offers are 2 to 10 KiB."""
MAX_MEDIA_SECTIONS = 4
ENDED_STATES = ("failed", "closed")
MAX_PORT = 65535
_CONTROL = frozenset(chr(c) for c in [*range(0x20), 0x7F]) - {"\r", "\n", "\t"}


def parse_offer(raw: bytes, *, sending: bool) -> str:
    """The offer as text if it is a usable SDP offer, else :class:`BadRequest`.

    ``sending``: the client must send media (WHIP: at most one audio and one video section);
    otherwise it must receive some (WHEP).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The SDP offer is not UTF-8 text.", code="sdp.invalid") from None
    if not text.lstrip().startswith("v=0"):
        raise BadRequest("The body is not an SDP offer (it must start with v=0).", code="sdp.invalid")
    if not _CONTROL.isdisjoint(text):
        raise BadRequest("The SDP offer contains control characters.", code="sdp.invalid")
    try:
        parsed = sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever a bad line provokes
        raise BadRequest(f"The SDP offer cannot be parsed: {exc!r}", code="sdp.invalid") from None
    if not parsed.origin:
        raise BadRequest("The SDP offer has no origin (o=) line.", code="sdp.invalid")
    if len(parsed.media) > MAX_MEDIA_SECTIONS:
        raise BadRequest(f"At most {MAX_MEDIA_SECTIONS} media sections are accepted.", code="sdp.invalid")
    for section in parsed.media:
        ports = [section.port, section.rtcp_port or 0, *(c.port for c in section.ice_candidates)]
        if any(not 0 <= port <= MAX_PORT for port in ports):
            raise BadRequest(f"A port of the SDP offer is not in 0-{MAX_PORT}.", code="sdp.invalid")
    media = [m for m in parsed.media if m.kind in ("audio", "video")]
    wanted = ("sendonly", "sendrecv") if sending else ("recvonly", "sendrecv")
    useful = [m for m in media if m.direction in wanted and m.port != 0]
    if not useful:
        what = "sends" if sending else "receives"
        raise BadRequest(f"The offer {what} no audio or video.", code="sdp.no_media")
    if sending and any(sum(m.kind == kind for m in useful) > 1 for kind in ("audio", "video")):
        raise BadRequest("Publish at most one audio and one video track.", code="sdp.too_many_tracks")
    if any(m.dtls is None for m in useful):
        raise BadRequest("The SDP offer has no DTLS role (a=setup) for its media.", code="sdp.invalid")
    if not all(_has_fingerprint(m) for m in useful):
        raise BadRequest(
            "The SDP offer has no DTLS fingerprint (a=fingerprint with sha-256, sha-384 or sha-512) "
            "for its media: the connection could not be authenticated.",
            code="sdp.no_fingerprint",
        )
    return text


def _has_fingerprint(section: sdp.MediaDescription) -> bool:
    """Whether the section (or the session, which aiortc copies into it) names a DTLS fingerprint
    of an algorithm the handshake can check."""
    fingerprints = section.dtls.fingerprints if section.dtls is not None else []
    return any(f.algorithm.lower() in X509_DIGEST_ALGORITHMS and f.value for f in fingerprints)


async def negotiate(pc: RTCPeerConnection, offer: str, before_answer: Callable[[], None]) -> str:
    """Apply ``offer``, call ``before_answer`` (route or attach tracks), answer; returns the answer.

    WHEP attaches its senders before the offer is applied; for symmetry ``before_answer`` runs
    after it (WHIP publishes the receivers then, before any media can arrive). The connection's
    SRTP is handled as it arrives, not by a task woken for each packet (:mod:`.direct_receive`).
    """
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    except OperationError as exc:
        raise BadRequest(f"No usable codec in the offer: {exc}", code="sdp.unsupported") from None
    except Exception as exc:
        raise BadRequest(f"The SDP offer was refused: {exc!r}", code="sdp.invalid") from None
    serve_dtls_when_asked(pc, sdp.SessionDescription.parse(offer))
    receive_directly_on(pc)
    before_answer()
    try:
        await pc.setLocalDescription(await pc.createAnswer())
    except OperationError as exc:
        raise BadRequest(f"No usable codec in the offer: {exc}", code="sdp.unsupported") from None
    except ValueError as exc:
        raise BadRequest(f"The SDP offer was refused: {exc}", code="sdp.invalid") from None
    return pc.localDescription.sdp


def new_session_id() -> str:
    """A session id: it is also the capability that lets a WHEP client DELETE its session."""
    return secrets.token_urlsafe(24)


@dataclass(eq=False)
class MediaSession:
    """What WHIP and WHEP sessions share: an id, the stream, the server's peer connection.

    :attr:`ended` is set once the connection failed or closed (or the session was told to end).
    """

    stream_id: int
    pc: RTCPeerConnection
    id: str = field(default_factory=new_session_id)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def etag(self) -> str:
        """The session's entity tag (RFC 9725: changes with ICE restarts, which are not offered)."""
        return f'"{self.id[:16]}"'

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
        elif state in ENDED_STATES:
            self.ended.set()

    async def close(self) -> None:
        """Cancel and await the session's tasks (but not the caller) and close the connection."""
        self.ended.set()
        current = asyncio.current_task()
        tasks = [t for t in self.tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.pc.close()


@dataclass(eq=False)
class PublisherSession(MediaSession):
    """A WHIP publisher. ``key`` is the stream key it authenticated with: its DELETE must match."""

    key: str = ""
    publications: list[Publication] = field(default_factory=list)


@dataclass(eq=False)
class ViewerSession(MediaSession):
    """A WHEP player; ``viewer`` is the audience's id for the person (see ``streaming.audience``)."""

    viewer: str = ""


async def accept_publisher(
    router: MediaRouter,
    configuration: RTCConfiguration,
    stream_id: int,
    key: str,
    offer: str,
    *,
    media_id: str | None = None,
) -> tuple[PublisherSession, str]:
    """Answer a WHIP offer: every received track is published on ``router`` under ``media_id``
    (default: the stream's id; a room names each participant's media).

    Returns the session and the SDP answer. The connection is closed if negotiation fails.
    """
    session = PublisherSession(stream_id, PeerConnection(configuration), key=key)
    router_id = str(stream_id) if media_id is None else media_id

    def publish() -> None:
        for transceiver in session.pc.getTransceivers():
            if transceiver.kind in ("audio", "video"):
                session.publications.append(router.publish(transceiver, stream_id=router_id))

    try:
        answer = await negotiate(session.pc, offer, publish)
    except BaseException:
        for publication in session.publications:
            await router.unpublish(publication)
        await session.close()
        raise
    return session, answer


async def accept_viewer(
    publications: list[Publication], configuration: RTCConfiguration, stream_id: int, viewer: str, offer: str
) -> tuple[ViewerSession, str]:
    """Answer a WHEP offer with the stream's live publications attached (forwarded, not re-encoded).

    Returns the session and the SDP answer. The connection is closed if negotiation fails, which
    also releases the subscriptions (see ``Publication.attach``).
    """
    session = ViewerSession(stream_id, PeerConnection(configuration), viewer=viewer)
    try:
        for publication in publications:
            publication.attach(session.pc)
        answer = await negotiate(session.pc, offer, lambda: None)
    except BaseException:
        await session.close()
        raise
    return session, answer
