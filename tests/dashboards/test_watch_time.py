"""Average watch time of short views: a view of a few seconds counts its seconds, whether the viewer
is still watching, left, or stopped heartbeating without a word (a closed player, a lost beacon).

``last_seen_at`` is written only every ``seen_interval`` (30 s), so a short view's stored times say
nothing about its length; these tests set its start a few seconds back, as the store would hold it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.db import Database
from streaming.audience import Audience
from streaming.models import StreamView, ViewVia
from tests.booths.web import browser
from tests.bus.test_bus import wait_until
from tests.dashboards.conftest import seed_show


async def started_seconds_ago(db: Database, stream_id: int, viewer: str, seconds: float) -> None:
    """Move the open view back as if it had started ``seconds`` ago and not been seen since."""
    async with db.session() as session:
        view = (
            await session.exec(
                select(StreamView).where(StreamView.stream_id == stream_id, StreamView.viewer == viewer)
            )
        ).one()
        moved = view.started_at - timedelta(seconds=seconds)
        await session.exec(
            update(StreamView)
            .where(col(StreamView.id) == view.id)
            .values(started_at=moved, last_seen_at=moved)
        )
        await session.commit()


async def test_someone_watching_for_eight_seconds_shows_on_the_dashboard(app: Starlette) -> None:
    show = await seed_show(app)
    audience = app.state.platform.get(Audience)
    sid = show.keynote.id
    assert sid is not None
    await audience.watch(sid, "user:77", ViewVia.PAGE)
    await started_seconds_ago(app.state.platform.db, sid, "user:77", 8)
    # At least the eight seconds so far (signing in below takes a moment too), not 0:00.
    assert 8 <= await audience.average_watch_seconds(sid) < 60
    async with browser(app, "org@example.com") as b:
        page = await b.get("/organizer/expos/show/dashboard")
    row = page.text.split(f'<tr data-broadcast="{sid}">', 2)[2].split("</tr>", 1)[0]
    shown = re.search(r'data-seconds="([0-9.]+)">0:([0-9]{2})<', row)
    assert shown is not None, row
    assert 8 <= float(shown.group(1)) < 60 and int(shown.group(2)) == int(float(shown.group(1)))

    # Leaving ends the view there: it keeps its seconds.
    await audience.leave(sid, "user:77", ViewVia.PAGE)
    ended = await audience.average_watch_seconds(sid)
    assert 8 <= ended < 60
    assert await audience.average_watch_seconds(sid) == ended


async def test_a_view_that_lapses_without_a_leave_ends_where_it_was_last_heard(app: Starlette) -> None:
    show = await seed_show(app)
    platform = app.state.platform
    # A short TTL so the heartbeat lapses within the test; the stored times are moved back instead.
    audience = Audience(platform.db, platform.bus, ttl=0.3)
    sid = show.keynote.id
    assert sid is not None
    await audience.watch(sid, "anon:short", ViewVia.HLS)
    await started_seconds_ago(platform.db, sid, "anon:short", 5)

    async def ended() -> bool:
        await audience.announce()
        async with platform.db.session() as session:
            view = (await session.exec(select(StreamView).where(StreamView.viewer == "anon:short"))).one()
        return view.ended_at is not None

    await wait_until(ended, timeout=5, what="the lapsed view ended")
    assert await audience.live_viewers(sid) == 0
    # Five seconds, not the zero that "last seen" (written at the start) would give.
    assert await audience.average_watch_seconds(sid) == pytest.approx(5, abs=1)

    # Coming back is a new view; the first one keeps its length.
    await audience.watch(sid, "anon:short", ViewVia.HLS)
    await audience.leave(sid, "anon:short", ViewVia.HLS)
    async with platform.db.session() as session:
        views = (await session.exec(select(StreamView).where(StreamView.viewer == "anon:short"))).all()
    lengths = sorted(((v.ended_at or v.last_seen_at) - v.started_at).total_seconds() for v in views)
    assert len(lengths) == 2 and lengths[0] < 1 and lengths[1] == pytest.approx(5, abs=1)
