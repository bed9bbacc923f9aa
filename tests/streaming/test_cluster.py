"""Media as a cluster property: any server process serves any stream (see streaming/cluster.py and
streaming/relay.py).

The end-to-end test runs two real ``expo serve`` processes on one PostgreSQL and one Redis, on
ports of their own so that each request goes where the test says (``--workers 2`` puts them on one
port, where the kernel picks). The publisher is on A; WHEP viewers on A and on B decode pictures
and sound (B's relayed from A); ffprobe decodes the HLS that B forwards from A; a second encoder
sent to B is refused as by A; sessions' DELETEs sent to the wrong process work; room requests on B
reach the room A holds; and when A is killed, B's viewer sees the broadcast end while the figures
stay right and B keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from starlette.requests import HTTPConnection

from expo.bus import Bus, connect_bus
from expo.cli import main
from streaming.broadcaster import Broadcaster
from streaming.cluster import SIGNATURE_HEADER, Cluster, session_owner
from streaming.plane import publishing_claim
from tests.bus.test_bus import delete_namespace
from tests.streaming.synthetic import FFPROBE
from tests.streaming.test_multiprocess import (
    EXPO,
    ServerProcess,
    create_stream,
    eventually,
    every,
    own_redis_database,
    server_environment,
)
from tests.streaming.test_whip_whep import Player, first_frames, play, publish

SECRET = "cluster-secret-" + "x" * 32


@pytest.fixture
def cluster(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> Iterator[tuple[dict[str, str], ServerProcess, ServerProcess]]:
    """The environment and processes A and B on one PostgreSQL and one Redis."""
    with own_redis_database(redis_url) as bus_url:
        env = server_environment(tmp_path, bus_url, postgres_url)
        started: list[ServerProcess] = []
        try:
            a = ServerProcess(env, tmp_path / "a.log")
            started.append(a)
            a.wait_ready()  # A migrates the empty store first
            b = ServerProcess(env, tmp_path / "b.log")
            started.append(b)
            b.wait_ready()
            env["EXPO_PUBLIC_URL"] = a.url
            yield env, a, b
        finally:
            for server in started:
                server.stop()


def create_room(env: dict[str, str]) -> tuple[int, str]:
    """``expo rooms create``: the room's id and guest key."""
    created = rooms_create(env)
    return created["id"], link_key(created, "guest")


def link_key(created: dict[str, Any], role: str) -> str:
    """The key in the ``host`` or ``guest`` link of a room ``expo rooms create`` printed."""
    return parse_qs(urlsplit(created[f"{role}_url"]).query)["key"][0]


