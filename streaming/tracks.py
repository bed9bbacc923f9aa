"""A subscriber's copy of a published track: already-encoded frames, no encoder involved.

A WebRTC viewer's frames are written to its socket as they arrive by an
:class:`~streaming.forwarder.RtpForwarder`, beneath its ``RTCRtpSender``. Other readers (the HLS
packager, and a viewer the forwarder cannot drive) read them with ``recv()``: aiortc's sender
packetises an ``av.Packet`` returned by ``recv()`` as it is (its encoders' ``pack`` path) instead
of encoding a frame, so one encoded frame from the publisher is shared by every subscriber. Each
reader gets its own bounded queue: a reader that falls behind loses its own frames (and, for
video, waits for the next keyframe) without slowing anyone else down.

Splitting a frame into RTP payloads is the same work for every subscriber, so for codecs whose
packetiser keeps no state between frames (H.264, Opus) a publication's senders share one
:class:`SharedPacketizer` that does it once per frame.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Callable
from typing import Protocol

import av
from aiortc import RTCRtpSender
from aiortc.codecs import get_encoder
from aiortc.codecs.base import Encoder
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av.stream import Stream

from streaming.forwarder import OutgoingFrame, Outlet, RtpForwarder

# Codecs whose aiortc ``pack()`` is a pure function of the packet. VP8's is not: it numbers
# pictures per sender, and a subscriber that skipped frames must not see another one's numbering.
_SHAREABLE_MIMES = frozenset({"video/h264", "audio/opus"})
_SENDER_ENCODER_ATTR = "_RTCRtpSender__encoder"


class KeyframeSource(Protocol):
    """What a relay track needs from the publication feeding it."""

    def request_keyframe(self) -> None: ...

    def _unsubscribe(self, track: EncodedRelayTrack) -> None: ...


def _h264_payloads(data: bytes) -> list[bytes]:
    return H264Encoder._packetize(H264Encoder._split_bitstream(data))


def _opus_payloads(data: bytes) -> list[bytes]:
    return [data]


class SharedPacketizer:
    """Packetises each encoded frame once for all the senders of one publication.

    It takes the place of each sender's own encoder (see :meth:`EncodedRelayTrack.bind_sender`):
    aiortc's sender only calls ``pack()`` on it, with the ``av.Packet`` its track returned. All
    subscribers are handed the same packet object for a frame, so the payloads are computed by
    the first sender that asks and returned as they are to the others (they only read them).

    :param codec: the codec the publication's frames are encoded in; see :meth:`supports`.
    :param capacity: how many recent frames are remembered; a subscriber further behind than
        this has its frame packetised again, which gives the same payloads.
    """

    def __init__(self, codec: RTCRtpCodecParameters, capacity: int = 8) -> None:
        self._encoder: Encoder = get_encoder(codec)
        # aiortc's packetising of a frame's bytes, where its pack() only adds converting a pts
        # from the codec's own clock (H.264's 90 kHz, Opus's 48 kHz) to that same clock.
        self._clock = fractions.Fraction(1, codec.clockRate)
        self._direct: Callable[[bytes], list[bytes]] | None = None
        mime = codec.mimeType.lower()
        if mime == "video/h264" and codec.clockRate == 90_000:
            self._direct = _h264_payloads
        elif mime == "audio/opus" and codec.clockRate == 48_000:
            self._direct = _opus_payloads
        self._capacity = capacity
        # Keyed by id(): the entry keeps its packet alive, so the id cannot be reused meanwhile.
        self._recent: dict[int, tuple[av.Packet[Stream], tuple[list[bytes], int]]] = {}
        self.packed = 0

    @staticmethod
    def supports(codec: RTCRtpCodecParameters) -> bool:
        """Whether frames of ``codec`` packetise the same for every subscriber."""
        return codec.mimeType.lower() in _SHAREABLE_MIMES

    def pack_frame(self, frame: OutgoingFrame) -> tuple[list[bytes], int]:
        """:meth:`pack` of ``frame``'s packet, without making one where the frame's time base is
        the codec's RTP clock (the RTP timestamp is then its ``pts``), as a publication's is."""
        direct, time_base = self._direct, frame.time_base
        if direct is None or (time_base is not self._clock and time_base != self._clock):
            return self.pack(frame.packet)
        self._clock = time_base  # the publication's own object: compared by identity from now on
        self.packed += 1
        return direct(frame.data), frame.pts

    def pack(self, packet: av.Packet[Stream]) -> tuple[list[bytes], int]:
        """The RTP payloads of ``packet`` and its RTP timestamp, as aiortc's encoder returns them."""
        entry = self._recent.get(id(packet))
        if entry is not None and entry[0] is packet:
            return entry[1]
        result = self._encoder.pack(packet)
        self.packed += 1
        self._recent[id(packet)] = (packet, result)
        if len(self._recent) > self._capacity:
            del self._recent[next(iter(self._recent))]
        return result


