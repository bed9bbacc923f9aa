"""Audience figures: who watches a stream now, and what is kept for later.

Every way of watching (WHEP, HLS, the watch page) reports the same thing, a heartbeat for a person:
``await audience.watch(stream_id, viewer, via)`` at least every ``ttl / 3`` seconds while they
watch, and ``await audience.leave(...)`` when they stop (a lapsed heartbeat counts as leaving).

Where each figure lives:

* ``live_viewers``: the bus presence set ``presence:stream:{id}`` keyed by person, so somebody
  watching over two paths at once counts once, and a closed tab drops out after ``ttl`` seconds.
  Each path of a person has its own presence entry (``presence:stream:{id}:paths:{viewer}``) so
  that leaving one path does not remove a person who still watches over another.
* ``total_views`` / ``unique_viewers``: a :class:`StreamView` row is committed when a person who
  was not watching starts (absent -> present). The transition is claimed with an atomic bus counter,
  so two processes seeing the same first heartbeat write one row. Counted from the store: an
  acknowledged view survives any restart.
* ``peak_viewers``: a bus ``set_max`` on every change, written through to ``Stream.peak_viewers``
  with ``UPDATE ... WHERE peak_viewers < n``, which can never lower it.
* the per-minute series: :meth:`Audience.sample` (run by the background sampler) upserts
  ``StreamMinute(stream, minute)`` keeping the highest concurrency seen in that minute, so any number
  of processes may sample the same minute.

Changes of ``live_viewers`` are published on channel ``stream:{id}`` as
``{"kind": "viewers", "live_viewers": n}``: at once for joins and explicit leaves, and by the
announcer task (every ``announce_interval`` seconds) for heartbeats that lapsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import col, select
from starlette.requests import HTTPConnection
from starlette.responses import Response
from typing_extensions import TypedDict  # pydantic reads these on Python 3.11 too

from expo.accounts.models import User
from expo.bus import Bus, BusError
from expo.db import Database, utcnow
from expo.security import is_https, sign, unsign
from streaming.models import Stream, StreamMinute, StreamRegistration, StreamStatus, StreamView, ViewVia
from streaming.services import channel, get_stream

log = logging.getLogger("streaming.audience")

VIEWER_TTL = 15.0
"""Seconds a person stays counted after their last heartbeat."""
SAMPLE_INTERVAL = 20.0
"""Seconds between samples of the per-minute series (each minute keeps its highest sample)."""
ANNOUNCE_INTERVAL = 2.0
"""Seconds between checks for lapsed heartbeats that changed a stream's count."""
SEEN_INTERVAL = 30.0
# Heartbeats of one viewer over one path closer together than this are absorbed by the process
# (a low-latency HLS player fetches its playlist every half second); capped at a quarter of the TTL.
MIN_HEARTBEAT = 2.0
"""At most one ``last_seen_at`` write per person and stream in this many seconds."""
RECORD_SLACK = timedelta(seconds=5)
"""How long after its first heartbeat was heard a view may be written (the store's write, on a
busy store), for :meth:`Audience._close_lapsed` to still find it."""
VIEWER_COOKIE = "expo_viewer"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_VIEWER_TOKEN_PURPOSE = "viewer"  # noqa: S105 (a signing purpose, not a secret)


class StreamStats(TypedDict):
    """The contract's ``GET /api/streams/{id}/stats`` body."""

    status: str
    live_viewers: int
    peak_viewers: int
    total_views: int
    unique_viewers: int
    registrations: int


class MinutePoint(TypedDict):
    minute: datetime
    viewers: int


