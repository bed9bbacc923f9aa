"""Redis goes away and comes back (issue 12, "Fault tests"), on a redis-server of the test's own.

First the bus alone: commands fail fast with :class:`BusError` while Redis is gone, the outage is
logged once, and the subscriptions carry on when it returns. Then the whole server, mid-broadcast
(a real aiortc publisher over WHIP, a WHEP player, a watch page's heartbeats, a page socket):
pages keep answering, the player keeps getting frames, registrations are stored and acknowledged
or refused with a 503 and never acknowledged then lost, and once Redis is back on the same port
the live figures and the socket's channel recover without restarting anything.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from websockets.asyncio.client import ClientConnection, connect

from expo.accounts import services as accounts
from expo.accounts.models import TokenKind, User
from expo.app import create_app
from expo.bus import BusError
from expo.bus.redis import RedisBus
from expo.registration.models import Registration
from streaming import services
from streaming.models import ChatMessage, StreamRegistration
from tests.bus.redis_server import RedisServer, redis_server
from tests.bus.test_bus import receive
from tests.conftest import LiveServer, create_schema, make_settings
from tests.streaming.teams import give_booth
from tests.streaming.test_whip_whep import first_frames, new_stream, play, publish

__all__ = ["redis_server"]

DEADLINE = 30.0  # for anything that must recover after Redis returns
PAGE_TIMEOUT = 5.0  # a page that takes longer than this during the outage counts as hanging
OUTAGE_LOGS = "is unreachable"


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "expo.bus.redis" and OUTAGE_LOGS in r.getMessage()
    ]


# -- the bus alone -------------------------------------------------------------------------------


async def test_the_bus_fails_fast_while_redis_is_gone_and_resumes_when_it_returns(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="expo.bus.redis")
    bus = RedisBus(redis_server.url, namespace=f"outage:{secrets.token_hex(4)}:", backoff_max=0.5)
    await bus.connect()
    try:
        async with bus.subscribe("news") as subscription:
            await bus.publish("news", "before")
            assert await receive(subscription) == ["before"]
            await bus.incr("counter")

            redis_server.kill()
            started = time.monotonic()
            failures = 0
            for _ in range(200):
                with pytest.raises(BusError):
                    await bus.presence_count("people")
                failures += 1
            # 200 commands, each failing at once rather than waiting for a connection attempt.
            assert time.monotonic() - started < 10
            assert await bus.ping() is False
            assert len(outage_lines(caplog)) == 1, caplog.text

            redis_server.start()

            async def delivered() -> bool:
                try:
                    await bus.publish("news", "after")
                except BusError:
                    return False
                try:
                    return await receive(subscription, timeout=0.2) == ["after"]
                except TimeoutError:
                    return False

            # The same subscription, never re-entered: the bus subscribed it again by itself.
            await until(delivered, "delivery on the old subscription after Redis returned")
        assert await bus.ping() is True
        # Redis came back empty (no persistence): counting starts again, and works.
        assert await bus.incr("counter") == 1
        # One outage, logged once; the idle connections to the old Redis did not flap it again.
        assert len(outage_lines(caplog)) == 1, caplog.text
        assert bus.outage.outages == 1 and not bus.outage.down
        assert failures == 200
    finally:
        await bus.close()


# -- the whole server ----------------------------------------------------------------------------


async def socket_on(server: LiveServer, channel: str) -> ClientConnection:
    ws = await connect(server.url.replace("http://", "ws://") + "/ws", open_timeout=10)
    await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
    async with asyncio.timeout(10):
        while json.loads(await ws.recv()) != {"type": "subscribed", "channel": channel}:
            pass
    return ws


async def frame_arrives(ws: ClientConnection, wanted: Mapping[str, object], within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("type") == "event" and frame.get("data") == wanted:
                    return True
    except TimeoutError:
        return False


def visitors(server: LiveServer, count: int) -> list[dict[str, str]]:
    """Bearer headers of ``count`` new visitor accounts (made before the outage)."""

    async def make() -> list[dict[str, str]]:
        headers = []
        async with server.app.state.platform.db.session() as session:
            for n in range(count):
                user = await accounts.create_user(
                    session, email=f"visitor{n}@example.org", password="correct horse battery", role="visitor"
                )
                raw, _ = await accounts.issue_token(session, user, TokenKind.API)
                headers.append({"Authorization": f"Bearer {raw}"})
        return headers

    return server.call(make())


def booth_in_fair(server: LiveServer) -> int:
    async def make() -> int:
        async with server.app.state.platform.db.session() as session:
            await accounts.create_user(
                session, email="exhibitor@example.org", password="correct horse battery", role="exhibitor"
            )
        return await give_booth(server.app.state.platform.db, "exhibitor@example.org", "fair")

    return server.call(make())


def stored_writes(server: LiveServer, stream_id: int) -> tuple[set[int], set[int], set[int]]:
    """User ids registered for the expo, for the stream, and who chatted there, as stored."""

    async def read() -> tuple[set[int], set[int], set[int]]:
        async with server.app.state.platform.db.session() as session:
            expo = set((await session.exec(select(Registration.user_id))).all())
            stream = set(
                (
                    await session.exec(
                        select(StreamRegistration.user_id).where(
                            col(StreamRegistration.stream_id) == stream_id
                        )
                    )
                ).all()
            )
            chat = set(
                (
                    await session.exec(
                        select(ChatMessage.user_id).where(col(ChatMessage.stream_id) == stream_id)
                    )
                ).all()
            )
        return expo, stream, {user for user in chat if user is not None}

    return server.call(read())


async def test_the_server_rides_out_a_redis_outage_mid_broadcast(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING")
    settings = make_settings(tmp_path, bus_url=redis_server.url)
    await create_schema(settings.database)
    with LiveServer(create_app(settings, check_schema=False)) as server:
        stream_id, key = new_stream(server)
        booth_id = booth_in_fair(server)
        people = visitors(server, 4)
        pages = ["/", "/expos/fair", f"/expos/fair/booths/{booth_id}", f"/watch/{stream_id}"]
        pcs = []
        ws = None
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=PAGE_TIMEOUT) as browser:
                # A visitor opens the watch page (which gives them their viewer cookie), its
                # heartbeat counts them, and the player (same browser, same person) plays.
                assert (await browser.get(f"/watch/{stream_id}")).status_code == 200
                assert (await browser.post(f"/api/streams/{stream_id}/heartbeat")).status_code == 200
                async with httpx.AsyncClient(base_url=server.url, timeout=20) as encoder:
                    publisher = await publish(encoder, stream_id, key)
                pcs.append(publisher.pc)
                assert publisher.response.status_code == 201, publisher.response.text
                player = await play(browser, stream_id)
                pcs.append(player.pc)
                assert player.response.status_code == 201, player.response.text
                assert len(await first_frames(player, "video", 3)) == 3
                ws = await socket_on(server, services.channel(stream_id))

                async def stats() -> dict[str, Any]:
                    response = await browser.get(f"/api/streams/{stream_id}/stats")
                    assert response.status_code in (200, 503), response.text
                    if response.status_code == 503:
                        assert response.json()["error"]["code"] == "service.unavailable"
                        return {}
                    figures: dict[str, Any] = response.json()
                    return figures

                async def one_viewer() -> bool:
                    await browser.post(f"/api/streams/{stream_id}/heartbeat")  # as the open page does
                    return (await stats()).get("live_viewers") == 1

                await until(one_viewer, "one person watching before the outage")
                before = await stats()
                assert before["total_views"] == 1

                redis_server.kill()

                # Pages answer, in time, whole.
                for path in pages * 3:
                    response = await browser.get(path)
                    assert response.status_code == 200, (path, response.status_code, response.text[:300])
                # The watch page's heartbeat and the figures: answered, or refused with a clear 503.
                for _ in range(5):
                    heartbeat = await browser.post(f"/api/streams/{stream_id}/heartbeat")
                    assert heartbeat.status_code in (200, 503), heartbeat.text
                    if heartbeat.status_code == 503:
                        assert heartbeat.json()["error"]["code"] == "service.unavailable"
                    await stats()
                # Registrations: stored and acknowledged, or refused with a 503 and not stored.
                acknowledged: set[str] = set()
                refused: set[str] = set()
                for n, headers in enumerate(people):
                    expo_reg = await browser.post("/api/expos/fair/registration", json={}, headers=headers)
                    assert expo_reg.status_code in (201, 503), expo_reg.text
                    (acknowledged if expo_reg.status_code == 201 else refused).add(f"expo:{n}")
                    stream_reg = await browser.post(f"/api/streams/{stream_id}/register", headers=headers)
                    assert stream_reg.status_code in (200, 503), stream_reg.text
                    (acknowledged if stream_reg.status_code == 200 else refused).add(f"stream:{n}")
                # A chat line: rate-limited per process meanwhile, stored, acknowledged.
                line = await browser.post(
                    f"/api/streams/{stream_id}/chat", json={"body": "still here?"}, headers=people[0]
                )
                assert line.status_code in (201, 503), line.text
                if line.status_code == 201:
                    acknowledged.add("chat:0")
                # The player still gets pictures: the media plane does not need Redis.
                assert len(await first_frames(player, "video", 30)) == 30

                redis_server.start()

                await until(one_viewer, "live_viewers back at 1 after Redis returned")
                after = await stats()
                # Still one view: the person watched on through the outage, nobody started again.
                assert after["total_views"] == before["total_views"] == 1
                assert after["live_viewers"] == 1
                assert after["status"] == "live"  # the broadcast went on; nobody ended it for want of Redis

                async def channel_back() -> bool:
                    probe = {"kind": "probe", "n": secrets.token_hex(4)}
                    try:
                        server.call(
                            server.app.state.platform.bus.publish(
                                services.channel(stream_id), json.dumps(probe)
                            )
                        )
                    except BusError:
                        return False
                    return await frame_arrives(ws, probe, within=0.3)

                await until(channel_back, "the page socket's channel after Redis returned")

                expo_ids, stream_ids, authors = stored_writes(server, stream_id)
                user_ids = user_ids_of(server, len(people))
                for entry in acknowledged | refused:
                    kind, index = entry.split(":")
                    stored = (
                        user_ids[int(index)]
                        in {"expo": expo_ids, "stream": stream_ids, "chat": authors}[kind]
                    )
                    if entry in acknowledged:
                        assert stored, f"{entry} was acknowledged, then lost"
                    else:
                        assert not stored, f"{entry} was refused, yet stored"
        finally:
            if ws is not None:
                await ws.close()
            for pc in pcs:
                await pc.close()

    assert len(outage_lines(caplog)) == 1, [r.getMessage() for r in caplog.records]
    failures = [
        r
        for r in caplog.records
        if r.levelname in ("ERROR", "CRITICAL") and r.name.startswith(("expo", "streaming", "uvicorn"))
    ]
    assert not failures, [f"{r.name}: {r.getMessage()}" for r in failures]


def user_ids_of(server: LiveServer, count: int) -> list[int]:
    """The ids of the accounts :func:`visitors` made, in order."""

    async def read() -> list[int]:
        async with server.app.state.platform.db.session() as session:
            ids = []
            for n in range(count):
                user = (await session.exec(select(User).where(User.email == f"visitor{n}@example.org"))).one()
                assert user.id is not None
                ids.append(user.id)
            return ids

    return server.call(read())
