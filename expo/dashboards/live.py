"""The organizer's live dashboard: figures of one expo right now, pushed to its open pages.

Figures (:func:`live_figures`): people online on the site (the realtime presence set), viewers of
each live broadcast and their total, rooms in session, check-ins today and in total.

Pages subscribe to ``dashboard:{expo_id}`` over ``/ws`` (organizers of that expo only) and get
``{"kind": "figures", ...}`` events carrying the complete figures, so a page never has to merge.
While at least one page of this process is subscribed, :class:`LiveBoard` runs one task per expo
that, every :data:`INTERVAL` seconds, claims the tick on the bus (``incr`` with a TTL of one
interval: with several processes exactly one computes) and publishes the figures only when they
differ from the last ones published on the channel by any process (each task listens to the
channel to know them). :func:`expo.events.figures_changed` asks for a recomputation at once,
from any process, for changes people expect to see immediately (a check-in).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import UTC, datetime

from sqlmodel import col, select

from expo import events, realtime
from expo.accounts.models import User
from expo.auth import platform
from expo.bus import Bus, BusError, Subscription
from expo.dashboards import registrations
from expo.dashboards.figures import LiveBroadcast, LiveFigures
from expo.db import Database, utcnow
from expo.expos.models import Expo
from expo.permissions import Perm, standing
from expo.realtime import Realtime
from streaming.audience import Audience
from streaming.models import Stream, StreamStatus
from streaming.room_services import in_session_key

log = logging.getLogger("expo.dashboards")

PREFIX = "dashboard:"
INTERVAL = 2.0
"""Seconds between recomputations while someone watches the dashboard."""
GRACE = 5.0
"""Seconds a dashboard task runs after a page's channel check without needing its subscription."""
_CHANNEL = re.compile(r"^dashboard:([1-9][0-9]{0,17})$")


def channel(expo_id: int) -> str:
    """The realtime channel of one expo's live figures."""
    return f"{PREFIX}{expo_id}"


async def rooms_in_session(bus: Bus, expo_id: int) -> int:
    """Telepresence rooms of the expo with someone in them now, in any process."""
    return await bus.presence_count(in_session_key(expo_id))


