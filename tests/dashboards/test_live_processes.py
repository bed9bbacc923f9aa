"""Two servers on one Redis and one PostgreSQL store, each with an organizer's dashboard open:
both pages get every change, and each change is published once, not once per server."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from expo.app import create_app
from expo.dashboards import live
from streaming.audience import Audience
from streaming.models import ViewVia
from tests.conftest import LiveServer, create_schema, make_settings
from tests.dashboards.conftest import seed_show
from tests.dashboards.test_live import cookie_of, figures_where
from tests.test_realtime import socket, subscribe


@pytest.fixture
def servers(tmp_path: Path, redis_url: str, postgres_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    # A Redis database of its own among 1-15, emptied afterwards (as tests/streaming does), so the
    # presence and counters of tests running at the same time on database 0 stay out of it.
    bus_url = redis_url.rsplit("/", 1)[0] + f"/{random.randint(1, 15)}"
    settings = make_settings(tmp_path, database_url=postgres_url, bus_url=bus_url)
    asyncio.run(create_schema(postgres_url))
    with (
        LiveServer(create_app(settings, check_schema=False)) as a,
        LiveServer(create_app(settings, check_schema=False)) as b,
    ):
        yield a, b
    client = redis.Redis.from_url(bus_url)
    keys = list(client.scan_iter("expo:*dashboard*")) + list(client.scan_iter("expo:*stream*"))
    if keys:
        client.delete(*keys)


async def test_two_servers_show_the_same_figures_published_once(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = servers
    show = a.call(seed_show(a.app))
    channel = live.channel(show.expo.id or 0)
    assert show.keynote.id is not None
    async with (
        socket(a, additional_headers=cookie_of(a, "org@example.com")) as on_a,
        socket(b, additional_headers=cookie_of(b, "org@example.com")) as on_b,
    ):
        await subscribe(on_a, channel)
        await subscribe(on_b, channel)
        # Someone watches on server B; the organizer's pages on both servers see it.
        b.call(b.app.state.platform.get(Audience).watch(show.keynote.id, "user:777", ViewVia.WHEP))
        seen_a = await figures_where(on_a, channel, live_viewers=1)
        seen_b = await figures_where(on_b, channel, live_viewers=1)
        assert seen_a == seen_b
        # Both servers tick every interval, but only one computes each tick, and only a change is
        # published: over the next ticks no second copy of these figures arrives.
        extra: list[object] = []
        try:
            async with asyncio.timeout(3 * live.INTERVAL):
                while True:
                    frame = json.loads(await on_a.recv())
                    if frame.get("channel") == channel and frame["data"].get("live_viewers") == 1:
                        extra.append(frame["data"])
        except TimeoutError:
            pass
        assert [d for d in extra if d == seen_a] == []