class Audience:
    """Presence-based audience tracking for every stream, shared by all processes on one bus.

    Owned by the platform: :meth:`start` launches the sampler and the announcer, :meth:`stop`
    cancels and awaits them. :meth:`watch`, :meth:`leave` and the readers work whether or not
    the tasks run (tests call :meth:`sample` and :meth:`announce` directly).
    """

    def __init__(
        self,
        db: Database,
        bus: Bus,
        *,
        ttl: float = VIEWER_TTL,
        sample_interval: float = SAMPLE_INTERVAL,
        announce_interval: float = ANNOUNCE_INTERVAL,
        seen_interval: float = SEEN_INTERVAL,
    ) -> None:
        self.db = db
        self.bus = bus
        self.ttl = ttl
        self.sample_interval = sample_interval
        self.announce_interval = announce_interval
        self.seen_interval = seen_interval
        # What this process last published per stream, and when it last saw activity there:
        # the announcer only polls streams this process has been serving.
        self._published: dict[int, int] = {}
        self._active: dict[int, float] = {}
        self._persisted_peak: dict[int, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._min_heartbeat = min(MIN_HEARTBEAT, ttl / 4)
        self._beats: dict[tuple[int, str, str], float] = {}  # (stream, viewer, path) -> last beat
        # (stream, viewer) -> this process's last heartbeat from them: where a view that lapses
        # without a leave really ended (``last_seen_at`` is written only every ``seen_interval``).
        self._heard: dict[tuple[int, str], float] = {}

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the per-minute sampler and the lapsed-heartbeat announcer."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._every(self.sample_interval, self.sample), name="audience-sampler"),
            asyncio.create_task(
                self._every(self.announce_interval, self.announce), name="audience-announcer"
            ),
        ]

    async def stop(self) -> None:
        """Cancel the background tasks and wait for them to finish."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _every(self, interval: float, work: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await work()
            except BusError as exc:
                # Redis is down: the bus logged that once; every round until it returns would
                # only repeat it.
                log.debug("audience task %s skipped: %s", getattr(work, "__name__", work), exc)
            except Exception:
                # A store or bus outage (or any surprise) must not end the figures for the rest of
                # the process's life: log it with the traceback and try again next round.
                log.exception("audience task %s failed", getattr(work, "__name__", work))

    # -- keys ------------------------------------------------------------------------------------

    @staticmethod
    def _people(stream_id: int) -> str:
        return f"presence:stream:{stream_id}"

    @staticmethod
    def _paths(stream_id: int, viewer: str) -> str:
        return f"presence:stream:{stream_id}:paths:{viewer}"

    @staticmethod
    def _claim(stream_id: int, viewer: str) -> str:
        return f"audience:view-start:{stream_id}:{viewer}"

    @staticmethod
    def _seen(stream_id: int, viewer: str) -> str:
        return f"audience:seen:{stream_id}:{viewer}"

    @staticmethod
    def _peak(stream_id: int) -> str:
        return f"audience:peak:{stream_id}"

    # -- heartbeats ------------------------------------------------------------------------------

    async def watch(self, stream_id: int, viewer: str, via: ViewVia) -> None:
        """Heartbeat: ``viewer`` watches ``stream_id`` over ``via`` now.

        The first heartbeat of a new view commits a :class:`StreamView` row before returning, so
        once a caller has acknowledged the viewer, the view is never lost.
        """
        now = self._active[stream_id] = time.monotonic()
        # Heard, even if the bus cannot record it (an outage): the person is here all the same.
        heard = self._heard.get((stream_id, viewer), -math.inf)
        self._heard[(stream_id, viewer)] = now
        beat = (stream_id, viewer, ViewVia(via).value)
        if now - self._beats.get(beat, -math.inf) < self._min_heartbeat:
            return
        paths = self._paths(stream_id, viewer)
        was_present = await self.bus.presence_count(paths) > 0
        if not was_present and now - heard < self.ttl:
            # Heard here within the TTL, yet absent on the bus: the bus lost their presence (Redis
            # came back empty after an outage), or they left through another process, which closed
            # their view, or their first heartbeat was never recorded. The store tells: a view
            # still open goes on, and this heartbeat announces them again instead of counting a
            # new view.
            was_present = await self._view_open(stream_id, viewer)
        await self.bus.presence_touch(paths, ViewVia(via).value, self.ttl)
        await self.bus.presence_touch(self._people(stream_id), viewer, self.ttl)
        if was_present:
            if await self.bus.incr(self._seen(stream_id, viewer), 1, ttl=self.seen_interval) == 1:
                await self._mark_seen(stream_id, viewer)
            self._beat(beat, now)
            return
        # Absent -> present. Only the caller whose claim comes first records the view; the claim
        # expires with the heartbeat, and an explicit leave releases it.
        if await self.bus.incr(self._claim(stream_id, viewer), 1, ttl=self.ttl) == 1:
            try:
                await self._record_view(stream_id, viewer, ViewVia(via))
            except Exception:
                # Not stored, so not acknowledged: make the next heartbeat a first one again.
                await self.bus.presence_leave(paths, ViewVia(via).value)
                await self.bus.presence_leave(self._people(stream_id), viewer)
                await self._release_claim(stream_id, viewer)
                raise
            await self.bus.incr(self._seen(stream_id, viewer), 1, ttl=self.seen_interval)
        self._beat(beat, now)
        await self._changed(stream_id)

    def _beat(self, beat: tuple[int, str, str], now: float) -> None:
        """Remember an acknowledged heartbeat; forget the lapsed ones now and then."""
        self._beats[beat] = now
        if len(self._beats) > 1024 and len(self._beats) % 1024 == 0:
            cutoff = now - self._min_heartbeat
            self._beats = {key: at for key, at in self._beats.items() if at >= cutoff}

    async def leave(self, stream_id: int, viewer: str, via: ViewVia) -> None:
        """``viewer`` stopped watching over ``via``; they leave the audience if no other path remains."""
        self._beats.pop((stream_id, viewer, ViewVia(via).value), None)
        paths = self._paths(stream_id, viewer)
        if await self.bus.presence_count(paths) == 0:
            return  # not watching (any more): nothing to end, no store write for a stray beacon
        await self.bus.presence_leave(paths, ViewVia(via).value)
        if await self.bus.presence_count(paths) > 0:
            return
        await self.bus.presence_leave(self._people(stream_id), viewer)
        self._heard.pop((stream_id, viewer), None)
        # Coming back is a new view (absent -> present again).
        await self._release_claim(stream_id, viewer)
        await self._close_views(stream_id, viewer)
        await self._changed(stream_id)

    async def _release_claim(self, stream_id: int, viewer: str) -> None:
        claim = self._claim(stream_id, viewer)
        held = await self.bus.get_counter(claim)
        if held:
            await self.bus.incr(claim, -held)

    async def _changed(self, stream_id: int) -> None:
        count = await self.live_viewers(stream_id)
        await self._raise_peak(stream_id, count)
        await self._publish(stream_id, count)

    async def _publish(self, stream_id: int, count: int) -> None:
        if self._published.get(stream_id) == count:
            return
        # Remembered only once sent, so that a figure lost to a bus outage goes out again.
        event = json.dumps({"kind": "viewers", "live_viewers": count})
        if await self.bus.try_publish(channel(stream_id), event):
            self._published[stream_id] = count

    async def _raise_peak(self, stream_id: int, count: int) -> int:
        peak = await self.bus.set_max(self._peak(stream_id), count)
        if peak > self._persisted_peak.get(stream_id, -1):
            async with self.db.session() as session:
                await session.exec(
                    update(Stream)
                    .where(col(Stream.id) == stream_id, col(Stream.peak_viewers) < peak)
                    .values(peak_viewers=peak)
                )
                await session.commit()
            self._persisted_peak[stream_id] = peak
        return peak

    # -- the store -------------------------------------------------------------------------------

    async def _record_view(self, stream_id: int, viewer: str, via: ViewVia) -> None:
        now = utcnow()
        async with self.db.session() as session:
            # Views of this person that lapsed without a leave end where they were last seen.
            await session.exec(
                update(StreamView)
                .where(
                    col(StreamView.stream_id) == stream_id,
                    col(StreamView.viewer) == viewer,
                    col(StreamView.ended_at).is_(None),
                )
                .values(ended_at=StreamView.last_seen_at)
            )
            session.add(
                StreamView(
                    stream_id=stream_id, viewer=viewer, via=via.value, started_at=now, last_seen_at=now
                )
            )
            await session.commit()

    async def _view_open(self, stream_id: int, viewer: str) -> bool:
        async with self.db.session() as session:
            found = await session.exec(
                select(StreamView.id)
                .where(
                    StreamView.stream_id == stream_id,
                    StreamView.viewer == viewer,
                    col(StreamView.ended_at).is_(None),
                )
                .limit(1)
            )
            return found.first() is not None

    async def _mark_seen(self, stream_id: int, viewer: str) -> None:
        async with self.db.session() as session:
            await session.exec(
                update(StreamView)
                .where(
                    col(StreamView.stream_id) == stream_id,
                    col(StreamView.viewer) == viewer,
                    col(StreamView.ended_at).is_(None),
                )
                .values(last_seen_at=utcnow())
            )
            await session.commit()

    async def _close_views(self, stream_id: int, viewer: str) -> None:
        now = utcnow()
        async with self.db.session() as session:
            await session.exec(
                update(StreamView)
                .where(
                    col(StreamView.stream_id) == stream_id,
                    col(StreamView.viewer) == viewer,
                    col(StreamView.ended_at).is_(None),
                )
                .values(ended_at=now, last_seen_at=now)
            )
            await session.commit()

    async def _close_lapsed(self, stream_id: int, viewer: str, heard: datetime) -> None:
        """End the person's latest view where this process last heard them, unless it already
        ended later (another process heard them after this one, or they left explicitly).

        A view's first heartbeat is heard a moment before the view is written, so a view heard
        only once started "after" it was last heard: views started up to :data:`RECORD_SLACK`
        later count, and end no earlier than they started.
        """
        async with self.db.session() as session:
            latest = (
                await session.exec(
                    select(StreamView.id, StreamView.started_at)
                    .where(
                        StreamView.stream_id == stream_id,
                        StreamView.viewer == viewer,
                        col(StreamView.started_at) <= heard + RECORD_SLACK,
                    )
                    .order_by(col(StreamView.started_at).desc(), col(StreamView.id).desc())
                    .limit(1)
                )
            ).first()
            if latest is None:
                return
            view_id, started_at = latest
            ended_at = max(heard, started_at)
            await session.exec(
                update(StreamView)
                .where(
                    col(StreamView.id) == view_id,
                    or_(col(StreamView.ended_at).is_(None), col(StreamView.ended_at) < ended_at),
                )
                .values(ended_at=ended_at, last_seen_at=ended_at)
            )
            await session.commit()

    # -- figures ---------------------------------------------------------------------------------

    async def live_viewers(self, stream_id: int) -> int:
        """People watching ``stream_id`` now, each counted once whatever their paths."""
        return await self.bus.presence_count(self._people(stream_id))

    async def shown_viewers(self, stream_id: int) -> int | None:
        """:meth:`live_viewers` for a page that shows it in passing: None while the bus cannot tell
        (Redis is down), so that the page still renders, without the figure, instead of failing."""
        try:
            return await self.live_viewers(stream_id)
        except BusError:
            return None

    async def stats(self, stream_id: int) -> StreamStats:
        """The contract's stats for a stream (:class:`~expo.errors.NotFound` if there is none)."""

        async with self.db.session() as session:
            stream = await get_stream(session, stream_id)
            views = (
                await session.exec(
                    select(func.count(), func.count(func.distinct(StreamView.viewer))).where(
                        StreamView.stream_id == stream_id
                    )
                )
            ).one()
            registrations = (
                await session.exec(
                    select(func.count())
                    .select_from(StreamRegistration)
                    .where(StreamRegistration.stream_id == stream_id)
                )
            ).one()
        ended = stream.status == StreamStatus.ENDED
        # Pages left open on an ended broadcast may still heartbeat; nobody is watching it.
        live = 0 if ended else await self.live_viewers(stream_id)
        peak = max(stream.peak_viewers, live, await self.bus.get_counter(self._peak(stream_id)))
        return StreamStats(
            status=stream.status,
            live_viewers=live,
            peak_viewers=peak,
            total_views=int(views[0]),
            unique_viewers=int(views[1]),
            registrations=int(registrations),
        )

    async def series(self, stream_id: int) -> list[MinutePoint]:
        """The per-minute concurrency series, oldest first."""
        async with self.db.session() as session:
            rows = await session.exec(
                select(StreamMinute)
                .where(StreamMinute.stream_id == stream_id)
                .order_by(col(StreamMinute.minute))
            )
            return [MinutePoint(minute=row.minute, viewers=row.viewers) for row in rows]

    async def average_watch_seconds(self, stream_id: int) -> float:
        """Mean length of the stream's views: an ended view up to its end, the open view of someone
        watching now up to now, any other open view up to when its viewer was last seen."""
        async with self.db.session() as session:
            stream = await get_stream(session, stream_id)
            rows = (
                await session.exec(
                    select(
                        StreamView.viewer, StreamView.started_at, StreamView.last_seen_at, StreamView.ended_at
                    ).where(StreamView.stream_id == stream_id)
                )
            ).all()
        watching: set[str] = set()
        if stream.status != StreamStatus.ENDED and any(ended is None for *_, ended in rows):
            watching = set(await self.bus.presence_members(self._people(stream_id)))
        now = utcnow()
        lengths = [
            ((ended or (now if viewer in watching else seen)) - started).total_seconds()
            for viewer, started, seen, ended in rows
        ]
        return max(0.0, sum(lengths) / len(lengths)) if lengths else 0.0

    # -- background work -------------------------------------------------------------------------

    async def sample(self, now: datetime | None = None) -> int:
        """One sampler tick: record every live stream's concurrency for ``now``'s minute.

        Idempotent and race-safe: ``(stream, minute)`` is upserted keeping the larger figure, so
        several processes (or a retried tick) leave one row per minute holding the highest sample.
        Returns the number of streams sampled.
        """
        minute = (now or utcnow()).replace(second=0, microsecond=0)
        async with self.db.session() as session:
            live = [
                i
                for i in (await session.exec(select(Stream.id).where(Stream.status == StreamStatus.LIVE)))
                if i
            ]
        counts = {stream_id: await self.live_viewers(stream_id) for stream_id in live}
        for stream_id, count in counts.items():
            await self._raise_peak(stream_id, count)
        # One short write transaction after the reads: on SQLite a writer holding the lock while
        # this task opened another writing session would wait on itself.
        async with self.db.session() as session:
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            for stream_id, count in counts.items():
                await session.exec(_upsert_minute(dialect, stream_id, minute, count))
            await session.commit()
        return len(live)

    async def close_lapsed(self) -> int:
        """End the views of the people this process heard who are no longer watching over any
        path (their heartbeats lapsed without a leave: a closed player, a lost beacon, HLS).
        Returns how many were ended."""
        now = time.monotonic()
        wall = utcnow()
        ended = 0
        for key, heard in list(self._heard.items()):
            if now - heard < self.ttl:
                continue  # heard within the TTL: still present, our own heartbeat says so
            stream_id, viewer = key
            watching = await self.bus.presence_count(self._paths(stream_id, viewer)) > 0
            if self._heard.get(key) != heard:
                continue  # a heartbeat arrived meanwhile
            if watching and now - heard < 2 * self.ttl:
                # Our own presence, touched a moment after the heartbeat was heard, may outlive it
                # by that moment: look again at the next tick rather than take it for another's.
                continue
            del self._heard[key]
            if watching:
                continue  # another process hears them now, and ends the view when they lapse
            await self._close_lapsed(stream_id, viewer, wall - timedelta(seconds=now - heard))
            ended += 1
        return ended

    async def announce(self) -> None:
        """Publish counts that changed without a call (heartbeats lapsed) on streams served here,
        and end the views of people whose heartbeats lapsed where this process last heard them."""
        await self.close_lapsed()
        horizon = time.monotonic() - 2 * self.ttl
        for stream_id, last in list(self._active.items()):
            count = await self.live_viewers(stream_id)
            await self._publish(stream_id, count)
            if count == 0 and last < horizon:
                # Nobody left and no heartbeat here for a while: stop polling this stream.
                del self._active[stream_id]
                self._published.pop(stream_id, None)


