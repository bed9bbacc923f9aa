"""The presenter's pages: schedule a broadcast from /streams, go live, stop, and reopen it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select
from starlette.applications import Starlette

from expo.expos.models import Expo
from expo.expos.services import ensure_expo
from streaming.models import Stream, StreamStatus
from tests.booths.web import browser, make_account, post_form
from tests.streaming.teams import give_booth


async def _expo_in_shanghai(app: Starlette) -> None:
    async with app.state.platform.db.session() as session:
        expo = (await session.exec(select(Expo).where(Expo.slug == "fair"))).one()
        expo.timezone = "Asia/Shanghai"
        session.add(expo)
        await session.commit()


async def _streams(app: Starlette) -> list[Stream]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(Stream))).all())


async def test_an_exhibitor_schedules_a_broadcast_in_the_expos_time_and_goes_live_page(
    app: Starlette,
) -> None:
    await make_account(app, "ex@example.com", "exhibitor", "Ann Exhibitor")
    booth_id = await give_booth(app.state.platform.db, "ex@example.com", "fair")
    await _expo_in_shanghai(app)
    # Wall-clock time in Shanghai, a week from now, typed as the datetime-local input sends it.
    local = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=7)).replace(
        hour=10, minute=0, second=0, microsecond=0, tzinfo=None
    )
    async with browser(app, "ex@example.com") as ex:
        page = await ex.get("/streams")
        assert page.status_code == 200
        assert 'value="fair"' in page.text and f'value="{booth_id}"' in page.text
        created = await post_form(
            ex,
            "/streams",
            "/streams",
            {
                "title": "Spring collection",
                "expo": "fair",
                "booth": str(booth_id),
                "starts": local.strftime("%Y-%m-%dT%H:%M"),
                "ends": (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
                "visibility": "public",
                "description": "New fabrics",
            },
        )
        assert created.status_code == 303, created.text
        (stream,) = await _streams(app)
        assert created.headers["location"] == f"/streams/{stream.id}/live"
        assert (stream.title, stream.booth_id, stream.status) == ("Spring collection", booth_id, "scheduled")
        # 10:00 in Shanghai is 02:00 UTC.
        assert stream.scheduled_start is not None
        assert stream.scheduled_start.astimezone(UTC).replace(tzinfo=None) == local - timedelta(hours=8)
        live = await ex.get(created.headers["location"])
        assert live.status_code == 200 and stream.key in live.text
        assert "The broadcast is scheduled." in live.text
        listed = await ex.get("/streams")
        assert f"/streams/{stream.id}/live" in listed.text


async def test_a_refused_broadcast_keeps_what_was_typed(app: Starlette) -> None:
    await make_account(app, "ex@example.com", "exhibitor")
    await give_booth(app.state.platform.db, "ex@example.com", "fair")
    async with browser(app, "ex@example.com") as ex:
        for data, message in [
            ({"title": "  ", "expo": "fair", "description": "kept text"}, "A stream title has"),
            ({"title": "Launch", "expo": "fair", "starts": "next tuesday"}, "Enter the start as a date"),
            ({"title": "Launch", "expo": "fair", "visibility": "secret"}, "Choose who may watch."),
        ]:
            refused = await post_form(ex, "/streams", "/streams", data)
            assert refused.status_code == 422, (data, refused.status_code)
            assert message in refused.text
            for name in ("title", "description", "starts"):  # what was typed is still there
                value = data.get(name, "").strip()
                if value:
                    assert f'value="{value}"' in refused.text or f">{value}<" in refused.text, value
    assert await _streams(app) == []


async def test_nobody_schedules_in_an_expo_they_may_not_present_in(app: Starlette) -> None:
    await make_account(app, "ex@example.com", "exhibitor")
    await make_account(app, "visitor@example.com", "visitor")
    await give_booth(app.state.platform.db, "ex@example.com", "other")
    async with app.state.platform.db.session() as session:
        await ensure_expo(session, "fair", "Fair")
    async with browser(app, "ex@example.com") as ex:
        page = await ex.get("/streams")
        assert 'value="other"' in page.text and 'value="fair"' not in page.text
        refused = await post_form(ex, "/streams", "/streams", {"title": "Mine", "expo": "fair"})
        assert refused.status_code == 403
    async with browser(app, "visitor@example.com") as visitor:
        page = await visitor.get("/streams")
        assert page.status_code == 200 and 'action="/streams"' not in page.text
        refused = await post_form(visitor, "/streams", "/streams", {"title": "Mine", "expo": "fair"})
        assert refused.status_code == 403
    async with browser(app) as anonymous:
        response = await anonymous.post("/streams", data={"csrf_token": "x", "title": "Mine", "expo": "fair"})
        assert response.status_code in (303, 403)
    assert await _streams(app) == []


async def test_the_owner_stops_and_reopens_from_the_go_live_page(app: Starlette) -> None:
    await make_account(app, "ex@example.com", "exhibitor")
    await make_account(app, "other@example.com", "exhibitor")
    await give_booth(app.state.platform.db, "ex@example.com", "fair")
    await give_booth(app.state.platform.db, "other@example.com", "fair")
    async with browser(app, "ex@example.com") as ex:
        await post_form(ex, "/streams", "/streams", {"title": "Daily demo", "expo": "fair"})
        (stream,) = await _streams(app)
        token = re.search(r'name="csrf_token" value="([^"]+)"', (await ex.get("/streams")).text)
        assert token
        ended = await ex.post(f"/api/streams/{stream.id}/end", headers={"X-CSRF-Token": token.group(1)})
        assert ended.status_code == 200, ended.text
        page = await ex.get(f"/streams/{stream.id}/live")
        assert 'id="reopen-form">' in page.text  # shown
    async with browser(app, "other@example.com") as other:  # a neighbour's broadcast is not theirs
        refused = await post_form(other, "/streams", f"/streams/{stream.id}/reopen")
        assert refused.status_code == 403
    async with browser(app, "ex@example.com") as ex:
        reopened = await post_form(ex, f"/streams/{stream.id}/live", f"/streams/{stream.id}/reopen")
        assert reopened.status_code == 303 and reopened.headers["location"] == f"/streams/{stream.id}/live"
        page = await ex.get(f"/streams/{stream.id}/live")
        # The form stays in the page, hidden, for when the broadcast ends again (go-live follows it).
        assert 'id="reopen-form" hidden>' in page.text and "The broadcast is open again" in page.text
    (after,) = await _streams(app)
    assert after.status == StreamStatus.SCHEDULED and after.key == stream.key
