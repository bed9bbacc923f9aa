"""The page-side realtime socket, on a real uvicorn server with the real ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from expo import realtime
from expo.accounts import services
from expo.accounts.models import TokenKind
from expo.app import create_app
from expo.bus import connect_bus
from expo.realtime import MAX_FRAME_BYTES, MAX_SUBSCRIPTIONS, presence, publish_event
from tests.conftest import LiveServer, create_schema, make_settings

Frame = dict[str, Any]


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/ws"


@asynccontextmanager
async def socket(server: LiveServer, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    async with connect(ws_url(server), open_timeout=10, **kwargs) as ws:
        yield ws


async def send(ws: ClientConnection, frame: Frame | str | bytes) -> None:
    await ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))


async def receive_until(ws: ClientConnection, match: Callable[[Frame], bool], timeout: float = 10) -> Frame:
    """The first frame that ``match`` accepts, skipping others, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            frame: Frame = json.loads(await ws.recv())
            if match(frame):
                return frame


async def subscribe(ws: ClientConnection, channel: str) -> None:
    await send(ws, {"type": "subscribe", "channel": channel})
    await receive_until(ws, lambda f: f == {"type": "subscribed", "channel": channel})


async def online_becomes(ws: ClientConnection, count: int) -> Frame:
    return await receive_until(
        ws, lambda f: f.get("channel") == "online" and f.get("data") == {"online": count}
    )


def session_cookie(server: LiveServer, email: str) -> dict[str, str]:
    """A signed-in browser's cookie for a new account, created on the server's own store."""

    async def make() -> str:
        async with server.app.state.platform.db.session() as session:
            user = await services.create_user(session, email=email, password="correct horse battery")
            raw, _ = await services.issue_token(session, user, TokenKind.SESSION)
        return raw

    return {"Cookie": f"expo_session={server.call(make())}"}


async def test_online_count_follows_connections(live_server: LiveServer) -> None:
    async with socket(live_server) as first:
        await subscribe(first, "online")
        await online_becomes(first, 1)
        async with socket(live_server) as second:
            await subscribe(second, "online")
            await online_becomes(second, 2)
            await online_becomes(first, 2)
            async with httpx.AsyncClient(base_url=live_server.url) as http:
                assert (await http.get("/api/online")).json() == {"online": 2}
        await online_becomes(first, 1)


async def test_signed_in_user_counts_once_across_tabs(live_server: LiveServer) -> None:
    cookie = session_cookie(live_server, "tabs@example.com")
    bus = live_server.app.state.platform.bus
    assert live_server.call(bus.presence_members(realtime.ONLINE_KEY)) == []
    async with socket(live_server) as observer:
        await subscribe(observer, "online")
        await online_becomes(observer, 1)
        async with socket(live_server, additional_headers=cookie) as tab1:
            await online_becomes(observer, 2)
            async with socket(live_server, additional_headers=cookie) as tab2:
                await send(tab2, {"type": "ping"})
                await receive_until(tab2, lambda f: f == {"type": "pong"})
                members = live_server.call(bus.presence_members(realtime.ONLINE_KEY))
                assert len(members) == 2 and sum(m.startswith("user:") for m in members) == 1
                await tab1.close()
                # Wait until the server has withdrawn tab1, then check the user is still online.
                key = f"presence:connections:{next(m for m in members if m.startswith('user:'))}"
                async with asyncio.timeout(10):
                    while live_server.call(bus.presence_count(key)) != 1:
                        await asyncio.sleep(0.01)
                async with httpx.AsyncClient(base_url=live_server.url) as http:
                    assert (await http.get("/api/online")).json() == {"online": 2}
            await online_becomes(observer, 1)


