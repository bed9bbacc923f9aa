"""The leaner bandwidth estimator gives the REMB aiortc's own would, packet for packet."""

from __future__ import annotations

import random

from aiortc.rate import RateCounter, RemoteBitrateEstimator

from streaming.remb import LeanBitrateEstimator, WindowRate


def trace(seed: int, seconds: int) -> list[tuple[int, int, int]]:
    """(arrival ms, abs-send-time, payload size) of a 30 fps video stream of a few packets per
    frame, through a path that congests now and then (queueing delay grows, then drains), with a
    pause of two seconds (the bitrate counter starts over) and abs-send-time wrapping (24 bits)."""
    rng = random.Random(seed)
    packets = []
    send_ms = 63_900.0  # abs-send-time wraps at 64 s
    queue_ms = 0.0
    for frame in range(seconds * 30):
        if frame == seconds * 15:
            send_ms += 2_000
        congested = (frame // 90) % 3 == 1
        queue_ms = max(0.0, queue_ms + (rng.uniform(0.5, 3.0) if congested else -rng.uniform(0.5, 2.0)))
        for index in range(rng.randrange(1, 6)):
            sent = send_ms + index * rng.uniform(0.1, 1.5)
            abs_send_time = int(sent / 1000 * (1 << 18)) & 0xFFFFFF
            arrival = int(sent + 20 + queue_ms + rng.uniform(0, 4))
            packets.append((arrival, abs_send_time, rng.randrange(200, 1200)))
        send_ms += 1000 / 30
    packets.sort()  # as the receiver sees them: by arrival
    return packets


def test_the_lean_estimator_reports_what_aiortcs_reports() -> None:
    for seed in range(3):
        aiortc, lean = RemoteBitrateEstimator(), LeanBitrateEstimator()
        expected, got = [], []
        for arrival, abs_send_time, size in trace(seed, 40):
            expected.append(aiortc.add(arrival, abs_send_time, size, 1234))
            got.append(lean.add(arrival, abs_send_time, size, 1234))
        assert got == expected
        reports = [r for r in expected if r is not None]
        assert len({bitrate for bitrate, _ in reports}) > 10  # the estimate moved: the trace exercised it


def test_the_window_rate_counts_as_aiortcs_counter() -> None:
    rng = random.Random(9)
    aiortc, lean = RateCounter(1000, 8000), WindowRate(1000, 8000)
    now = 10_000
    for step in range(5000):
        now += rng.choice([0, 0, 1, 2, 3, 7, 10, 40, 333, 999, 1000, 1001, 1500])
        if step % 997 == 0:
            aiortc.reset()
            lean.reset()
        assert lean.rate(now) == aiortc.rate(now)
        size = rng.randrange(1, 1500)
        aiortc.add(size, now)
        lean.add(size, now)
    assert lean.rate(now) == aiortc.rate(now) is not None
