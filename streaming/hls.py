"""HLS packaging of a live broadcast: the publisher's H.264 remuxed, never re-encoded.

Format: MPEG-TS segments (``.ts``) with a version-3 media playlist. TS is the one HLS format every
player the contract names reads natively (Safari, Chromium's native HLS, ffmpeg, VLC, hls.js)
without an initialisation segment; each segment starts with its own PAT/PMT and an IDR picture,
so any segment can be decoded on its own (``#EXT-X-INDEPENDENT-SEGMENTS``). fMP4 would save a few
percent of overhead but would need an init segment kept in step with the publisher's SPS.

Low latency (LL-HLS, RFC 8216bis): while a segment grows, every ``part_target`` seconds the bytes
muxed since the last cut become a partial segment, listed with ``#EXT-X-PART`` and fetchable at
once, so a player can stay about three parts (1.5 s) behind the live edge instead of three segments.
A segment is exactly the concatenation of its parts; players that ignore parts (ffmpeg, VLC, older
Safari) play the segments as before. The routes add blocking playlist reloads (``_HLS_msn``,
``_HLS_part``) and a preload hint for the next part (see :mod:`streaming.hls_http`).

Audio: WebRTC publishers send Opus, which Safari does not accept in TS, so audio is the one thing
transcoded (Opus -> AAC-LC, 48 kHz stereo, ADTS-framed). Video bytes go into the segments as they
arrived, Annex B as aiortc's H.264 depacketiser reassembles them.

Threading: :meth:`HlsPackager.push` runs on the event loop and only puts the packet on a bounded
queue (0.03 s of CPU per minute of media); a worker thread per packager does the muxing, the
audio transcode and the recorder's disk writes. Measured with ``scripts/bench_hls.py`` (720p,
1 Mbps, 30 fps + Opus): 0.96 CPU s per minute of media (1.6 % of a core), 0.05 s of it for the
video remux and the rest for Opus -> AAC; re-encoding the video too would cost 11-18x that. The
audio alone would take ~0.3 ms per packet on the loop, but closing a segment, probing it and
writing the recording are blocking bursts, and a thread keeps all of it off the loop. A full
queue drops packets and counts them; a dropped video packet makes the packager skip to the next
keyframe, so nothing undecodable is packaged.

Typical use, in a WHIP handler once the publisher's tracks are routed::

    video = next(p for p in publications if p.kind == "video")
    # (only if video.codec.name == "H264": HLS cannot carry VP8)
    packager = await platform.get(HlsRegistry).open(
        stream.id,
        audio=any(p.kind == "audio" for p in publications),
        recorder=Recorder(settings.data_path, stream.id),
        request_keyframe=video.request_keyframe,
    )
    for publication in publications:
        packager.follow(publication.subscribe())

and when the broadcast ends: ``info = await platform.get(HlsRegistry).end(stream.id)``, then, if ``info`` is
not ``None``, ``session.add(info.to_model(stream.id))``.

Timeline: RTP timestamps start at random values and wrap at 2**32, and audio and video clocks are
unrelated, so the first keyframe defines time zero and the first audio packet is placed at the
latest video time seen when it arrives (the arrival order tells how they line up). Timestamps in
the segments are offset by :data:`TS_OFFSET` seconds so that the AAC encoder's priming samples
never make one negative.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import queue
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.container.output import OutputContainer
from av.stream import Stream

from streaming.codecs import is_keyframe
from streaming.hls_audio import AAC_CODECS, AacTranscoder
from streaming.recorder import Recorder, RecordingInfo

logger = logging.getLogger(__name__)

TS_TIME_BASE = Fraction(1, 90000)
TS_OFFSET = 10.0
DEFAULT_TARGET_DURATION = 2.0
DEFAULT_PART_TARGET = 0.5
# Parts stay listed for the segments of the last three target durations (RFC 8216bis 6.2.2).
PART_SEGMENTS = 3
DEFAULT_WINDOW = 6
# Segments kept beyond the playlist's window, for players that fetched the previous playlist.
SPARE_SEGMENTS = 2
DEFAULT_QUEUE_SIZE = 600  # about five seconds of 30 fps video and 50 packets/s audio
# How long before a segment is due the publisher is asked for a keyframe (WebRTC encoders only
# send one when asked, so without this a segment would never end).
KEYFRAME_LEAD = 0.2
KEYFRAME_REQUEST_INTERVAL = 0.5
# A keyframe this early still ends the segment: the one just requested arrives a little before
# the target, and waiting for the following one would double the segment.
CUT_EARLY = 0.4
_WRAP = 2**32
_START_CODES = (b"\x00\x00\x01", b"\x00\x00\x00\x01")


@dataclass(frozen=True)
class Segment:
    """One finished MPEG-TS segment: ``sequence`` is its media sequence number."""

    sequence: int
    data: bytes
    start: float  # seconds on the stream's timeline
    duration: float
    program_date_time: datetime


@dataclass(frozen=True)
class Part:
    """One partial segment (LL-HLS): the next run of a growing segment's bytes.

    ``sequence`` is its segment's media sequence number, ``index`` its place in the segment.
    ``independent`` parts start with a keyframe, so a player may start playing there.
    """

    sequence: int
    index: int
    data: bytes
    duration: float
    independent: bool


@dataclass(frozen=True)
class VideoInfo:
    """What the multivariant playlist says about the video, read from the SPS."""

    width: int
    height: int
    codec: str  # e.g. avc1.42e01f


class _Unwrapper:
    """Extends 32-bit RTP timestamps to a monotonic count (harmless for ordinary pts)."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._wraps = 0

    def __call__(self, raw: int) -> int:
        if self._last is not None:
            if raw - self._last < -(_WRAP // 2):
                self._wraps += _WRAP
            elif raw - self._last > _WRAP // 2:
                self._wraps -= _WRAP
        self._last = raw
        return raw + self._wraps


def sequence_parameter_set(access_unit: bytes) -> bytes | None:
    """The first SPS NAL unit (header byte included) of an Annex B access unit, if any.

    Bytes 1-3 are profile, constraint flags and level: RFC 6381's ``avc1.PPCCLL``.
    """
    pos = access_unit.find(b"\x00\x00\x01")
    while pos != -1 and pos + 6 < len(access_unit):
        if access_unit[pos + 3] & 0x1F == 7:
            end = access_unit.find(b"\x00\x00\x01", pos + 3)
            return access_unit[pos + 3 : end if end != -1 else None].rstrip(b"\x00")
        pos = access_unit.find(b"\x00\x00\x01", pos + 3)
    return None


class HlsPackager:
    """Packages one live stream's encoded media into a rolling HLS playlist held in memory.

    States: *waiting* (no keyframe yet: nothing is packaged), *live* (segments are cut on
    keyframes once ``target_duration`` has passed; :attr:`ready` once the first one is done) and
    *ended* (:meth:`close` ran: the last segment is cut, the playlist carries ``#EXT-X-ENDLIST``,
    the recorder, if any, is finalised and the worker thread has exited).

    :param stream_id: the broadcast's id.
    :param audio: whether the stream has an audio track. If it does, segments always carry AAC
        (silence until the first Opus packet arrives); if not, they are video only.
    :param target_duration: the segment length aimed at, in seconds.
    :param window: how many segments the playlist lists.
    :param recorder: given every finished segment (in the worker thread) for the replay.
    :param request_keyframe: called on the event loop when a segment is due and the publisher
        should send a keyframe (e.g. ``Publication.request_keyframe``).
    :param first_sequence: the first segment's media sequence number (the registry continues a
        stream's numbering when it goes live again, so players polling across the gap go on).
    :param part_target: the longest partial segment, in seconds; 0 turns low latency off.
    """

    def __init__(
        self,
        stream_id: int,
        *,
        audio: bool = True,
        target_duration: float = DEFAULT_TARGET_DURATION,
        window: int = DEFAULT_WINDOW,
        recorder: Recorder | None = None,
        request_keyframe: Callable[[], None] | None = None,
        first_sequence: int = 0,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        part_target: float = DEFAULT_PART_TARGET,
    ) -> None:
        self.stream_id = stream_id
        self.audio = audio
        self.target_duration = target_duration
        self.window = window
        self.part_target = part_target
        # Segment names carry this live period's id: a name is never reused for other bytes, so
        # segments can be cached as immutable even though a stream may go live several times.
        self.period = secrets.token_hex(4)
        self.recorder = recorder
        self.request_keyframe = request_keyframe
        self.recording: RecordingInfo | None = None
        self.dropped = 0  # packets dropped because the worker fell behind
        self.ignored = 0  # packets that could not be packaged (no pts, audio on a video-only stream)
        self.errors = 0
        self.ended = False
        self.video_info: VideoInfo | None = None
        self.playlist = b""
        self._segments: dict[int, Segment] = {}
        self._order: deque[int] = deque()  # worker thread only
        # What the playlist lists, replaced whole by the worker so readers never see it mid-change.
        self._listed: tuple[Segment, ...] = ()
        # Parts by segment, for the open segment and the last few; each tuple is replaced whole.
        self._parts: dict[int, tuple[Part, ...]] = {}
        self._changed: list[asyncio.Future[None]] = []
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._sps = b""
        self._queue: queue.Queue[tuple[str, bytes, int, Fraction, bool] | None] = queue.Queue(queue_size)
        # Producer side (event loop): keyframe gating and requests.
        self._skip_to_keyframe = True
        self._producer_unwrap = _Unwrapper()
        self._segment_pts: int | None = None  # where the producer side sees the segment start
        self._last_request = -math.inf
        # Worker side.
        self._video_unwrap = _Unwrapper()
        self._audio_unwrap = _Unwrapper()
        self._video_origin: int | None = None
        self._audio_origin: tuple[int, float] | None = None
        self._video_time = 0.0
        self._last_ticks = -1
        self._frame_duration = 1 / 30
        self._container: OutputContainer | None = None
        self._buffer = io.BytesIO()
        self._streams: dict[str, Stream] = {}
        self._segment_start: float | None = None
        self._part_start = 0.0
        self._part_offset = 0
        self._part_independent = True
        self._sequence = first_sequence
        self._max_duration = math.ceil(target_duration)
        self._wall_origin: datetime | None = None
        self._transcoder = AacTranscoder() if audio else None
        self._closed = False
        self._pumps: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, name=f"hls-{stream_id}", daemon=True)
        self._thread.start()

    # -- event loop side -------------------------------------------------------------------------

    def push(self, kind: str, packet: av.Packet[Stream]) -> None:
        """Queue one encoded frame (``kind`` ``"video"``: H.264 Annex B; ``"audio"``: Opus).

        Anything else (VP8 video) is ignored and counted: open a packager only for a stream
        whose video publication negotiated H.264 (``publication.codec.name == "H264"``).

        ``packet.pts`` and ``packet.time_base`` must be set (RTP timestamps are fine). Never
        blocks: if the worker is behind, the packet is dropped and counted.
        """
        if self._closed:
            return
        if packet.pts is None or packet.time_base is None or (kind == "audio" and not self.audio):
            self.ignored += 1
            return
        data = bytes(packet)
        if kind == "video" and not data.startswith(_START_CODES):
            # Not H.264 in Annex B (a VP8 publisher): HLS cannot carry it, and asking such a
            # publisher for keyframes would only cost its WebRTC viewers bandwidth.
            self.ignored += 1
            return
        keyframe = kind == "video" and is_keyframe("H264", data)
        if kind == "video":
            self._maybe_request_keyframe(keyframe, self._producer_unwrap(packet.pts), packet.time_base)
            if self._skip_to_keyframe and not keyframe:
                self.dropped += 1
                return
            self._skip_to_keyframe = False
        try:
            self._queue.put_nowait((kind, data, int(packet.pts), Fraction(packet.time_base), keyframe))
        except queue.Full:
            self.dropped += 1
            if kind == "video":
                self._skip_to_keyframe = True

    def _maybe_request_keyframe(self, keyframe: bool, pts: int, time_base: Fraction) -> None:
        # Mirrors the worker's cutting rule on the same timestamps, so that a keyframe is asked
        # for shortly before the worker will want one.
        start = self._segment_pts
        elapsed = 0.0 if start is None else float((pts - start) * time_base)
        if keyframe:
            if start is None or self._cut_due(elapsed):
                self._segment_pts = pts
            return
        due = start is not None and elapsed >= self.target_duration - KEYFRAME_LEAD
        if (due or self._skip_to_keyframe) and self.request_keyframe is not None:
            now = asyncio.get_running_loop().time()
            if now - self._last_request >= KEYFRAME_REQUEST_INTERVAL:
                self._last_request = now
                self.request_keyframe()

    def follow(self, track: MediaStreamTrack) -> None:
        """Package what ``track`` yields (a relay track from ``Publication.subscribe()``) until it
        ends; the task is the packager's, cancelled and awaited by :meth:`close`."""
        task = asyncio.create_task(self._pump(track), name=f"hls-{self.stream_id}-{track.kind}")
        self._pumps.add(task)
        task.add_done_callback(self._pumps.discard)

    async def _pump(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                packet = await track.recv()
                if isinstance(packet, av.Packet):
                    self.push(track.kind, packet)
        except MediaStreamError:
            return
        finally:
            track.stop()  # frees the relay's queue and unsubscribes it from the publication

    async def drain(self) -> None:
        """Return once every packet pushed so far has been packaged."""
        await asyncio.to_thread(self._queue.join)

    async def close(self) -> RecordingInfo | None:
        """End the stream: cut the last segment, add ``#EXT-X-ENDLIST``, finalise the recording.

        Idempotent; returns the recording, if one was made.
        """
        pumps = list(self._pumps)
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        if not self._closed:
            self._closed = True
            # The sentinel must get in even if the queue is full: wait for room off the loop.
            await asyncio.to_thread(self._queue.put, None)
        await asyncio.to_thread(self._thread.join)
        return self.recording

    # -- reading (any thread) --------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the playlist lists at least one segment."""
        return bool(self._listed)

    @property
    def next_sequence(self) -> int:
        """The media sequence number the next segment will get."""
        return self._sequence

    def segment_name(self, sequence: int) -> str:
        """The URL name of a segment, relative to the playlist."""
        return f"{self.period}-{sequence}.ts"

    def playlist_with_query(self, query: str) -> bytes:
        """The playlist with ``?query`` after every segment and part URI (those of ``#EXT-X-PART``
        and ``#EXT-X-PRELOAD-HINT`` too): a viewer's own copy, e.g. carrying their segment token.

        Every URI this packager writes is a ``.ts`` name ending its line or its quoted attribute,
        and nothing else in the playlist ends so; two C-level replaces of the shared text are all
        a viewer's copy costs (no init segment or rendition report exists to rewrite).
        """
        suffix = b".ts?" + query.encode()
        return self.playlist.replace(b".ts\n", suffix + b"\n").replace(b'.ts"', suffix + b'"')

    def segment(self, sequence: int) -> Segment | None:
        """The segment with this media sequence number, if still kept."""
        return self._segments.get(sequence)

    def segments(self) -> list[Segment]:
        """The segments the playlist lists, oldest first."""
        return list(self._listed)

    def part_name(self, sequence: int, index: int) -> str:
        """The URL name of a partial segment, relative to the playlist."""
        return f"{self.period}-{sequence}.{index}.ts"

    def part(self, sequence: int, index: int) -> Part | None:
        """Part ``index`` of segment ``sequence``, if it exists and is still kept."""
        parts = self._parts.get(sequence, ())
        return parts[index] if index < len(parts) else None

    def has(self, sequence: int, index: int | None = None) -> bool:
        """Whether segment ``sequence`` is complete, or (with ``index``) that part of it exists."""
        if sequence < self._sequence:
            return True
        return index is not None and sequence == self._sequence and index < len(self._parts.get(sequence, ()))

    @property
    def open_parts(self) -> int:
        """How many parts of the segment being made exist so far."""
        return len(self._parts.get(self._sequence, ()))

    async def wait_for(self, sequence: int, index: int | None, timeout: float) -> bool:
        """Wait until :meth:`has` ``(sequence, index)`` or the stream ended; whether it happened
        within ``timeout`` seconds. Runs on the event loop the packager was made on."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.has(sequence, index) or self.ended):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter = loop.create_future()
            self._changed.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return self.has(sequence, index) or self.ended
        return True

    @property
    def bandwidth(self) -> int:
        """Peak bits per second over the listed segments (what ``BANDWIDTH`` must state)."""
        rates = [len(s.data) * 8 / max(s.duration, 0.1) for s in self.segments()]
        return int(max(rates, default=0))

    @property
    def codecs(self) -> str:
        """The ``CODECS`` attribute: the SPS's avc1 string, plus AAC-LC if there is audio."""
        video = self.video_info.codec if self.video_info else "avc1.42e01f"
        return f"{video},{AAC_CODECS}" if self.audio else video

    # -- worker thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    break
                self._package(*item)
            except Exception:
                # One bad packet must not end the live stream, nor kill the thread that close()
                # waits for.
                self.errors += 1
                logger.exception("hls: packaging failed for stream %s", self.stream_id)
            finally:
                self._queue.task_done()
        try:
            self._finish()
        except Exception:
            self.ended = True
            logger.exception("hls: finishing stream %s failed", self.stream_id)

    def _package(self, kind: str, data: bytes, pts: int, time_base: Fraction, keyframe: bool) -> None:
        if kind == "video":
            self._on_video(data, pts, time_base, keyframe)
        else:
            self._on_audio(data, pts, time_base)

    def _on_video(self, data: bytes, pts: int, time_base: Fraction, keyframe: bool) -> None:
        ext = self._video_unwrap(pts)
        if self._video_origin is None:
            if not keyframe:
                return
            self._video_origin = ext
            self._wall_origin = datetime.now(UTC)
        now = float((ext - self._video_origin) * time_base)
        if now > self._video_time:
            self._frame_duration = min(now - self._video_time, 1.0)
        if keyframe:
            self._on_keyframe(data, now)
        if self._part_due(now):
            self._cut_part(now, keyframe)
        self._video_time = max(self._video_time, now)
        ticks = max(round((now + TS_OFFSET) * 90000), self._last_ticks + 1)
        self._last_ticks = ticks
        self._mux("video", data, ticks)

    def _on_keyframe(self, data: bytes, now: float) -> None:
        if self._segment_start is not None and self._cut_due(now - self._segment_start):
            self._cut(now)
        sps = sequence_parameter_set(data)
        if sps is not None and sps != self._sps:
            # New stream parameters (WebRTC encoders change resolution as bandwidth varies): the
            # dimensions follow once the segment that starts here is probed.
            self._sps = sps
            self.video_info = VideoInfo(0, 0, "avc1." + sps[1:4].hex())
        if self._segment_start is None:
            self._open_segment(now)

    def _part_due(self, now: float) -> bool:
        """Whether the frame at ``now`` starts a new part: with it, the part would run past
        ``part_target`` (so that no part is longer than the playlist's ``PART-TARGET``)."""
        if not self.part_target or self._segment_start is None or now <= self._part_start:
            return False
        return now + self._frame_duration - self._part_start > self.part_target + 1e-3

    def _cut_part(self, end: float, next_independent: bool, tail: bytes | None = None) -> None:
        """Make the bytes muxed since the last part a part, or ``tail``, the segment's last one
        (published with its segment, so the playlist never hints at a part that will not come)."""
        data = tail
        if data is None:
            with self._buffer.getbuffer() as view:
                data = bytes(view[self._part_offset :])
        if not data:
            return
        parts = self._parts.get(self._sequence, ())
        part = Part(
            self._sequence,
            len(parts),
            data,
            max(end - self._part_start, 0.001),
            self._part_independent,
        )
        self._parts[self._sequence] = (*parts, part)
        self._part_start, self._part_offset = end, self._part_offset + len(data)
        self._part_independent = next_independent
        if tail is None:
            self._publish()

    def _cut_due(self, elapsed: float) -> bool:
        """Whether a keyframe ``elapsed`` seconds into the segment starts the next one."""
        return elapsed >= max(self.target_duration - CUT_EARLY, self.target_duration / 2)

    def _on_audio(self, data: bytes, pts: int, time_base: Fraction) -> None:
        if self._video_origin is None or self._transcoder is None:
            return  # the timeline starts at the first keyframe
        ext = self._audio_unwrap(pts)
        if self._audio_origin is None:
            self._audio_origin = (ext, self._video_time)
        origin, at = self._audio_origin
        when = at + float((ext - origin) * time_base)
        for payload, ticks in self._transcoder.add(data, when, TS_OFFSET):
            self._mux("audio", payload, ticks)

    def _open_segment(self, now: float) -> None:
        self._buffer = io.BytesIO()
        container = av.open(self._buffer, "w", format="mpegts")
        self._streams = {"video": container.add_mux_stream("h264", time_base=TS_TIME_BASE)}
        if self.audio:
            self._streams["audio"] = container.add_mux_stream("aac", rate=48000, time_base=TS_TIME_BASE)
        self._container = container
        self._segment_start = now
        self._part_start, self._part_offset, self._part_independent = now, 0, True

    def _mux(self, kind: str, payload: bytes, ticks: int) -> None:
        if self._container is None:
            return
        packet = av.Packet(payload)
        packet.stream = self._streams[kind]
        packet.pts = packet.dts = ticks
        packet.time_base = TS_TIME_BASE
        self._container.mux(packet)

    def _cut(self, end: float, *, final: bool = False) -> None:
        if self._container is None or self._segment_start is None or self._wall_origin is None:
            return
        if self._transcoder is not None:
            # Until the first Opus packet (or after audio stopped), silence keeps every segment's
            # audio track continuous, which players need to keep A/V in step.
            for payload, ticks in self._transcoder.pad_to(end, TS_OFFSET, final=final):
                self._mux("audio", payload, ticks)
        self._container.close()
        data = self._buffer.getvalue()
        if self.part_target:
            # The tail since the last part (closing flushed the muxer) is the segment's last part.
            self._cut_part(end, True, data[self._part_offset :])
        start, self._segment_start, self._container = self._segment_start, None, None
        duration = max(end - start, 0.001)
        segment = Segment(
            sequence=self._sequence,
            data=data,
            start=start,
            duration=duration,
            program_date_time=self._wall_origin + timedelta(seconds=start),
        )
        self._sequence += 1
        if self.video_info is not None and self.video_info.width == 0:
            self.video_info = _probe_video(data, self.video_info.codec)
        self._segments[segment.sequence] = segment
        self._order.append(segment.sequence)
        while len(self._order) > self.window + SPARE_SEGMENTS:
            self._segments.pop(self._order.popleft(), None)
        self._listed = tuple(self._segments[s] for s in list(self._order)[-self.window :])
        for old in [s for s in self._parts if s <= segment.sequence - PART_SEGMENTS]:
            del self._parts[old]
        self._max_duration = max(self._max_duration, math.ceil(duration - 1e-6))
        self._publish()
        if self.recorder is not None:
            try:
                self.recorder.write_segment(data)
            except (OSError, av.FFmpegError):
                self.errors += 1
                logger.exception("hls: recording stream %s failed; the replay stops here", self.stream_id)
                self.recorder.abort()
                self.recorder = None

    def _finish(self) -> None:
        if self._segment_start is not None:
            self._cut(self._video_time + self._frame_duration, final=True)
        self.ended = True
        self._publish()
        if self.recorder is not None:
            self.recording = self.recorder.finish()

    def _publish(self) -> None:
        """Render the playlist and wake the requests waiting for a segment or part (worker)."""
        self.playlist = self._render()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiters, self._changed = self._changed, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _render(self) -> bytes:
        listed = self.segments()
        low_latency = bool(self.part_target) and not self.ended
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{self._max_duration}",
        ]
        if low_latency:
            lines += [
                f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={3 * self.part_target:.3f}",
                f"#EXT-X-PART-INF:PART-TARGET={self.part_target:.3f}",
            ]
        lines += [
            f"#EXT-X-MEDIA-SEQUENCE:{listed[0].sequence if listed else self._sequence}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        for segment in listed:
            stamp = segment.program_date_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp}")
            if low_latency:
                lines += self._part_lines(segment.sequence)
            lines += [f"#EXTINF:{segment.duration:.3f},", self.segment_name(segment.sequence)]
        if low_latency:
            # The segment being made: its parts so far, and where the next one will be.
            lines += self._part_lines(self._sequence)
            next_part = self.part_name(self._sequence, len(self._parts.get(self._sequence, ())))
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{next_part}"')
        if self.ended:
            lines.append("#EXT-X-ENDLIST")
        return ("\n".join(lines) + "\n").encode()

    def _part_lines(self, sequence: int) -> list[str]:
        return [
            f'#EXT-X-PART:DURATION={part.duration:.3f},URI="{self.part_name(sequence, part.index)}"'
            + (",INDEPENDENT=YES" if part.independent else "")
            for part in self._parts.get(sequence, ())
        ]


