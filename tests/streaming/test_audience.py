"""Audience figures on real stores and buses: the memory bus and a real Redis, SQLite and PostgreSQL.

Two ``Audience`` objects on one Redis namespace and one store stand in for two server processes;
a fresh ``Database`` and ``Audience`` stand in for a restart.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from expo.bus import Bus, connect_bus
from expo.db import Database
from expo.expos.services import ensure_expo
from streaming import services
from streaming.audience import Audience, sign_viewer, unsign_viewer
from streaming.models import StreamMinute, StreamView, ViewVia
from tests.bus.test_bus import delete_namespace, receive, wait_until
from tests.conftest import create_schema

STATS_KEYS = {"status", "live_viewers", "peak_viewers", "total_views", "unique_viewers", "registrations"}


@dataclass
class Deployment:
    """One store and one bus namespace; every ``process()`` is another server process on them."""

    db_url: str
    bus_url: str
    namespace: str = field(default_factory=lambda: f"expo-test:{secrets.token_hex(6)}:")
    opened: list[tuple[Database, Bus, Audience]] = field(default_factory=list)
    memory_bus: Bus | None = None

    async def process(self, ttl: float = 15.0, fresh_bus: bool = False) -> Audience:
        """An Audience on its own engine; on ``memory://`` processes share one bus unless ``fresh_bus``."""
        db = Database(self.db_url)
        if self.bus_url.startswith("memory"):
            if self.memory_bus is None or fresh_bus:
                self.memory_bus = connect_bus(self.bus_url)
                await self.memory_bus.connect()
            bus = self.memory_bus
        else:
            bus = connect_bus(self.bus_url, namespace=self.namespace)
            await bus.connect()
        audience = Audience(db, bus, ttl=ttl)
        self.opened.append((db, bus, audience))
        return audience

    async def close(self) -> None:
        for db, bus, audience in self.opened:
            await audience.stop()
            await bus.close()
            await db.dispose()
        if not self.bus_url.startswith("memory"):
            await delete_namespace(self.bus_url, self.namespace)


@pytest.fixture(params=["memory", "redis"])
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    bus_url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}"
    await create_schema(db_url)
    found = Deployment(db_url, bus_url)
    yield found
    await found.close()


async def live_stream(db: Database, title: str = "Keynote") -> int:
    async with db.session() as session:
        expo = await ensure_expo(session, "fair", "Fair")
        stream = await services.create_stream(session, expo=expo, title=title, owner=None)
        stream = await services.go_live(session, stream)
    assert stream.id is not None
    return stream.id


async def test_each_person_counts_once_whatever_their_paths(deployment: Deployment) -> None:
    audience = await deployment.process()
    sid = await live_stream(audience.db)
    await audience.watch(sid, "user:1", ViewVia.WHEP)
    await audience.watch(sid, "anon:abc", ViewVia.HLS)
    # The same person opens the watch page too, and keeps heartbeating both.
    await audience.watch(sid, "user:1", ViewVia.PAGE)
    await audience.watch(sid, "user:1", ViewVia.WHEP)
    stats = await audience.stats(sid)
    assert set(stats) == STATS_KEYS
    assert stats == {
        "status": "live",
        "live_viewers": 2,
        "peak_viewers": 2,
        "total_views": 2,
        "unique_viewers": 2,
        "registrations": 0,
    }


async def test_leaving_one_path_keeps_the_person_and_coming_back_is_a_new_view(
    deployment: Deployment,
) -> None:
    audience = await deployment.process()
    sid = await live_stream(audience.db)
    await audience.watch(sid, "user:1", ViewVia.WHEP)
    await audience.watch(sid, "user:1", ViewVia.PAGE)
    await audience.leave(sid, "user:1", ViewVia.PAGE)
    assert await audience.live_viewers(sid) == 1
    await audience.leave(sid, "user:1", ViewVia.WHEP)
    assert await audience.live_viewers(sid) == 0
    await audience.watch(sid, "user:1", ViewVia.HLS)
    stats = await audience.stats(sid)
    assert (stats["live_viewers"], stats["total_views"], stats["unique_viewers"]) == (1, 2, 1)


