"""The bus contract, run against the memory backend and a real Redis.

Redis variants use a random namespace per test and delete its keys afterwards. Two
``RedisBus`` instances on one Redis stand in for two server processes.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from expo.bus import Bus, BusError, Subscription, connect_bus
from expo.bus.memory import MemoryBus
from expo.bus.redis import RedisBus
from expo.errors import ConfigError

# -- helpers ---------------------------------------------------------------------


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 3.0, what: str = "condition"
) -> None:
    """Poll ``check`` (sync or async) until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)


async def receive(subscription: Subscription, count: int = 1, timeout: float = 3.0) -> list[str]:
    """The next ``count`` messages of ``subscription``, failing after ``timeout`` seconds."""

    async def take() -> list[str]:
        return [await anext(subscription) for _ in range(count)]

    return await asyncio.wait_for(take(), timeout)


async def nothing_arrives(subscription: Subscription, within: float = 0.2) -> bool:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(subscription), within)
    return True


@dataclass
class Backend:
    """Makes connected buses of one kind that share a namespace (= one deployment)."""

    url: str
    namespace: str = field(default_factory=lambda: f"expo-test:{secrets.token_hex(6)}:")
    buses: list[Bus] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "redis" if self.url.startswith("redis") else "memory"

    async def bus(self, *, queue_size: int = 1000, connect: bool = True) -> Bus:
        bus = connect_bus(self.url, namespace=self.namespace, queue_size=queue_size)
        self.buses.append(bus)
        if connect:
            await bus.connect()
        return bus


async def delete_namespace(url: str, namespace: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=namespace + "*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        # conftest's fixture: skips with the reason when Redis is down, fails under CI=true.
        return str(request.getfixturevalue("redis_url"))
    return "memory://"


@pytest.fixture
async def backend(bus_url: str) -> AsyncIterator[Backend]:
    backend = Backend(bus_url)
    yield backend
    for bus in backend.buses:
        await bus.close()
    if backend.kind == "redis":
        await delete_namespace(bus_url, backend.namespace)


@pytest.fixture
async def bus(backend: Backend) -> Bus:
    return await backend.bus()


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_backend(redis_url: str) -> AsyncIterator[Backend]:
    backend = Backend(redis_url)
    yield backend
    for bus in backend.buses:
        await bus.close()
    await delete_namespace(redis_url, backend.namespace)


# -- connect_bus -----------------------------------------------------------------


@pytest.mark.parametrize("url", ["kafka://broker:9092", "http://localhost:6379", "localhost:6379"])
def test_unknown_scheme_is_rejected_naming_bus_url(url: str) -> None:
    scheme = url.split(":", 1)[0]
    with pytest.raises(ConfigError, match="bus_url") as excinfo:
        connect_bus(url)
    assert repr(scheme) in str(excinfo.value)


def test_missing_scheme_is_rejected() -> None:
    with pytest.raises(ConfigError, match="bus_url has no scheme"):
        connect_bus("")


@pytest.mark.parametrize(
    "url",
    ["redis://:hunter2@localhost:6379/zero", "redis://:hunter2@localhost:port/0", "redis://:hunter2@/0"],
)
def test_malformed_redis_url_is_rejected_without_leaking_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="bus_url") as excinfo:
        connect_bus(url)
    assert "hunter2" not in str(excinfo.value)


@pytest.mark.parametrize("url", ["memory://", "memory:///ignored/path", "MEMORY://"])
async def test_memory_urls_give_an_unconnected_memory_bus(url: str) -> None:
    bus = connect_bus(url)
    assert isinstance(bus, MemoryBus)
    assert await bus.ping() is False
    with pytest.raises(BusError, match="not connected"):
        await bus.incr("x")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/3", "rediss://cache.example:6380", "redis://h"])
async def test_redis_urls_give_an_unconnected_redis_bus(url: str) -> None:
    bus = connect_bus(url, namespace="ns:")
    assert isinstance(bus, RedisBus)
    assert bus.namespace == "ns:"
    assert await bus.ping() is False
    with pytest.raises(BusError, match="not connected"):
        await bus.publish("c", "m")


