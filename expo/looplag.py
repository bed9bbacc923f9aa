"""How late the event loop runs what it was asked to run: the one figure that shows a request
holding the loop (parsing a file, building thousands of objects) and so stalling every other.

:class:`LoopLagMonitor` sleeps :data:`INTERVAL` seconds at a time and records how much later than
asked it woke up. On ``/metrics``:

- ``expo_event_loop_lag_max_seconds``: the largest lag seen over the last :data:`WINDOW` seconds
  (a gauge, computed when scraped);
- ``expo_event_loop_lag_seconds``: a histogram of every measured lag (``_count`` grows by about
  twenty a second while the loop runs; the buckets above ``0.05`` count the stalls);
- ``expo_event_loop_stalls_total``: wake-ups later than :data:`STALL` (50 ms), the longest a
  request may keep others waiting.

The platform starts it with the store and the bus and cancels it on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

INTERVAL = 0.05
WINDOW = 10.0
STALL = 0.05
BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LoopLagMonitor:
    """Measures the lag of the loop it is started on, until stopped."""

    def __init__(
        self, registry: CollectorRegistry, *, interval: float = INTERVAL, window: float = WINDOW
    ) -> None:
        self.interval = interval
        self.window = window
        self._recent: deque[tuple[float, float]] = deque()  # (when, lag), oldest first
        self._task: asyncio.Task[None] | None = None
        self.histogram = Histogram(
            "expo_event_loop_lag_seconds",
            "How late the event loop woke a timer, per measurement.",
            registry=registry,
            buckets=BUCKETS,
        )
        self.stalls = Counter(
            "expo_event_loop_stalls",
            f"Event loop wake-ups more than {STALL * 1000:.0f} ms late.",
            registry=registry,
        )
        gauge = Gauge(
            "expo_event_loop_lag_max_seconds",
            f"Largest event loop lag over the last {window:.0f} seconds.",
            registry=registry,
        )
        gauge.set_function(self.max_lag)

    def record(self, lag: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.histogram.observe(lag)
        if lag > STALL:
            self.stalls.inc()
        self._recent.append((now, lag))
        self._forget(now)

    def max_lag(self) -> float:
        """The largest lag of the last :attr:`window` seconds (0 when none was measured)."""
        self._forget(time.monotonic())
        return max((lag for _, lag in self._recent), default=0.0)

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self.window:
            self._recent.popleft()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.record(max(0.0, loop.time() - due))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