def _upsert_minute(dialect: str, stream_id: int, minute: datetime, viewers: int) -> UpdateBase:
    table = StreamMinute.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(stream_id=stream_id, minute=minute, viewers=viewers)
        highest: ColumnElement[int] = func.greatest(table.c.viewers, pg.excluded.viewers)
        return pg.on_conflict_do_update(index_elements=["stream_id", "minute"], set_={"viewers": highest})
    lite = sqlite.insert(table).values(stream_id=stream_id, minute=minute, viewers=viewers)
    # SQLite's two-argument max() is the scalar maximum, not the aggregate.
    highest = func.max(table.c.viewers, lite.excluded.viewers)
    return lite.on_conflict_do_update(index_elements=["stream_id", "minute"], set_={"viewers": highest})


# Who is watching ----------------------------------------------------------------------------------


def viewer_id(conn: HTTPConnection) -> str:
    """The person behind a request, for counting them once across WHEP, HLS and the page.

    ``user:<id>`` for a signed-in user (call after ``await current_user(conn)``, which caches the
    user on the request; :func:`identify_viewer` does both), else ``anon:<expo_viewer cookie>``
    (or the value :func:`assign_viewer_cookie` just chose), else ``anon:<hash of address and
    user agent>`` for clients without cookies, such as encoders and players.
    """
    user = conn.scope.get("expo.user")
    if isinstance(user, User) and user.id is not None:
        return f"user:{user.id}"
    cookie = conn.scope.get("expo.viewer_cookie") or conn.cookies.get(VIEWER_COOKIE)
    if cookie and _COOKIE_VALUE.match(cookie):
        return f"anon:{cookie}"
    address = conn.client.host if conn.client else "-"
    agent = conn.headers.get("user-agent", "")
    digest = hashlib.sha256(f"{address}\n{agent}".encode()).hexdigest()[:32]
    return f"anon:{digest}"


