"""Relay links: a stream's encoded frames carried from the process that holds its publisher (the
*origin*) to another server process whose WHEP viewers want them.

One link per stream per receiving process, however many viewers it serves there: a WebSocket to
the origin's private address (see :mod:`streaming.cluster`), opened by the first viewer, closed
``linger`` seconds after the last one left. Nothing is decoded on either side: the origin's
publications push each frame, as the publisher's encoder made it, into the link
(:class:`LinkSender`, a publication sink); the receiving side feeds them to publications of its own
router (:class:`RelayLink`), to which its viewers attach exactly as to a local publisher's.

Binary messages, each starting with one byte that says what it is:

* ``D`` + JSON, origin to receiver, first: the tracks, in order, with their codec parameters
  (``{"tracks": [{"kind", "mime", "clock_rate", "channels", "payload_type", "parameters",
  "feedback"}]}``).
* ``F`` + track index (1 byte) + flags (1 byte, bit 0: keyframe) + RTP timestamp (4 bytes, big
  endian) + the encoded frame, origin to receiver.
* ``E``, origin to receiver: the publisher is gone (ended, lost, or rehearsal over); the origin
  closes the link after it.
* ``K`` + track index, receiver to origin: a viewer needs a keyframe (merged over 50 ms on the
  receiving side, throttled like a PLI at the origin).

The origin sends a stream's audio frames together with its next video frame (see
:data:`AUDIO_HOLD`); the receiving side reads the link with :class:`~streaming.link_socket.LinkSocket`,
which hands each message over as it is read.

A video track that falls more than :data:`MAX_BACKLOG` bytes behind on the origin side loses its
backlog and resumes on the next keyframe, like a slow viewer. If the link drops without ``E`` (the
origin process died), the receiver ends its viewers just the same: they see the broadcast end as
when a local publisher is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from struct import Struct
from typing import Any, TypeVar

from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters
from starlette.websockets import WebSocket

from expo.bus import BusError
from expo.wsprotocol import WRITE_FRAME
from streaming.cluster import SIGNATURE_HEADER, Cluster
from streaming.forwarder import OutgoingFrame
from streaming.link_socket import BINARY, LinkSocket, frame_header
from streaming.publication import Publication
from streaming.router import MediaRouter

logger = logging.getLogger(__name__)
T = TypeVar("T")

LINK_PATH = "/internal/relay/{stream_id}"
LINGER = 5.0
OPEN_TIMEOUT = 5.0
MAX_BACKLOG = 4 * 1024 * 1024
MAX_MESSAGE = 16 * 1024 * 1024  # a 4K keyframe is a few hundred kilobytes
DESCRIBE, FRAME, END, KEYFRAME = b"D", b"F", b"E", b"K"
_FRAME = Struct("!cBBI")
_KEYFRAME_FLAG = 0x01
#: How long an audio frame may wait on the origin for the stream's next video frame, to go over the
#: link in the same write. The receiving process then wakes once per video frame instead of for
#: every frame (30 times a second instead of 80): on a virtual machine, waking an idle process and
#: the event loop's round that follows cost more of its CPU than the frame's own handling (see
#: ``scripts/_relay_link_cost.py``), and its viewers get the audio in the same round. The relayed
#: viewers' sound comes up to this much later than their picture: within the ≤ 50 ms a relay may
#: add, and far from the 125 ms at which late sound becomes noticeable (ITU-R BT.1359).
AUDIO_HOLD = 0.04


def describe_codec(kind: str, codec: RTCRtpCodecParameters) -> dict[str, Any]:
    return {
        "kind": kind,
        "mime": codec.mimeType,
        "clock_rate": codec.clockRate,
        "channels": codec.channels,
        "payload_type": codec.payloadType,
        "parameters": dict(codec.parameters),
        "feedback": [[f.type, f.parameter] for f in codec.rtcpFeedback],
    }


def codec_from(track: dict[str, Any]) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType=str(track["mime"]),
        clockRate=int(track["clock_rate"]),
        channels=track.get("channels"),
        payloadType=track.get("payload_type"),
        rtcpFeedback=[RTCRtcpFeedback(type=t, parameter=p) for t, p in track.get("feedback", [])],
        parameters=dict(track.get("parameters", {})),
    )


# The origin's side ---------------------------------------------------------------------------------


class Outbox:
    """Messages on their way to the link's WebSocket (origin side), filled on the event loop by the
    publications' frame callbacks.

    With expo's WebSocket protocol (:data:`expo.wsprotocol.WRITE_FRAME`, ``write_frame``) a
    message is written to the socket at once, from the frame callback: no task switch and no ASGI
    message per frame. Otherwise, or while the socket cannot take more (or earlier messages still
    wait, so that order is kept), messages queue here, bounded in bytes, for
    :func:`serve_link`'s writer.

    A message put with ``hold`` waits up to ``hold`` seconds for the next message put without it,
    and goes out in the same write (see :data:`AUDIO_HOLD`).
    """

    def __init__(
        self, write_frame: Callable[[bytes], bool] | None = None, limit: int = MAX_BACKLOG, hold: float = 0.0
    ) -> None:
        self._write_frame = write_frame
        self._messages: deque[bytes] = deque()
        self._bytes = 0
        self._limit = limit
        self._ready = asyncio.Event()
        self._hold = hold
        self._held: list[bytes] = []
        self._flush: asyncio.TimerHandle | None = None
        self.sending = False  # the writer has a message in flight
        self.ended = False

    def put(self, message: bytes, *, hold: bool = False) -> bool:
        """Send or queue ``message`` (with ``hold``: hold it back a little, see above); ``False``
        (dropped, with the messages held for it) if the link is that far behind."""
        if self.ended:
            return False
        if hold and self._hold > 0:
            if not self._held:
                self._flush = asyncio.get_running_loop().call_later(self._hold, self.flush)
            self._held.append(message)
            return True
        return self._put([*self._take_held(), message])

    def flush(self) -> None:
        """Send the messages held back, now."""
        if self._held:
            self._put(self._take_held())

    def end(self) -> None:
        """Nothing more comes: the writer sends :data:`END` after the queued messages."""
        self.flush()
        self.ended = True
        self._ready.set()

    async def get(self) -> bytes | None:
        """The next message, or ``None`` once ended and drained."""
        while not self._messages:
            if self.ended:
                return None
            self._ready.clear()
            await self._ready.wait()
        message = self._messages.popleft()
        self._bytes -= len(message)
        return message

    def _take_held(self) -> list[bytes]:
        held, self._held = self._held, []
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        return held

    def _put(self, messages: list[bytes]) -> bool:
        write = self._write_frame
        if write is not None and not self._messages and not self.sending and write(joined_frames(messages)):
            return True
        size = sum(map(len, messages))
        if self._bytes + size > self._limit:
            return False
        self._messages.extend(messages)
        self._bytes += size
        self._ready.set()
        return True


def joined_frames(messages: list[bytes]) -> bytes:
    """``messages`` as binary frames one after the other, for one write."""
    return b"".join(map(binary_frame, messages))


def binary_frame(payload: bytes) -> bytes:
    """``payload`` as one complete, unmasked WebSocket binary frame (RFC 6455, section 5.2)."""
    return frame_header(BINARY, len(payload)) + payload


class LinkSender:
    """A publication sink that puts each frame of one track on a relay link (origin side).

    Video starts on a keyframe (asked for at once) and, after a frame was dropped because the link
    fell behind, waits for the next one, as a viewer's track does.
    """

    def __init__(self, index: int, kind: str, outbox: Outbox) -> None:
        self._index = index
        self._outbox = outbox
        self._video = kind == "video"
        self.waiting_for_keyframe = self._video
        self.frames_sent = 0
        self.frames_dropped = 0

    def push(self, frame: OutgoingFrame) -> bool:
        if self.waiting_for_keyframe and not frame.keyframe:
            self.frames_dropped += 1
            return True
        flags = _KEYFRAME_FLAG if frame.keyframe else 0
        timestamp = frame.pts & 0xFFFFFFFF
        message = _FRAME.pack(FRAME, self._index, flags, timestamp) + frame.data
        if self._outbox.put(message, hold=not self._video):
            self.frames_sent += 1
            self.waiting_for_keyframe = False
            return False
        self.frames_dropped += 1
        self.waiting_for_keyframe = self._video
        return False

    def end(self) -> None:
        self._outbox.end()


async def serve_link(websocket: WebSocket, publications: list[Publication]) -> None:
    """Serve one relay link on an accepted ``websocket`` from ``publications`` (origin side),
    until they end (then :data:`END` is sent) or the other process goes away."""
    tracks = [describe_codec(p.kind, p.codec) for p in publications if p.codec is not None]
    live = [p for p in publications if p.codec is not None]
    hold = AUDIO_HOLD if any(p.kind == "video" for p in live) else 0.0
    outbox = Outbox(websocket.scope.get("extensions", {}).get(WRITE_FRAME), hold=hold)
    await websocket.send_bytes(DESCRIBE + json.dumps({"tracks": tracks}).encode())
    senders = [LinkSender(index, p.kind, outbox) for index, p in enumerate(live)]
    for publication, sender in zip(live, senders, strict=True):
        publication.add_sink(sender)
        if publication.kind == "video":
            publication.request_keyframe()

    async def write() -> None:
        while (message := await outbox.get()) is not None:
            outbox.sending = True
            await websocket.send_bytes(message)
            outbox.sending = False
        await websocket.send_bytes(END)

    async def read() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or b""
            if data[:1] == KEYFRAME and len(data) == 2 and data[1] < len(live):
                live[data[1]].request_keyframe()

    tasks = [asyncio.create_task(write()), asyncio.create_task(read())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for publication, sender in zip(live, senders, strict=True):
            publication.remove_sink(sender)
        with contextlib.suppress(Exception):
            await websocket.close()


# The receiving side ---------------------------------------------------------------------------------


class _LinkUpstream:
    """A relayed publication's keyframe requests, sent back over the link."""

    def __init__(self, link: RelayLink, index: int) -> None:
        self._link = link
        self._index = index

    async def request_keyframe(self) -> bool:
        return await self._link.send(KEYFRAME + bytes([self._index]))