async def test_an_acknowledged_view_survives_a_restart(deployment: Deployment) -> None:
    first = await deployment.process()
    sid = await live_stream(first.db)
    await first.watch(sid, "anon:one", ViewVia.PAGE)
    await first.watch(sid, "anon:two", ViewVia.WHEP)
    await first.stop()
    await first.db.dispose()
    # A new process with a new engine (and, on memory://, an empty bus) reads the views back.
    restarted = await deployment.process(fresh_bus=True)
    stats = await restarted.stats(sid)
    assert (stats["total_views"], stats["unique_viewers"], stats["peak_viewers"]) == (2, 2, 2)


async def test_a_view_the_store_did_not_take_is_retried_by_the_next_heartbeat(deployment: Deployment) -> None:
    audience = await deployment.process()
    sid = await live_stream(audience.db)
    async with audience.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE stream_view RENAME TO stream_view_away"))
    with pytest.raises(OperationalError):
        await audience.watch(sid, "anon:early", ViewVia.PAGE)
    assert await audience.live_viewers(sid) == 0  # not acknowledged, not counted
    async with audience.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE stream_view_away RENAME TO stream_view"))
    await audience.watch(sid, "anon:early", ViewVia.PAGE)
    stats = await audience.stats(sid)
    assert (stats["live_viewers"], stats["total_views"]) == (1, 1)


async def test_a_closed_viewer_leaves_after_the_ttl_and_the_change_is_published(
    deployment: Deployment,
) -> None:
    audience = await deployment.process(ttl=0.4)
    sid = await live_stream(audience.db)
    async with audience.bus.subscribe(services.channel(sid)) as events:
        await audience.watch(sid, "anon:tab", ViewVia.PAGE)
        assert json.loads((await receive(events))[0]) == {"kind": "viewers", "live_viewers": 1}
        # The tab closes without a goodbye: no more heartbeats.
        await wait_until(lambda: _is_zero(audience, sid), timeout=5, what="the viewer expiring")
        await audience.announce()
        assert json.loads((await receive(events))[0]) == {"kind": "viewers", "live_viewers": 0}
    stats = await audience.stats(sid)
    assert (stats["live_viewers"], stats["total_views"]) == (0, 1)


async def _is_zero(audience: Audience, sid: int) -> bool:
    return await audience.live_viewers(sid) == 0


async def test_peak_is_monotonic_and_persisted(deployment: Deployment) -> None:
    audience = await deployment.process()
    sid = await live_stream(audience.db)
    for viewer in ("a", "b", "c"):
        await audience.watch(sid, f"anon:{viewer}", ViewVia.PAGE)
    for viewer in ("a", "b"):
        await audience.leave(sid, f"anon:{viewer}", ViewVia.PAGE)
    await audience.watch(sid, "anon:d", ViewVia.PAGE)
    stats = await audience.stats(sid)
    assert (stats["live_viewers"], stats["peak_viewers"]) == (2, 3)
    async with audience.db.session() as session:
        assert (await services.get_stream(session, sid)).peak_viewers == 3
    restarted = await deployment.process(fresh_bus=True)
    assert (await restarted.stats(sid))["peak_viewers"] == 3


async def test_a_viewer_after_a_restart_with_an_empty_bus_keeps_the_stored_peak(
    deployment: Deployment,
) -> None:
    first = await deployment.process()
    sid = await live_stream(first.db)
    for viewer in ("a", "b", "c"):
        await first.watch(sid, f"anon:{viewer}", ViewVia.PAGE)
    await first.stop()
    await first.db.dispose()
    if not deployment.bus_url.startswith("memory"):
        await delete_namespace(deployment.bus_url, deployment.namespace)  # Redis lost its data
    # Restarted on an empty bus: one viewer arrives; the peak of 3 the organiser saw stays.
    restarted = await deployment.process(fresh_bus=True)
    await restarted.watch(sid, "anon:late", ViewVia.PAGE)
    stats = await restarted.stats(sid)
    assert (stats["live_viewers"], stats["peak_viewers"]) == (1, 3)
    async with restarted.db.session() as session:
        assert (await services.get_stream(session, sid)).peak_viewers == 3


