"""CPU cost of HLS packaging per live stream, against re-encoding the video, in one run.

    .venv/bin/python scripts/bench_hls.py [--seconds 20] [--width 1280 --height 720] [--kbps 1000]

Encodes a moving pattern at the given size and bitrate (libx264, 30 fps, keyframe every second,
no B-frames: what a browser publishes) and a 440 Hz tone (libopus, 20 ms packets), then feeds
them to :class:`streaming.hls.HlsPackager` as the media router would and measures CPU seconds:
on the event loop (``push``), in total (the worker's muxing and Opus -> AAC transcode), and for a
video-only stream. Baseline, same clip: what a packager that re-encodes video would pay on top
(decode H.264 and encode it again with libx264 ``veryfast`` at the same bitrate). Figures are
scaled to CPU seconds per minute of media; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.codeccontext import VideoCodecContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.hls import HlsPackager
from tests.streaming.synthetic import interleave, opus_packets

FPS = 30  # as tests.streaming.synthetic.interleave assumes


def encoder(width: int, height: int, kbps: int, preset: str) -> VideoCodecContext:
    ctx = av.CodecContext.create("libx264", "w")
    assert isinstance(ctx, VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.bit_rate = kbps * 1000
    ctx.options = {
        "preset": preset,
        "tune": "zerolatency",
        "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0:bframes=0:repeat-headers=1",
    }
    return ctx


def video(seconds: int, width: int, height: int, kbps: int) -> list[av.Packet[Any]]:
    ctx = encoder(width, height, kbps, "ultrafast")
    packets: list[av.Packet[Any]] = []
    for i in range(seconds * FPS):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = bytearray(frame.planes[0].buffer_size)
        stride = frame.planes[0].line_size
        for row in range(height):
            x = (i * 8 + row) % (width - 64)
            luma[row * stride + x : row * stride + x + 64] = b"\xf0" * 64
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(bytes([(i * 3) % 256]) * plane.buffer_size)
        frame.pts = i
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    for packet in packets:
        assert packet.pts is not None
        packet.pts = packet.pts * 90000 // FPS
        packet.time_base = Fraction(1, 90000)
    return packets


async def package(media: list[tuple[str, av.Packet[Any]]], audio: bool) -> tuple[float, float]:
    """(event-loop CPU seconds, total CPU seconds) to package ``media``, paced in one-second bursts."""
    total0, loop_cpu = time.process_time(), 0.0
    packager = HlsPackager(1, audio=audio)
    for index, (kind, packet) in enumerate(media):
        t0 = time.thread_time()
        packager.push(kind, packet)
        loop_cpu += time.thread_time() - t0
        if index % 80 == 79:
            await packager.drain()
    await packager.close()
    assert packager.dropped == 0 and packager.errors == 0
    return loop_cpu, time.process_time() - total0


def reencode(packets: list[av.Packet[Any]], width: int, height: int, kbps: int) -> float:
    t0 = time.process_time()
    decoder = av.CodecContext.create("h264", "r")
    ctx = encoder(width, height, kbps, "veryfast")
    for index, packet in enumerate(packets):
        for frame in decoder.decode(av.Packet(bytes(packet))):
            frame.pts = index
            ctx.encode(frame)
    ctx.encode(None)
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--kbps", type=int, default=1000)
    args = parser.parse_args()
    print(f"encoding {args.seconds} s of {args.width}x{args.height} at {args.kbps} kbps + Opus ...")
    v = video(args.seconds, args.width, args.height, args.kbps)
    a = opus_packets(args.seconds)
    actual_kbps = sum(p.size for p in v) * 8 / args.seconds / 1000
    media = interleave(v, a)
    per_minute = 60 / args.seconds

    loop_av, total_av = asyncio.run(package(media, audio=True))
    _, total_v = asyncio.run(package([m for m in media if m[0] == "video"], audio=False))
    baseline = reencode(v, args.width, args.height, args.kbps) + total_av
    figures = {
        "video_kbps": round(actual_kbps),
        "cpu_s_per_min_av": round(total_av * per_minute, 2),
        "cpu_s_per_min_video_only": round(total_v * per_minute, 2),
        "event_loop_cpu_s_per_min": round(loop_av * per_minute, 3),
        "baseline_reencode_cpu_s_per_min": round(baseline * per_minute, 2),
        "ratio_baseline_over_packager": round(baseline / total_av, 1),
        "core_share_av": round(total_av / args.seconds, 4),
    }
    print(
        f"packager, audio+video: {figures['cpu_s_per_min_av']} CPU s per minute "
        f"({figures['core_share_av'] * 100:.1f}% of a core), of which on the event loop "
        f"{figures['event_loop_cpu_s_per_min']} s"
    )
    print(f"packager, video only:  {figures['cpu_s_per_min_video_only']} CPU s per minute")
    print(
        f"baseline (re-encoding video too): {figures['baseline_reencode_cpu_s_per_min']} CPU s per minute, "
        f"{figures['ratio_baseline_over_packager']}x the packager"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
