"""Take encoded frames out of an aiortc ``RTCRtpReceiver`` before they reach its decoder.

aiortc's receiver depacketises RTP, sends NACKs, reassembles frames in its jitter buffer and then
hands each complete frame to a decoder thread through a ``queue.Queue``. The loss repair towards
the publisher and the RTCP reports are what a forwarding server wants; the jitter buffer and the
decoding after it are not:

* The decoder: :class:`EncodedFrameTap` takes the place of its queue. Frames are given to a
  callback on the event loop instead, and the decoder thread is told to exit before it ever
  creates a decoder.
* The jitter buffer: aiortc's knows a frame is complete only when the next frame's first packet
  arrives, and holds audio four frames more for its decoder. A server forwarding through it adds
  a frame interval to video (33 ms at 30 fps) and 80 ms to audio, at every hop.
  :class:`FrameAssembler` takes its place and lets a frame go with its last packet.

This relies on private attributes of aiortc 1.16's receiver (checked in :func:`install_tap`, which
fails loudly if a later aiortc renames them) rather than on a copy of its code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver, clock
from aiortc.codecs import depayload, is_rtx
from aiortc.jitterbuffer import JitterFrame
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci, unwrap_rtx

from streaming.direct_receive import RTP_HANDLER, run_now
from streaming.remb import LeanBitrateEstimator

logger = logging.getLogger(__name__)

_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_THREAD_ATTR = "_RTCRtpReceiver__decoder_thread"
_BUFFER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_CODECS_ATTR = "_RTCRtpReceiver__codecs"
_MAPPER_ATTR = "_RTCRtpReceiver__timestamp_mapper"
_ESTIMATOR_ATTR = "_RTCRtpReceiver__remote_bitrate_estimator"
_RTCP_SSRC_ATTR = "_RTCRtpReceiver__rtcp_ssrc"
_SOURCES_ATTR = "_RTCRtpReceiver__active_ssrc"
_STREAMS_ATTR = "_RTCRtpReceiver__remote_streams"
_RTX_SSRC_ATTR = "_RTCRtpReceiver__rtx_ssrc"
_NACK_ATTR = "_RTCRtpReceiver__nack_generator"
_RECEIVER_ATTRS = (
    _QUEUE_ATTR,
    _THREAD_ATTR,
    _BUFFER_ATTR,
    _CODECS_ATTR,
    _MAPPER_ATTR,
    _ESTIMATOR_ATTR,
    _RTCP_SSRC_ATTR,
    _SOURCES_ATTR,
    _STREAMS_ATTR,
    _RTX_SSRC_ATTR,
    _NACK_ATTR,
)
SOURCE_REFRESH_MS = 1000  # how often a source's "last heard" time is renewed (see packet_handler)

FrameHandler = Callable[[RTCRtpCodecParameters, JitterFrame], None]


class EncodedFrameTap:
    """Stands in for a receiver's decoder queue and passes encoded frames to ``on_frame``.

    Only the two methods aiortc calls exist: ``put`` (from the event loop, with ``(codec, frame)``
    or ``None`` when the receiver stops) and ``get`` (from the decoder thread).

    :param on_frame: called on the event loop with each complete encoded frame.
    :param on_end: called once when the receiver stops (RTCP BYE, disconnect, ``stop()``).
    """

    def __init__(self, on_frame: FrameHandler, on_end: Callable[[], None]) -> None:
        self._on_frame = on_frame
        self._on_end = on_end
        self.ended = False
        self.frames = 0
        self.decoder_thread_released = False

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            if not self.ended:
                self.ended = True
                self._on_end()
            return
        if self.ended:
            return
        self.frames += 1
        codec, frame = item
        try:
            self._on_frame(codec, frame)
        except Exception:
            # This runs inside aiortc's RTP handling: an exception here would end the whole
            # DTLS transport's receive loop, so one bad frame must only be logged.
            logger.exception("encoded frame handler failed")

    def get(self) -> None:
        """Called by the decoder thread: ``None`` makes it exit before creating a decoder."""
        self.decoder_thread_released = True
        return None


def install_tap(receiver: RTCRtpReceiver, tap: EncodedFrameTap) -> None:
    """Route ``receiver``'s encoded frames to ``tap`` instead of its decoder, each as soon as its
    last packet is in (a :class:`FrameAssembler` instead of aiortc's jitter buffer).

    Best called before the connection starts receiving (right after ``setRemoteDescription``):
    then the decoder thread exits at once. If the receiver already runs, its decoder thread is
    released, having decoded only the frames queued before this call; the packets its jitter
    buffer held are dropped (the stream goes on from the next frame).
    """
    previous: Any = getattr(receiver, _QUEUE_ATTR, None)
    if previous is None or not all(hasattr(receiver, name) for name in _RECEIVER_ATTRS):
        raise RuntimeError("this aiortc version's RTCRtpReceiver has no decoder queue to tap")
    if isinstance(previous, EncodedFrameTap):
        raise ValueError("this receiver is already routed")
    mapper: Any = getattr(receiver, _MAPPER_ATTR)

    def deliver(payload_type: int, frame: JitterFrame) -> None:
        # What aiortc does with the frame its jitter buffer returns: the codec of the packets'
        # payload type (RTX already unwrapped), the timestamp counted from the stream's first.
        codec = getattr(receiver, _CODECS_ATTR).get(payload_type)
        if codec is not None:
            frame.timestamp = mapper.map(frame.timestamp)
            tap.put((codec, frame))

    assembler = FrameAssembler(receiver.track.kind, deliver)
    estimator = getattr(receiver, _ESTIMATOR_ATTR)
    if type(estimator) is RemoteBitrateEstimator and not estimator.ssrcs:  # video, nothing received yet
        setattr(receiver, _ESTIMATOR_ATTR, LeanBitrateEstimator())  # the same estimates, cheaper
    setattr(receiver, _BUFFER_ATTR, assembler)
    setattr(receiver, _QUEUE_ATTR, tap)
    setattr(receiver, RTP_HANDLER, packet_handler(receiver, assembler))

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        # The path of packets that still come through the DTLS transport's task (see
        # streaming.direct_receive): the same handler, looked up now in case it was wrapped.
        getattr(receiver, RTP_HANDLER)(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]
    if getattr(receiver, _THREAD_ATTR) is not None:
        # The thread is blocked on the old queue; the sentinel lets it finish.
        previous.put(None)


def packet_handler(receiver: RTCRtpReceiver, assembler: FrameAssembler) -> Callable[[RtpPacket, int], None]:
    """What aiortc's ``RTCRtpReceiver._handle_rtp_packet`` does for a tapped receiver, as a plain
    function: bitrate estimation (REMB), statistics for the receiver reports, RTX unwrapping,
    NACKs, depayloading, then ``assembler`` (which passes whole frames on) and keyframe requests.

    aiortc's is a coroutine, entered through two more (the DTLS transport's parse-and-route, and
    the task step that awaits it) for every packet a publisher sends; this one is called directly
    from the socket's callback (:mod:`streaming.direct_receive`) and does per packet only what the
    packet changes. It reads the receiver's state where aiortc keeps it, so reports, stats and
    renegotiated codecs stay aiortc's. What it leaves out: the decoder's error flag (there is no
    decoder) and, for ``getSynchronizationSources``, a new timestamp for every packet (refreshed
    once a second: that report only asks whether a source was heard in the last ten).
    RTCP it sends (REMB, NACK, PLI) is written at once, as aiortc's would be.
    """
    state = vars(receiver)
    heard: dict[int, int] = {}  # source -> when its timestamp in the sources was last refreshed
    # payload type -> (its codec, whether that is RTX); the codec is compared at each use, since
    # a renegotiation may give the payload type another one
    kinds: dict[int, tuple[RTCRtpCodecParameters, bool]] = {}

    def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        if not receiver._enabled:
            return
        estimator = state[_ESTIMATOR_ATTR]
        if estimator is not None:
            abs_send_time = packet.extensions.abs_send_time
            if abs_send_time is not None:
                remb = estimator.add(
                    abs_send_time=abs_send_time,
                    arrival_time_ms=arrival_time_ms,
                    payload_size=len(packet.payload) + packet.padding_size,
                    ssrc=packet.ssrc,
                )
                rtcp_ssrc = state[_RTCP_SSRC_ATTR]
                if rtcp_ssrc is not None and remb is not None:
                    fci = pack_remb_fci(*remb)
                    feedback = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=fci)
                    run_now(receiver._send_rtcp(feedback))
        ssrc = packet.ssrc
        if arrival_time_ms - heard.get(ssrc, -SOURCE_REFRESH_MS) >= SOURCE_REFRESH_MS:
            heard[ssrc] = arrival_time_ms
            state[_SOURCES_ATTR][ssrc] = clock.current_datetime()
        codecs = state[_CODECS_ATTR]
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        streams = state[_STREAMS_ATTR]
        statistics = streams.get(ssrc)
        if statistics is None:
            statistics = streams[ssrc] = StreamStatistics(codec.clockRate)
        statistics.add(packet)
        kind = kinds.get(packet.payload_type)
        if kind is None or kind[0] is not codec:
            kind = kinds[packet.payload_type] = (codec, is_rtx(codec))
        if kind[1]:
            original_ssrc = state[_RTX_SSRC_ATTR].get(ssrc)
            apt = codec.parameters.get("apt")
            if original_ssrc is None or len(packet.payload) < 2 or not isinstance(apt, int):
                return
            if apt not in codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
            codec = codecs[apt]
        nack = state[_NACK_ATTR]
        if nack is not None and nack.add(packet):
            run_now(receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing)))
        try:
            packet._data = depayload(codec, packet.payload) if packet.payload else b""  # type: ignore[attr-defined]
        except ValueError:
            return  # as aiortc: a payload its depayloader cannot parse is dropped
        if assembler.add(packet)[0]:
            run_now(receiver._send_rtcp_pli(packet.ssrc))

    return handle


# RTP sequence numbers are 16 bits: a packet this far behind the next one expected means the source
# started a new sequence, not that it arrived late (aiortc's jitter buffer uses the same bound).
MAX_MISORDER = 100
# A gap in a video stream waits for its retransmission (aiortc NACKs it) while at most this many
# frames complete behind it (half a second at 30 fps); then the broken frame is given up, the
# frames after it go on and a keyframe is asked for, instead of the picture freezing until the
# buffer overflows.
MAX_FRAMES_BEHIND_GAP = 15

Deliver = Callable[[int, JitterFrame], None]


class FrameAssembler:
    """Stands in for an aiortc receiver's jitter buffer: a frame leaves with its last packet.

    aiortc calls :meth:`add` with every depayloaded packet (its bytes in ``packet._data``) and
    sends a PLI when it returns ``True``; frames never come back through ``add`` but go to
    ``deliver(payload_type, frame)``, in order, as soon as they are whole:

    * Audio: every packet is a frame, passed on as it arrives. One that arrives behind the last
      passed on is dropped (the viewers' sequence numbers are this server's, so passing it on late
      would play it out of order; Opus conceals a missing 20 ms).
    * Video: packets wait by sequence number until an unbroken run from the next expected one ends
      with the marker bit, which senders set on a frame's last packet (RFC 6184 for H.264, RFC 7741
      for VP8), or, from a sender that never sets it, is followed by a packet of a new timestamp.
      A gap waits for its retransmission, see :data:`MAX_FRAMES_BEHIND_GAP`.

    Packets of padding alone (a sender probing the bandwidth sends them between frames, with the
    last frame's timestamp) are no frame: nothing is passed on for them.

    A stream that jumps ``capacity`` packets ahead or starts a new sequence is taken up again at
    its next frame boundary, with a keyframe requested (``True`` from :meth:`add`) for video.
    """

    def __init__(self, kind: str, deliver: Deliver, capacity: int = 512) -> None:
        self._video = kind == "video"
        self._deliver = deliver
        self.capacity = capacity
        self._next: int | None = None  # the first sequence number not yet passed on
        self._pending: dict[int, RtpPacket] = {}
        self._run = 0  # packets from _next on known present, of one timestamp, none a frame's last
        self._ends = 0  # frames' last packets among the pending ones
        self._resync = False  # dropping packets until a frame boundary
        self.dropped = 0  # packets late, duplicated, or given up behind a gap

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        sequence = packet.sequence_number
        if self._next is None:
            self._next = sequence
        ahead = (sequence - self._next) & 0xFFFF
        restarted = False
        if ahead >= 0x8000:
            if 0x10000 - ahead < MAX_MISORDER:
                self.dropped += 1  # late, or a duplicate of what went already
                return False, None
            restarted = True  # a new sequence
        elif ahead >= self.capacity:
            restarted = True  # too far ahead to wait for what is missing
        if not self._video:
            self._next = (sequence + 1) & 0xFFFF
            if packet._data:  # type: ignore[attr-defined]
                self._deliver(packet.payload_type, JitterFrame(packet._data, packet.timestamp))  # type: ignore[attr-defined]
            return False, None
        if restarted:
            self._clear()
            self._resync = True
        if self._resync:
            # Nothing before a frame boundary is worth passing on: wait for a new timestamp (this
            # packet starts a frame) or a frame's last packet (the next one starts a frame).
            previous = self._pending.get((sequence - 1) & 0xFFFF)
            self._clear()
            self._next = sequence
            if previous is not None and previous.timestamp != packet.timestamp:
                self._resync = False
            elif packet.marker:
                self.dropped += 1
                self._resync = False
                self._next = (sequence + 1) & 0xFFFF
                return restarted, None
            else:
                self._pending[sequence] = packet  # kept only to compare with the next one
                return restarted, None
        if packet.marker and sequence not in self._pending:
            self._ends += 1
        self._pending[sequence] = packet
        return self._pass_on() or restarted, None

    def _pass_on(self) -> bool:
        """Pass on every frame now whole; ``True`` if a gap was given up (a keyframe is wanted)."""
        gave_up = False
        pending = self._pending
        while True:
            assert self._next is not None
            first = pending.get(self._next)
            end = None if first is None else self._frame_end(first.timestamp)
            if first is None or end is None:
                # The frame at _next is not whole yet: wait for what is missing, within bounds.
                if self._ends <= MAX_FRAMES_BEHIND_GAP:
                    return gave_up
                self._give_up_gap()
                gave_up = True
                continue
            parts = []
            sequence = self._next
            while sequence != end:
                taken = pending.pop(sequence)
                parts.append(taken._data)  # type: ignore[attr-defined]
                sequence = (sequence + 1) & 0xFFFF
            self._ends -= taken.marker  # only a frame's last packet can have it
            self._next, self._run = end, 0
            data = b"".join(parts)
            if data:  # not padding alone (a sender probing the bandwidth)
                self._deliver(first.payload_type, JitterFrame(data, first.timestamp))

    def _frame_end(self, timestamp: int) -> int | None:
        """The sequence number after the frame at ``_next`` if it is whole, else ``None``."""
        assert self._next is not None
        sequence = (self._next + self._run) & 0xFFFF
        while (packet := self._pending.get(sequence)) is not None:
            if packet.timestamp != timestamp:
                return sequence  # the next frame began: this one had no marker
            if packet.marker:
                return (sequence + 1) & 0xFFFF
            self._run += 1
            sequence = (sequence + 1) & 0xFFFF
        return None

    def _clear(self) -> None:
        self.dropped += len(self._pending)
        self._pending.clear()
        self._run = self._ends = 0

    def _give_up_gap(self) -> None:
        """Drop the frame the gap broke: everything up to the first frame end behind the gap."""
        assert self._next is not None
        sequence = self._next
        for _ in range(self.capacity):
            packet = self._pending.pop(sequence, None)
            sequence = (sequence + 1) & 0xFFFF
            if packet is not None:
                self.dropped += 1
                if packet.marker:
                    self._ends -= 1
                    break
        self._next, self._run = sequence, 0