def rooms_create(env: dict[str, str]) -> dict[str, Any]:
    """``expo rooms create``: the room's contract object."""
    done = subprocess.run(
        [str(EXPO), "rooms", "create", "--title", "Two processes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    created: dict[str, Any] = json.loads(done.stdout)
    return created


def probe(url: str) -> dict[str, dict[str, Any]]:
    """The streams ffprobe decodes from an HLS playlist, by kind."""
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


async def ended(player: Player) -> bool:
    """Whether the viewer's broadcast is over: connection closed, or its video track ended."""
    if player.pc.connectionState in ("closed", "failed"):
        return True
    try:
        async with asyncio.timeout(0.5):
            await player.tracks["video"].recv()
    except MediaStreamError:
        return True
    except TimeoutError:
        return True  # no frame for half a second from a 30 fps broadcast: the media is gone
    return False


async def test_any_process_serves_the_broadcast_and_survives_the_origin(
    cluster: tuple[dict[str, str], ServerProcess, ServerProcess],
) -> None:
    env, a, b = cluster
    created = create_stream(env)
    stream = created["id"]
    broadcaster = Broadcaster(created["whip_url"], created["key"], width=320, height=180, max_backoff=2)
    broadcaster.start()
    pcs: list[RTCPeerConnection] = []
    try:
        async with (
            httpx.AsyncClient(base_url=a.url, timeout=20) as on_a,
            httpx.AsyncClient(base_url=b.url, timeout=20) as on_b,
        ):

            async def stats(http: httpx.AsyncClient) -> dict[str, Any]:
                response = await http.get(f"/api/streams/{stream}/stats")
                assert response.status_code == 200, response.text
                result: dict[str, Any] = response.json()
                return result

            await eventually(lambda: stats(on_b), lambda s: s["status"] == "live", "live on B")
            # A second encoder is refused by whichever process it reaches (B asks A, which holds it).
            second = await publish(on_b, stream, created["key"])
            assert second.response.status_code == 409, second.response.text
            assert second.response.json()["error"]["code"] == "stream.publisher_connected"

            # WHEP viewers on both processes decode pictures and sound; B's come over the relay.
            players: list[Player] = []
            for http in (on_a, on_b, on_b):
                player = await play(http, stream)
                pcs.append(player.pc)
                assert player.response.status_code == 201, player.response.text
                players.append(player)
            on_a_player, on_b_player, on_b_second = players
            for player in players:
                assert (await first_frames(player, "video", 3))[0].width == 320
                assert len(await first_frames(player, "audio", 3)) == 3
            # Session ids name the process that holds them, which differs between A and B.
            owners = {session_owner(p.location.rsplit("/", 1)[1]) for p in players}
            assert len(owners) == 2 and "" not in owners

            # HLS fetched from B (which packages nothing) decodes: forwarded from A.
            index = await eventually(
                lambda: on_b.get(created["hls_url"].replace(a.url, b.url)),
                lambda r: r.status_code == 200,
                "HLS index on B",
            )
            media = next(line for line in index.text.splitlines() if line.startswith("media.m3u8?v="))
            playlist_url = f"{b.url}/live/{stream}/{media}"

            async def segments() -> list[str]:
                playlist = await on_b.get(playlist_url)
                assert playlist.status_code == 200, playlist.text
                return [line for line in playlist.text.splitlines() if line.endswith(".ts")]

            listed = await eventually(segments, lambda names: len(names) >= 1, "a segment on B")
            segment = await on_b.get(f"/live/{stream}/{listed[-1]}")
            assert segment.status_code == 200 and segment.content[:1] == b"\x47"
            assert "immutable" in segment.headers["cache-control"]
            decoded = await asyncio.to_thread(probe, playlist_url)
            assert decoded["video"]["codec_name"] == "h264" and decoded["video"]["width"] == 320
            assert "audio" in decoded

            # Everyone counted once, whichever process they reached: 3 WHEP viewers and 1 HLS.
            async with every(2.0, segments):
                counted = await eventually(
                    lambda: stats(on_b), lambda s: s["live_viewers"] == 4 and s["total_views"] == 4, "4 live"
                )
                assert await stats(on_a) == counted

                # A DELETE landing on the other process reaches the session's owner, both ways.
                assert (await on_b.delete(on_a_player.location)).status_code == 200
                assert (await on_a.delete(on_b_second.location)).status_code == 200
                await eventually(
                    lambda: ended(on_b_second), lambda gone: gone, "B's second viewer gone after its DELETE"
                )
                await eventually(lambda: ended(on_a_player), lambda gone: gone, "A's viewer gone")
                assert (await on_a.delete(on_a_player.location)).status_code == 404  # already left
                await eventually(
                    lambda: stats(on_b), lambda s: s["live_viewers"] == 2, "2 live after leaving"
                )
                assert not await ended(on_b_player)  # the other viewer on B still plays

            # A room's people are in the process that admitted the first: the others forward to it.
            room, key = create_room(env)
            ada = await on_a.post(f"/api/rooms/{room}/participants", json={"key": key, "name": "Ada"})
            assert ada.status_code == 201, ada.text
            bob = await on_b.post(f"/api/rooms/{room}/participants", json={"key": key, "name": "Bob"})
            assert bob.status_code == 201, bob.text
            assert [p["name"] for p in bob.json()["participants"]] == ["Ada"]
            present = await on_b.get(f"/api/rooms/{room}/participants", params={"key": key})
            assert sorted(p["name"] for p in present.json()["participants"]) == ["Ada", "Bob"]

            # The origin dies: B's viewer sees the broadcast end, B keeps serving, figures hold.
            a.process.send_signal(signal.SIGKILL)
            a.process.wait(timeout=10)
            await eventually(lambda: ended(on_b_player), lambda gone: gone, "B's viewer sees the end")
            assert (await on_b.get("/healthz")).status_code == 200
            after = await eventually(
                lambda: stats(on_b), lambda s: s["live_viewers"] <= 1, "B's viewer no longer counted"
            )
            assert after["total_views"] == 4 and after["peak_viewers"] == 4
            again = await play(on_b, stream)
            pcs.append(again.pc)
            assert again.response.status_code == 409, again.response.text
    finally:
        for pc in pcs:
            await pc.close()
        with contextlib.suppress(Exception):
            await broadcaster.stop()


def test_internal_requests_need_the_private_socket_and_a_current_signature() -> None:
    cluster = Cluster(connect_bus("memory://"), SECRET)
    cluster.listen_on("127.0.0.1", 41000)
    path = "/internal/relay/7"

    def connection(port: int, signature: str, at: str = path) -> HTTPConnection:
        scope = {
            "type": "websocket",
            "path": at,
            "server": ("127.0.0.1", port),
            "headers": [(SIGNATURE_HEADER.encode(), signature.encode())],
            "query_string": b"",
            "scheme": "ws",
        }
        return HTTPConnection(scope)

    signed = cluster.sign("GET", path)
    assert cluster.verify(connection(41000, signed), "GET")
    assert not cluster.verify(connection(8000, signed), "GET")  # the public socket
    assert not cluster.verify(connection(41000, signed, "/internal/relay/8"), "GET")  # another stream
    assert not cluster.verify(connection(41000, cluster.sign("GET", path, time.time() - 3600)), "GET")
    other = Cluster(connect_bus("memory://"), "another-secret-" + "y" * 32)
    assert not cluster.verify(connection(41000, other.sign("GET", path)), "GET")
    assert not cluster.verify(connection(41000, ""), "GET")


def test_several_workers_need_a_shared_bus(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path}"\nbus_url = "memory://"\n')
    assert main(["serve", "--workers", "2", "--config", str(config)]) == 2
    assert "workers" in capsys.readouterr().err


async def test_two_processes_taking_one_streams_publisher_at_once_let_one_go_on(redis_url: str) -> None:
    # Each process's own check and the bus presence cannot see an encoder another process is
    # accepting at this very moment; the claim on the bus does.
    namespace = f"expo-test:{secrets.token_hex(6)}:"
    buses = [connect_bus(redis_url, namespace=namespace) for _ in range(2)]
    for bus in buses:
        await bus.connect()
    try:
        both_tried = asyncio.Barrier(2)

        async def take(bus: Bus) -> bool:
            async with publishing_claim(bus, 7) as alone:
                await both_tried.wait()  # neither lets go before the other has asked
                return alone

        assert sorted(await asyncio.gather(*(take(bus) for bus in buses))) == [False, True]
        async with publishing_claim(buses[1], 7) as alone:  # released: the next encoder may go on
            assert alone
        async with publishing_claim(buses[0], 8) as alone:  # other streams were never held
            assert alone
    finally:
        for bus in buses:
            await bus.close()
        await delete_namespace(redis_url, namespace)
