"""Fixtures for the streaming tests: real aiortc broadcasts, and the real Chromium of tests/browser
for the watch and go-live pages."""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from streaming.router import MediaRouter
from tests.browser.conftest import browser, console_errors, page
from tests.streaming.peers import Broadcast, start_broadcast

__all__ = ["browser", "console_errors", "make_broadcast", "page"]


@pytest.fixture
async def make_broadcast() -> AsyncIterator[Callable[..., Awaitable[Broadcast]]]:
    started: list[Broadcast] = []

    async def make(codec: str = "video/H264", **router_options: int) -> Broadcast:
        broadcast = await start_broadcast(codec, MediaRouter(**router_options))
        started.append(broadcast)
        return broadcast

    yield make
    for broadcast in started:
        await broadcast.router.close()
        for pc in [broadcast.publisher, broadcast.server_pc, *broadcast.pcs]:
            await pc.close()
