"""The event-loop lag monitor: a blocked loop shows on /metrics, and old stalls age out."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client import CollectorRegistry

from expo.looplag import STALL, LoopLagMonitor


def sample(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name)
    assert value is not None, name
    return value


async def test_a_blocked_loop_is_measured_and_exported() -> None:
    registry = CollectorRegistry()
    monitor = LoopLagMonitor(registry, interval=0.01)
    monitor.start()
    try:
        deadline = time.monotonic() + 10
        while sample(registry, "expo_event_loop_lag_seconds_count") < 3:  # it measures on its own
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        time.sleep(0.3)  # the stall being measured: this coroutine holds the loop
        while sample(registry, "expo_event_loop_stalls_total") < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert sample(registry, "expo_event_loop_lag_max_seconds") >= 0.25
        under = registry.get_sample_value("expo_event_loop_lag_seconds_bucket", {"le": "0.25"})
        assert under is not None and under < sample(registry, "expo_event_loop_lag_seconds_count")
    finally:
        await monitor.stop()
    stopped = sample(registry, "expo_event_loop_lag_seconds_count")
    await asyncio.sleep(0.05)
    assert sample(registry, "expo_event_loop_lag_seconds_count") == stopped  # no task left behind


def test_the_maximum_covers_only_the_window() -> None:
    monitor = LoopLagMonitor(CollectorRegistry(), window=10)
    now = time.monotonic()
    monitor.record(2.0, now=now - 11)
    monitor.record(STALL / 2, now=now)
    assert monitor.max_lag() == STALL / 2
    assert LoopLagMonitor(CollectorRegistry()).max_lag() == 0.0


async def test_the_app_exports_the_loop_lag(client: httpx.AsyncClient) -> None:
    text = (await client.get("/metrics")).text
    for name in (
        "expo_event_loop_lag_max_seconds",
        "expo_event_loop_lag_seconds_count",
        "expo_event_loop_stalls_total",
    ):
        assert f"\n{name} " in text, name
