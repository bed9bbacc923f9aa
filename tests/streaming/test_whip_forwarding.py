"""A WHIP POST that reaches a process which does not hold the stream is forwarded to the one that
does (see streaming/media_api.py and streaming/cluster.py), in one test process.

tests/streaming/test_cluster.py checks the same end to end with two ``expo serve`` processes; this
serves two apps on loopback here instead (each with its public and its private socket, one SQLite
store, one Redis), so the forwarding code runs where coverage and mutation testing can see it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection
from starlette.applications import Starlette

from expo.app import create_app
from expo.cli import listening_socket
from streaming.cluster import Cluster, session_owner
from streaming.plane import MediaPlane
from tests.conftest import LiveServer, create_schema, make_settings
from tests.streaming.test_multiprocess import own_redis_database
from tests.streaming.test_whip_whep import new_stream, publish


class ClusterServer(LiveServer):
    """A :class:`LiveServer` that is also one of the cluster's processes: a private socket of its
    own, named on the bus, as ``expo serve`` listens."""

    def __init__(self, app: Starlette) -> None:
        super().__init__(app)
        self.public = listening_socket("127.0.0.1", self.port)
        self.private: socket.socket = listening_socket("127.0.0.1", 0)
        app.state.platform.get(Cluster).listen_on("127.0.0.1", self.private.getsockname()[1])

    @property
    def plane(self) -> MediaPlane:
        plane: MediaPlane = self.app.state.platform.get(MediaPlane)
        return plane

    def _serve(self) -> None:
        # LiveServer's, serving both sockets as ``expo serve`` does.
        with asyncio.Runner(loop_factory=self.server.config.get_loop_factory()) as runner:
            self.loop = runner.get_loop()
            runner.run(self.server.serve(sockets=[self.public, self.private]))

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.public.close()
        self.private.close()


@pytest.fixture
def two_processes(tmp_path: Path, redis_url: str) -> Iterator[tuple[ClusterServer, ClusterServer]]:
    """Apps A and B, each serving as one process of a cluster, on one SQLite store and a Redis
    database of their own."""
    with own_redis_database(redis_url) as bus_url:
        settings = make_settings(tmp_path, bus_url=bus_url)
        asyncio.run(create_schema(settings.database))
        a = ClusterServer(create_app(settings, check_schema=False))
        b = ClusterServer(create_app(settings, check_schema=False))
        with a, b:
            yield a, b


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    """Peer connections to close after the test, whatever happened."""
    pcs: list[RTCPeerConnection] = []
    yield pcs
    for pc in pcs:
        await pc.close()


async def test_a_second_encoder_sent_to_another_process_is_refused_by_the_one_holding_the_stream(
    two_processes: tuple[ClusterServer, ClusterServer], peers: list[RTCPeerConnection]
) -> None:
    a, b = two_processes
    stream_id, key = new_stream(a)
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=20) as on_a,
        httpx.AsyncClient(base_url=b.url, timeout=20) as on_b,
    ):
        first = await publish(on_a, stream_id, key)
        peers.append(first.pc)
        assert first.response.status_code == 201, first.response.text
        assert session_owner(first.location.rsplit("/", 1)[1]) == a.plane.instance

        # A wrong key is refused by B itself, before anything is forwarded.
        wrong = await publish(on_b, stream_id, "not-the-key")
        assert wrong.response.status_code == 401
        assert wrong.response.json()["error"]["code"] == "stream.bad_key"

        # B holds nothing for the stream: it asks A, which has a publisher, and passes on A's 409.
        second = await publish(on_b, stream_id, key)
        peers.append(second.pc)
        assert second.response.status_code == 409, second.response.text
        assert second.response.json()["error"]["code"] == "stream.publisher_connected"
        assert stream_id not in b.plane.publishers
        assert a.plane.publishers[stream_id].id == first.location.rsplit("/", 1)[1]

        # The first encoder's session still ends the broadcast, from either process.
        ended = await on_b.delete(first.location, headers={"Authorization": f"Bearer {key}"})
        assert ended.status_code == 200, ended.text
        stats = await on_a.get(f"/api/streams/{stream_id}/stats")
        assert stats.json()["status"] == "ended"