class RelayLink:
    """The receiving end of one stream's relay link: publications in this process's router, fed
    with the frames the origin sends.

    States: *opening* (:meth:`open`: connected, tracks described, publications made), *open*
    (:meth:`run` waits while the socket feeds them, each frame as it arrives), *ended* (the origin
    said :data:`END`, or the link dropped: the publications ended, ``on_end`` was called with
    whether the origin said so) and *closed* (:meth:`close`: the publications were removed from
    the router).

    :param on_end: called once when the link ends; its argument is ``True`` if the origin ended
        it (the publisher is gone), ``False`` if the link dropped (the origin process may be dead).
    """

    def __init__(
        self, stream_id: int, router: MediaRouter, on_end: Callable[[RelayLink, bool], None]
    ) -> None:
        self.stream_id = stream_id
        self.publications: list[Publication] = []
        self._router = router
        self._on_end = on_end
        self._socket: LinkSocket | None = None
        self._described: asyncio.Future[None] | None = None
        self._codecs: list[RTCRtpCodecParameters] = []
        self._said_end = False
        self.ended = False
        self.frames = 0

    async def open(self, url: str, headers: dict[str, str], timeout: float = OPEN_TIMEOUT) -> None:
        """Connect to the origin and make a publication per track it describes. ``ConnectionError``
        if the origin cannot be reached or has no publisher for the stream."""
        described = self._described = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                self._socket = await LinkSocket.connect(url, headers, self._received, max_size=MAX_MESSAGE)
                self._socket.closed.add_done_callback(self._undescribed)
                await described
        except (OSError, TimeoutError) as exc:
            self._drop()
            raise ConnectionError(f"no relay link to {url}: {exc or exc!r}") from None
        except Exception:
            self._drop()
            raise

    def _describe(self, message: bytes) -> None:
        """Make the publications the origin's first message describes (before any frame is read:
        frames may come in the same read)."""
        if message[:1] != DESCRIBE:
            raise ConnectionError("the origin has no publisher for this stream")
        tracks = json.loads(message[1:])["tracks"]
        for index, track in enumerate(tracks):
            codec = codec_from(track)
            self._codecs.append(codec)
            upstream = _LinkUpstream(self, index)
            self.publications.append(
                self._router.publish_relayed(
                    str(track["kind"]), codec, upstream, stream_id=str(self.stream_id)
                )
            )

    async def run(self) -> None:
        """Wait while the socket feeds the publications, until the link ends; then end them and
        call ``on_end``."""
        try:
            if self._socket is not None:
                await asyncio.shield(self._socket.closed)
        finally:
            self.ended = True
            for publication in self.publications:
                publication.stop_receiving()
            self._drop()
            self._on_end(self, self._said_end)

    def _undescribed(self, _closed: object) -> None:
        if self._described is not None and not self._described.done():
            self._described.set_exception(ConnectionError("the link closed before the tracks were described"))

    def _received(self, message: bytes) -> None:
        """One message from the origin, on the event loop as soon as it is read."""
        kind = message[:1]
        if kind == FRAME:
            _, index, flags, timestamp = _FRAME.unpack_from(message)
            publications = self.publications
            if index < len(publications):
                self.frames += 1
                publications[index].deliver(
                    self._codecs[index], message[_FRAME.size :], timestamp, bool(flags & _KEYFRAME_FLAG)
                )
        elif self._described is not None and not self._described.done():
            try:
                self._describe(message)
            except Exception as exc:  # open() raises it
                self._described.set_exception(exc)
            else:
                self._described.set_result(None)
        elif kind == END:
            self._said_end = True
            self._drop()

    async def send(self, message: bytes) -> bool:
        """Send ``message`` to the origin; ``False`` if the link is gone."""
        socket = self._socket
        return socket is not None and not self.ended and socket.send(message)

    async def close(self) -> None:
        """Remove the publications from the router (their viewers end) and close the link."""
        self.ended = True
        for publication in self.publications:
            await self._router.unpublish(publication)
        self._drop()

    def _drop(self) -> None:
        socket = self._socket
        if socket is not None:
            socket.close()


