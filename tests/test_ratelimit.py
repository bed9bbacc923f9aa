"""Fixed-window rate limiting, on the memory bus and on a real Redis."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from expo.bus import Bus, connect_bus
from expo.bus.memory import MemoryBus
from expo.errors import ExpoError, RateLimited
from expo.ratelimit import RateLimiter
from tests.bus.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]


class Clock:
    """A settable wall clock, so window boundaries are deterministic."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def bus_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Awaitable[Bus]]]:
    """Connected buses sharing one random namespace (for Redis: like several processes)."""
    # conftest's ``redis_url`` skips with the reason when Redis is down; fails under CI=true.
    url = str(request.getfixturevalue("redis_url")) if request.param == "redis" else "memory://"
    namespace = f"expo-test:{secrets.token_hex(6)}:"
    buses: list[Bus] = []

    async def make() -> Bus:
        bus = connect_bus(url, namespace=namespace)
        await bus.connect()
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()
    if request.param == "redis":
        client = aioredis.Redis.from_url(url)
        keys = [key async for key in client.scan_iter(match=namespace + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def bus(bus_factory: Callable[[], Awaitable[Bus]]) -> Bus:
    return await bus_factory()


async def test_allows_limit_hits_then_refuses_with_retry_after(bus: Bus) -> None:
    clock = Clock(1000.25)  # window [960, 1020) for a 60 s window
    limiter = RateLimiter(bus, "login", limit=3, window=60, clock=clock)
    for _ in range(3):
        await limiter.hit("alice")
    with pytest.raises(RateLimited) as excinfo:
        await limiter.hit("alice")
    error = excinfo.value
    assert isinstance(error, ExpoError)
    assert error.status == 429
    assert error.code == "rate_limited"
    assert error.retry_after == 20
    assert isinstance(error.retry_after, int)
    assert "20 s" in error.message


async def test_uses_the_documented_counter_key(bus: Bus) -> None:
    clock = Clock(125.0)
    limiter = RateLimiter(bus, "chat", limit=5, window=10, clock=clock)
    await limiter.hit("room:7")
    await limiter.hit("room:7")
    assert await bus.get_counter("ratelimit:chat:room:7:12") == 2


async def test_keys_and_limiters_are_independent(bus: Bus) -> None:
    clock = Clock(0.5)
    by_email = RateLimiter(bus, "email", limit=1, window=60, clock=clock)
    by_ip = RateLimiter(bus, "ip", limit=1, window=60, clock=clock)
    await by_email.hit("a")
    await by_email.hit("b")
    await by_ip.hit("a")
    with pytest.raises(RateLimited):
        await by_email.hit("a")
    with pytest.raises(RateLimited):
        await by_ip.hit("a")


async def test_next_window_starts_fresh(bus: Bus) -> None:
    clock = Clock(59.0)
    limiter = RateLimiter(bus, "w", limit=1, window=60, clock=clock)
    await limiter.hit("k")
    with pytest.raises(RateLimited) as excinfo:
        await limiter.hit("k")
    assert excinfo.value.retry_after == 1
    clock.now = 60.0
    await limiter.hit("k")


async def test_retry_after_is_at_least_one_second(bus: Bus) -> None:
    clock = Clock(119.999)
    limiter = RateLimiter(bus, "edge", limit=1, window=60, clock=clock)
    await limiter.hit("k")
    with pytest.raises(RateLimited) as excinfo:
        await limiter.hit("k")
    assert excinfo.value.retry_after == 1


async def test_check_refuses_only_when_used_up_and_counts_nothing(bus: Bus) -> None:
    clock = Clock(10.0)
    limiter = RateLimiter(bus, "guard", limit=2, window=60, clock=clock)
    for _ in range(5):
        await limiter.check("k")
    assert await limiter.remaining("k") == 2
    await limiter.hit("k")
    await limiter.check("k")
    assert await limiter.remaining("k") == 1
    await limiter.hit("k")
    with pytest.raises(RateLimited) as excinfo:
        await limiter.check("k")
    assert excinfo.value.retry_after == 50
    assert await limiter.remaining("k") == 0


async def test_concurrent_hits_never_exceed_the_limit(bus: Bus) -> None:
    limiter = RateLimiter(bus, "burst", limit=10, window=60, clock=Clock(5.0))
    results = await asyncio.gather(*(limiter.hit("k") for _ in range(25)), return_exceptions=True)
    assert sum(r is None for r in results) == 10
    assert all(isinstance(r, RateLimited) for r in results if r is not None)


async def test_window_counters_expire_by_themselves(bus: Bus) -> None:
    # The clock only picks the window; the counter's TTL (= window) runs in real time.
    limiter = RateLimiter(bus, "real", limit=1, window=0.3, clock=Clock(0.1))
    await limiter.hit("k")
    assert await bus.get_counter("ratelimit:real:k:0") == 1
    deadline = time.monotonic() + 3
    while await bus.get_counter("ratelimit:real:k:0") != 0:
        assert time.monotonic() < deadline, "window counter did not expire"
        await asyncio.sleep(0.02)
    await limiter.hit("k")  # same window index, but the old count is gone


async def test_processes_share_limits(bus_factory: Callable[[], Awaitable[Bus]]) -> None:
    first, second = await bus_factory(), await bus_factory()
    clock = Clock(300.0)
    on_first = RateLimiter(first, "shared", limit=2, window=60, clock=clock)
    on_second = RateLimiter(second, "shared", limit=2, window=60, clock=clock)
    await on_first.hit("k")
    await on_second.hit("k")
    if isinstance(first, MemoryBus):
        # Separate memory buses are separate worlds: each has its own allowance.
        await on_second.hit("k")
        return
    with pytest.raises(RateLimited):
        await on_second.hit("k")
    with pytest.raises(RateLimited):
        await on_first.check("k")


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (-1, 60), (5, 0), (5, -1.0), (5, math.nan)])
def test_rejects_nonsense_settings(limit: int, window: float) -> None:
    with pytest.raises(ValueError, match=r"limit|window"):
        RateLimiter(connect_bus("memory://"), "x", limit=limit, window=window)


async def test_while_the_bus_is_down_each_process_limits_on_its_own(redis_server: RedisServer) -> None:
    """A Redis outage neither locks everybody out nor lets every attempt through."""
    clock = Clock(1_000_000.0)
    bus = connect_bus(redis_server.url, namespace=f"expo-test:{secrets.token_hex(6)}:")
    await bus.connect()
    try:
        limiter = RateLimiter(bus, "login", limit=3, window=60, clock=clock)
        await limiter.hit("who")  # one hit counted on Redis before it goes
        redis_server.kill()
        for _ in range(3):  # counted in memory from zero: the outage forgives what Redis held
            await limiter.hit("who")
        with pytest.raises(RateLimited):
            await limiter.hit("who")
        with pytest.raises(RateLimited):
            await limiter.check("who")
        assert await limiter.remaining("who") == 0
        # Another limiter object of the same app (chat makes one per request) sees the same count.
        with pytest.raises(RateLimited):
            await RateLimiter(bus, "login", limit=3, window=60, clock=clock).check("who")
        await limiter.hit("someone else")
        clock.now += 60  # the next window starts afresh
        assert await limiter.remaining("who") == 3
        await limiter.hit("who")
    finally:
        await bus.close()
