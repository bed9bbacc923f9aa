"""A broadcast left "live" by a process that is gone is reconciled when a process starts (issue 12,
finding 7), while one that a running process publishes stays live.

Processes here are apps served by uvicorn on loopback, on one SQLite store and, for several of
them, one real Redis bus. A process killed with ``kill -9`` is played by what it leaves behind: the
stream live in the store and, for a while, its name in the publishers' presence on the bus.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from aiortc import RTCPeerConnection
from starlette.applications import Starlette

from expo.app import create_app
from expo.bus import connect_bus
from expo.config import Settings
from expo.expos.services import ensure_expo
from streaming import services
from streaming.plane import PUBLISHERS_KEY, MediaPlane
from tests.conftest import LiveServer, create_schema, make_settings
from tests.streaming.test_whip_whep import publish

DEADLINE = 30.0


def app_with_short_waits(settings: Settings, *, presence_interval: float = 0.5) -> Starlette:
    """An app whose media plane waits 0.2 s for a lost publisher (instead of 10 s)."""
    app = create_app(settings, check_schema=False)
    plane = app.state.platform.get(MediaPlane)
    plane.reconnect_grace = 0.2
    plane.presence_interval = presence_interval
    return app


async def stream_in_store(settings: Settings, title: str, *, live: bool) -> tuple[int, str]:
    """A stream (id, key) written straight to the store, live as a dead process would leave it."""
    app = create_app(settings, check_schema=False)  # not started: only its store is used
    db = app.state.platform.db
    try:
        async with db.session() as session:
            expo = await ensure_expo(session, "fair", "Fair")
            stream = await services.create_stream(session, expo=expo, title=title, owner=None)
            if live:
                stream = await services.go_live(session, stream)
            assert stream.id is not None
            return stream.id, stream.key
    finally:
        await db.dispose()


async def status_of(server: LiveServer, stream_id: int) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        figures: dict[str, str] = (await http.get(f"/api/streams/{stream_id}/stats")).json()
    return figures["status"]


async def until_status(server: LiveServer, stream_id: int, wanted: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while (status := await status_of(server, stream_id)) != wanted:
        assert time.monotonic() < deadline, f"stream {stream_id} is still {status}, not {wanted}"
        await asyncio.sleep(0.1)


async def test_a_stream_left_live_by_a_dead_process_ends_when_the_app_starts(settings: Settings) -> None:
    await create_schema(settings.database)
    orphan, _ = await stream_in_store(settings, "Left live", live=True)
    scheduled, _ = await stream_in_store(settings, "Tomorrow", live=False)
    with LiveServer(app_with_short_waits(settings)) as server:
        await until_status(server, orphan, "ended")
        assert await status_of(server, scheduled) == "scheduled"


@pytest.fixture
def shared(tmp_path: Path, redis_url: str) -> Iterator[Settings]:
    """Settings of several processes: one SQLite store, one Redis database of their own."""
    bus_url = redis_url.rsplit("/", 1)[0] + f"/{random.randint(1, 15)}"
    settings = make_settings(tmp_path, bus_url=bus_url)
    asyncio.run(create_schema(settings.database))
    yield settings
    client = redis.Redis.from_url(bus_url)
    keys = list(client.scan_iter("expo:*stream*"))
    if keys:
        client.delete(*keys)


async def test_a_starting_process_leaves_the_broadcasts_of_running_ones_live(shared: Settings) -> None:
    published, key = await stream_in_store(shared, "Published on A", live=False)
    pcs: list[RTCPeerConnection] = []
    try:
        with LiveServer(create_app(shared, check_schema=False)) as a:
            async with httpx.AsyncClient(base_url=a.url, timeout=20) as http:
                publisher = await publish(http, published, key)
            pcs.append(publisher.pc)
            assert publisher.response.status_code == 201, publisher.response.text
            # What processes killed just now left: a live stream nobody names, and one that the
            # killed process still names on the bus until its presence lapses.
            orphan, _ = await stream_in_store(shared, "Left live", live=True)
            named, _ = await stream_in_store(shared, "Named by the dead", live=True)
            b_app = app_with_short_waits(shared, presence_interval=1.0)
            b_plane = b_app.state.platform.get(MediaPlane)
            bus = connect_bus(shared.bus_url)
            await bus.connect()
            try:
                await bus.presence_touch(PUBLISHERS_KEY, f"{named}/dead", b_plane.presence_ttl)
            finally:
                await bus.close()
            with LiveServer(b_app) as b:
                await until_status(b, orphan, "ended")
                await until_status(b, named, "ended")
                # B has looked at A's broadcast by now, and left it to A.
                assert await status_of(b, published) == "live"
                assert published not in b_plane._grace
                assert published in a.app.state.platform.get(MediaPlane).publishers
            # A stops (SIGTERM) while its encoder still sends: the stream stays live for a restart.
    finally:
        for pc in pcs:
            await pc.close()
    assert await stream_status_in_store(shared, published) == "live"
    # No encoder comes back: the next process to start ends it.
    with LiveServer(app_with_short_waits(shared)) as c:
        await until_status(c, published, "ended")


async def stream_status_in_store(settings: Settings, stream_id: int) -> str:
    app = create_app(settings, check_schema=False)
    db = app.state.platform.db
    try:
        async with db.session() as session:
            return (await services.get_stream(session, stream_id)).status
    finally:
        await db.dispose()
