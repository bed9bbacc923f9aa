"""Fixed-window rate limiting on top of the bus counters.

Each (name, key, window) gets one counter ``ratelimit:{name}:{key}:{window_index}``
that expires with its window, so limits are shared by every process using the same
bus and old windows clean themselves up. A fixed window can let up to ``2 * limit``
hits through across a window boundary; that is acceptable for what this guards
(login attempts, chat flooding) and costs one atomic INCR per hit.

While the bus is down (a Redis outage) each process counts on its own, in memory: refusing
every login until Redis returns would lock everybody out, letting every attempt through would
invite guessing; per-process windows keep a limit (one per process instead of one in all).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from weakref import WeakKeyDictionary

from expo.bus import Bus, BusError
from expo.errors import RateLimited

# Per bus (so per app), the windows counted in memory during an outage: key -> (expiry, count).
_OUTAGE_WINDOWS: WeakKeyDictionary[Bus, dict[str, tuple[float, int]]] = WeakKeyDictionary()
_OUTAGE_KEYS = 100_000


class RateLimiter:
    """Allow at most ``limit`` hits per ``window`` seconds for each key.

    :meth:`hit` counts and refuses what goes over the limit; :meth:`check` only
    refuses a key whose allowance is used up.

    Windows are aligned on the wall clock (``time.time()``), not on the first hit,
    so every process computes the same window index without coordination.
    ``clock`` exists for tests.
    """

    def __init__(
        self,
        bus: Bus,
        name: str,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        if not window > 0:
            raise ValueError(f"window must be positive, got {window!r}")
        self.bus = bus
        self.name = name
        self.limit = limit
        self.window = window
        self.clock = clock  # the wall clock; tests may hold it still

    async def hit(self, key: str) -> None:
        """Count a hit for ``key``; raise :class:`~expo.errors.RateLimited` over the limit.

        The hit that goes over the limit is counted too (and so is every later one
        in the same window): the counter measures attempts, not successes.
        """
        index, now = self._window()
        count = await self._count(self._key(key, index), now, add=1)
        if count > self.limit:
            raise self._limited(index, now)

    async def check(self, key: str) -> None:
        """Raise :class:`~expo.errors.RateLimited` if ``key`` has no hits left; count nothing.

        For guarding an action whose *failures* are counted with :meth:`hit` (login):
        once ``limit`` failures are recorded, further attempts are refused before
        they are evaluated.
        """
        index, now = self._window()
        if await self._count(self._key(key, index), now) >= self.limit:
            raise self._limited(index, now)

    async def remaining(self, key: str) -> int:
        """Hits left for ``key`` in the current window (never negative); counts nothing."""
        index, now = self._window()
        return max(0, self.limit - await self._count(self._key(key, index), now))

    async def _count(self, counter: str, now: float, *, add: int = 0) -> int:
        try:
            if add:
                return await self.bus.incr(counter, add, ttl=self.window)
            return await self.bus.get_counter(counter)
        except BusError:
            return self._count_here(counter, now, add)

    def _count_here(self, counter: str, now: float, add: int) -> int:
        """The counter in this process's memory (the bus is down; it logs that itself)."""
        windows = _OUTAGE_WINDOWS.setdefault(self.bus, {})
        expires, count = windows.get(counter, (now + self.window, 0))
        if expires <= now:
            expires, count = now + self.window, 0
        if add:
            count += add
            windows[counter] = (expires, count)
            if len(windows) > _OUTAGE_KEYS:
                for stale in [k for k, (until, _) in windows.items() if until <= now]:
                    del windows[stale]
        return count

    def _window(self) -> tuple[int, float]:
        now = self.clock()
        return math.floor(now / self.window), now

    def _key(self, key: str, index: int) -> str:
        return f"ratelimit:{self.name}:{key}:{index}"

    def _limited(self, index: int, now: float) -> RateLimited:
        # Whole seconds for the Retry-After header; never 0, which would invite an
        # immediate retry that is still inside the window.
        retry_after = max(1, math.ceil((index + 1) * self.window - now))
        return RateLimited(f"Too many attempts; try again in {retry_after} s.", retry_after=retry_after)