async def test_one_person_on_two_broadcasts_counts_on_each_and_leaving_one_keeps_the_other(
    deployment: Deployment,
) -> None:
    audience = await deployment.process()
    keynote = await live_stream(audience.db, "Keynote")
    panel = await live_stream(audience.db, "Panel")
    await audience.watch(keynote, "user:1", ViewVia.PAGE)
    await audience.watch(panel, "user:1", ViewVia.PAGE)
    await audience.watch(panel, "anon:x", ViewVia.HLS)

    def figures(stats: dict[str, object]) -> tuple[object, ...]:
        return tuple(stats[k] for k in ("live_viewers", "peak_viewers", "total_views", "unique_viewers"))

    assert figures(dict(await audience.stats(keynote))) == (1, 1, 1, 1)
    assert figures(dict(await audience.stats(panel))) == (2, 2, 2, 2)
    assert await open_views(audience, "user:1") == {keynote, panel}

    await audience.leave(keynote, "user:1", ViewVia.PAGE)
    assert figures(dict(await audience.stats(keynote))) == (0, 1, 1, 1)
    assert figures(dict(await audience.stats(panel))) == (2, 2, 2, 2)
    assert await open_views(audience, "user:1") == {panel}  # still watching the panel

    await audience.watch(keynote, "user:1", ViewVia.PAGE)  # back: a new view of the keynote only
    assert figures(dict(await audience.stats(keynote))) == (1, 1, 2, 1)
    assert figures(dict(await audience.stats(panel))) == (2, 2, 2, 2)


async def open_views(audience: Audience, viewer: str) -> set[int]:
    """The streams on which ``viewer``'s view has not ended."""
    async with audience.db.session() as session:
        views = (await session.exec(select(StreamView).where(StreamView.viewer == viewer))).all()
    return {view.stream_id for view in views if view.ended_at is None}


async def test_a_lapsed_view_ends_while_the_others_watch_on(deployment: Deployment) -> None:
    audience = await deployment.process(ttl=0.4)
    sid = await live_stream(audience.db)
    await audience.watch(sid, "anon:stays", ViewVia.PAGE)
    await audience.watch(sid, "anon:tab", ViewVia.PAGE)
    await audience.watch(sid, "anon:tab", ViewVia.HLS)  # its player, a moment later

    async def only_one_left() -> bool:
        await audience.watch(sid, "anon:stays", ViewVia.PAGE)  # keeps watching
        return await audience.live_viewers(sid) == 1

    await wait_until(only_one_left, timeout=5, what="the closed tab expiring")
    await audience.watch(sid, "anon:stays", ViewVia.PAGE)
    await audience.announce()
    assert await open_views(audience, "anon:tab") == set()  # counted in the watch time as ended
    assert await open_views(audience, "anon:stays") == {sid}


async def test_a_view_of_a_single_heartbeat_ends_when_it_lapses(deployment: Deployment) -> None:
    # A player opened and closed at once: its one heartbeat is heard a moment before its view is
    # written, and the view must still end (else it counts as watching for ever in watch time).
    audience = await deployment.process(ttl=0.3)
    sid = await live_stream(audience.db)
    await audience.watch(sid, "anon:glance", ViewVia.HLS)
    # Its presence on the bus, touched a moment after the heartbeat was heard, outlives it by
    # that moment (made longer here): the lapse must not take it for another process's viewer.
    await audience.bus.presence_touch(audience._paths(sid, "anon:glance"), "hls", audience.ttl * 1.5)

    async def lapsed() -> bool:
        await audience.announce()
        return await open_views(audience, "anon:glance") == set()

    await wait_until(lapsed, timeout=5, what="the single-heartbeat view ending")
    async with audience.db.session() as session:
        view = (await session.exec(select(StreamView).where(StreamView.viewer == "anon:glance"))).one()
    assert view.ended_at is not None and view.ended_at >= view.started_at