def expo_today(expo: Expo, now: datetime | None = None) -> datetime:
    """Midnight today in the expo's time zone (UTC when the zone is unknown), as an aware time."""
    local = (now or utcnow()).astimezone(expo.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def live_figures(db: Database, bus: Bus, audience: Audience, expo: Expo) -> LiveFigures:
    """The live figures of ``expo`` now."""
    assert expo.id is not None
    async with db.session() as session:
        streams = (
            await session.exec(
                select(Stream.id, Stream.title)
                .where(Stream.expo_id == expo.id, Stream.status == StreamStatus.LIVE.value)
                .order_by(col(Stream.id))
            )
        ).all()
        counts = await registrations.counts(session, expo.id, expo_today(expo).astimezone(UTC))
    live = [
        LiveBroadcast(id=sid, title=title, live_viewers=await audience.live_viewers(sid))
        for sid, title in streams
        if sid is not None
    ]
    return LiveFigures(
        online=await bus.presence_count(realtime.ONLINE_KEY),
        live_viewers=sum(b.live_viewers for b in live),
        rooms_in_session=await rooms_in_session(bus, expo.id),
        check_ins_today=counts.check_ins_today,
        check_ins_total=counts.check_ins_total,
        registrations=counts.registrations,
        broadcasts=live,
    )


class LiveBoard:
    """The per-process publisher of live dashboards, one task per expo being watched here."""

    def __init__(
        self, db: Database, bus: Bus, audience: Audience, pages: Realtime, interval: float = INTERVAL
    ) -> None:
        self.db = db
        self.bus = bus
        self.pages = pages
        self.audience = audience
        self.interval = interval
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._ready: dict[int, asyncio.Event] = {}
        self._last: dict[int, str] = {}
        # Until when a task keeps going although no page of this process has subscribed yet:
        # the channel check (which starts the task) runs before the subscription exists.
        self._wanted_until: dict[int, float] = {}

    async def watch(self, expo_id: int) -> None:
        """A page of this process is subscribing to ``expo_id``'s figures: keep them from now on.

        Returns once the expo's task listens for nudges, so a nudge sent after the page's
        subscription is confirmed is never missed.
        """
        self._wanted_until[expo_id] = time.monotonic() + GRACE
        task = self._tasks.get(expo_id)
        if task is None or task.done():
            ready = asyncio.Event()
            task = asyncio.create_task(self._run(expo_id, ready), name=f"dashboard:{expo_id}")
            self._tasks[expo_id] = task
            self._ready[expo_id] = ready
        ready_event = self._ready[expo_id]
        waiter = asyncio.create_task(ready_event.wait())
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()

    async def stop(self) -> None:
        """Cancel and await every task."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def publish(self, expo_id: int) -> bool:
        """Compute the figures and publish them if they changed; True when published."""
        async with self.db.session() as session:
            expo = await session.get(Expo, expo_id)
        if expo is None:
            return False
        figures = await live_figures(self.db, self.bus, self.audience, expo)
        text = json.dumps({"kind": "figures", **figures.model_dump(mode="json")}, separators=(",", ":"))
        if self._last.get(expo_id) == text:
            return False
        await self.bus.publish(channel(expo_id), text)
        self._last[expo_id] = text  # once sent: figures lost to a bus outage go out again
        return True

    async def _run(self, expo_id: int, ready: asyncio.Event) -> None:
        name = channel(expo_id)
        try:
            async with (
                self.bus.subscribe(name) as seen,
                self.bus.subscribe(events.figures_channel(expo_id)) as nudges,
            ):
                ready.set()
                listener = asyncio.create_task(self._remember(expo_id, seen))
                try:
                    await self._loop(expo_id, name, nudges)
                finally:
                    listener.cancel()
                    await asyncio.gather(listener, return_exceptions=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The next page that subscribes starts a new task.
            log.warning("live dashboard stopped", exc_info=True, extra={"fields": {"expo": expo_id}})
        finally:
            self._last.pop(expo_id, None)
            if self._tasks.get(expo_id) is asyncio.current_task():
                del self._tasks[expo_id]
                self._ready.pop(expo_id, None)

    async def _loop(self, expo_id: int, name: str, nudges: Subscription) -> None:
        while self.pages.pages_listening(name) or time.monotonic() < self._wanted_until.get(expo_id, 0):
            try:
                if not await self._round(expo_id, nudges):
                    return  # the bus is closing
            except BusError as exc:
                # Redis is down (the bus logs that once). The pages' subscriptions outlive the
                # outage, so this task must too: the figures go on when Redis returns.
                log.debug("live dashboard round skipped: %s", exc, extra={"fields": {"expo": expo_id}})
                await asyncio.sleep(self.interval)

    async def _round(self, expo_id: int, nudges: Subscription) -> bool:
        """One interval: publish on the tick, and on a nudge; False once the bus is closing."""
        # One process computes per interval: the first to count the tick's key.
        if await self.bus.incr(f"dashboard:tick:{expo_id}", 1, ttl=self.interval) == 1:
            await self.publish(expo_id)
        try:
            token = await asyncio.wait_for(anext(nudges), self.interval)
        except TimeoutError:
            return True
        except StopAsyncIteration:
            return False
        if await self.bus.incr(f"dashboard:nudged:{expo_id}:{token}", 1, ttl=60) == 1:
            await self.publish(expo_id)
        return True

    async def _remember(self, expo_id: int, seen: Subscription) -> None:
        """Keep the figures last published by any process, so only changes are published."""
        async for text in seen:
            self._last[expo_id] = text


async def may_watch(user: User | None, name: str) -> bool:
    """``dashboard:{expo_id}``: the expo's organizers only. Starts the figures' task."""
    match = _CHANNEL.match(name)
    if match is None or user is None:
        return False
    p = platform(realtime.current_connection())
    async with p.db.session() as session:
        expo = await session.get(Expo, int(match.group(1)))
        if expo is None or expo.id is None:
            return False
        if not (await standing(session, user, expo.id)).has(Perm.VIEW_DASHBOARD):
            return False
    await p.get(LiveBoard).watch(expo.id)
    return True


def register_channels(pages: Realtime) -> None:
    """Let organizers' pages subscribe to ``dashboard:{expo_id}`` (called by ``create_app``)."""
    pages.allow_prefix(PREFIX, may_watch)
