"""Redis-backed bus: shared by every server process that points at the same Redis.

Design notes
------------
* Commands (publish, counters, presence) go through a bounded connection pool that
  makes a burst of callers wait for a free connection instead of failing with
  "Too many connections" (the pub/sub connection takes one slot too).
* All subscriptions of one ``RedisBus`` share ONE pub/sub connection, read by one
  background task and fanned out locally. A subscriber per Redis connection would
  exhaust Redis' client limit with a few thousand open chat panes.
* Redis confirms each SUBSCRIBE on the pub/sub connection itself, in command order.
  ``subscribe()`` only returns after that confirmation, so a message published
  right after entering the ``async with`` block cannot be missed.
* If the pub/sub connection breaks, the reader reconnects with exponential backoff
  (with jitter, so a fleet of processes does not reconnect in lockstep) and
  re-subscribes every channel that still has local subscribers. Messages published
  while disconnected are lost: pub/sub is at-most-once by nature.
* While Redis is unreachable, commands fail at once with :class:`BusError` instead of
  each waiting for a connection attempt, but for one probe per backoff step
  (:class:`~expo.bus.outage.Outage`); the outage is logged when it starts and when it
  ends, not once per failed command.
* Presence and expiry use the Redis server clock (``TIME`` inside Lua scripts), so
  processes with skewed clocks still agree on who is present.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from expo.bus.base import (
    DEFAULT_NAMESPACE,
    DEFAULT_QUEUE_SIZE,
    Bus,
    BusError,
    Subscription,
    check_ttl,
)
from expo.bus.outage import LINK_ERRORS, Outage

logger = logging.getLogger(__name__)

# Server time in milliseconds, computed inside scripts so that every process uses
# the same clock.
_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] = presence sorted set (member -> expiry ms); ARGV = member, ttl ms.
_PRESENCE_TOUCH = (
    _NOW_MS
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
-- Let the whole key vanish when its last heartbeat lapses, so abandoned presence
-- sets (a booth nobody opens again) do not linger in Redis.
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2])))
return 1
"""
)

# KEYS[1] = presence sorted set; ARGV[1] = ttl ms; ARGV[2..] = members.
_PRESENCE_TOUCH_MANY = (
    _NOW_MS
    + """
local expires = now + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], expires, ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2])))
return 1
"""
)
TOUCH_BATCH = 1000
"""Members renewed per script call: large enough to make 10,000 sockets a handful of round
trips, small enough not to hold Redis (single-threaded) for long."""