def test_redis_client_is_imported_only_for_redis_urls() -> None:
    code = (
        "import sys\n"
        "from expo.bus import connect_bus\n"
        "connect_bus('memory://')\n"
        "assert 'redis' not in sys.modules, 'memory:// imported redis'\n"
        "connect_bus('redis://localhost')\n"
        "assert 'redis' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


async def test_unreachable_redis_fails_connect_with_bus_error() -> None:
    bus = connect_bus("redis://127.0.0.1:1/0")  # nothing listens on port 1
    with pytest.raises(BusError, match="cannot connect to Redis"):
        await bus.connect()
    assert await bus.ping() is False
    await bus.close()  # closing a never-connected bus is fine


# -- lifecycle -------------------------------------------------------------------


async def test_ping_and_idempotent_connect_close(backend: Backend) -> None:
    bus = await backend.bus()
    await bus.connect()  # second connect is a no-op
    assert await bus.ping() is True
    await bus.close()
    await bus.close()
    assert await bus.ping() is False
    with pytest.raises(BusError):
        await bus.get_counter("x")
    await bus.connect()  # a closed bus can be connected again
    async with bus.subscribe("again") as subscription:
        await bus.publish("again", "yes")
        assert await receive(subscription) == ["yes"]


async def test_operations_need_a_connected_bus(backend: Backend) -> None:
    bus = await backend.bus(connect=False)
    with pytest.raises(BusError, match="not connected"):
        await bus.presence_count("k")
    with pytest.raises(BusError, match="not connected"):
        async with bus.subscribe("c"):
            pass


async def test_try_publish_sends_when_it_can_and_never_raises(backend: Backend) -> None:
    # For news of work already committed: a bus that cannot send must not fail that work.
    bus = await backend.bus()
    async with bus.subscribe("news") as subscription:
        assert await bus.try_publish("news", "sent") is True
        assert await receive(subscription) == ["sent"]
    await bus.close()
    assert await bus.try_publish("news", "lost") is False


async def test_close_ends_subscriptions_and_leaves_no_tasks(backend: Backend) -> None:
    tasks_before = asyncio.all_tasks()
    bus = await backend.bus()
    entered = asyncio.Event()
    received: list[str] = []

    async def consume() -> None:
        async with bus.subscribe("room") as subscription:
            entered.set()
            async for message in subscription:
                received.append(message)

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(entered.wait(), 3)
    await bus.publish("room", "hello")
    await wait_until(lambda: received == ["hello"], what="delivery")

    await bus.close()
    # The consumer's ``async for`` ends by itself: nobody has to cancel it.
    await asyncio.wait_for(consumer, 3)
    await bus.close()
    await asyncio.sleep(0)  # let finished callbacks run
    leftover = asyncio.all_tasks() - tasks_before
    assert not leftover, leftover


# -- pub/sub ---------------------------------------------------------------------


async def test_publish_reaches_every_subscriber_in_order(bus: Bus) -> None:
    async with bus.subscribe("chat") as first, bus.subscribe("chat") as second:
        for i in range(5):
            await bus.publish("chat", f"m{i}")
        expected = [f"m{i}" for i in range(5)]
        assert await receive(first, 5) == expected
        assert await receive(second, 5) == expected


async def test_channels_are_isolated(bus: Bus) -> None:
    async with bus.subscribe("a") as a, bus.subscribe("b") as b:
        await bus.publish("b", "for b")
        await bus.publish("a", "for a")
        assert await receive(a) == ["for a"]
        assert await receive(b) == ["for b"]
        assert await nothing_arrives(a)


async def test_subscription_is_active_when_entered(backend: Backend) -> None:
    # Publisher and subscriber are different buses, so for Redis nothing but the
    # server's SUBSCRIBE confirmation orders the two: repeat to catch a race.
    subscriber, publisher = await backend.bus(), await backend.bus()
    if backend.kind == "memory":
        publisher = subscriber  # memory buses do not share state
    for i in range(20):
        async with subscriber.subscribe(f"fresh-{i}") as subscription:
            await publisher.publish(f"fresh-{i}", "first")
            assert await receive(subscription) == ["first"]


async def test_resubscribing_after_leaving_works(bus: Bus) -> None:
    for i in range(10):
        async with bus.subscribe("churn") as subscription:
            await bus.publish("churn", str(i))
            assert await receive(subscription) == [str(i)]
    async with bus.subscribe("churn") as subscription:
        await bus.publish("churn", "last")
        assert await receive(subscription) == ["last"]


async def test_messages_published_after_leaving_are_not_buffered(bus: Bus) -> None:
    async with bus.subscribe("c") as subscription:
        pass
    await bus.publish("c", "late")
    assert subscription.closed
    assert [m async for m in subscription] == []


async def test_slow_subscriber_drops_oldest_without_slowing_others(backend: Backend) -> None:
    bus = await backend.bus(queue_size=5)
    async with bus.subscribe("ticks") as slow, bus.subscribe("ticks") as fast:
        got: list[str] = []

        async def drain() -> None:
            async for message in fast:
                got.append(message)
                if len(got) == 20:
                    return

        drainer = asyncio.create_task(drain())
        for i in range(20):
            await bus.publish("ticks", str(i))
            await asyncio.sleep(0)  # a real publisher yields now and then
        await asyncio.wait_for(drainer, 3)

        assert got == [str(i) for i in range(20)]
        assert fast.dropped == 0
        # ``slow`` never read: it kept the newest 5 and counted the rest.
        assert slow.dropped == 15
        assert slow.pending() == 5
        assert await receive(slow, 5) == ["15", "16", "17", "18", "19"]


# -- presence --------------------------------------------------------------------


async def test_presence_touch_leave_count_members(bus: Bus) -> None:
    assert await bus.presence_count("booth:1") == 0
    assert await bus.presence_members("booth:1") == []
    await bus.presence_touch("booth:1", "bob", 30)
    await bus.presence_touch("booth:1", "alice", 30)
    await bus.presence_touch("booth:1", "alice", 30)  # a heartbeat is not a second visitor
    await bus.presence_touch("booth:2", "carol", 30)
    assert await bus.presence_count("booth:1") == 2
    assert await bus.presence_members("booth:1") == ["alice", "bob"]
    await bus.presence_leave("booth:1", "bob")
    await bus.presence_leave("booth:1", "nobody")
    assert await bus.presence_members("booth:1") == ["alice"]
    assert await bus.presence_count("booth:2") == 1


async def test_presence_touch_many_renews_a_whole_process_at_once(bus: Bus) -> None:
    members = [f"anon:{n}" for n in range(2500)]  # more than one Redis batch
    await bus.presence_touch_many("presence:online", members, 30)
    await bus.presence_touch_many("presence:online", members[:10], 30)  # renewing adds nobody
    await bus.presence_touch_many("presence:online", [], 30)
    assert await bus.presence_count("presence:online") == 2500
    assert set(await bus.presence_members("presence:online")) == set(members)


async def test_presence_expires_without_heartbeat(bus: Bus) -> None:
    await bus.presence_touch("room", "ghost", 0.3)
    await bus.presence_touch("room", "stayer", 30)
    assert await bus.presence_count("room") == 2
    started = time.monotonic()

    async def ghost_gone() -> bool:
        return await bus.presence_members("room") == ["stayer"]

    await wait_until(ghost_gone, what="heartbeat expiry")
    assert time.monotonic() - started < 1.5
    assert await bus.presence_count("room") == 1


async def test_presence_heartbeat_extends_life(bus: Bus) -> None:
    await bus.presence_touch("room", "alive", 0.6)
    await asyncio.sleep(0.35)
    await bus.presence_touch("room", "alive", 0.6)
    await asyncio.sleep(0.35)  # 0.7 s after the first touch, 0.35 s after the last
    assert await bus.presence_members("room") == ["alive"]


async def test_presence_rejects_non_positive_ttl(bus: Bus) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await bus.presence_touch("room", "x", 0)


# -- counters --------------------------------------------------------------------


async def test_incr_and_get_counter(bus: Bus) -> None:
    assert await bus.get_counter("hits") == 0
    assert await bus.incr("hits") == 1
    assert await bus.incr("hits") == 2
    assert await bus.incr("hits", 5) == 7
    assert await bus.incr("hits", -2) == 5
    assert await bus.get_counter("hits") == 5


async def test_incr_is_atomic_under_concurrency(bus: Bus) -> None:
    results = await asyncio.gather(*(bus.incr("race") for _ in range(100)))
    assert sorted(results) == list(range(1, 101))
    assert await bus.get_counter("race") == 100


async def test_incr_ttl_expires_and_is_not_extended_by_later_hits(bus: Bus) -> None:
    started = time.monotonic()
    assert await bus.incr("window", ttl=0.6) == 1
    await asyncio.sleep(0.3)
    assert await bus.incr("window", ttl=0.6) == 2  # same window, expiry unchanged

    async def expired() -> bool:
        return await bus.get_counter("window") == 0

    await wait_until(expired, what="counter expiry")
    # Had the second hit pushed the expiry back it would live until ~0.9 s.
    assert time.monotonic() - started < 0.85
    assert await bus.incr("window", ttl=0.6) == 1  # a fresh window


async def test_set_max_keeps_the_peak(bus: Bus) -> None:
    assert await bus.set_max("peak", 5) == 5
    assert await bus.set_max("peak", 3) == 5
    assert await bus.set_max("peak", 9) == 9
    assert await bus.get_counter("peak") == 9  # counters and maxima share values
    values = [17, 4, 23, 8, 15, 42, 16]
    results = await asyncio.gather(*(bus.set_max("peak2", v) for v in values))
    assert max(results) == 42
    assert await bus.set_max("peak2", 0) == 42


async def test_unique_counts_are_exact(bus: Bus) -> None:
    assert await bus.count_unique("visitors") == 0
    assert await bus.add_unique("visitors", "u1") is True
    assert await bus.add_unique("visitors", "u1") is False
    assert await bus.add_unique("visitors", "u2") is True
    added = await asyncio.gather(*(bus.add_unique("visitors", f"v{i % 50}") for i in range(200)))
    assert added.count(True) == 50
    assert await bus.count_unique("visitors") == 52


# -- memory specifics ------------------------------------------------------------


async def test_memory_sweep_forgets_expired_entries() -> None:
    now = [1000.0]
    bus = MemoryBus(sweep_interval=10, clock=lambda: now[0])
    await bus.connect()
    for i in range(100):
        await bus.incr(f"window:{i}", ttl=1)
        await bus.presence_touch(f"booth:{i}", "visitor", 1)
    now[0] += 11  # everything above expired and the sweep is due
    await bus.incr("trigger")
    assert list(bus._counters) == ["trigger"]
    assert bus._presence == {}


async def test_memory_presence_expiry_boundary() -> None:
    now = [50.0]
    bus = MemoryBus(clock=lambda: now[0])
    await bus.connect()
    await bus.presence_touch("k", "a", 2)
    now[0] = 51.999
    assert await bus.presence_count("k") == 1
    now[0] = 52.0
    assert await bus.presence_count("k") == 0


async def test_memory_presence_counts_members_whatever_their_ttls() -> None:
    now = [0.0]
    bus = MemoryBus(clock=lambda: now[0])
    await bus.connect()
    for member in ("a", "b", "c"):
        await bus.presence_touch("same", member, 10)
    await bus.presence_touch("mixed", "long", 10)
    await bus.presence_touch("mixed", "short", 1)  # expires first, yet sits behind "long"
    now[0] = 3.0
    await bus.presence_touch("same", "a", 10)  # a heartbeat: "a" now lives until 13
    assert await bus.presence_count("mixed") == 1
    assert await bus.presence_members("mixed") == ["long"]
    now[0] = 10.0
    assert await bus.presence_count("same") == 1
    assert await bus.presence_members("same") == ["a"]
    now[0] = 13.0
    assert await bus.presence_count("same") == 0


# -- several processes on one Redis ----------------------------------------------


async def test_processes_see_each_others_publishes(redis_backend: Backend) -> None:
    a, b = await redis_backend.bus(), await redis_backend.bus()
    async with a.subscribe("chat") as on_a, b.subscribe("chat") as on_b:
        await a.publish("chat", "from a")
        await b.publish("chat", "from b")
        assert await receive(on_a, 2) == ["from a", "from b"]
        assert await receive(on_b, 2) == ["from a", "from b"]


async def test_processes_share_presence_counters_and_uniques(redis_backend: Backend) -> None:
    a, b = await redis_backend.bus(), await redis_backend.bus()
    await a.presence_touch("booth", "alice", 30)
    await b.presence_touch("booth", "bob", 30)
    assert await a.presence_members("booth") == ["alice", "bob"]
    await b.presence_leave("booth", "alice")
    assert await a.presence_count("booth") == 1

    await asyncio.gather(*(bus.incr("views") for bus in (a, b) for _ in range(50)))
    assert await a.get_counter("views") == 100
    assert await b.get_counter("views") == 100

    await a.set_max("peak", 12)
    assert await b.set_max("peak", 7) == 12

    assert await a.add_unique("uv", "alice") is True
    assert await b.add_unique("uv", "alice") is False
    assert await b.add_unique("uv", "bob") is True
    assert await a.count_unique("uv") == 2


async def test_namespaces_keep_deployments_apart(redis_backend: Backend) -> None:
    other = Backend(redis_backend.url)
    ours, theirs = await redis_backend.bus(), await other.bus()
    try:
        await ours.incr("n")
        await ours.presence_touch("p", "m", 30)
        assert await theirs.get_counter("n") == 0
        assert await theirs.presence_count("p") == 0
        async with theirs.subscribe("c") as subscription:
            await ours.publish("c", "not for you")
            assert await nothing_arrives(subscription)
    finally:
        await theirs.close()


async def test_redis_expiry_uses_server_clock_and_removes_keys(
    redis_backend: Backend, raw_redis: aioredis.Redis
) -> None:
    bus = await redis_backend.bus()
    await bus.presence_touch("room", "m", 0.3)
    await bus.incr("window", ttl=0.3)
    for key in ("room", "window"):
        ttl_ms = await raw_redis.pttl(redis_backend.namespace + key)
        assert 0 < ttl_ms <= 300

    async def keys_gone() -> bool:
        return (
            await raw_redis.exists(redis_backend.namespace + "room", redis_backend.namespace + "window") == 0
        )

    # Abandoned presence sets and windows disappear from Redis by themselves.
    await wait_until(keys_gone, what="key expiry")


async def test_one_pubsub_connection_per_bus(redis_backend: Backend, raw_redis: aioredis.Redis) -> None:
    name = f"expo-test-{secrets.token_hex(4)}"
    bus = RedisBus(redis_backend.url, namespace=redis_backend.namespace, client_name=name)
    redis_backend.buses.append(bus)
    await bus.connect()
    async with bus.subscribe("a"), bus.subscribe("a"), bus.subscribe("b"), bus.subscribe("c"):
        clients = [c for c in await raw_redis.client_list() if c.get("name") == name]
        pubsub = [c for c in clients if int(c.get("sub", 0)) > 0]
        assert len(pubsub) == 1
        assert int(pubsub[0]["sub"]) == 3  # three channels, four subscribers

    async def unsubscribed() -> bool:
        counts = await raw_redis.pubsub_numsub(*(redis_backend.namespace + c for c in "abc"))
        return all(count == 0 for _, count in counts)

    await wait_until(unsubscribed, what="UNSUBSCRIBE of unused channels")


async def test_reader_reconnects_after_connection_loss(
    redis_backend: Backend, raw_redis: aioredis.Redis
) -> None:
    name = f"expo-test-{secrets.token_hex(4)}"
    bus = RedisBus(
        redis_backend.url, namespace=redis_backend.namespace, client_name=name, backoff_initial=0.05
    )
    redis_backend.buses.append(bus)
    await bus.connect()
    publisher = await redis_backend.bus()
    async with bus.subscribe("news") as subscription:
        await publisher.publish("news", "before")
        assert await receive(subscription) == ["before"]

        killed = 0
        for client in await raw_redis.client_list():
            if client.get("name") == name and int(client.get("sub", 0)) > 0:
                killed += await raw_redis.client_kill_filter(_id=client["id"])
        assert killed == 1

        # Messages sent while the link is down are lost (pub/sub is at-most-once), so
        # keep publishing until the re-subscribed reader delivers one.
        deadline = time.monotonic() + 5
        while True:
            await publisher.publish("news", "after")
            try:
                assert await receive(subscription, timeout=0.1) == ["after"]
                break
            except TimeoutError:
                assert time.monotonic() < deadline, "no delivery after the connection was killed"
        assert await bus.ping() is True


async def test_idle_health_pings_keep_the_connection(
    redis_backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    # With a tiny health interval the reader PINGs an idle connection repeatedly, both
    # with no channel subscribed (plain PONG reply) and with one (pub/sub pong).
    bus = RedisBus(redis_backend.url, namespace=redis_backend.namespace, health_interval=0.05)
    redis_backend.buses.append(bus)
    await bus.connect()
    publisher = await redis_backend.bus()
    with caplog.at_level("INFO", logger="expo.bus.redis"):
        await asyncio.sleep(0.3)
        async with bus.subscribe("quiet") as subscription:
            await asyncio.sleep(0.3)
            await publisher.publish("quiet", "still here")
            assert await receive(subscription) == ["still here"]
    assert await bus.ping() is True
    assert not [r for r in caplog.records if r.name == "expo.bus.redis"], caplog.text