class EncodedRelayTrack(MediaStreamTrack):
    """A subscriber's copy of a published track, carrying encoded ``av.Packet`` frames.

    States: *waiting for a keyframe* (video only: at the start and after a frame was dropped;
    frames are dropped until one arrives), *flowing*, and *ended* (``stop()`` was called or the
    publication ended; ``recv()`` then raises ``MediaStreamError`` once the queue is drained).
    Events: aiortc's ``"ended"``. Frames are either sent at once by a forwarder
    (:meth:`bind_sender`) or queued for ``recv()``.

    :param kind: ``"audio"`` or ``"video"``.
    :param source: the publication; asked for keyframes and told when this track stops.
    :param max_frames: how many frames may wait for the reader before frames are dropped.
    """

    def __init__(self, kind: str, source: KeyframeSource, max_frames: int) -> None:
        super().__init__()
        self.kind = kind
        self._source = source
        self._max_frames = max_frames
        self._queue: deque[av.Packet[Stream]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._forwarder: RtpForwarder | None = None
        self._upstream_ended = False
        self.waiting_for_keyframe = kind == "video"
        self.frames_queued = 0
        self.frames_forwarded = 0
        self.frames_dropped = 0
        self.keyframe_requests = 0

    @property
    def queued(self) -> int:
        """Frames waiting to be read."""
        return len(self._queue)

    @property
    def forwarder(self) -> RtpForwarder | None:
        """The forwarder writing this track's frames to a viewer's socket, if it has one."""
        return self._forwarder

    def bind_sender(
        self,
        sender: RTCRtpSender,
        codec: RTCRtpCodecParameters | None,
        packetizer: SharedPacketizer | None = None,
    ) -> None:
        """Send this track's frames through ``sender``'s connection, and relay its viewer's PLI/FIR.

        The frames go out through an :class:`RtpForwarder` as they arrive. aiortc only sets a
        flag for its own encoder when a viewer asks for a keyframe; with pre-encoded frames
        nobody reads that flag, so the request is redirected to the publisher. If the sender
        reads frames itself after all (the forwarder's fallback), it packetises through
        ``packetizer`` instead of through an encoder of its own.
        """
        sender._send_keyframe = self.request_keyframe  # type: ignore[method-assign]
        if packetizer is not None:
            self._forwarder = RtpForwarder(sender, packetizer.pack)
        elif codec is not None:
            self._forwarder = RtpForwarder(sender, get_encoder(codec).pack)
        if packetizer is not None and getattr(sender, _SENDER_ENCODER_ATTR, "missing") is None:
            # aiortc creates the sender's encoder only when it is still None at the first frame.
            setattr(sender, _SENDER_ENCODER_ATTR, packetizer)

    def request_keyframe(self) -> None:
        """The remote viewer lost picture: ask the publisher for a keyframe (throttled upstream)."""
        self.keyframe_requests += 1
        self._source.request_keyframe()

    def push(self, frame: OutgoingFrame) -> bool:
        """Send or queue one encoded frame; returns whether a keyframe is wanted to go on.

        Called by the publication on the event loop, once per frame, for every subscriber: it
        never blocks and never lets a queue grow past ``max_frames``.
        """
        if self._upstream_ended or self.readyState != "live":
            return False
        forwarder = self._forwarder
        if forwarder is not None and not forwarder.fallback:
            if self.waiting_for_keyframe and not frame.keyframe:
                self.frames_dropped += 1
                # Ask only once the viewer can take it: a keyframe sent before is lost too.
                return forwarder.negotiated
            sent = forwarder.send(frame)
            if sent:
                self.frames_forwarded += 1
                self.waiting_for_keyframe = False
                return False
            if sent is not None:
                self.frames_dropped += 1
                # A dropped video frame breaks every frame that references it.
                self.waiting_for_keyframe = self.kind == "video"
                return False
            # The forwarder handed over to the sender: frames are queued from now on.
        packet, keyframe = frame.packet, frame.keyframe
        if self.waiting_for_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                # Only a reader blocked in recv() keeps the publication asking for keyframes.
                return self._waiter is not None
            self.waiting_for_keyframe = False
        if len(self._queue) >= self._max_frames:
            if self.kind == "video":
                # Dropping any single video frame breaks every frame that references it, so the
                # whole backlog goes and the reader resumes cleanly on a keyframe.
                self.frames_dropped += len(self._queue)
                self._queue.clear()
                if not keyframe:
                    # No keyframe request yet: a reader that stopped for good must not make the
                    # publisher send keyframes forever; recv() asks when the reader is back.
                    self.frames_dropped += 1
                    self.waiting_for_keyframe = True
                    return False
            else:
                self._queue.popleft()
                self.frames_dropped += 1
        self._queue.append(packet)
        self.frames_queued += 1
        self._wake()
        return False

    def outlet(self) -> Outlet | None:
        """Where the publication may send this track's frames with all other viewers' in one
        call (:func:`~streaming.forwarder.send_to_all`) instead of through :meth:`push`: while
        its forwarder's connection is up and no keyframe is awaited; else ``None``."""
        forwarder = self._forwarder
        if (
            forwarder is None
            or self.waiting_for_keyframe
            or self._upstream_ended
            or self.readyState != "live"
        ):
            return None
        return forwarder.outlet(self)

    def end(self) -> None:
        """The publication ended: the reader gets what is queued, then ``MediaStreamError``."""
        self._upstream_ended = True
        self._release_forwarder()
        self._wake()

    async def recv(self) -> av.Packet[Stream]:
        """The next encoded frame, as an ``av.Packet`` with ``pts`` and ``time_base`` set."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._queue:
                return self._queue.popleft()
            if self._upstream_ended:
                self.stop()
                raise MediaStreamError
            if self.waiting_for_keyframe:
                self._source.request_keyframe()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def stop(self) -> None:
        """Stop this subscriber: its queue is freed and the publication forgets it."""
        if self.readyState == "live":
            self._source._unsubscribe(self)
        super().stop()
        self._queue.clear()
        self._release_forwarder()
        self._wake()

    def _release_forwarder(self) -> None:
        if self._forwarder is not None:
            self._forwarder.close()  # nothing more to send: its socket goes

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
