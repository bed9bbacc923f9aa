"""Fixtures for the streaming tests: real aiortc broadcasts, and the real Chromium of tests/browser
for the watch and go-live pages."""

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

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


@pytest.fixture
def udp_receiver() -> Iterator[socket.socket]:
    """A UDP socket on loopback that reads what a viewer would, waiting up to 5 s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        yield sock