async def test_a_leave_from_someone_not_watching_changes_nothing(deployment: Deployment) -> None:
    audience = await deployment.process()
    sid = await live_stream(audience.db)
    await audience.watch(sid, "anon:here", ViewVia.PAGE)
    await audience.leave(sid, "anon:stray", ViewVia.PAGE)  # a beacon from a tab long closed
    stats = await audience.stats(sid)
    assert (stats["live_viewers"], stats["total_views"]) == (1, 1)


async def test_heartbeats_move_a_views_last_seen_time(deployment: Deployment) -> None:
    audience = await deployment.process(ttl=1.0)
    audience.seen_interval = 0.2  # a last-seen write at most every 0.2 s
    sid = await live_stream(audience.db)
    await audience.watch(sid, "anon:1", ViewVia.PAGE)

    async def interval_over() -> bool:
        return await audience.bus.get_counter(f"audience:seen:{sid}:anon:1") == 0

    await wait_until(interval_over, timeout=5, what="the last-seen interval passing")
    await audience.watch(sid, "anon:1", ViewVia.HLS)
    async with audience.db.session() as session:
        view = (await session.exec(select(StreamView).where(StreamView.stream_id == sid))).one()
    # A view that lapses now ends here, not where it started.
    assert view.last_seen_at > view.started_at


@pytest.fixture
async def redis_deployment(redis_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    """For the cross-process tests: memory:// is one process by definition."""
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}"
    await create_schema(db_url)
    found = Deployment(db_url, redis_url)
    yield found
    await found.close()


async def test_two_processes_agree_on_live_viewers_and_total_views(redis_deployment: Deployment) -> None:
    deployment = redis_deployment
    a = await deployment.process()
    b = await deployment.process()
    sid = await live_stream(a.db)
    await a.watch(sid, "user:1", ViewVia.WHEP)
    await b.watch(sid, "user:2", ViewVia.HLS)
    await b.watch(sid, "user:1", ViewVia.PAGE)  # the same person, served by the other process
    # Both processes see one newcomer's first heartbeats at once: still one view.
    await asyncio.gather(*(p.watch(sid, "anon:new", ViewVia.HLS) for p in (a, b) for _ in range(5)))
    stats_a, stats_b = await a.stats(sid), await b.stats(sid)
    assert stats_a == stats_b
    assert (stats_a["live_viewers"], stats_a["total_views"], stats_a["unique_viewers"]) == (3, 3, 3)
    await a.leave(sid, "user:1", ViewVia.WHEP)
    assert await b.live_viewers(sid) == 3  # user:1 still watches through b's watch page
    await b.leave(sid, "user:1", ViewVia.PAGE)
    assert await a.live_viewers(sid) == await b.live_viewers(sid) == 2


async def test_a_viewer_redis_forgot_is_not_counted_as_a_new_view(redis_deployment: Deployment) -> None:
    audience = await redis_deployment.process()
    sid = await live_stream(audience.db)
    await audience.watch(sid, "anon:1", ViewVia.PAGE)
    await delete_namespace(redis_deployment.bus_url, redis_deployment.namespace)  # Redis came back empty
    await audience.watch(sid, "anon:1", ViewVia.HLS)  # the same person's next heartbeat
    stats = await audience.stats(sid)
    assert (stats["live_viewers"], stats["total_views"]) == (1, 1)


async def test_the_minute_sampler_keeps_one_row_per_minute_with_the_highest_figure(
    deployment: Deployment,
) -> None:
    a = await deployment.process()
    b = await deployment.process()
    await _check_sampler(a, b)