# KEYS[1] = presence sorted set; ARGV[1] = 'count' or 'members'.
_PRESENCE_READ = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] == 'count' then
  return redis.call('ZCARD', KEYS[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)

# KEYS[1] = counter; ARGV = amount, ttl ms. The TTL is set only when this call
# created the key: later hits in the same window must not push the expiry back.
_INCR_WITH_TTL = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""

# KEYS[1] = counter; ARGV[1] = candidate. KEEPTTL (Redis >= 6) preserves an expiry.
_SET_MAX = """
local current = tonumber(redis.call('GET', KEYS[1]))
local value = tonumber(ARGV[1])
if current ~= nil and current >= value then
  return current
end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return value
"""


def _ms(seconds: float) -> int:
    # Round up so that a tiny positive TTL never becomes 0 ("expire now").
    return max(1, math.ceil(seconds * 1000))


def _redacted(url: str) -> str:
    """``url`` without credentials, for log and error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


# redis-py before 8.2 leaves these two PubSub methods unannotated (8.2 annotates aclose): keep the
# ignores in one place, and let them go unused on a redis-py that needs neither.
async def _open_pubsub(pubsub: PubSub) -> None:
    await pubsub.connect()  # type: ignore[no-untyped-call,unused-ignore]


async def _close_pubsub(pubsub: PubSub) -> None:
    # Best effort: used on connections that may already be broken.
    with suppress(Exception):
        await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]


class RedisBus(Bus):
    """:class:`~expo.bus.base.Bus` on Redis (``redis://`` or ``rediss://`` URL).

    ``client_name`` is shown by ``CLIENT LIST``, which helps tell processes apart.
    ``max_connections`` bounds the pool (pub/sub connection included).
    ``subscribe_timeout`` bounds how long entering ``subscribe()`` may wait for
    Redis to confirm. ``health_interval`` is how long the pub/sub connection may
    stay silent before it is probed with PING; no answer within another interval
    counts as a lost connection (catches half-open TCP connections).
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        client_name: str | None = "expo-bus",
        max_connections: int = 50,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
        subscribe_timeout: float = 5.0,
        health_interval: float = 30.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        super().__init__(namespace=namespace, queue_size=queue_size)
        self._url = url
        self._client_name = client_name
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._subscribe_timeout = subscribe_timeout
        self._health_interval = health_interval
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max

        self._client: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        # Serialises everything sent on the pub/sub connection and its replacement
        # on reconnect, so the confirmation bookkeeping below stays in step.
        # Recreated by connect(): a bus may be reconnected under another loop.
        self._pubsub_lock = asyncio.Lock()
        # Logical channel -> event set once Redis confirmed our SUBSCRIBE. Present
        # while the channel is (being) subscribed upstream.
        self._live: dict[str, asyncio.Event] = {}
        # Full channel name -> events waiting for a "subscribe" reply, oldest
        # first. Redis answers SUBSCRIBEs in order, so the next reply for a
        # channel belongs to the oldest waiter for that channel.
        self._awaiting: dict[str, deque[asyncio.Event]] = {}
        self._scripts: dict[str, AsyncScript] = {}
        self.outage = Outage(_redacted(url), backoff_initial=backoff_initial, backoff_max=backoff_max)

    def __repr__(self) -> str:
        return f"RedisBus({_redacted(self._url)!r}, namespace={self.namespace!r})"

    # -- helpers -----------------------------------------------------------------

    def _key(self, key: str) -> str:
        return self.namespace + key

    def _require_client(self) -> Redis:
        if self._client is None:
            raise BusError("bus is not connected: await bus.connect() first")
        return self._client

    @asynccontextmanager
    async def _translate(self, action: str) -> AsyncIterator[None]:
        # Callers depend on expo.bus only, never on redis-py's exception tree. During an outage
        # commands fail here at once, rather than each waiting out a connection attempt.
        if not self.outage.allows():
            raise BusError(f"redis {action} not sent: Redis is unreachable, reconnecting")
        try:
            yield
        except LINK_ERRORS as exc:
            await self._lost(exc)
            raise BusError(f"redis {action} failed: {exc}") from exc
        except RedisError as exc:
            raise BusError(f"redis {action} failed: {exc}") from exc
        self.outage.recovered()

    async def _lost(self, error: BaseException) -> None:
        if self.outage.failed(error) and self._client is not None:
            # The idle connections in the pool lead to the Redis that went away: each would fail
            # once after its return, flapping the outage. Those in use fail (and reset) by themselves.
            with suppress(RedisError, OSError):
                await self._client.connection_pool.disconnect(inuse_connections=False)

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        client = self._require_client()
        async with self._translate(name):
            return await self._scripts[name](keys=keys, args=args, client=client)

    # -- lifecycle ---------------------------------------------------------------

    async def connect(self) -> None:
        """Connect (command pool and the shared pub/sub connection); idempotent.

        Raises :class:`BusError` when Redis is unreachable, so a misconfigured
        deployment fails at startup rather than on the first request.
        """
        if self._client is not None:
            return
        pool = BlockingConnectionPool.from_url(
            self._url,
            max_connections=self._max_connections,
            # How long a command may wait for a free connection.
            timeout=self._command_timeout,
            decode_responses=True,
            client_name=self._client_name,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=self._command_timeout,
        )
        client = Redis.from_pool(pool)  # the client owns and closes the pool
        pubsub = client.pubsub()
        try:
            await client.ping()
            await _open_pubsub(pubsub)
        except (RedisError, OSError) as exc:
            await _close_pubsub(pubsub)
            with suppress(RedisError, OSError):
                await client.aclose()
            raise BusError(f"cannot connect to Redis at {_redacted(self._url)}: {exc}") from exc
        self._scripts = {
            "presence_touch": client.register_script(_PRESENCE_TOUCH),
            "presence_touch_many": client.register_script(_PRESENCE_TOUCH_MANY),
            "presence_read": client.register_script(_PRESENCE_READ),
            "incr": client.register_script(_INCR_WITH_TTL),
            "set_max": client.register_script(_SET_MAX),
        }
        self._pubsub_lock = asyncio.Lock()
        self._client = client
        self._pubsub = pubsub
        self._reader = asyncio.create_task(self._read_loop(), name=f"expo-bus-reader[{self.namespace}]")

    async def close(self) -> None:
        """Stop the reader, end subscriptions and close connections; idempotent."""
        client, self._client = self._client, None
        if client is None:
            return
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            # wait() rather than awaiting the task: it does not re-raise the
            # reader's CancelledError, yet still propagates a cancel of close().
            await asyncio.wait({reader})
        self._fanout.close_all()
        async with self._pubsub_lock:
            pubsub, self._pubsub = self._pubsub, None
            # Wake subscribers still waiting for a confirmation; _attach notices
            # their subscription was closed.
            for live in self._live.values():
                live.set()
            self._live.clear()
            self._awaiting.clear()
            if pubsub is not None:
                await _close_pubsub(pubsub)
        with suppress(RedisError, OSError):
            await client.aclose()

    async def ping(self) -> bool:
        """True when Redis answers and the pub/sub connection is up."""
        client = self._client
        if client is None or self._pubsub is None:
            return False
        try:
            answered = bool(await client.ping())
        except (RedisError, OSError) as exc:
            if isinstance(exc, LINK_ERRORS):
                await self._lost(exc)
            return False
        self.outage.recovered()
        return answered

    # -- pub/sub -----------------------------------------------------------------

    async def publish(self, channel: str, message: str) -> None:
        """PUBLISH ``message``; every process subscribed to ``channel`` gets it."""
        client = self._require_client()
        async with self._translate("publish"):
            await client.publish(self._key(channel), message)

    async def _attach(self, channel: str) -> Subscription:
        self._require_client()
        # No fast failure during an outage here: the reader subscribes every pending channel as
        # soon as Redis is back, so a page socket that subscribes meanwhile waits (at most
        # subscribe_timeout) and may well get its subscription instead of an error to retry.
        subscription = self._fanout.open(channel)
        try:
            live = await self._send_subscribe(channel)
            await asyncio.wait_for(live.wait(), self._subscribe_timeout)
        except TimeoutError:
            await self._detach(subscription)
            raise BusError(
                f"Redis did not confirm the subscription to {channel!r} within {self._subscribe_timeout} s"
            ) from None
        except BaseException:
            await self._detach(subscription)
            raise
        if subscription.closed:
            raise BusError("bus was closed while subscribing")
        return subscription

    async def _send_subscribe(self, channel: str) -> asyncio.Event:
        """Make sure ``channel`` is subscribed upstream; return its live event."""
        async with self._pubsub_lock:
            live = self._live.get(channel)
            if live is not None:
                # Already subscribed, or a SUBSCRIBE is in flight: share it.
                return live
            live = self._live[channel] = asyncio.Event()
            pubsub = self._pubsub
            if pubsub is None:
                # Reconnect in progress: it subscribes every channel in _live.
                return live
            full = self._key(channel)
            # Register before sending: the reader may see the reply before the
            # send coroutine returns.
            self._awaiting.setdefault(full, deque()).append(live)
            try:
                await pubsub.subscribe(full)
            except (RedisError, OSError) as exc:
                # The reader sees the same broken connection and its reconnect
                # re-subscribes every channel in _live; _attach times out if not.
                logger.debug("SUBSCRIBE %s failed (%s); awaiting reconnect", full, exc)
            return live

    async def _detach(self, subscription: Subscription) -> None:
        self._fanout.close(subscription)
        channel = subscription.channel
        if self._fanout.has_subscribers(channel):
            return
        async with self._pubsub_lock:
            # Re-check under the lock: someone may have subscribed meanwhile.
            if self._fanout.has_subscribers(channel) or channel not in self._live:
                return
            del self._live[channel]
            pubsub = self._pubsub
            if pubsub is None:
                return
            try:
                await pubsub.unsubscribe(self._key(channel))
            except (RedisError, OSError) as exc:
                # Harmless: a reconnect only re-subscribes channels in _live, and
                # stray messages for this one find no local subscriber.
                logger.debug("UNSUBSCRIBE %s failed: %s", channel, exc)

    async def _read_loop(self) -> None:
        delay = self._backoff_initial
        broken = False
        ping_sent = False
        while True:
            try:
                if broken:
                    await self._reconnect_pubsub()
                    logger.debug("Redis pub/sub connection re-established")
                    self.outage.recovered()
                    broken, ping_sent, delay = False, False, self._backoff_initial
                pubsub = self._pubsub
                if pubsub is None:  # pragma: no cover - close() cancels us first
                    return
                message = await pubsub.get_message(timeout=self._health_interval)
                if message is None:
                    if ping_sent:
                        raise ConnectionError("no reply to PING on pub/sub connection")
                    async with self._pubsub_lock:
                        await pubsub.ping()
                    ping_sent = True
                    continue
                ping_sent = False
                self._dispatch(message)
                # A flood of buffered messages could otherwise be read without
                # ever suspending, starving the consumers we are feeding.
                await asyncio.sleep(0)
            except Exception as exc:
                # Broad on purpose: if this task died, every subscription in the
                # process would go silent without anyone noticing.
                broken = True
                pause = delay * random.uniform(0.5, 1.0)
                # The outage is logged once, by Outage; each attempt only at debug level.
                await self._lost(exc)
                logger.debug(
                    "Redis pub/sub connection lost (%s: %s); reconnecting in %.2f s",
                    type(exc).__name__,
                    exc,
                    pause,
                )
                await asyncio.sleep(pause)
                delay = min(delay * 2, self._backoff_max)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        if not isinstance(channel, str):
            return
        if kind == "message":
            data = message.get("data")
            if isinstance(data, str) and channel.startswith(self.namespace):
                self._fanout.deliver(channel[len(self.namespace) :], data)
        elif kind == "subscribe":
            waiters = self._awaiting.get(channel)
            if waiters:
                waiters.popleft().set()
                if not waiters:
                    del self._awaiting[channel]

    async def _reconnect_pubsub(self) -> None:
        client = self._require_client()
        async with self._pubsub_lock:
            old, self._pubsub = self._pubsub, None
            if old is not None:
                await _close_pubsub(old)
            # Replies still owed by the old connection will never arrive.
            self._awaiting.clear()
            for channel in [c for c in self._live if not self._fanout.has_subscribers(c)]:
                del self._live[channel]
            for live in self._live.values():
                live.clear()
            pubsub = client.pubsub()
            try:
                await _open_pubsub(pubsub)
                if self._live:
                    channels = list(self._live)
                    for channel in channels:
                        self._awaiting.setdefault(self._key(channel), deque()).append(self._live[channel])
                    await pubsub.subscribe(*(self._key(c) for c in channels))
            except BaseException:
                self._awaiting.clear()
                await _close_pubsub(pubsub)
                raise
            self._pubsub = pubsub

    # -- presence ----------------------------------------------------------------

    async def presence_touch(self, key: str, member: str, ttl: float) -> None:
        """Heartbeat ``member`` in the sorted set ``key`` (score = expiry, server ms)."""
        check_ttl(ttl)
        await self._script("presence_touch", [self._key(key)], [member, _ms(ttl)])

    async def presence_touch_many(self, key: str, members: Sequence[str], ttl: float) -> None:
        """Heartbeat every one of ``members`` in ``key``, :data:`TOUCH_BATCH` per round trip."""
        check_ttl(ttl)
        for start in range(0, len(members), TOUCH_BATCH):
            batch = list(members[start : start + TOUCH_BATCH])
            await self._script("presence_touch_many", [self._key(key)], [_ms(ttl), *batch])

    async def presence_leave(self, key: str, member: str) -> None:
        """ZREM ``member``."""
        client = self._require_client()
        async with self._translate("presence_leave"):
            await client.zrem(self._key(key), member)

    async def presence_count(self, key: str) -> int:
        """Prune expired heartbeats, then count what is left."""
        return int(await self._script("presence_read", [self._key(key)], ["count"]))

    async def presence_members(self, key: str) -> list[str]:
        """Prune expired heartbeats, then list what is left (sorted)."""
        members = await self._script("presence_read", [self._key(key)], ["members"])
        return sorted(str(m) for m in members)

    # -- counters ----------------------------------------------------------------

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """INCRBY, setting ``ttl`` atomically when the key is created."""
        if ttl is None:
            client = self._require_client()
            async with self._translate("incr"):
                return int(await client.incrby(self._key(key), amount))
        check_ttl(ttl)
        return int(await self._script("incr", [self._key(key)], [amount, _ms(ttl)]))

    async def get_counter(self, key: str) -> int:
        """GET as an int, 0 when missing."""
        client = self._require_client()
        async with self._translate("get_counter"):
            value = await client.get(self._key(key))
        return 0 if value is None else int(value)

    async def set_max(self, key: str, value: int) -> int:
        """Atomic ``max(current, value)`` via a Lua script."""
        return int(await self._script("set_max", [self._key(key)], [value]))

    async def add_unique(self, key: str, member: str) -> bool:
        """SADD; True when the member was new."""
        client = self._require_client()
        async with self._translate("add_unique"):
            return bool(await client.sadd(self._key(key), member))

    async def count_unique(self, key: str) -> int:
        """SCARD."""
        client = self._require_client()
        async with self._translate("count_unique"):
            return int(await client.scard(self._key(key)))
