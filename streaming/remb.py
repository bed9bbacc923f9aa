"""aiortc's receive-side bandwidth estimator (what a publisher's REMB reports), made cheaper per packet.

A tapped receiver feeds every video packet to aiortc's ``RemoteBitrateEstimator``. Two of its
parts cost more than the estimate needs, and :class:`LeanBitrateEstimator` replaces just those,
giving the same estimates (``tests/streaming/test_remb.py`` compares every REMB on long traces):

* the incoming bitrate counter keeps one bucket per millisecond of its one-second window and, for
  every packet, walks in Python over each millisecond since the previous one to empty it; here
  the packets in the window are kept in arrival order and those that fell out are dropped, so the
  work follows the packets, not the clock;
* the Kalman filter's smallest recent frame period is the minimum of its last 60 deltas, found by
  a loop in Python for every timestamp group; here by ``min`` over a deque.
"""

from __future__ import annotations

from collections import deque

from aiortc.rate import MIN_FRAME_PERIOD_HISTORY_LENGTH, OveruseEstimator, RateCounter, RemoteBitrateEstimator

# aiortc's RemoteBitrateEstimator counts the incoming bitrate over 1000 ms, in bits per second.
WINDOW_MS = 1000
SCALE = 8000


class WindowRate(RateCounter):
    """aiortc's ``RateCounter`` (the amount received over the last ``window_size`` ms, scaled),
    keeping the packets themselves instead of a bucket per millisecond."""

    def __init__(self, window_size: int, scale: int) -> None:
        self._window_size = window_size
        self._scale = scale
        self._origin_ms: int | None = None
        self._packets: deque[tuple[int, int]] = deque()  # (arrival ms, amount), oldest first
        self._count = 0
        self._value = 0

    def add(self, value: int, now_ms: int) -> None:
        if self._origin_ms is None:
            self._origin_ms = now_ms
        else:
            self._erase_old(now_ms)
        self._packets.append((now_ms, value))
        self._count += 1
        self._value += value

    def rate(self, now_ms: int) -> int | None:
        if self._origin_ms is not None:
            self._erase_old(now_ms)
            active_window_size = now_ms - self._origin_ms + 1
            if self._count > 0 and active_window_size > 1:
                return round(self._scale * self._value / active_window_size)
        return None

    def reset(self) -> None:
        self._origin_ms = None
        self._packets.clear()
        self._count = self._value = 0

    def _erase_old(self, now_ms: int) -> None:
        assert self._origin_ms is not None
        new_origin_ms = now_ms - self._window_size + 1
        if self._origin_ms >= new_origin_ms:
            return
        packets = self._packets
        while packets and packets[0][0] < new_origin_ms:
            _, value = packets.popleft()
            self._count -= 1
            self._value -= value
        self._origin_ms = new_origin_ms


class LeanOveruseEstimator(OveruseEstimator):
    """aiortc's ``OveruseEstimator`` with its frame-period history in a deque."""

    def __init__(self) -> None:
        super().__init__()
        self._history: deque[float] = deque()

    def update_min_frame_period(self, ts_delta: float) -> float:
        history = self._history
        if len(history) >= MIN_FRAME_PERIOD_HISTORY_LENGTH:
            history.popleft()
        smallest = min(ts_delta, min(history)) if history else ts_delta
        history.append(ts_delta)
        return smallest


class LeanBitrateEstimator(RemoteBitrateEstimator):
    """aiortc's ``RemoteBitrateEstimator`` with the two parts above replaced."""

    def __init__(self) -> None:
        super().__init__()
        self.incoming_bitrate = WindowRate(WINDOW_MS, SCALE)
        self.estimator = LeanOveruseEstimator()
