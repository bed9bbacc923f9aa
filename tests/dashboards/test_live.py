"""The live dashboard over a real WebSocket on a real server: organizers of the expo only, an event
when a viewer joins a broadcast, one when a visitor checks in, and figures again after Redis was
gone for a while."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from expo import events
from expo.accounts import services as accounts
from expo.accounts.models import TokenKind
from expo.app import create_app
from expo.bus import BusError
from expo.dashboards import live
from expo.dashboards.live import LiveBoard
from expo.db import utcnow
from expo.registration.models import Registration, RegistrationStatus
from streaming.audience import Audience
from streaming.models import ViewVia
from tests.bus.redis_server import RedisServer, redis_server
from tests.conftest import LiveServer, create_schema, make_settings
from tests.dashboards.conftest import Show, seed_show
from tests.test_realtime import receive_until, send, socket, subscribe

__all__ = ["redis_server"]


def cookie_of(server: LiveServer, email: str) -> dict[str, str]:
    async def make() -> str:
        async with server.app.state.platform.db.session() as session:
            user = await accounts.authenticate(session, email, "correct horse battery")
            raw, _ = await accounts.issue_token(session, user, TokenKind.SESSION)
        return raw

    return {"Cookie": f"expo_session={server.call(make())}"}


@pytest.fixture
def show(live_server: LiveServer) -> Show:
    return live_server.call(seed_show(live_server.app))


async def figures_where(ws: ClientConnection, channel: str, **expected: int) -> dict[str, object]:
    frame = await receive_until(
        ws,
        lambda f: (
            f.get("channel") == channel
            and f.get("data", {}).get("kind") == "figures"
            and all(f["data"].get(k) == v for k, v in expected.items())
        ),
    )
    data: dict[str, object] = frame["data"]
    return data


async def test_organizers_of_other_expos_and_visitors_cannot_subscribe(
    live_server: LiveServer, show: Show
) -> None:
    channel = live.channel(show.expo.id or 0)
    for email in ("rival@example.com", "visitor@example.com", "exhibitor@example.com"):
        async with socket(live_server, additional_headers=cookie_of(live_server, email)) as ws:
            await send(ws, {"type": "subscribe", "channel": channel})
            refused = await receive_until(ws, lambda f: f.get("type") == "error")
            assert refused["code"] == "channel.forbidden", email
    async with socket(live_server) as anonymous:
        await send(anonymous, {"type": "subscribe", "channel": channel})
        assert (await receive_until(anonymous, lambda f: f.get("type") == "error"))[
            "code"
        ] == "channel.forbidden"


async def test_viewer_joining_and_check_in_reach_the_open_dashboard(
    live_server: LiveServer, show: Show
) -> None:
    platform = live_server.app.state.platform
    channel = live.channel(show.expo.id or 0)
    assert show.keynote.id is not None and show.visitor.id is not None
    async with socket(live_server, additional_headers=cookie_of(live_server, "org@example.com")) as ws:
        await subscribe(ws, channel)
        # A viewer starts watching the keynote: the total and the broadcast's row follow.
        live_server.call(platform.get(Audience).watch(show.keynote.id, "user:4242", ViewVia.PAGE))
        data = await figures_where(ws, channel, live_viewers=1)
        assert {"id": show.keynote.id, "title": "Opening keynote", "live_viewers": 1} in data["broadcasts"]  # type: ignore[operator]
        assert data["online"] == 1  # the organizer's own socket

        # A registered visitor is checked in; the check-in code nudges the dashboard.
        async def check_in() -> None:
            async with platform.db.session() as session:
                assert show.expo.id is not None and show.visitor.id is not None
                session.add(
                    Registration(
                        expo_id=show.expo.id,
                        user_id=show.visitor.id,
                        status=RegistrationStatus.APPROVED.value,
                        badge_code=secrets.token_urlsafe(16),
                        checked_in_at=utcnow(),
                    )
                )
                await session.commit()
            await events.figures_changed(platform.bus, show.expo.id or 0)

        live_server.call(check_in())
        data = await figures_where(ws, channel, check_ins_total=1)
        assert data["check_ins_today"] == 1 and data["registrations"] == 1 and data["live_viewers"] == 1


async def test_nudge_publishes_at_once_and_only_changes(live_server: LiveServer, show: Show) -> None:
    """With a tick far away, a nudge alone brings the change; an unchanged nudge sends nothing."""
    platform = live_server.app.state.platform
    expo_id = show.expo.id or 0
    channel = live.channel(expo_id)
    board = platform.get(LiveBoard)
    board.interval = 3600.0
    async with socket(live_server, additional_headers=cookie_of(live_server, "org@example.com")) as ws:
        await subscribe(ws, channel)
        assert show.demo.id is not None
        live_server.call(platform.get(Audience).watch(show.demo.id, "anon:someone", ViewVia.HLS))
        live_server.call(events.figures_changed(platform.bus, expo_id))
        await figures_where(ws, channel, live_viewers=1)
        live_server.call(events.figures_changed(platform.bus, expo_id))
        with pytest.raises(TimeoutError):
            await receive_until(ws, lambda f: f.get("channel") == channel, timeout=1.0)

    # The last page left: the board's task for the expo ends by itself (woken here by nudges,
    # as it would be by its next tick).
    async def stopped() -> bool:
        for _ in range(200):
            if expo_id not in board._tasks:
                return True
            await events.figures_changed(platform.bus, expo_id)
            await asyncio.sleep(0.05)
        return False

    assert live_server.call(stopped())


async def test_an_open_dashboard_gets_figures_again_after_a_redis_outage(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The board's task for an expo outlives a Redis outage, as the page's subscription does: it
    would otherwise end at the first failed round, and the open page would never hear again."""
    caplog.set_level("DEBUG", logger="expo.dashboards")
    settings = make_settings(tmp_path, bus_url=redis_server.url)
    await create_schema(settings.database)
    with LiveServer(create_app(settings, check_schema=False)) as server:
        platform = server.app.state.platform
        board = platform.get(LiveBoard)
        board.interval = 0.2
        show = server.call(seed_show(server.app))
        assert show.keynote.id is not None
        channel = live.channel(show.expo.id or 0)
        async with socket(server, additional_headers=cookie_of(server, "org@example.com")) as ws:
            await subscribe(ws, channel)
            await figures_where(ws, channel, live_viewers=0)

            redis_server.kill()
            deadline = time.monotonic() + 20
            while not any(r.name == "expo.dashboards" for r in caplog.records):
                assert time.monotonic() < deadline, "the board never met the outage"
                await asyncio.sleep(0.05)
            redis_server.start()

            async def watched() -> None:
                await platform.get(Audience).watch(show.keynote.id, "user:4242", ViewVia.PAGE)

            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(BusError):
                    server.call(watched())
                    break
                assert time.monotonic() < deadline, "Redis did not come back"
                await asyncio.sleep(0.1)
            await figures_where(ws, channel, live_viewers=1)
    stopped = [r for r in caplog.records if r.name == "expo.dashboards" and r.levelname == "WARNING"]
    assert not stopped, [r.getMessage() for r in stopped]
