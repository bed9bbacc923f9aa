"""The broadcast API in-process (``client``), and ``expo streams create`` on a temporary config."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from expo.cli import main
from expo.platform import Platform
from streaming import services
from streaming.audience import VIEWER_COOKIE, Audience
from streaming.models import ViewVia
from tests.conftest import signup_and_login
from tests.streaming.teams import db_of, exhibitor_in, give_booth, organizer_of

# A schedule a month ahead of whenever the suite runs: no test depends on today's date.
_DAY = (datetime.now(UTC) + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hours: float, days: int = 0) -> str:
    """An ISO time ``hours`` into the test's day, ``days`` later."""
    return (_DAY + timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


STATS_KEYS = ["live_viewers", "peak_viewers", "registrations", "status", "total_views", "unique_viewers"]


def platform_of(client: httpx.AsyncClient) -> Platform:
    app: Starlette = client._transport.app  # type: ignore[attr-defined]
    platform: Platform = app.state.platform
    return platform


async def go_live(client: httpx.AsyncClient, stream_id: int) -> None:
    """What the WHIP endpoint does when an encoder connects."""
    p = platform_of(client)
    async with p.db.session() as session:
        await services.go_live(session, await services.get_stream(session, stream_id), bus=p.bus)


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/api/streams", json={"title": "Launch", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_exhibitor_creates_a_stream_and_only_managers_see_its_key(client: httpx.AsyncClient) -> None:
    exhibitor = await exhibitor_in(client, "e@example.org")
    other = await signup_and_login(client, "f@example.org", "exhibitor")
    organizer = await organizer_of(client, "o@example.org")
    created = await create(
        client,
        exhibitor,
        title="  Spring collection  ",
        description="New fabrics",
        scheduled_start=at(9),
        planned_end=at(11).replace("Z", "+00:00"),
    )
    sid = created["id"]
    assert created["title"] == "Spring collection"
    assert (created["status"], created["expo"], created["visibility"]) == ("scheduled", "main", "public")
    assert created["whip_url"] == f"http://testserver/api/streams/{sid}/whip"
    assert created["page_url"] == f"http://testserver/watch/{sid}"
    assert len(created["key"]) >= 32 and created["can_manage"] is True

    public = (await client.get(f"/api/streams/{sid}")).json()
    assert public["key"] is None and public["whip_url"] is None and public["can_manage"] is False
    assert public["hls_url"] == f"http://testserver/live/{sid}/index.m3u8"
    assert (await client.get(f"/api/streams/{sid}", headers=other)).json()["key"] is None
    assert (await client.get(f"/api/streams/{sid}", headers=organizer)).json()["key"] == created["key"]


async def test_who_may_create(client: httpx.AsyncClient) -> None:
    visitor = await signup_and_login(client, "v@example.org", "visitor")
    response = await client.post("/api/streams", json={"title": "Mine"}, headers=visitor)
    assert response.status_code == 403
    response = await client.post("/api/streams", json={"title": "Mine"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"


@pytest.mark.parametrize(
    "body",
    [
        {"title": 5},
        {"title": ""},
        {"title": "x" * 201},
        {"title": "ok", "scheduled_start": "soon"},
        {"title": "ok", "visibility": "secret"},
        {"title": "ok", "booth_id": "first"},
        {"title": "ok", "unknown": 1},
        {"title": "ok", "scheduled_start": at(10), "planned_end": at(9)},
        {"title": "   "},
    ],
)
async def test_bad_input_is_a_422_with_the_error_json(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    organizer = await organizer_of(client, "o@example.org")
    response = await client.post("/api/streams", json=body, headers=organizer)
    assert response.status_code == 422, response.text
    assert set(response.json()["error"]) >= {"code", "message"}


async def test_unknown_streams_and_expos_are_404(client: httpx.AsyncClient) -> None:
    organizer = await organizer_of(client, "o@example.org")
    for method, path in [
        ("GET", "/api/streams/999"),
        ("GET", "/api/streams/999/stats"),
        ("PATCH", "/api/streams/999"),
        ("POST", "/api/streams/999/end"),
        ("POST", "/api/streams/999/heartbeat"),
        ("GET", "/api/expos/nowhere/streams"),
    ]:
        body = {"title": "x"} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=organizer)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] in ("stream.unknown", "expo.unknown")
    response = await client.post("/api/streams", json={"title": "x", "expo": "nowhere"}, headers=organizer)
    assert response.status_code == 404
    assert (await client.get("/api/streams/abc")).status_code == 404


async def test_media_options_answer_for_streams_that_exist_only(client: httpx.AsyncClient) -> None:
    """Issue 12, finding 8: OPTIONS on the WHIP or WHEP URL of no stream is a 404, like POST there;
    a stream's own keeps RFC 9725's discovery answer (Accept-Post) and its CORS headers."""
    organizer = await organizer_of(client, "o@example.org")
    sid = (await create(client, organizer, title="Options"))["id"]
    for kind in ("whip", "whep"):
        missing = await client.options(f"/api/streams/999/{kind}")
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"]["code"] == "stream.unknown"
        found = await client.options(f"/api/streams/{sid}/{kind}")
        assert found.status_code == 204
        assert found.headers["accept-post"] == "application/sdp"
        assert found.headers["access-control-allow-origin"] == "*"


async def test_an_exhibitor_cannot_change_another_exhibitors_stream(client: httpx.AsyncClient) -> None:
    owner = await exhibitor_in(client, "e@example.org")
    other = await exhibitor_in(client, "f@example.org")  # staffs another booth of the same expo
    sid = (await create(client, owner))["id"]
    for method, path in [
        ("PATCH", f"/api/streams/{sid}"),
        ("POST", f"/api/streams/{sid}/key"),
        ("POST", f"/api/streams/{sid}/end"),
        ("GET", f"/api/streams/{sid}/audience"),
    ]:
        body = {"title": "Hijacked"} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=other)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "stream.forbidden"
    assert (await client.get(f"/api/streams/{sid}")).json()["title"] == "Launch"


async def test_an_organizer_of_another_expo_cannot_touch_its_broadcasts(client: httpx.AsyncClient) -> None:
    a = await organizer_of(client, "a@example.org", "aexpo")
    b = await organizer_of(client, "b@example.org", "bexpo")
    created = await create(client, b, expo="bexpo", title="B's keynote")
    sid, key = created["id"], created["key"]
    assert created["expo"] == "bexpo" and key

    for method, path in [
        ("PATCH", f"/api/streams/{sid}"),
        ("POST", f"/api/streams/{sid}/key"),
        ("POST", f"/api/streams/{sid}/end"),
        ("POST", f"/api/streams/{sid}/reopen"),
        ("GET", f"/api/streams/{sid}/audience"),
    ]:
        body = {"title": "Hijacked"} if method == "PATCH" else None
        response = await client.request(method, path, json=body, headers=a)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "stream.forbidden"
        assert key not in response.text

    seen = await client.get(f"/api/streams/{sid}", headers=a)
    assert seen.json()["can_manage"] is False and seen.json()["whip_url"] is None
    assert key not in seen.text
    listed = await client.get("/api/expos/bexpo/streams", headers=a)
    assert listed.status_code == 200 and key not in listed.text
    assert key in (await client.get("/api/expos/bexpo/streams", headers=b)).text
    go_live = await client.get(f"/streams/{sid}/live", headers=a)
    assert go_live.status_code == 403 and key not in go_live.text
    assert key in (await client.get(f"/streams/{sid}/live", headers=b)).text
    assert f"/streams/{sid}/live" not in (await client.get("/streams", headers=a)).text
    assert f"/streams/{sid}/live" in (await client.get("/streams", headers=b)).text

    # Ended by its own organizer, it can only be reopened by them.
    assert (await client.post(f"/api/streams/{sid}/end", headers=b)).status_code == 200
    refused = await client.post(f"/api/streams/{sid}/reopen", headers=a)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "stream.forbidden"
    assert (await client.post(f"/api/streams/{sid}/reopen", headers=b)).status_code == 200
    after = (await client.get(f"/api/streams/{sid}", headers=b)).json()
    assert (after["title"], after["key"]) == ("B's keynote", key)

    # Nor may A put broadcasts into B's expo.
    intruding = await client.post("/api/streams", json={"title": "Mine", "expo": "bexpo"}, headers=a)
    assert intruding.status_code == 403 and intruding.json()["error"]["code"] == "stream.forbidden"


async def test_exhibitors_present_only_in_the_expos_of_their_booths(client: httpx.AsyncClient) -> None:
    await organizer_of(client, "b@example.org", "bexpo")
    db = db_of(client)
    exhibitor = await signup_and_login(client, "e@example.org", "exhibitor")
    for body in ({"expo": "bexpo"}, {}):
        response = await client.post("/api/streams", json={"title": "Mine", **body}, headers=exhibitor)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "stream.forbidden"
    # Without an expo, the answer asks for one, and the default expo was not created on the way.
    assert "'expo'" in response.json()["error"]["message"]
    assert (await client.get("/api/expos/main/streams")).status_code == 404

    own = await give_booth(db, "e@example.org", "aexpo")
    await signup_and_login(client, "n@example.org", "exhibitor")
    neighbour = await give_booth(db, "n@example.org", "aexpo")
    refused = await client.post("/api/streams", json={"title": "Mine", "expo": "bexpo"}, headers=exhibitor)
    assert refused.status_code == 403  # a booth in another expo does not count
    assert (await create(client, exhibitor, expo="aexpo"))["expo"] == "aexpo"
    assert (await create(client, exhibitor, expo="aexpo", booth_id=own))["booth_id"] == own
    theirs = await client.post(
        "/api/streams", json={"title": "Mine", "expo": "aexpo", "booth_id": neighbour}, headers=exhibitor
    )
    assert theirs.status_code == 403 and theirs.json()["error"]["code"] == "stream.forbidden"


async def test_the_owner_edits_extends_regenerates_and_ends(client: httpx.AsyncClient) -> None:
    owner = await exhibitor_in(client, "e@example.org")
    created = await create(client, owner, scheduled_start=at(9), planned_end=at(11))
    sid = created["id"]
    response = await client.patch(
        f"/api/streams/{sid}",
        json={"title": "Launch, extended", "planned_end": at(12)},
        headers=owner,
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Launch, extended"
    assert response.json()["planned_end"].startswith(at(12).removesuffix("Z"))
    response = await client.patch(f"/api/streams/{sid}", json={"title": 7}, headers=owner)
    assert response.status_code == 422

    renewed = (await client.post(f"/api/streams/{sid}/key", headers=owner)).json()
    assert renewed["key"] != created["key"] and len(renewed["key"]) >= 32

    await go_live(client, sid)
    response = await client.patch(
        f"/api/streams/{sid}", json={"scheduled_start": at(9, days=1)}, headers=owner
    )
    assert response.status_code == 409
    ended = await client.post(f"/api/streams/{sid}/end", headers=owner)
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    assert (await client.get(f"/api/streams/{sid}/stats")).json()["status"] == "ended"


async def test_stats_are_public_and_exactly_the_contract(client: httpx.AsyncClient) -> None:
    organizer = await organizer_of(client, "o@example.org")
    visitor = await signup_and_login(client, "v@example.org", "visitor")
    sid = (await create(client, organizer))["id"]
    await go_live(client, sid)
    assert (await client.post(f"/api/streams/{sid}/register", headers=visitor)).status_code == 200
    audience = platform_of(client).get(Audience)
    await audience.watch(sid, "user:42", ViewVia.WHEP)
    await audience.watch(sid, "anon:player", ViewVia.HLS)
    response = await client.get(f"/api/streams/{sid}/stats")
    assert response.status_code == 200
    stats = response.json()
    assert sorted(stats) == STATS_KEYS
    assert stats == {
        "status": "live",
        "live_viewers": 2,
        "peak_viewers": 2,
        "total_views": 2,
        "unique_viewers": 2,
        "registrations": 1,
    }
    assert all(type(stats[k]) is int for k in STATS_KEYS if k != "status")


async def test_the_watch_page_heartbeat_counts_a_browser_once_and_leave_removes_it(
    client: httpx.AsyncClient,
) -> None:
    organizer = await organizer_of(client, "o@example.org")
    sid = (await create(client, organizer))["id"]
    # Before the broadcast starts, an open page is not a viewer.
    response = await client.post(f"/api/streams/{sid}/heartbeat")
    assert response.status_code == 200 and response.json() == {"live_viewers": 0}
    cookie = response.cookies.get(VIEWER_COOKIE)
    assert cookie
    await go_live(client, sid)
    for _ in range(3):
        assert (await client.post(f"/api/streams/{sid}/heartbeat")).json() == {"live_viewers": 1}
    # Another browser (no cookie jar) is another person.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as other:
        assert (await other.post(f"/api/streams/{sid}/heartbeat")).json() == {"live_viewers": 2}
        # The first browser also plays WHEP under its cookie's identity: still two people.
        await platform_of(client).get(Audience).watch(sid, f"anon:{cookie}", ViewVia.WHEP)
        assert (await other.post(f"/api/streams/{sid}/heartbeat")).json() == {"live_viewers": 2}
    assert (await client.post(f"/api/streams/{sid}/leave")).status_code == 204
    stats = (await client.get(f"/api/streams/{sid}/stats")).json()
    assert (stats["live_viewers"], stats["total_views"]) == (2, 2)  # WHEP still plays
    await platform_of(client).get(Audience).leave(sid, f"anon:{cookie}", ViewVia.WHEP)
    assert (await client.get(f"/api/streams/{sid}/stats")).json()["live_viewers"] == 1


async def test_registered_streams_need_a_signed_in_viewer(client: httpx.AsyncClient) -> None:
    organizer = await organizer_of(client, "o@example.org")
    visitor = await signup_and_login(client, "v@example.org", "visitor")
    sid = (await create(client, organizer, visibility="registered"))["id"]
    await go_live(client, sid)
    response = await client.post(f"/api/streams/{sid}/heartbeat")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "stream.sign_in_to_watch"
    assert (await client.post(f"/api/streams/{sid}/heartbeat", headers=visitor)).json() == {"live_viewers": 1}
    assert (await client.get(f"/api/streams/{sid}/stats")).json()["unique_viewers"] == 1


async def test_registration_is_idempotent_even_when_concurrent(client: httpx.AsyncClient) -> None:
    organizer = await organizer_of(client, "o@example.org")
    visitor = await signup_and_login(client, "v@example.org", "visitor")
    sid = (await create(client, organizer))["id"]
    assert (await client.post(f"/api/streams/{sid}/register")).status_code == 401
    responses = await asyncio.gather(
        *(client.post(f"/api/streams/{sid}/register", headers=visitor) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}
    assert responses[-1].json() == {"registered": True, "registrations": 1}
    gone = await client.delete(f"/api/streams/{sid}/register", headers=visitor)
    assert gone.json() == {"registered": False, "registrations": 0}
    again = await client.delete(f"/api/streams/{sid}/register", headers=visitor)
    assert again.status_code == 200 and again.json()["registrations"] == 0


async def test_its_managers_reopen_an_ended_stream(client: httpx.AsyncClient) -> None:
    """Stopping ends a broadcast; whoever manages it (its owner, its expo's organizers) may reopen
    it to go live again, and nobody else may."""
    organizer = await organizer_of(client, "o@example.org")
    exhibitor = await exhibitor_in(client, "e@example.org")
    neighbour = await exhibitor_in(client, "n@example.org")
    sid = (await create(client, exhibitor))["id"]
    early = await client.post(f"/api/streams/{sid}/reopen", headers=organizer)
    assert early.status_code == 409 and early.json()["error"]["code"] == "stream.not_ended"
    assert (await client.post(f"/api/streams/{sid}/end", headers=exhibitor)).status_code == 200
    refused = await client.post(f"/api/streams/{sid}/reopen", headers=neighbour)
    assert refused.status_code == 403
    reopened = await client.post(f"/api/streams/{sid}/reopen", headers=exhibitor)
    assert reopened.status_code == 200 and reopened.json()["status"] == "scheduled"
    assert (await client.get(f"/api/streams/{sid}/stats")).json()["status"] == "scheduled"
    assert (await client.post(f"/api/streams/{sid}/end", headers=organizer)).status_code == 200
    again = await client.post(f"/api/streams/{sid}/reopen", headers=organizer)
    assert again.status_code == 200 and again.json()["status"] == "scheduled"


async def test_a_visitors_registrations_are_their_agenda(client: httpx.AsyncClient) -> None:
    organizer = await organizer_of(client, "o@example.org")
    visitor = await signup_and_login(client, "v@example.org", "visitor")
    kept = (await create(client, organizer, title="Keynote <b>live</b>"))["id"]
    dropped = (await create(client, organizer, title="Panel on tariffs"))["id"]
    ended = (await create(client, organizer, title="Closing remarks"))["id"]
    for sid in (kept, dropped, ended):
        assert (await client.post(f"/api/streams/{sid}/register", headers=visitor)).status_code == 200
    await client.delete(f"/api/streams/{dropped}/register", headers=visitor)
    assert (await client.post(f"/api/streams/{ended}/end", headers=organizer)).status_code == 200

    page = await client.get("/visitor", headers=visitor)
    assert page.status_code == 200
    assert f'href="/watch/{kept}"' in page.text
    assert "Keynote &lt;b&gt;live&lt;/b&gt;" in page.text
    assert "Panel on tariffs" not in page.text and "Closing remarks" not in page.text
    assert "You have not registered for any session yet." not in page.text


async def test_listing_an_expos_streams_by_status(client: httpx.AsyncClient) -> None:
    organizer = await organizer_of(client, "o@example.org")
    first = (await create(client, organizer, title="First"))["id"]
    second = (await create(client, organizer, title="Second"))["id"]
    await go_live(client, second)
    listed = (await client.get("/api/expos/main/streams")).json()["items"]
    assert [s["id"] for s in listed] == [first, second]
    assert all(s["key"] is None for s in listed)
    live = (await client.get("/api/expos/main/streams?status=live")).json()["items"]
    assert [s["title"] for s in live] == ["Second"]
    assert (await client.get("/api/expos/main/streams?status=paused")).status_code == 422


async def test_managers_see_the_minute_series_and_watch_time(client: httpx.AsyncClient) -> None:
    organizer = await organizer_of(client, "o@example.org")
    sid = (await create(client, organizer))["id"]
    await go_live(client, sid)
    audience = platform_of(client).get(Audience)
    await audience.watch(sid, "anon:1", ViewVia.PAGE)
    await audience.sample()
    response = await client.get(f"/api/streams/{sid}/audience", headers=organizer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stats"]["live_viewers"] == 1
    assert [m["viewers"] for m in body["minutes"]] == [1]
    assert body["average_watch_seconds"] >= 0
    assert (await client.get(f"/api/streams/{sid}/audience")).status_code == 401


async def test_the_api_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    assert {"get", "patch"} <= set(paths["/api/streams/{stream_id}"])
    assert "get" in paths["/api/streams/{stream_id}/stats"]


# The command line -----------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("EXPO_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\nsecret_key = "{"k" * 40}"\n'
        'public_url = "https://expo.example.org"\nlog_format = "text"\n'
    )
    return path


def test_streams_create_prints_the_contract_json(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["streams", "create", "--title", "Opening keynote", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    created = json.loads(out)
    assert list(created) == ["id", "key", "whip_url", "whep_url", "hls_url", "page_url"]
    sid = created["id"]
    assert isinstance(sid, int) and len(created["key"]) >= 32
    assert created["whip_url"] == f"https://expo.example.org/api/streams/{sid}/whip"
    assert created["whep_url"] == f"https://expo.example.org/api/streams/{sid}/whep"
    assert created["hls_url"] == f"https://expo.example.org/live/{sid}/index.m3u8"
    assert created["page_url"] == f"https://expo.example.org/watch/{sid}"
    # A second stream lands in the same (now existing) default expo, with its own key.
    assert main(["--config", str(config), "streams", "create", "--title", "Panel"]) == 0
    second = json.loads(capsys.readouterr()[0])
    assert second["id"] == sid + 1 and second["key"] != created["key"]


def test_streams_create_refuses_a_bad_title_and_an_unknown_expo(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["streams", "create", "--title", " ", "--config", str(config)]) == 2
    assert capsys.readouterr() == ("", "error: A stream title has 1 to 200 characters.\n")
    assert not (config.parent / "data").exists()
    assert main(["streams", "create", "--title", "x", "--expo", "nope", "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "error: There is no expo 'nope'.\n"
