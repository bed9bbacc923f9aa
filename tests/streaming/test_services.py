"""Stream services on a real SQLite store (and PostgreSQL for concurrent registrations)."""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import func, select

from expo import audit
from expo.accounts.models import User
from expo.accounts.services import create_user
from expo.bus import connect_bus
from expo.config import Settings
from expo.db import Database
from expo.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from expo.expos.models import Expo
from expo.expos.services import ensure_expo
from streaming import services
from streaming.models import Stream, StreamRegistration, StreamStatus, Visibility
from tests.bus.test_bus import receive
from tests.conftest import create_schema
from tests.streaming.teams import give_booth, join_team


async def _open(url: str) -> Database:
    await create_schema(url)
    return Database(url)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await _open(f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}")
    yield database
    await database.dispose()


async def user(db: Database, email: str, role: str) -> User:
    async with db.session() as session:
        return await create_user(session, email=email, password="correct horse battery", role=role)


async def expo(db: Database) -> Expo:
    async with db.session() as session:
        return await ensure_expo(session, "fair", "Fair")


async def new_stream(db: Database, owner: User | None = None, **kwargs: object) -> Stream:
    async with db.session() as session:
        return await services.create_stream(
            session,
            expo=await ensure_expo(session, "fair", "Fair"),
            title="Product launch",
            owner=owner,
            **kwargs,  # type: ignore[arg-type]
        )


async def audit_actions(db: Database, stream: Stream) -> list[str]:
    async with db.session() as session:
        events = await audit.recent(session)
    return sorted(e.action for e in events if e.target == f"stream:{stream.id}")


async def test_a_new_stream_is_scheduled_with_a_long_random_url_safe_key(db: Database) -> None:
    first = await new_stream(db, description="Our new line", visibility=Visibility.REGISTERED)
    second = await new_stream(db)
    assert first.status == StreamStatus.SCHEDULED
    assert (first.title, first.description, first.visibility) == (
        "Product launch",
        "Our new line",
        "registered",
    )
    assert len(first.key) >= 32
    assert set(first.key) <= set(string.ascii_letters + string.digits + "-_")
    assert first.key != second.key
    assert services.key_matches(first, first.key)
    assert not services.key_matches(first, second.key)


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
async def test_a_title_needs_1_to_200_characters(db: Database, title: str) -> None:
    with pytest.raises(Invalid) as caught:
        await _with_title(db, title)
    assert caught.value.code == "stream.invalid_title"


async def _with_title(db: Database, title: str) -> Stream:
    async with db.session() as session:
        return await services.create_stream(
            session, expo=await ensure_expo(session, "fair", "Fair"), title=title, owner=None
        )