class RelayHub:
    """This process's receiving ends of relay links, at most one per stream; owned by the media
    plane, which asks it for a stream's publications when it has no publisher for it.

    A link opens on the first :meth:`publications` call for its stream (concurrent callers share
    the opening), is kept by :meth:`keep` and closed ``linger`` seconds after :meth:`release`
    unless kept again meanwhile. When a link ends on its own, ``on_end(stream_id, said_end)`` runs.

    :param presence_key: the bus presence that names which process holds which stream's publisher
        (members ``{stream id}/{process}``).
    """

    def __init__(
        self,
        router: MediaRouter,
        cluster: Cluster,
        presence_key: str,
        on_end: Callable[[int, bool], Awaitable[None]],
        *,
        linger: float = LINGER,
    ) -> None:
        self._router = router
        self._cluster = cluster
        self._key = presence_key
        self._on_end = on_end
        self.linger = linger
        self.links: dict[int, RelayLink] = {}
        self._opening: dict[int, asyncio.Task[RelayLink | None]] = {}
        self._lingering: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    async def publications(self, stream_id: int) -> list[Publication]:
        """The live publications of the stream relayed from the process that holds its publisher,
        opening the link if there is none yet; empty if no process holds it or it cannot be reached."""
        link = self.links.get(stream_id)
        if link is None or link.ended:
            opening = self._opening.get(stream_id)
            if opening is None:
                opening = self._spawn(self._open(stream_id))
                self._opening[stream_id] = opening
                opening.add_done_callback(lambda _: self._opening.pop(stream_id, None))
            link = await asyncio.shield(opening)
        if link is None:
            return []
        return [p for p in link.publications if p.state == "live"]

    def keep(self, stream_id: int) -> None:
        """A viewer uses the stream's link: it stays open."""
        task = self._lingering.pop(stream_id, None)
        if task is not None:
            task.cancel()

    def release(self, stream_id: int) -> None:
        """The stream's last viewer here left: close its link after the linger."""
        if stream_id in self.links and stream_id not in self._lingering and not self.closed:
            self._lingering[stream_id] = self._spawn(self._close_later(stream_id))

    async def close(self) -> None:
        """Close every link and cancel and await every task."""
        self.closed = True
        for link in list(self.links.values()):
            await self._close_link(link)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _open(self, stream_id: int) -> RelayLink | None:
        try:
            holder = await self._cluster.holder(self._key, str(stream_id))
            address = await self._cluster.address_of(holder) if holder else None
        except BusError:
            return None
        if address is None or self.closed:
            return None
        path = LINK_PATH.format(stream_id=stream_id)
        headers = {SIGNATURE_HEADER: self._cluster.sign("GET", path)}
        link = RelayLink(stream_id, self._router, self._ended)
        try:
            await link.open(f"ws://{address}{path}", headers)
        except ConnectionError as exc:
            logger.info("relay: stream %s: %s", stream_id, exc)
            await link.close()
            return None
        except Exception:
            # A description this process cannot read (another version of expo at the origin?).
            logger.exception("relay: stream %s: the origin's track description is unusable", stream_id)
            await link.close()
            return None
        if self.closed:
            await link.close()
            return None
        self.links[stream_id] = link
        self._spawn(link.run())
        logger.info("relay: stream %s relayed from process %s at %s", stream_id, holder, address)
        return link

    def _ended(self, link: RelayLink, said_end: bool) -> None:
        if self.links.get(link.stream_id) is not link:
            return  # closed here (linger over, or shutting down)
        del self.links[link.stream_id]
        self.keep(link.stream_id)
        self._spawn(self._finish(link, said_end))

    async def _finish(self, link: RelayLink, said_end: bool) -> None:
        await link.close()
        await self._on_end(link.stream_id, said_end)

    async def _close_later(self, stream_id: int) -> None:
        await asyncio.sleep(self.linger)
        if self._lingering.get(stream_id) is asyncio.current_task():
            del self._lingering[stream_id]
        link = self.links.get(stream_id)
        if link is not None:
            await self._close_link(link)

    async def _close_link(self, link: RelayLink) -> None:
        if self.links.get(link.stream_id) is link:
            del self.links[link.stream_id]
        await link.close()

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