async def test_published_events_reach_subscribers(live_server: LiveServer) -> None:
    bus = live_server.app.state.platform.bus
    async with socket(live_server) as listener, socket(live_server) as bystander:
        await subscribe(listener, "public:test")
        live_server.call(publish_event(bus, "public:test", {"hello": "world"}))
        live_server.call(bus.publish("public:test", "plain text"))
        first = await receive_until(listener, lambda f: f["type"] == "event")
        second = await receive_until(listener, lambda f: f["type"] == "event")
        assert first == {"type": "event", "channel": "public:test", "data": {"hello": "world"}}
        assert second["data"] == "plain text"
        # Not subscribed: nothing but the answer to its own ping.
        await send(bystander, {"type": "ping"})
        assert json.loads(await bystander.recv()) == {"type": "pong"}
        await send(listener, {"type": "unsubscribe", "channel": "public:test"})
        await receive_until(listener, lambda f: f == {"type": "unsubscribed", "channel": "public:test"})
        live_server.call(publish_event(bus, "public:test", "after"))
        await send(listener, {"type": "ping"})
        assert json.loads(await listener.recv()) == {"type": "pong"}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "frame.not_json"),
        ("[1, 2]", "frame.not_json"),
        (b"\x00binary", "frame.not_text"),
        ({"type": "shout"}, "frame.unknown_type"),
        ({"type": "subscribe", "channel": "public:" + "x" * MAX_FRAME_BYTES}, "frame.too_large"),
        ({"type": "subscribe", "channel": "Public:Upper"}, "channel.invalid"),
        ({"type": "subscribe", "channel": "public:" + "x" * 100}, "channel.invalid"),
        # "$" would let a trailing newline through: a channel nobody ever publishes on.
        ({"type": "subscribe", "channel": "public:test\n"}, "channel.invalid"),
        ({"type": "subscribe"}, "channel.invalid"),
        ({"type": "subscribe", "channel": "presence:online"}, "channel.forbidden"),
        ({"type": "subscribe", "channel": "admin:secrets"}, "channel.forbidden"),
    ],
)
async def test_bad_frames_get_an_error_and_the_connection_stays_up(
    live_server: LiveServer, frame: Frame | str | bytes, code: str
) -> None:
    async with socket(live_server) as ws:
        await send(ws, frame)
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["code"] == code and error["message"]
        await send(ws, {"type": "ping"})
        assert json.loads(await ws.recv()) == {"type": "pong"}


async def test_subscriptions_per_connection_are_limited(live_server: LiveServer) -> None:
    async with socket(live_server) as ws:
        for n in range(MAX_SUBSCRIPTIONS):
            await subscribe(ws, f"public:room-{n}")
        await send(ws, {"type": "subscribe", "channel": "public:one-too-many"})
        error = await receive_until(ws, lambda f: f["type"] == "error")
        assert error["code"] == "channel.too_many"
        # Dropping one makes room again.
        await send(ws, {"type": "unsubscribe", "channel": "public:room-0"})
        await subscribe(ws, "public:one-too-many")


async def test_registered_prefixes_decide_who_may_subscribe(live_server: LiveServer) -> None:
    async def signed_in_only(user: Any, channel: str) -> bool:
        return user is not None

    live_server.app.state.platform.realtime.allow_prefix("staff:", signed_in_only)
    try:
        cookie = session_cookie(live_server, "staff@example.com")
        async with socket(live_server) as anonymous, socket(live_server, additional_headers=cookie) as staff:
            await send(anonymous, {"type": "subscribe", "channel": "staff:desk"})
            refused = await receive_until(anonymous, lambda f: f["type"] == "error")
            assert refused["code"] == "channel.forbidden"
            await subscribe(staff, "staff:desk")
    finally:
        live_server.app.state.platform.realtime._prefixes.pop("staff:")


async def test_slow_client_does_not_hold_up_others(live_server: LiveServer) -> None:
    bus = live_server.app.state.platform.bus
    padding = "x" * 4000
    async with socket(live_server) as slow, socket(live_server) as fast:
        await subscribe(slow, "public:firehose")
        await subscribe(fast, "public:firehose")

        async def flood() -> None:
            # Far more than the slow client's socket buffers and send queue can hold.
            for n in range(3000):
                await publish_event(bus, "public:firehose", {"n": n, "padding": padding})
                if n % 100 == 0:
                    await asyncio.sleep(0)
            await publish_event(bus, "public:firehose", {"n": "last"})

        publisher = asyncio.get_running_loop().run_in_executor(None, live_server.call, flood())
        fast_seen = await numbers_until_last(fast)
        await publisher
        assert len(fast_seen) > 1000
        # The slow client lost old events, not new ones: the last one still arrives. Frames written
        # at once and frames queued behind a full socket buffer never overtake each other.
        slow_seen = await numbers_until_last(slow)
        for seen in (fast_seen, slow_seen):
            assert seen == sorted(set(seen))


async def numbers_until_last(ws: ClientConnection) -> list[int]:
    """The ``n`` of every firehose event received, up to the one marked ``last``."""
    seen: list[int] = []
    async with asyncio.timeout(30):
        while True:
            frame = json.loads(await ws.recv())
            n = frame.get("data", {}).get("n")
            if n == "last":
                return seen
            if isinstance(n, int):
                seen.append(n)


