"""In-process bus: for development, tests and single-process deployments.

State lives in dictionaries of this one process, so two ``MemoryBus`` instances
never see each other. Expiry uses :func:`time.monotonic` so wall-clock jumps do
not revive or kill entries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from expo.bus.base import (
    DEFAULT_NAMESPACE,
    DEFAULT_QUEUE_SIZE,
    Bus,
    BusError,
    Subscription,
    check_ttl,
)


@dataclass
class _Counter:
    value: int
    expires_at: float | None  # monotonic deadline, None = never


class MemoryBus(Bus):
    """Single-process :class:`~expo.bus.base.Bus` built on plain dictionaries.

    Expired entries are invisible immediately and physically removed by a sweep
    that runs at most every ``sweep_interval`` seconds, piggy-backed on writes:
    rate-limit windows create a new key per window, and without the sweep a
    long-running process would accumulate them forever.
    """

    def __init__(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        sweep_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(namespace=namespace, queue_size=queue_size)
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._next_sweep = 0.0
        self._connected = False
        self._counters: dict[str, _Counter] = {}
        # member -> monotonic expiry. Dicts keep insertion order and a touch
        # re-inserts its member, so with a constant ttl the oldest expiries sit at
        # the front and can be pruned cheaply (see _prune_front).
        self._presence: dict[str, dict[str, float]] = {}
        # The one ttl every touch of a key has used, or None once touches differ. While it is
        # uniform, expiries are in insertion order and a count needs no scan of the members:
        # 10,000 watch pages joining one after another then cost O(n), not O(n^2).
        self._presence_ttl: dict[str, float | None] = {}
        self._unique: dict[str, set[str]] = {}

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> None:
        """Mark the bus usable (nothing to open in memory)."""
        self._connected = True

    async def close(self) -> None:
        """End all subscriptions; stored data is kept for a later reconnect."""
        self._connected = False
        self._fanout.close_all()

    async def ping(self) -> bool:
        """True while connected."""
        return self._connected

    def _require_connected(self) -> None:
        if not self._connected:
            raise BusError("bus is not connected: await bus.connect() first")

    # -- pub/sub -----------------------------------------------------------------

    async def publish(self, channel: str, message: str) -> None:
        """Deliver ``message`` to this process's subscribers of ``channel``."""
        self._require_connected()
        self._fanout.deliver(channel, message)

    async def _attach(self, channel: str) -> Subscription:
        self._require_connected()
        return self._fanout.open(channel)

    async def _detach(self, subscription: Subscription) -> None:
        self._fanout.close(subscription)

    # -- presence ----------------------------------------------------------------

    async def presence_touch(self, key: str, member: str, ttl: float) -> None:
        """Record a heartbeat for ``member`` valid for ``ttl`` seconds."""
        self._require_connected()
        check_ttl(ttl)
        now = self._clock()
        members = self._presence.setdefault(key, {})
        if not members:
            self._presence_ttl[key] = ttl
        elif self._presence_ttl.get(key) != ttl:
            self._presence_ttl[key] = None
        members.pop(member, None)
        members[member] = now + ttl
        self._prune_front(members, now)
        self._maybe_sweep(now)

    async def presence_touch_many(self, key: str, members: Sequence[str], ttl: float) -> None:
        """:meth:`presence_touch` for each of ``members``."""
        for member in members:
            await self.presence_touch(key, member, ttl)

    async def presence_leave(self, key: str, member: str) -> None:
        """Forget ``member`` immediately."""
        self._require_connected()
        members = self._presence.get(key)
        if members is not None:
            members.pop(member, None)
            if not members:
                del self._presence[key]
                self._presence_ttl.pop(key, None)

    async def presence_count(self, key: str) -> int:
        """Number of members with a live heartbeat."""
        self._require_connected()
        members = self._presence.get(key)
        if members is not None and self._presence_ttl.get(key) is not None:
            self._prune_front(members, self._clock())
            return len(members)
        return len(self._live_members(key))

    async def presence_members(self, key: str) -> list[str]:
        """Members with a live heartbeat, sorted."""
        return sorted(self._live_members(key))

    def _live_members(self, key: str) -> list[str]:
        self._require_connected()
        members = self._presence.get(key)
        if members is None:
            return []
        now = self._clock()
        expired = [m for m, expires_at in members.items() if expires_at <= now]
        for member in expired:
            del members[member]
        if not members:
            del self._presence[key]
            self._presence_ttl.pop(key, None)
        return list(members)

    @staticmethod
    def _prune_front(members: dict[str, float], now: float) -> None:
        # Amortised O(1): stops at the first live entry. Entries behind it that
        # expired early (shorter ttl) are caught by reads and the sweep.
        while members:
            member, expires_at = next(iter(members.items()))
            if expires_at > now:
                return
            del members[member]

    # -- counters ----------------------------------------------------------------

    def _live_counter(self, key: str, now: float) -> _Counter | None:
        counter = self._counters.get(key)
        if counter is None:
            return None
        if counter.expires_at is not None and counter.expires_at <= now:
            del self._counters[key]
            return None
        return counter

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Add ``amount``; a counter created here with ``ttl`` expires after it."""
        self._require_connected()
        if ttl is not None:
            check_ttl(ttl)
        now = self._clock()
        counter = self._live_counter(key, now)
        if counter is None:
            expires_at = None if ttl is None else now + ttl
            counter = self._counters[key] = _Counter(0, expires_at)
        counter.value += amount
        self._maybe_sweep(now)
        return counter.value

    async def get_counter(self, key: str) -> int:
        """Current value, 0 when missing or expired."""
        self._require_connected()
        counter = self._live_counter(key, self._clock())
        return 0 if counter is None else counter.value

    async def set_max(self, key: str, value: int) -> int:
        """Store ``max(current, value)``, keeping any expiry; return it."""
        self._require_connected()
        counter = self._live_counter(key, self._clock())
        if counter is None:
            self._counters[key] = _Counter(value, None)
            return value
        counter.value = max(counter.value, value)
        return counter.value

    async def add_unique(self, key: str, member: str) -> bool:
        """Add to the set ``key``; True if ``member`` is new."""
        self._require_connected()
        members = self._unique.setdefault(key, set())
        if member in members:
            return False
        members.add(member)
        return True

    async def count_unique(self, key: str) -> int:
        """Size of the set ``key``."""
        self._require_connected()
        return len(self._unique.get(key, ()))

    # -- housekeeping ------------------------------------------------------------

    def _maybe_sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_interval
        for key in [k for k, c in self._counters.items() if c.expires_at is not None and c.expires_at <= now]:
            del self._counters[key]
        for key, members in list(self._presence.items()):
            for member in [m for m, exp in members.items() if exp <= now]:
                del members[member]
            if not members:
                del self._presence[key]
                self._presence_ttl.pop(key, None)
