"""Dashboard pages, API and CSV exports in-process: who sees what, and what the pages show."""

from __future__ import annotations

import csv
import io

import httpx
from starlette.applications import Starlette

from expo.dashboards.exports import MINUTES_COLUMNS, TOTALS_COLUMNS
from expo.expos.team import add_member
from expo.permissions import TeamRole
from streaming import services as streams
from streaming.audience import Audience
from streaming.models import Stream, ViewVia
from tests.booths.web import PASSWORD, browser, make_account
from tests.dashboards.conftest import seed_show


async def bearer(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_organizer_page_shows_live_figures_charts_and_escaped_names(app: Starlette) -> None:
    show = await seed_show(app)
    audience = app.state.platform.get(Audience)
    assert show.keynote.id is not None
    await audience.watch(show.keynote.id, "user:99", ViewVia.PAGE)
    await audience.sample()
    async with browser(app, "org@example.com") as b:
        page = await b.get("/organizer/expos/show/dashboard")
    assert page.status_code == 200
    html = page.text
    assert f'data-live-channel="dashboard:{show.expo.id}"' in html
    assert '<span class="value" data-figure="live_viewers">1</span>' in html
    assert "Opening keynote" in html and "<svg" in html
    # A booth name is user input: escaped in the table and in the SVG alike, never markup.
    assert "<b>Works</b>" not in html
    assert html.count("Lumen &lt;b&gt;Works&lt;/b&gt;") >= 2
    assert 'href="/organizer/expos/show/dashboard/audience.csv"' in html
    assert f'href="/booths/{show.booths["lamps"].id}/leads.csv"' in html


async def test_only_the_expos_organizers_see_its_dashboard(app: Starlette, client: httpx.AsyncClient) -> None:
    await seed_show(app)
    url = "/api/expos/show/dashboard"
    assert (await client.get(url)).status_code == 401
    for email in ("rival@example.com", "exhibitor@example.com", "visitor@example.com"):
        response = await client.get(url, headers=await bearer(client, email))
        assert response.status_code == 403, email
        assert response.json()["error"]["code"] == "dashboard.forbidden"
        live = await client.get(f"{url}/live", headers=await bearer(client, email))
        assert live.status_code == 403
    own = await client.get(url, headers=await bearer(client, "org@example.com"))
    assert own.status_code == 200 and own.json()["slug"] == "show"
    missing = await client.get(
        "/api/expos/nowhere/dashboard", headers=await bearer(client, "org@example.com")
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "expo.unknown"
    # The rival organizer sees their own expo's dashboard, pages answer 403 like the API.
    assert (
        await client.get("/api/expos/other/dashboard", headers=await bearer(client, "rival@example.com"))
    ).status_code == 200
    async with browser(app, "rival@example.com") as b:
        assert (await b.get("/organizer/expos/show/dashboard")).status_code == 403
        assert (await b.get("/organizer/expos/show/dashboard/audience.csv")).status_code == 403
    async with browser(app) as anonymous:
        response = await anonymous.get("/organizer/expos/show/dashboard")
        assert response.status_code in (303, 401)


async def test_exhibitor_sees_only_their_booth_and_its_broadcasts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    show = await seed_show(app)
    async with app.state.platform.db.session() as s:  # one of their own, presented by no booth
        await streams.create_stream(s, expo=show.expo, title="Factory tour", owner=show.exhibitor)
    async with browser(app, "exhibitor@example.com") as b:
        index = await b.get("/my/dashboard")
        assert index.status_code == 303 and index.headers["location"] == "/my/dashboard/show"
        page = await b.get("/my/dashboard/show")
        assert page.status_code == 200
        assert "Lamp demo" in page.text and "Opening keynote" not in page.text
        assert "Silk Road Weavers" not in page.text
        assert f'data-stream-live="{show.demo.id}"' in page.text
        assert (await b.get("/organizer/expos/show/dashboard")).status_code == 403
    body = (
        await client.get(
            "/api/expos/show/dashboard/mine", headers=await bearer(client, "exhibitor@example.com")
        )
    ).json()
    assert [b["name"] for b in body["booths"]] == ["Lumen <b>Works</b>"]
    assert [b["title"] for b in body["broadcasts"]] == ["Lamp demo", "Factory tour"]
    refused = await client.get(
        "/api/expos/show/dashboard/mine", headers=await bearer(client, "visitor@example.com")
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "dashboard.no_booth"
    async with browser(app, "visitor@example.com") as v:
        assert "not on the staff" in (await v.get("/my/dashboard")).text
        assert (await v.get("/my/dashboard/show/audience.csv")).status_code == 403


async def test_audience_exports_match_the_dashboard_and_defuse_formulas(app: Starlette) -> None:
    show = await seed_show(app)
    platform = app.state.platform
    async with platform.db.session() as s:
        stream = await s.get(Stream, show.demo.id)
        assert stream is not None
        stream.title = '=HYPERLINK("http://evil")'
        s.add(stream)
        await s.commit()
    assert show.demo.id is not None
    await platform.get(Audience).watch(show.demo.id, "user:1", ViewVia.PAGE)
    await platform.get(Audience).watch(show.demo.id, "user:2", ViewVia.HLS)
    await platform.get(Audience).sample()
    async with browser(app, "exhibitor@example.com") as b:
        totals = await b.get("/my/dashboard/show/audience.csv")
        minutes = await b.get("/my/dashboard/show/audience-minutes.csv")
    assert totals.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(totals.text)))
    assert tuple(rows[0]) == TOTALS_COLUMNS
    assert rows[1][:6] == [str(show.demo.id), '\'=HYPERLINK("http://evil")', "live", "2", "2", "2"]
    minute_rows = list(csv.reader(io.StringIO(minutes.text)))
    assert tuple(minute_rows[0]) == MINUTES_COLUMNS
    assert len(minute_rows) == 2 and minute_rows[1][3] == "2" and minute_rows[1][2].endswith(":00Z")


async def test_the_team_role_decides_who_sees_the_dashboard(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    show = await seed_show(app)
    async with app.state.platform.db.session() as s:
        for email, role in (
            ("planner@example.com", TeamRole.ORGANIZER),
            ("desk@example.com", TeamRole.CHECKIN),
        ):
            # Visitor accounts both: what they see of the expo is their team role in it.
            await add_member(s, show.expo, await make_account(app, email, "visitor"), role, actor=None)
    url = "/api/expos/show/dashboard"
    planner = await bearer(client, "planner@example.com")
    assert (await client.get(url, headers=planner)).json()["slug"] == "show"
    desk = await bearer(client, "desk@example.com")
    for path in (url, f"{url}/live"):
        response = await client.get(path, headers=desk)
        assert response.status_code == 403 and response.json()["error"]["code"] == "dashboard.forbidden"
    async with browser(app, "planner@example.com") as b:
        page = await b.get("/organizer/expos/show/dashboard")
        assert page.status_code == 200 and "Opening keynote" in page.text
        assert 'href="/api/expos/show/registrations.csv"' in page.text
    async with browser(app, "desk@example.com") as b:
        assert (await b.get("/organizer/expos/show/dashboard")).status_code == 403
        assert (await b.get("/organizer/expos/show/dashboard/audience.csv")).status_code == 403
