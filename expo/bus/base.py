"""The realtime bus contract shared by every backend.

A :class:`Bus` carries three kinds of cross-process state for the expo:

* fire-and-forget pub/sub messages (chat lines, "booth went live" events),
* presence sets with heartbeats (who is looking at a booth right now),
* small atomic numbers (rate-limit windows, peak viewers, unique visitors).

Backends differ only in where that state lives. Subscriber fan-out is always done
locally, in this process, by :class:`Fanout`, so a slow consumer can never stall the
backend connection or the other consumers.
"""

from __future__ import annotations

import abc
import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

DEFAULT_NAMESPACE = "expo:"
DEFAULT_QUEUE_SIZE = 1000


class BusError(Exception):
    """The bus cannot serve the request: backend unreachable, bus not connected, ..."""


class Subscription:
    """One subscriber's view of a channel: an async iterator of messages.

    Messages wait in a bounded per-subscriber buffer. When the subscriber falls
    behind and the buffer is full, the *oldest* waiting message is discarded and
    :attr:`dropped` is incremented: for live events the newest state is worth more
    than a complete history, and memory stays bounded whatever the consumer does.

    Iteration ends (``StopAsyncIteration``) once the subscription is closed - when
    its ``async with`` block exits or the bus is closed - after the messages
    already buffered have been handed out.
    """

    def __init__(self, channel: str, maxsize: int = DEFAULT_QUEUE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.channel = channel
        self.maxsize = maxsize
        self.dropped = 0
        self._buffer: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once no further messages will be delivered."""
        return self._closed

    def pending(self) -> int:
        """Number of buffered messages not yet consumed."""
        return len(self._buffer)

    def _put(self, message: str) -> None:
        # Called from the publisher's or the reader task's stack: must never block.
        if self._closed:
            return
        if len(self._buffer) >= self.maxsize:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(message)
        self._wakeup.set()

    def _close(self) -> None:
        self._closed = True
        # Wake a consumer parked in __anext__ so it notices the end of the stream.
        self._wakeup.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            # No await between the emptiness check and clear(), so a message put
            # by another task cannot slip in unnoticed.
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._buffer.popleft()


class Fanout:
    """Local registry of subscriptions per channel, delivering without blocking.

    Backends use it so that one upstream message (from memory or from the single
    Redis pub/sub connection) reaches every local subscriber of that channel.
    """

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self._channels: dict[str, set[Subscription]] = {}

    def open(self, channel: str) -> Subscription:
        """Register and return a new subscription to ``channel``."""
        subscription = Subscription(channel, self.queue_size)
        self._channels.setdefault(channel, set()).add(subscription)
        return subscription

    def close(self, subscription: Subscription) -> None:
        """End ``subscription`` and forget it (idempotent)."""
        subscription._close()
        subscribers = self._channels.get(subscription.channel)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._channels[subscription.channel]

    def has_subscribers(self, channel: str) -> bool:
        """True while at least one subscription to ``channel`` is open."""
        return channel in self._channels

    def channels(self) -> list[str]:
        """Channels with at least one open subscription."""
        return list(self._channels)

    def deliver(self, channel: str, message: str) -> int:
        """Hand ``message`` to every subscriber of ``channel``; return how many."""
        subscribers = self._channels.get(channel)
        if not subscribers:
            return 0
        # Copy: a consumer woken by _put cannot run before we return, but keep the
        # iteration independent of the set anyway.
        for subscription in tuple(subscribers):
            subscription._put(message)
        return len(subscribers)

    def close_all(self) -> None:
        """End every subscription (used when the bus closes)."""
        channels, self._channels = self._channels, {}
        for subscribers in channels.values():
            for subscription in subscribers:
                subscription._close()


class Bus(abc.ABC):
    """Cross-process messaging, presence and counters.

    A bus is created unconnected; call :meth:`connect` before use and :meth:`close`
    when done. Every other method raises :class:`BusError` while the bus is not
    connected, and when the backend fails.

    Keys and channels are plain strings; backends prefix them with ``namespace``
    so several deployments (or test runs) can share one Redis. A key must be used
    for one kind of data only: counters (:meth:`incr`, :meth:`get_counter`,
    :meth:`set_max` share the same integer values), presence sets or unique sets.
    """

    def __init__(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        self.namespace = namespace
        self._fanout = Fanout(queue_size)

    @property
    def queue_size(self) -> int:
        """Per-subscriber buffer size; older messages are dropped beyond it."""
        return self._fanout.queue_size

    # -- lifecycle ---------------------------------------------------------------

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open connections and start background work; raise BusError on failure."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End subscriptions, stop background tasks, close connections (idempotent)."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """Health check: True when the backend answers; never raises."""

    # -- pub/sub -----------------------------------------------------------------

    @abc.abstractmethod
    async def publish(self, channel: str, message: str) -> None:
        """Send ``message`` to every current subscriber of ``channel``, anywhere.

        Delivery is at-most-once: subscribers that are not connected at that moment
        (or that overflow) miss it.
        """

    async def try_publish(self, channel: str, message: str) -> bool:
        """:meth:`publish` news of work that is already done (committed): True if sent.

        While the backend is down the news is lost, as pub/sub may lose it anyway, and the work
        still stands: a registration stored during a Redis outage is acknowledged, not answered
        with an error that makes its sender try again. The backend logs the outage itself.
        """
        try:
            await self.publish(channel, message)
        except BusError:
            return False
        return True

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Subscribe to ``channel`` for the duration of an ``async with`` block.

        ``async with bus.subscribe("c") as sub: async for message in sub: ...``

        The subscription is active when the block is entered: any message
        published after that is received.
        """
        subscription = await self._attach(channel)
        try:
            yield subscription
        finally:
            await self._detach(subscription)

    @abc.abstractmethod
    async def _attach(self, channel: str) -> Subscription:
        """Create a subscription that is live (upstream confirmed) on return."""

    @abc.abstractmethod
    async def _detach(self, subscription: Subscription) -> None:
        """Close ``subscription``; release upstream resources if it was the last."""

    # -- presence ----------------------------------------------------------------

    @abc.abstractmethod
    async def presence_touch(self, key: str, member: str, ttl: float) -> None:
        """Heartbeat: ``member`` counts as present until ``ttl`` s after this call."""

    async def presence_touch_many(self, key: str, members: Sequence[str], ttl: float) -> None:
        """:meth:`presence_touch` for many members of one key at once (one round trip where the
        backend allows it): a process holding 10,000 sockets renews them all in one go."""
        for member in members:
            await self.presence_touch(key, member, ttl)

    @abc.abstractmethod
    async def presence_leave(self, key: str, member: str) -> None:
        """Remove ``member`` now rather than waiting for its heartbeat to lapse."""

    @abc.abstractmethod
    async def presence_count(self, key: str) -> int:
        """Number of members whose heartbeat has not expired."""

    @abc.abstractmethod
    async def presence_members(self, key: str) -> list[str]:
        """Members whose heartbeat has not expired, sorted."""

    # -- counters ----------------------------------------------------------------

    @abc.abstractmethod
    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add ``amount`` to a counter and return the new value.

        With ``ttl``, a counter created by this call expires ``ttl`` seconds later;
        increments of an existing counter do not extend its life (fixed windows).
        """

    @abc.abstractmethod
    async def get_counter(self, key: str) -> int:
        """Current value of a counter; 0 when it does not exist or has expired."""

    @abc.abstractmethod
    async def set_max(self, key: str, value: int) -> int:
        """Atomically store ``max(current, value)`` and return the stored value."""

    @abc.abstractmethod
    async def add_unique(self, key: str, member: str) -> bool:
        """Add ``member`` to an exact unique set; True if it was not there yet."""

    @abc.abstractmethod
    async def count_unique(self, key: str) -> int:
        """Exact number of distinct members added to the unique set ``key``."""


def check_ttl(ttl: float) -> None:
    """Reject non-positive TTLs, which would silently mean "already expired"."""
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, got {ttl!r}")
