"""End to end: people register, one checks in, they watch broadcasts, visit booths and leave leads;
then the dashboards (API and page) and the exports must show exactly what was done."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col
from starlette.applications import Starlette

from expo.config import Settings
from expo.db import utcnow
from expo.meetings.models import Meeting
from streaming.audience import Audience
from tests.booths.web import browser, make_account, post_form
from tests.conftest import make_settings
from tests.dashboards.conftest import seed_show
from tests.dashboards.test_pages import bearer


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The store on SQLite and on PostgreSQL: every figure comes from an aggregate query."""
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_dashboard_figures_equal_what_people_did(app: Starlette, client: httpx.AsyncClient) -> None:
    show = await seed_show(app)
    await make_account(app, "v2@example.com", "visitor", "Vic")
    await make_account(app, "v3@example.com", "visitor", "Val")
    v1, v2, v3 = [
        await bearer(client, e) for e in ("visitor@example.com", "v2@example.com", "v3@example.com")
    ]
    org = await bearer(client, "org@example.com")
    lamps, silk = show.booths["lamps"].id, show.booths["silk"].id
    keynote, demo = show.keynote.id, show.demo.id
    assert keynote is not None and demo is not None

    # Three register, the third cancels: two registrations count. The first is checked in.
    for headers in (v1, v2, v3):
        response = await client.post("/api/expos/show/registration", json={"consent": True}, headers=headers)
        assert response.status_code == 201, response.text
    assert (await client.delete("/api/expos/show/registration", headers=v3)).status_code == 200
    badge = (await client.get("/api/expos/show/registration", headers=v1)).json()["badge"]
    checked = await client.post("/api/expos/show/check-in", json={"code": badge}, headers=org)
    assert checked.status_code == 200 and checked.json()["result"] == "checked_in"

    # Watching: v1 and v2 the keynote (v2 leaves and comes back: a new view), v1 also the demo.
    async def beat(stream_id: int | None, headers: dict[str, str]) -> None:
        response = await client.post(f"/api/streams/{stream_id}/heartbeat", headers=headers)
        assert response.status_code == 200, response.text

    await beat(keynote, v1)
    await beat(keynote, v2)
    assert (await client.post(f"/api/streams/{keynote}/leave", headers=v2)).status_code == 204
    await beat(keynote, v2)
    await beat(demo, v1)
    await app.state.platform.get(Audience).sample()
    minute = utcnow().replace(second=0, microsecond=0)

    # Booth visits: v1 twice and v2 once at the lamps, v3 at the silk, a signed-out browser at the
    # lamps; the lamps' own exhibitor looks at it too (not counted). Leads: v1 asks the lamps (its
    # form page is one more visit), v2 leaves a card at the silk (one more visit there).
    async with (
        browser(app, "visitor@example.com") as b1,
        browser(app, "v2@example.com") as b2,
        browser(app, "v3@example.com") as b3,
        browser(app, "exhibitor@example.com") as staff,
        browser(app) as anonymous,
    ):
        visits = [(b1, lamps), (b1, lamps), (b2, lamps), (b3, silk), (anonymous, lamps), (staff, lamps)]
        for b, booth in visits:
            assert (await b.get(f"/expos/show/booths/{booth}")).status_code == 200
        page = f"/expos/show/booths/{lamps}"
        sent = await post_form(b1, page, f"{page}/inquiry", {"message": "Price for 500 lamps?"})
        assert sent.status_code == 303
        page = f"/expos/show/booths/{silk}"
        card = await post_form(
            b2, page, f"{page}/card", {"share": ["name", "company"], "company": "Vic & Co"}
        )
        assert card.status_code == 303

    # Meetings: v1 and v2 each request one at the lamps; v1's is accepted and, once its time has
    # come, held; v2's stays requested.
    exhibitor = await bearer(client, "exhibitor@example.com")
    meeting_ids = []
    for hours, headers in ((26, v1), (30, v2)):
        start = (utcnow() + timedelta(hours=hours)).replace(microsecond=0)
        asked = await client.post(
            f"/api/booths/{lamps}/meetings",
            json={"starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=30)).isoformat()},
            headers=headers,
        )
        assert asked.status_code == 201, asked.text
        meeting_ids.append(asked.json()["id"])
    accepted = await client.post(f"/api/meetings/{meeting_ids[0]}/accept", headers=exhibitor)
    assert accepted.status_code == 200, accepted.text
    async with app.state.platform.db.session() as session:  # the meeting's time comes
        await session.exec(
            update(Meeting)
            .where(col(Meeting.id) == meeting_ids[0])
            .values(starts_at=utcnow() - timedelta(minutes=5), ends_at=utcnow() + timedelta(minutes=25))
        )
        await session.commit()
    held = await client.post(f"/api/meetings/{meeting_ids[0]}/held", headers=exhibitor)
    assert held.status_code == 200, held.text

    # A session with one seat, a week from now: v1 gets it and comes, v2 waits.
    starts = (utcnow() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    program = await client.post(
        "/api/expos/show/programs",
        json={
            "title": "Lighting trends",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "capacity": 1,
        },
        headers=org,
    )
    assert program.status_code == 201, program.text
    pid = program.json()["id"]
    seats = [
        (await client.post(f"/api/programs/{pid}/registration", headers=h)).json()["status"] for h in (v1, v2)
    ]
    assert seats == ["confirmed", "waitlisted"]
    came = await client.put(
        f"/api/programs/{pid}/attendees/{show.visitor.id}/attended", json={"attended": True}, headers=org
    )
    assert came.status_code in (200, 204), came.text

    # The organizer's dashboard, as JSON.
    read_at = time.monotonic()
    body = (await client.get("/api/expos/show/dashboard", headers=org)).json()
    assert body["live"] == {
        "online": 0,
        "live_viewers": 3,
        "rooms_in_session": 0,
        "check_ins_today": 1,
        "check_ins_total": 1,
        "registrations": 2,
        "broadcasts": [
            {"id": keynote, "title": "Opening keynote", "live_viewers": 2},
            {"id": demo, "title": "Lamp demo", "live_viewers": 1},
        ],
    }
    assert body["registrations_per_day"] == [{"day": utcnow().date().isoformat(), "count": 2}]
    broadcasts = {b["id"]: b for b in body["broadcasts"]}
    figures = {
        k: broadcasts[keynote][k]
        for k in ("status", "live_viewers", "peak_viewers", "total_views", "unique_viewers")
    }
    assert figures == {
        "status": "live",
        "live_viewers": 2,
        "peak_viewers": 2,
        "total_views": 3,
        "unique_viewers": 2,
    }
    figures = {
        k: broadcasts[demo][k]
        for k in ("status", "live_viewers", "peak_viewers", "total_views", "unique_viewers")
    }
    assert figures == {
        "status": "live",
        "live_viewers": 1,
        "peak_viewers": 1,
        "total_views": 1,
        "unique_viewers": 1,
    }
    assert [p["viewers"] for p in broadcasts[keynote]["series"]] == [2]
    assert broadcasts[keynote]["series"][0]["minute"].startswith(minute.strftime("%Y-%m-%dT%H:%M"))
    # The same figures as the stream's own public stats and its managers' audience endpoint.
    for sid in (keynote, demo):
        stats = (await client.get(f"/api/streams/{sid}/stats")).json()
        assert {k: broadcasts[sid][k] for k in stats if k in broadcasts[sid]} == {
            k: v for k, v in stats.items() if k in broadcasts[sid]
        }
    managed = (await client.get(f"/api/streams/{keynote}/audience", headers=org)).json()
    # Two of the three views are still being watched and count up to now: read later, the average
    # has grown by at most the time between the two reads (figures are rounded to tenths).
    average, later = broadcasts[keynote]["average_watch_seconds"], managed["average_watch_seconds"]
    assert average - 0.1 <= later <= average + (time.monotonic() - read_at) + 0.1
    before_today = [0] * 13  # the sparkline's 13 earlier days
    assert body["booths"] == [
        {
            "id": lamps,
            "name": "Lumen <b>Works</b>",
            "visits": 5,
            "unique_visitors": 3,
            "leads": 1,
            "meetings_requested": 2,
            "meetings_held": 1,
            "daily_visits": [*before_today, 5],
        },
        {
            "id": silk,
            "name": "Silk Road Weavers",
            "visits": 2,
            "unique_visitors": 2,
            "leads": 1,
            "meetings_requested": 0,
            "meetings_held": 0,
            "daily_visits": [*before_today, 2],
        },
    ]
    assert body["meetings"] == {"requested": 2, "held": 1}

    assert body["sessions"] == [
        {
            "id": pid,
            "title": "Lighting trends",
            "starts_at": program.json()["starts_at"],
            "capacity": 1,
            "confirmed": 1,
            "waitlisted": 1,
            "attended": 1,
        }
    ]

    # The page shows the same numbers.
    async with browser(app, "org@example.com") as ob:
        html = (await ob.get("/organizer/expos/show/dashboard")).text
        totals = rows_of((await ob.get("/organizer/expos/show/dashboard/audience.csv")).text)
        minutes = rows_of((await ob.get("/organizer/expos/show/dashboard/audience-minutes.csv")).text)
        registrations = rows_of((await ob.get("/api/expos/show/registrations.csv")).text)
        leads_csv = rows_of((await ob.get(f"/booths/{lamps}/leads.csv")).text)
        attendance = rows_of((await ob.get(f"/organizer/expos/show/agenda/{pid}/attendance.csv")).text)
    for figure, value in [
        ("live_viewers", 3),
        ("check_ins_today", 1),
        ("check_ins_total", 1),
        ("registrations", 2),
    ]:
        assert f'data-figure="{figure}">{value}</span>' in html
    assert f'<tr data-booth="{lamps}">' in html and '<td class="num" data-field="visits">5</td>' in html
    assert '<td class="num" data-field="meetings_requested">2</td>' in html
    assert '<td class="num" data-field="meetings_held">1</td>' in html
    assert '<span data-figure="meetings_requested">2</span>' in html
    assert '<span data-figure="meetings_held">1</span>' in html
    assert 'href="/api/expos/show/registrations.csv"' in html
    assert "<title>Visits per day, last 14 days: 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5</title>" in html
    assert f'href="/organizer/expos/show/agenda/{pid}/attendance.csv"' in html
    assert f'<tr data-session="{pid}">' in html and '<td class="num" data-field="attended">1</td>' in html
    today = utcnow().date().isoformat()
    assert f'data-day="{today}"><td>{today}</td><td class="num">2</td>' in html

    # The exports agree with the dashboard.
    by_id = {int(r["broadcast_id"]): r for r in totals}
    assert {k: int(by_id[keynote][k]) for k in ("peak_viewers", "total_views", "unique_viewers")} == {
        "peak_viewers": 2,
        "total_views": 3,
        "unique_viewers": 2,
    }
    exported = float(by_id[keynote]["average_watch_seconds"])  # read later: grown by at most the time since
    assert average - 0.1 <= exported <= average + (time.monotonic() - read_at) + 0.1
    # (A slow run may cross into the next minute: the same viewers, one more row each.)
    assert {(int(r["broadcast_id"]), int(r["viewers"])) for r in minutes} == {(keynote, 2), (demo, 1)}
    assert sorted((r["email"], r["status"], bool(r["checked_in_at"])) for r in registrations) == [
        ("v2@example.com", "approved", False),
        ("v3@example.com", "cancelled", False),
        ("visitor@example.com", "approved", True),
    ]
    assert [r["message"] for r in leads_csv] == ["Price for 500 lamps?"]
    assert sorted((r["email"], r["status"], bool(r["attended_at"])) for r in attendance) == [
        ("v2@example.com", "waitlisted", False),
        ("visitor@example.com", "confirmed", True),
    ]

    # The exhibitor sees the same figures for their booth and broadcast only.
    mine = (
        await client.get(
            "/api/expos/show/dashboard/mine", headers=await bearer(client, "exhibitor@example.com")
        )
    ).json()
    assert mine["booths"] == [body["booths"][0]]
    assert mine["meetings"] == {"requested": 2, "held": 1}

    def steady(broadcast: dict[str, object]) -> dict[str, object]:
        """A broadcast's figures but those that grow while people watch (watch time, the minutes)."""
        return {k: v for k, v in broadcast.items() if k not in ("average_watch_seconds", "series")}

    assert [steady(b) for b in mine["broadcasts"]] == [steady(broadcasts[demo])]