def _probe_video(segment: bytes, codec: str) -> VideoInfo:
    """Width and height as libavformat's H.264 parser reads them from the segment's SPS."""
    with contextlib.suppress(av.FFmpegError), av.open(io.BytesIO(segment), format="mpegts") as probe:
        for stream in probe.streams.video:
            return VideoInfo(stream.codec_context.width, stream.codec_context.height, codec)
    return VideoInfo(0, 0, codec)


class HlsRegistry:
    """The packagers of this process, by stream id; owned by the platform (``platform.get(HlsRegistry)``).

    An ended packager stays reachable for ``linger`` seconds so that players fetch the final
    playlist with ``#EXT-X-ENDLIST`` and stop, then its segments are freed.
    """

    def __init__(self, linger: float = 60.0) -> None:
        self.linger = linger
        self._packagers: dict[int, HlsPackager] = {}
        self._expiry: dict[int, asyncio.TimerHandle] = {}

    def get(self, stream_id: int) -> HlsPackager | None:
        """The packager serving ``stream_id``, live or recently ended."""
        return self._packagers.get(stream_id)

    async def open(self, stream_id: int, **options: object) -> HlsPackager:
        """A new packager for a stream going live (``options`` as :class:`HlsPackager` takes them).

        A previous packager of the same stream is closed first.
        """
        previous = self._packagers.pop(stream_id, None)
        self._cancel_expiry(stream_id)
        if previous is not None:
            await previous.close()
            options.setdefault("first_sequence", previous.next_sequence)
        packager = HlsPackager(stream_id, **options)  # type: ignore[arg-type]
        self._packagers[stream_id] = packager
        return packager

    def add(self, packager: HlsPackager) -> None:
        """Serve an already built packager (replacing any other of its stream)."""
        self._cancel_expiry(packager.stream_id)
        self._packagers[packager.stream_id] = packager

    async def end(self, stream_id: int) -> RecordingInfo | None:
        """Close the stream's packager (see :meth:`HlsPackager.close`) and forget it after ``linger``."""
        packager = self._packagers.get(stream_id)
        if packager is None:
            return None
        recording = await packager.close()
        self._cancel_expiry(stream_id)
        loop = asyncio.get_running_loop()
        self._expiry[stream_id] = loop.call_later(self.linger, self._forget, stream_id, packager)
        return recording

    async def close(self) -> None:
        """Close every packager (finalising their recordings)."""
        for handle in self._expiry.values():
            handle.cancel()
        self._expiry.clear()
        packagers, self._packagers = list(self._packagers.values()), {}
        for packager in packagers:
            await packager.close()

    def _forget(self, stream_id: int, packager: HlsPackager) -> None:
        self._expiry.pop(stream_id, None)
        if self._packagers.get(stream_id) is packager:
            del self._packagers[stream_id]

    def _cancel_expiry(self, stream_id: int) -> None:
        handle = self._expiry.pop(stream_id, None)
        if handle is not None:
            handle.cancel()