async def test_a_planned_end_before_the_start_is_refused(db: Database) -> None:
    start = (datetime.now(UTC) + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
    with pytest.raises(Invalid):
        await new_stream(db, scheduled_start=start, planned_end=start - timedelta(hours=1))


async def test_visitors_cannot_create_streams(db: Database) -> None:
    visitor = await user(db, "v@example.org", "visitor")
    with pytest.raises(Forbidden):
        await new_stream(db, owner=visitor)


async def test_status_moves_scheduled_live_ended_and_is_announced(db: Database) -> None:
    organizer = await user(db, "o@example.org", "organizer")
    stranger = await user(db, "o2@example.org", "organizer")
    stream = await new_stream(db)
    await join_team(db, "o@example.org", "fair")
    bus = connect_bus("memory://")
    await bus.connect()
    async with bus.subscribe(services.channel(stream.id or 0)) as events, db.session() as session:
        live = await services.go_live(session, stream, bus=bus)
        started = live.started_at
        assert live.status == StreamStatus.LIVE and started is not None
        # The encoder dropped and publishes again: still live, first start kept.
        again = await services.go_live(session, live, bus=bus)
        assert again.status == StreamStatus.LIVE and again.started_at == started
        ended = await services.end(session, again, bus=bus)
        assert ended.status == StreamStatus.ENDED and ended.ended_at is not None
        assert (await services.end(session, ended)).ended_at == ended.ended_at  # idempotent
        with pytest.raises(Conflict) as caught:
            await services.go_live(session, ended)
        assert caught.value.code == "stream.ended"
        received = [json.loads(m) for m in await receive(events, 3)]
    assert received == [{"kind": "status", "status": s} for s in ("live", "live", "ended")]
    async with db.session() as session:
        exhibitor = await user(db, "e@example.org", "exhibitor")
        for refused in (exhibitor, stranger):  # neither manages it: not theirs, not their expo
            with pytest.raises(Forbidden):
                await services.reopen(session, stream, actor=refused)
        reopened = await services.reopen(session, stream, actor=organizer)
        assert reopened.status == StreamStatus.SCHEDULED and reopened.ended_at is None
        assert (await services.go_live(session, reopened)).status == StreamStatus.LIVE
    await bus.close()
    assert await audit_actions(db, stream) == sorted(
        ["stream.created", "stream.live", "stream.resumed", "stream.ended", "stream.reopened", "stream.live"]
    )


async def test_regenerating_the_key_invalidates_the_old_one_and_is_audited(db: Database) -> None:
    owner = await user(db, "e@example.org", "exhibitor")
    await give_booth(db, "e@example.org", "fair")  # exhibitors present in the expos of their booths
    stream = await new_stream(db, owner=owner)
    old = stream.key
    async with db.session() as session:
        renewed = await services.regenerate_key(session, stream, actor=owner, ip="203.0.113.9")
    async with db.session() as session:
        stored = await services.get_stream(session, stream.id or 0)
    assert stored.key == renewed.key != old
    assert services.key_matches(stored, renewed.key)
    assert not services.key_matches(stored, old)
    async with db.session() as session:
        (event,) = await audit.recent(session, action="stream.key_regenerated")
    assert (event.actor_id, event.ip, event.target) == (owner.id, "203.0.113.9", f"stream:{stream.id}")
    assert old not in event.detail and renewed.key not in event.detail


async def test_extending_moves_the_planned_end_and_keeps_the_peak(db: Database) -> None:
    start = (datetime.now(UTC) + timedelta(days=30)).replace(hour=9, minute=0, second=0, microsecond=0)
    stream = await new_stream(db, scheduled_start=start, planned_end=start + timedelta(hours=2))
    # Meanwhile the audience tracker raised the peak in the store; a stale object must not undo it.
    async with db.session() as session:
        fresh = await services.get_stream(session, stream.id or 0)
        fresh.peak_viewers = 4068
        session.add(fresh)
        await session.commit()
    async with db.session() as session:
        longer = await services.extend(session, stream, start + timedelta(hours=3))
        assert longer.planned_end == start + timedelta(hours=3)
        assert longer.peak_viewers == 4068
        with pytest.raises(Invalid):
            await services.extend(session, stream, start - timedelta(minutes=1))
        # A naive time is taken as UTC.
        naive = await services.extend(session, stream, (start + timedelta(hours=4)).replace(tzinfo=None))
        assert naive.planned_end == start + timedelta(hours=4)
        await services.end(session, stream)
        with pytest.raises(Conflict):
            await services.extend(session, stream, start + timedelta(hours=5))
    async with db.session() as session:
        events = await audit.recent(session, action="stream.extended")
    assert len(events) == 2


async def test_registered_streams_need_a_signed_in_viewer(db: Database) -> None:
    visitor = await user(db, "v@example.org", "visitor")
    public = await new_stream(db)
    members = await new_stream(db, visibility=Visibility.REGISTERED)
    assert services.can_watch(None, public) and services.can_watch(visitor, members)
    with pytest.raises(Unauthorized):
        services.require_watcher(None, members)


async def test_unknown_stream_is_not_found(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(NotFound) as caught:
            await services.get_stream(session, 999)
    assert caught.value.code == "stream.unknown"


async def test_stream_urls_are_absolute_from_the_public_url(db: Database, tmp_path: Path) -> None:
    stream = await new_stream(db)
    settings = Settings(public_url="https://expo.example.org/", data_dir=str(tmp_path))
    urls = services.stream_urls(settings, stream)
    base = "https://expo.example.org"
    assert urls == services.StreamUrls(
        whip_url=f"{base}/api/streams/{stream.id}/whip",
        whep_url=f"{base}/api/streams/{stream.id}/whep",
        hls_url=f"{base}/live/{stream.id}/index.m3u8",
        page_url=f"{base}/watch/{stream.id}",
    )


async def test_listing_filters_by_status(db: Database) -> None:
    first, second = await new_stream(db), await new_stream(db)
    async with db.session() as session:
        await services.go_live(session, second)
        fair = await ensure_expo(session, "fair", "Fair")
        assert [s.id for s in await services.list_streams(session, fair)] == [first.id, second.id]
        live = await services.list_streams(session, fair, StreamStatus.LIVE)
        assert [s.id for s in live] == [second.id]


async def _register_concurrently(db: Database) -> None:
    visitor = await user(db, "v@example.org", "visitor")
    stream = await new_stream(db)

    async def once() -> bool:
        async with db.session() as session:
            return await services.register(session, stream, visitor)

    results = await asyncio.gather(*(once() for _ in range(20)))
    assert results.count(True) == 1
    async with db.session() as session:
        rows = (await session.exec(select(func.count()).select_from(StreamRegistration))).one()
        assert rows == 1 == await services.count_registrations(session, stream.id or 0)
        assert await services.is_registered(session, stream, visitor)
        assert await services.unregister(session, stream, visitor)
        assert not await services.unregister(session, stream, visitor)
        assert await services.count_registrations(session, stream.id or 0) == 0


async def test_twenty_concurrent_registrations_make_one_row(db: Database) -> None:
    await _register_concurrently(db)


async def test_twenty_concurrent_registrations_make_one_row_on_postgresql(postgres_url: str) -> None:
    database = await _open(postgres_url)
    try:
        await _register_concurrently(database)
    finally:
        await database.dispose()


async def test_an_ended_stream_takes_no_registrations(db: Database) -> None:
    visitor = await user(db, "v@example.org", "visitor")
    stream = await new_stream(db)
    async with db.session() as session:
        await services.end(session, stream)
        with pytest.raises(Conflict):
            await services.register(session, stream, visitor)