async def _check_sampler(a: Audience, b: Audience) -> None:
    sid = await live_stream(a.db)
    idle = await live_stream(a.db, "Nobody watches")
    minute = datetime(2026, 5, 1, 10, 7, tzinfo=UTC)
    await a.watch(sid, "anon:1", ViewVia.PAGE)
    await a.watch(sid, "anon:2", ViewVia.PAGE)
    # Two samplers tick in the same minute, concurrently, and again later in that minute.
    assert list(await asyncio.gather(a.sample(minute + timedelta(seconds=5)), b.sample(minute))) == [2, 2]
    await a.leave(sid, "anon:2", ViewVia.PAGE)
    await b.sample(minute + timedelta(seconds=40))
    await a.sample(minute + timedelta(seconds=65))
    async with a.db.session() as session:
        rows = (
            await session.exec(
                select(StreamMinute).order_by(col(StreamMinute.stream_id), col(StreamMinute.minute))
            )
        ).all()
    assert [(r.stream_id, r.minute, r.viewers) for r in rows] == [
        (sid, minute, 2),
        (sid, minute + timedelta(minutes=1), 1),
        (idle, minute, 0),
        (idle, minute + timedelta(minutes=1), 0),
    ]
    assert [p["viewers"] for p in await b.series(sid)] == [2, 1]


async def test_the_sampler_is_race_safe_on_postgresql(postgres_url: str) -> None:
    await create_schema(postgres_url)
    deployment = Deployment(postgres_url, "memory://")
    try:
        await _check_sampler(await deployment.process(), await deployment.process())
    finally:
        await deployment.close()


async def test_stats_contract_on_postgresql(postgres_url: str) -> None:
    await create_schema(postgres_url)
    deployment = Deployment(postgres_url, "memory://")
    try:
        audience = await deployment.process()
        sid = await live_stream(audience.db)
        await audience.watch(sid, "user:1", ViewVia.WHEP)
        await audience.watch(sid, "user:1", ViewVia.PAGE)
        await audience.watch(sid, "anon:x", ViewVia.HLS)
        await audience.leave(sid, "anon:x", ViewVia.HLS)
        await audience.watch(sid, "anon:x", ViewVia.HLS)
        restarted = await deployment.process(fresh_bus=True)
        stats = await restarted.stats(sid)
        assert stats == {
            "status": "live",
            "live_viewers": 0,  # the new bus has no presence: those viewers would heartbeat again
            "peak_viewers": 2,
            "total_views": 3,
            "unique_viewers": 2,
            "registrations": 0,
        }
    finally:
        await deployment.close()


async def test_average_watch_time_uses_when_views_ended(deployment: Deployment) -> None:
    audience = await deployment.process()
    sid = await live_stream(audience.db)
    await audience.watch(sid, "anon:1", ViewVia.PAGE)
    await audience.leave(sid, "anon:1", ViewVia.PAGE)
    async with audience.db.session() as session:
        view = (await session.exec(select(StreamView).where(StreamView.stream_id == sid))).one()
        assert view.ended_at is not None
        # Pretend the view lasted 90 seconds.
        view.started_at = view.ended_at - timedelta(seconds=90)
        session.add(view)
        await session.commit()
    assert await audience.average_watch_seconds(sid) == pytest.approx(90, abs=1)


async def test_the_background_tasks_stop_cleanly(deployment: Deployment) -> None:
    audience = await deployment.process()
    audience.sample_interval = audience.announce_interval = 0.01
    sid = await live_stream(audience.db)
    await audience.watch(sid, "anon:1", ViewVia.PAGE)
    await audience.start()
    await wait_until(lambda: _has_minute(audience, sid), timeout=5, what="a sampled minute")
    await audience.stop()
    assert audience._tasks == []


async def _has_minute(audience: Audience, sid: int) -> bool:
    return len(await audience.series(sid)) > 0


def test_viewer_tokens_name_one_viewer_of_one_stream() -> None:
    secret = "s" * 40
    token = sign_viewer(secret, 7, "anon:abc")
    assert unsign_viewer(secret, 7, token) == "anon:abc"
    assert unsign_viewer(secret, 8, token) is None
    assert unsign_viewer("t" * 40, 7, token) is None
    assert unsign_viewer(secret, 7, token[:-2] + "xx") is None
    # Viewer ids are at most 80 characters, even in a token that verifies.
    assert unsign_viewer(secret, 7, sign_viewer(secret, 7, "a" * 80)) == "a" * 80
    assert unsign_viewer(secret, 7, sign_viewer(secret, 7, "a" * 81)) is None
