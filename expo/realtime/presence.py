"""Who has the site open: the presence set, its heartbeats, and the ``online`` figure.

While a page socket is open its owner counts in :data:`ONLINE_KEY`: once per signed-in user however
many tabs they have open, once per connection for anonymous visitors. Both keepers here belong to
one app's :class:`~expo.realtime.server.Realtime` and end with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from expo.bus import Bus, BusError
from expo.realtime.protocol import publish_event

log = logging.getLogger("expo.realtime")

PRESENCE_TTL = 30.0
"""Seconds a connection stays counted without a heartbeat (it sends one every third of that)."""
ONLINE_KEY = "presence:online"
ONLINE_CHANNEL = "online"


async def publish_online(bus: Bus) -> int:
    """Publish and return the current number of people online."""
    count = await bus.presence_count(ONLINE_KEY)
    await publish_event(bus, ONLINE_CHANNEL, {"online": count})
    return count


ONLINE_INTERVAL = 0.5
"""Seconds between two ``online`` events of one process, however many people come and go."""


class OnlineAnnouncer:
    """Coalesces this process's arrivals and departures into at most one ``online`` event per
    :data:`ONLINE_INTERVAL`: when 10,000 pages open at once, their watchers get a few updates of
    the figure instead of 10,000 (each of which went to every subscriber of ``online``)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._dirty = False
        self._last = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._dirty = True
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="realtime-online")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._dirty:
                wait = self._last + ONLINE_INTERVAL - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._dirty = False
                self._last = loop.time()
                await publish_online(self.bus)
        except Exception:
            log.warning("publishing the online figure failed", exc_info=True)
        finally:
            self._task = None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Heartbeats:
    """Keeps the presence of every open socket of this process alive with one task.

    One heartbeat task per socket meant 10,000 wake-ups and, on Redis, up to 20,000 round trips
    every :data:`PRESENCE_TTL` / 3 for a process holding 10,000 watch pages; this renews all of a
    key's members in one :meth:`Bus.presence_touch_many` (a handful of round trips). The task runs
    while there is something to keep and ends with the last socket.

    ``on_recovered`` is called after the first complete round that follows a failed one: the
    presence is whole again (after a Redis outage, which loses it), and figures built on it may
    be announced again.
    """

    def __init__(self, bus: Bus, on_recovered: Callable[[], None] | None = None) -> None:
        self.bus = bus
        self._on_recovered = on_recovered
        self._kept: dict[str, Counter[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def keep(self, pairs: list[tuple[str, str]]) -> None:
        for key, member in pairs:
            self._kept.setdefault(key, Counter())[member] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="realtime-heartbeats")

    def drop(self, pairs: list[tuple[str, str]]) -> None:
        for key, member in pairs:
            members = self._kept.get(key)
            if members is None:
                continue
            members[member] -= 1
            if members[member] <= 0:
                del members[member]
            if not members:
                del self._kept[key]

    async def _run(self) -> None:
        missed = False
        while self._kept:
            await asyncio.sleep(PRESENCE_TTL / 3)
            whole = True
            for key, members in list(self._kept.items()):
                try:
                    await self.bus.presence_touch_many(key, list(members), PRESENCE_TTL)
                except BusError as exc:
                    # Redis is down (logged once by the bus): the first round after its return
                    # announces everybody again, as it came back empty.
                    whole = False
                    log.debug("presence heartbeat skipped: %s", exc)
                except Exception:
                    # The next round tries again; a lapse only shows when it lasts PRESENCE_TTL.
                    whole = False
                    log.warning("presence heartbeat failed", exc_info=True, extra={"fields": {"key": key}})
            if whole and missed and self._on_recovered is not None:
                self._on_recovered()
            missed = not whole

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
