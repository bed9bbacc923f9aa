"""Replay recording: a live period's HLS segments remuxed into one MP4, video not re-encoded.

The recorder is fed the packager's finished MPEG-TS segments (in the packager's worker thread,
so the disk writes never touch the event loop) and copies their packets into
``<data_dir>/recordings/<stream_id>/<UTC timestamp>.mp4``: H.264 as published and the packager's
AAC-LC, which every browser's ``<video>`` plays.

While the period is live the file is ``<name>.mp4.part``, a fragmented MP4 (a fragment and its
index per keyframe), so memory stays flat however long the broadcast: a single ``moov`` indexing
every sample would be held by the muxer until the end, about 0.5 MiB a minute of a 30 fps
broadcast (scripts/soak.py found it). :meth:`Recorder.finish` then copies it, packets unchanged,
into an MP4 with one index at the front (``+faststart``): browsers read a replay's duration from
that index (from a fragmented file Chromium takes the first fragment's, 3 s for a 6 s replay), and
a replay starts playing before it has downloaded. That copy builds the whole index once, in the
packager's worker thread, and frees it. Only then is the file renamed to ``.mp4``: a crash leaves
``.part`` files, never a file that claims to be complete.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from av.container.output import OutputContainer
from av.stream import Stream

from streaming.models import Recording

RECORDINGS_DIR = "recordings"
# While live: a fragment per keyframe, each with its own index (see the module's docstring).
LIVE_MOVFLAGS = "frag_keyframe+default_base_moof"


@dataclass(frozen=True)
class RecordingInfo:
    """A finished recording: what :class:`streaming.models.Recording` stores about it."""

    path: Path  # absolute
    relative_path: str  # under the data directory, as stored (the data directory may move)
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    size_bytes: int

    def to_model(self, stream_id: int) -> Recording:
        """The row to add to the session for ``stream_id``."""
        return Recording(
            stream_id=stream_id,
            path=self.relative_path,
            started_at=self.started_at,
            ended_at=self.ended_at,
            duration_seconds=self.duration_seconds,
            size_bytes=self.size_bytes,
        )


def recording_path(data_dir: Path, stream_id: int, started_at: datetime) -> Path:
    """Where the recording of the live period that began at ``started_at`` is kept."""
    stamp = started_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return data_dir / RECORDINGS_DIR / str(stream_id) / f"{stamp}.mp4"


class Recorder:
    """Writes one live period to an MP4, one MPEG-TS segment at a time.

    States: *waiting* (no segment yet; nothing on disk), *recording* (the ``.part`` file grows),
    *finished* (:meth:`finish`: the MP4 is complete and renamed) or *aborted* (:meth:`abort`:
    the ``.part`` is deleted). Not thread-safe: one thread (the packager's worker) drives it.
    """

    def __init__(self, data_dir: Path, stream_id: int, started_at: datetime | None = None) -> None:
        self.data_dir = data_dir
        self.stream_id = stream_id
        self.started_at = started_at or datetime.now(UTC)
        self.path = recording_path(data_dir, stream_id, self.started_at)
        self.part_path = self.path.with_name(self.path.name + ".part")
        self.copy_path = self.path.with_name(self.path.name + ".index.part")
        self._output: OutputContainer | None = None
        self._streams: dict[str, Stream] = {}
        self._origin: int | None = None
        self._last_dts: dict[str, int] = {}
        self.done = False

    def write_segment(self, segment: bytes) -> None:
        """Append the packets of one MPEG-TS segment (every segment has the same tracks)."""
        if self.done:
            return
        with av.open(io.BytesIO(segment), "r", format="mpegts") as source:
            if self._output is None:
                if not all(_described(s) for s in source.streams):
                    # Too short to tell a track's format (one video frame: the AAC track has no
                    # sample rate yet), which the MP4 header needs: the recording starts later.
                    return
                self._start(source)
            assert self._output is not None
            wanted = {s.index: s.type for s in source.streams if s.type in self._streams}
            for packet in source.demux(*[s for s in source.streams if s.index in wanted]):
                if packet.dts is None or packet.pts is None:
                    continue  # demuxer flush packets carry no data
                self._copy(packet, wanted[packet.stream.index])

    def _start(self, source: av.container.InputContainer) -> None:
        self.part_path.parent.mkdir(parents=True, exist_ok=True)
        output = av.open(str(self.part_path), "w", format="mp4", options={"movflags": LIVE_MOVFLAGS})
        for stream in source.streams:
            if stream.type in ("video", "audio") and stream.type not in self._streams:
                self._streams[stream.type] = output.add_stream_from_template(stream)
        self._output = output

    def _copy(self, packet: av.Packet[Stream], kind: str) -> None:
        assert self._output is not None and packet.pts is not None and packet.dts is not None
        if self._origin is None:
            # The first packet of the recording is time zero (the HLS timeline has an offset).
            self._origin = packet.dts
        dts, pts = packet.dts - self._origin, packet.pts - self._origin
        if dts < 0 or dts <= self._last_dts.get(kind, -1):
            return  # before the start (AAC priming) or out of order: the MP4 muxer would refuse it
        self._last_dts[kind] = dts
        packet.dts, packet.pts = dts, pts
        packet.stream = self._streams[kind]
        self._output.mux(packet)

    def finish(self) -> RecordingInfo | None:
        """Complete the MP4 and rename it; ``None`` if nothing was recorded."""
        if self.done:
            return None
        self.done = True
        if self._output is None:
            return None
        self._output.close()  # the last fragment
        try:
            _copy_with_index_first(self.part_path, self.copy_path)
        except BaseException:
            self.copy_path.unlink(missing_ok=True)
            raise
        os.replace(self.copy_path, self.path)
        self.part_path.unlink()
        ended_at = datetime.now(UTC)
        with av.open(str(self.path)) as check:
            duration = (check.duration or 0) / av.time_base
        return RecordingInfo(
            path=self.path,
            relative_path=self.path.relative_to(self.data_dir).as_posix(),
            started_at=self.started_at,
            ended_at=ended_at,
            duration_seconds=round(duration, 3),
            size_bytes=self.path.stat().st_size,
        )

    def abort(self) -> None:
        """Give up: close and delete the partial file."""
        if self.done:
            return
        self.done = True
        if self._output is not None:
            with contextlib.suppress(av.FFmpegError):  # the file is deleted anyway
                self._output.close()
        self.part_path.unlink(missing_ok=True)
        self.copy_path.unlink(missing_ok=True)


def _described(stream: Stream) -> bool:
    """Whether the segment tells enough of ``stream``'s format to write it into an MP4 header."""
    context: Any = stream.codec_context
    if stream.type == "video":
        return bool(context.width and context.height)
    if stream.type == "audio":
        return bool(context.sample_rate)
    return True


def _copy_with_index_first(source: Path, target: Path) -> None:
    """Copy the fragmented MP4 ``source`` into ``target``, packets unchanged, index at the front."""
    with av.open(str(source)) as fragmented:
        kept = [s for s in fragmented.streams if s.type in ("video", "audio")]
        with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            streams = {s.index: output.add_stream_from_template(s) for s in kept}
            for packet in fragmented.demux(*kept):
                if packet.dts is None:  # the empty packet that ends each stream's demuxing
                    continue
                packet.stream = streams[packet.stream.index]
                output.mux(packet)