async def identify_viewer(conn: HTTPConnection) -> str:
    """:func:`viewer_id` after authenticating the request (a bad bearer token is a 401)."""
    from expo.auth import current_user

    await current_user(conn)
    return viewer_id(conn)


def assign_viewer_cookie(conn: HTTPConnection) -> str | None:
    """Choose an ``expo_viewer`` value for a browser without one (None if it has one).

    :func:`viewer_id` uses the new value for this request already; put it on the response with
    :func:`set_viewer_cookie`, so the browser is the same person on its next request.
    """
    if _COOKIE_VALUE.match(conn.cookies.get(VIEWER_COOKIE, "")):
        return None
    value: str | None = conn.scope.get("expo.viewer_cookie")
    if value is None:
        value = secrets.token_urlsafe(24)
        conn.scope["expo.viewer_cookie"] = value
    return value


def set_viewer_cookie(conn: HTTPConnection, response: Response) -> None:
    """Set the cookie chosen by :func:`assign_viewer_cookie`, if any (kept for a year)."""
    value = conn.scope.get("expo.viewer_cookie")
    if value:
        response.set_cookie(
            VIEWER_COOKIE, value, max_age=365 * 86400, httponly=True, samesite="lax", secure=is_https(conn)
        )


def sign_viewer(secret: str, stream_id: int, viewer: str) -> str:
    """A token naming ``viewer`` for one stream, for URLs that carry no cookie (the HLS playlist)."""
    return sign(secret, _VIEWER_TOKEN_PURPOSE, [stream_id, viewer])


def unsign_viewer(secret: str, stream_id: int, token: str) -> str | None:
    """The viewer in a :func:`sign_viewer` token for ``stream_id``; None if forged or for another stream."""
    data = unsign(secret, _VIEWER_TOKEN_PURPOSE, token)
    if (
        isinstance(data, list)
        and len(data) == 2
        and data[0] == stream_id
        and isinstance(data[1], str)
        and len(data[1]) <= 80
    ):
        return data[1]
    return None
