"""How soon a live frame can be fetched over HLS: partial segments (LL-HLS) against whole segments.

    .venv/bin/python scripts/bench_hls_latency.py [--seconds 20] [--part-target 0.5] [--target 2]

Feeds :class:`streaming.hls.HlsPackager` a 640x360 H.264 clip (keyframe every second, as a
browser publishes when asked) and Opus in real time, as the media router would, and notes when
each video frame was pushed. Every time the packager publishes a part or a segment, the frames it
now covers become fetchable: through the parts (what an LL-HLS player such as Safari or hls.js
loads) or only once their whole segment is cut (what a player that ignores parts loads). The
figure per frame is the time from its push to its first fetchable moment, for both, measured in
the same run on the same packager. A player adds its hold-back on top (PART-HOLD-BACK = 3 parts;
three target durations for segments). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_hls import FPS, video
from streaming.hls import HlsPackager
from tests.streaming.synthetic import interleave, opus_packets


def covered(packager: HlsPackager) -> tuple[float, float]:
    """Media seconds fetchable now: through parts, and through complete segments."""
    done = packager.segments()
    segments_end = done[-1].start + done[-1].duration if done else 0.0
    open_parts = [packager.part(packager.next_sequence, i) for i in range(packager.open_parts)]
    parts_end = segments_end + sum(p.duration for p in open_parts if p is not None)
    return parts_end, segments_end


async def measure(seconds: int, part_target: float, target: float) -> dict[str, float]:
    clip = interleave(video(seconds, 640, 360, 1000), opus_packets(seconds))
    packager = HlsPackager(1, target_duration=target, part_target=part_target, window=100)
    pushed: list[tuple[float, float]] = []  # (media seconds, pushed at) of each video frame
    by_parts: dict[int, float] = {}
    by_segments: dict[int, float] = {}

    async def watch() -> None:
        while not packager.ended:
            await packager.wait_for(packager.next_sequence, packager.open_parts, timeout=1.0)
            now = time.monotonic()
            parts_end, segments_end = covered(packager)
            for index, (media, _) in enumerate(pushed):
                if media < parts_end - 1e-6:
                    by_parts.setdefault(index, now)
                if media < segments_end - 1e-6:
                    by_segments.setdefault(index, now)

    watcher = asyncio.create_task(watch())
    start = time.monotonic()
    frames = 0
    for kind, packet in clip:
        media = frames / FPS if kind == "video" else None
        if media is not None:
            await asyncio.sleep(max(0.0, start + media - time.monotonic()))
            pushed.append((media, time.monotonic()))
            frames += 1
        packager.push(kind, packet)
    await packager.close()
    await watcher
    last_segment_end = covered(packager)[1]
    figures: dict[str, float] = {}
    for name, seen in (("parts", by_parts), ("segments", by_segments)):
        # Frames of the final segment are published by close(), not by the live stream: left out.
        delays = [
            seen[i] - at
            for i, (media, at) in enumerate(pushed)
            if i in seen and media < last_segment_end - target
        ]
        delays.sort()
        figures[f"{name}_p50_s"] = round(statistics.median(delays), 3)
        figures[f"{name}_p95_s"] = round(delays[int(len(delays) * 0.95)], 3)
        figures[f"{name}_max_s"] = round(delays[-1], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--part-target", type=float, default=0.5)
    parser.add_argument("--target", type=float, default=2.0, help="segment target duration")
    args = parser.parse_args()
    print(f"feeding {args.seconds} s of 640x360 H.264 + Opus in real time ...", flush=True)
    figures = asyncio.run(measure(args.seconds, args.part_target, args.target))
    print(f"\n{'push -> fetchable':<22}{'p50 s':>10}{'p95 s':>10}{'max s':>10}")
    for name, label in (
        ("parts", f"parts ({args.part_target} s)"),
        ("segments", f"segments ({args.target} s)"),
    ):
        cells = "".join(f"{figures[f'{name}_{k}_s']:>10.3f}" for k in ("p50", "p95", "max"))
        print(f"{label:<22}{cells}")
    ratio = figures["segments_p95_s"] / figures["parts_p95_s"]
    print(f"\nsegments / parts, p95: {ratio:.1f}x (a player adds its hold-back: 3 parts, or 3 segments)")
    settings = {"part_target": args.part_target, "target": args.target, "seconds": args.seconds}
    print(json.dumps({**figures, "ratio_p95": round(ratio, 1), **settings}))


if __name__ == "__main__":
    main()