async def test_cross_origin_socket_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with socket(live_server, origin=Origin("http://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        async with socket(live_server, origin=Origin("null")):
            pass
    async with socket(live_server, origin=Origin(live_server.url)) as same_site:
        await send(same_site, {"type": "ping"})
        assert json.loads(await same_site.recv()) == {"type": "pong"}


async def test_forged_bearer_token_is_refused(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with socket(live_server, additional_headers={"Authorization": "Bearer exp_forged"}):
            pass
    assert refused.value.response.status_code == 403


async def test_online_endpoint_is_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/online")
    assert response.status_code == 200
    assert response.json() == {"online": 0}


def share_redis_namespace(app: Starlette, url: str, namespace: str) -> None:
    """Put the app on its own namespace of the shared Redis, so other test runs cannot skew counts."""
    platform = app.state.platform
    platform.bus = connect_bus(url, namespace=namespace)
    # The login limiters follow the bus; a new registry takes the metrics that are set up again.
    platform.registry = CollectorRegistry()
    platform.__post_init__()


async def test_online_count_agrees_across_processes(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path, bus_url=redis_url)
    await create_schema(settings.database)
    namespace = f"test-{secrets.token_hex(6)}:"
    apps = [create_app(settings, check_schema=False) for _ in range(2)]
    for app in apps:
        share_redis_namespace(app, redis_url, namespace)
    with LiveServer(apps[0]) as one, LiveServer(apps[1]) as two:
        async with socket(one) as on_one:
            await subscribe(on_one, "online")
            await online_becomes(on_one, 1)
            async with socket(two) as on_two:
                await subscribe(on_two, "online")
                await online_becomes(on_two, 2)
                await online_becomes(on_one, 2)
                for server in (one, two):
                    async with httpx.AsyncClient(base_url=server.url) as http:
                        assert (await http.get("/api/online")).json() == {"online": 2}
            await online_becomes(on_one, 1)


async def test_sockets_sharing_a_channel_each_get_every_event_and_come_and_go_freely(
    live_server: LiveServer,
) -> None:
    bus = live_server.app.state.platform.bus

    async def event(ws: ClientConnection, n: int) -> None:
        await receive_until(ws, lambda f: f.get("type") == "event" and f["data"] == {"n": n})

    async with socket(live_server) as one, socket(live_server) as two:
        await subscribe(one, "public:shared")
        await subscribe(two, "public:shared")
        live_server.call(publish_event(bus, "public:shared", {"n": 1}))
        await event(one, 1)
        await event(two, 1)
        # One page leaves the channel: the other still hears it.
        await send(one, {"type": "unsubscribe", "channel": "public:shared"})
        await receive_until(one, lambda f: f == {"type": "unsubscribed", "channel": "public:shared"})
        live_server.call(publish_event(bus, "public:shared", {"n": 2}))
        await event(two, 2)
        # Everybody gone, then a page comes back: the channel works again.
        await send(two, {"type": "unsubscribe", "channel": "public:shared"})
        await receive_until(two, lambda f: f == {"type": "unsubscribed", "channel": "public:shared"})
        await subscribe(one, "public:shared")
        live_server.call(publish_event(bus, "public:shared", {"n": 3}))
        await event(one, 3)
    # Closed sockets leave no subscription behind on the bus.
    async with asyncio.timeout(10):
        while bus._fanout.has_subscribers("public:shared"):
            await asyncio.sleep(0.02)


async def test_an_open_socket_stays_counted_past_its_heartbeat_ttl(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(presence, "PRESENCE_TTL", 0.5)
    bus = live_server.app.state.platform.bus

    def expiry() -> float | None:
        members = bus._presence.get(realtime.ONLINE_KEY, {})
        return max(members.values()) if members else None

    async with socket(live_server) as ws:
        await send(ws, {"type": "ping"})
        await receive_until(ws, lambda f: f == {"type": "pong"})
        first = expiry()
        assert first is not None
        # Wait until the socket's first heartbeat has lapsed: the process's one heartbeat task has
        # renewed it meanwhile, so it still counts.
        async with asyncio.timeout(5):
            while bus._clock() <= first + 0.1:
                await asyncio.sleep(0.02)
        renewed = expiry()
        assert renewed is not None and renewed > first
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            assert (await http.get("/api/online")).json() == {"online": 1}
    async with asyncio.timeout(5):
        while live_server.app.state.platform.realtime.heartbeats._kept:
            await asyncio.sleep(0.02)
