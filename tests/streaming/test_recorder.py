"""Replay recording: the MP4 a live period leaves behind plays to the end, with the published
H.264 untouched; a recorder killed mid-way leaves only a ``.part``."""

from __future__ import annotations

import functools
import http.server
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import av
import pytest
from playwright.async_api import Browser
from sqlmodel import select

from expo.db import Database
from expo.expos.services import ensure_expo
from streaming import services
from streaming.hls import HlsPackager
from streaming.models import Recording
from streaming.recorder import Recorder
from tests.conftest import create_schema
from tests.streaming.synthetic import (
    FFMPEG,
    FFPROBE,
    HEIGHT,
    WIDTH,
    feed,
    ffmpeg_missing,
    h264_packets,
    interleave,
    nal_units,
    opus_packets,
)

VIDEO = h264_packets(6)
MEDIA = interleave(VIDEO, opus_packets(6))


async def record(tmp_path: Path, items: list[tuple[str, av.Packet[Any]]], **options: object) -> HlsPackager:
    packager = HlsPackager(7, recorder=Recorder(tmp_path, 7), **options)  # type: ignore[arg-type]
    await feed(packager, items)
    await packager.close()
    return packager


def avcc_nal_units(sample: bytes) -> list[bytes]:
    """The NAL units of an MP4 sample (4-byte big-endian lengths)."""
    units, pos = [], 0
    while pos < len(sample):
        size = int.from_bytes(sample[pos : pos + 4], "big")
        units.append(sample[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return [u for u in units if u[0] & 0x1F != 9]


@pytest.mark.skipif(ffmpeg_missing, reason="Debian's ffmpeg is not installed")
async def test_recording_plays_to_the_end(tmp_path: Path) -> None:
    packager = await record(tmp_path, MEDIA)
    info = packager.recording
    assert info is not None
    assert info.path.suffix == ".mp4" and info.path.exists()
    assert info.path.parent == tmp_path / "recordings" / "7"
    assert [p.name for p in info.path.parent.iterdir()] == [info.path.name]  # no .part left
    assert info.duration_seconds == pytest.approx(6.0, abs=0.5)
    assert info.size_bytes == info.path.stat().st_size > 0

    probe = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(info.path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    found = json.loads(probe.stdout)
    assert float(found["format"]["duration"]) == pytest.approx(6.0, abs=0.5)
    kinds = {s["codec_type"]: s for s in found["streams"]}
    assert kinds["video"]["codec_name"] == "h264"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (WIDTH, HEIGHT)
    assert kinds["audio"]["codec_name"] == "aac"
    played = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(info.path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert played.returncode == 0 and played.stderr.strip() == "", played.stderr
    # +faststart: the index comes before the media, so a replay starts before it has downloaded.
    data = info.path.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")

    # The video is the published H.264, frame for frame.
    with av.open(str(info.path)) as mp4:
        samples = [bytes(p) for p in mp4.demux(mp4.streams.video[0]) if p.size]
    assert len(samples) == len(VIDEO)
    for original, sample in zip(VIDEO, samples, strict=True):
        assert avcc_nal_units(sample) == nal_units(bytes(original))


async def test_the_recording_row_is_stored(tmp_path: Path) -> None:
    packager = await record(tmp_path, [(k, p) for k, p in MEDIA if k == "video"], audio=False)
    info = packager.recording
    assert info is not None
    url = f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}"
    await create_schema(url)
    db = Database(url)
    try:
        async with db.session() as session:
            expo = await ensure_expo(session, "fair", "Fair")
            stream = await services.create_stream(session, expo=expo, title="Keynote", owner=None)
            assert stream.id is not None
            session.add(info.to_model(stream.id))
            await session.commit()
            row = (await session.exec(select(Recording))).one()
    finally:
        await db.dispose()
    assert row.path == info.relative_path and (tmp_path / row.path).is_file()
    assert row.duration_seconds == pytest.approx(6.0, abs=0.5)
    assert row.size_bytes == info.size_bytes
    assert row.ended_at is not None and row.ended_at >= row.started_at


def test_nothing_recorded_leaves_nothing(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, 3)
    assert recorder.finish() is None
    assert not (tmp_path / "recordings").exists()


async def test_a_period_of_one_frame_records_nothing_and_fails_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A publisher that hangs up as its first frame arrives: the segment's AAC track has no
    # sample rate yet, and an MP4 header written from it was refused (EINVAL, logged as a failure).
    packager = await record(tmp_path, interleave(h264_packets(1)[:1], []))
    assert packager.recording is None
    assert not list(tmp_path.rglob("*.part"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_killed_recorder_leaves_only_a_part_file(tmp_path: Path) -> None:
    # Real segments, recorded by a process that is then killed without any chance to clean up.
    packager = HlsPackager(9, window=10)
    await feed(packager, MEDIA)
    await packager.close()
    segments = tmp_path / "segments"
    segments.mkdir()
    for segment in packager.segments():
        (segments / f"{segment.sequence:03}.ts").write_bytes(segment.data)
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from streaming.recorder import Recorder
        recorder = Recorder(Path({str(tmp_path)!r}), 9)
        for path in sorted(Path({str(segments)!r}).iterdir()):
            recorder.write_segment(path.read_bytes())
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert killed.returncode == -9, killed.stderr
    left = list((tmp_path / "recordings" / "9").iterdir())
    assert len(left) == 1 and left[0].name.endswith(".mp4.part"), left
    assert left[0].stat().st_size > 0
    assert not any(p.suffix == ".mp4" for p in left)
    assert os.access(left[0], os.R_OK)


async def test_while_live_the_recording_is_written_in_fragments(tmp_path: Path) -> None:
    """A fragment and its index per keyframe while the period is live, so the muxer holds no index
    of the whole broadcast in memory; the finished file has one index, at the front."""
    packager = HlsPackager(7, window=20)
    await feed(packager, interleave(h264_packets(20), opus_packets(20)))
    await packager.close()
    recorder = Recorder(tmp_path, 7)
    for segment in packager.segments():
        recorder.write_segment(segment.data)
    # On disk before the end (the file's write buffer holds the last 256 KiB or less).
    assert recorder.part_path.read_bytes().count(b"moof") >= 5
    info = recorder.finish()
    assert info is not None and not recorder.part_path.exists() and not recorder.copy_path.exists()
    done = info.path.read_bytes()
    assert b"moof" not in done and 0 < done.find(b"moov") < done.find(b"mdat")


async def test_a_browser_shows_the_replays_whole_duration(tmp_path: Path, browser: Browser) -> None:
    """Chromium reads a replay's duration from its index (from a fragmented file it took the first
    fragment's: 0:03 for this 6 s recording) and plays to its end."""
    info = (await record(tmp_path, MEDIA)).recording
    assert info is not None
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(info.path.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = await browser.new_page()
        url = f"http://127.0.0.1:{server.server_address[1]}/{info.path.name}"
        await page.set_content(f'<video id="v" muted preload="auto" src="{url}"></video>')
        await page.wait_for_function("document.getElementById('v').readyState >= 1")
        duration = await page.evaluate("document.getElementById('v').duration")
        assert duration == pytest.approx(6.0, abs=0.5)
        # And it plays to that end (four times as fast).
        await page.evaluate("const v = document.getElementById('v'); v.playbackRate = 4; v.play()")
        await page.wait_for_function("document.getElementById('v').ended", timeout=15000)
        assert await page.evaluate("document.getElementById('v').currentTime") == pytest.approx(
            duration, abs=0.2
        )
    finally:
        server.shutdown()
        server.server_close()
