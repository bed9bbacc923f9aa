"""Two real ``expo serve`` processes on one store and one Redis agree on a broadcast's figures.

Process A holds the broadcast: the synthetic broadcaster publishes to it over WHIP, an aiortc WHEP
player decodes it there, and an HLS player (httpx, no cookies) polls A's per-viewer media
playlist. A watch page on process B keeps its visitor counted with heartbeats. Both processes'
``/api/streams/{id}/stats`` report the same three live viewers and three views, and both drop to
zero once the viewers have gone, within the presence TTL. (B serving the media as well, relayed
from A, is tests/streaming/test_cluster.py's.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis
from aiortc import RTCPeerConnection

from streaming.audience import VIEWER_TTL
from streaming.broadcaster import Broadcaster
from tests.conftest import free_port
from tests.streaming.test_whip_whep import first_frames, play

T = TypeVar("T")

EXPO = Path(sys.executable).parent / "expo"
START_TIMEOUT = 60.0  # a loaded CI machine: imports and the first migration take 15 s at load 15
DEADLINE = 30.0


class ServerProcess:
    """``expo serve`` in a subprocess on a free port; its log goes to a file for failure messages."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [str(EXPO), "serve", "--port", str(self.port)],
                env={**env, "EXPO_PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.process.poll() is None, f"expo serve exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"no /healthz in {START_TIMEOUT} s:\n{self.output()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)  # not listening yet

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def server_environment(tmp_path: Path, bus_url: str, database_url: str | None) -> dict[str, str]:
    """``EXPO_*`` for server processes sharing one store (the SQLite file under ``tmp_path``
    unless ``database_url``) and one Redis."""
    env = {
        **os.environ,
        "EXPO_DATA_DIR": str(tmp_path / "data"),
        "EXPO_BUS_URL": bus_url,
        "EXPO_SECRET_KEY": "multiprocess-secret-" + "x" * 32,
        "EXPO_LOG_LEVEL": "warning",
        "EXPO_LOG_FORMAT": "text",
        "EXPO_ACCESS_LOG": "false",
    }
    if database_url:
        env["EXPO_DATABASE_URL"] = database_url
    env.pop("EXPO_CONFIG", None)
    return env


@contextlib.contextmanager
def own_redis_database(redis_url: str) -> Iterator[str]:
    """A Redis database among 1-15 that no other test holds (claimed with a lock key), emptied of
    what a run before left and of this test's keys afterwards, so that other tests using
    database 0 at the same time never see these streams' figures (a fresh store numbers its
    streams from 1 again)."""
    base = redis_url.rsplit("/", 1)[0]
    token = secrets.token_hex(8)
    deadline = time.monotonic() + DEADLINE
    while True:
        bus_url = f"{base}/{random.randint(1, 15)}"
        client = redis.Redis.from_url(bus_url)
        if client.set(_LOCK, token, nx=True, ex=600):
            break
        assert time.monotonic() < deadline, "every Redis database 1-15 is held by another test"
        time.sleep(0.2)  # all held: one is released when its test ends
    try:
        _empty(client)
        yield bus_url
    finally:
        _empty(client)
        if client.get(_LOCK) == token.encode():
            client.delete(_LOCK)


_LOCK = "test-lock"  # outside the app's "expo:" keys


def _empty(client: redis.Redis) -> None:
    keys = list(client.scan_iter("expo:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["sqlite", "postgresql"])
def environment(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """``EXPO_*`` for both processes: one store (a SQLite file or PostgreSQL) and one Redis."""
    database = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    with own_redis_database(redis_url) as bus_url:
        yield server_environment(tmp_path, bus_url, database)


@pytest.fixture
def servers(environment: dict[str, str], tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Processes A and B. A starts first (it migrates the empty store), then B."""
    started: list[ServerProcess] = []
    try:
        a = ServerProcess(environment, tmp_path / "a.log")
        started.append(a)
        a.wait_ready()
        b = ServerProcess(environment, tmp_path / "b.log")
        started.append(b)
        b.wait_ready()
        environment["EXPO_PUBLIC_URL"] = a.url  # printed URLs point at A, where the media is
        yield a, b
    finally:
        for server in started:
            server.stop()


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], what: str) -> T:
    deadline = time.monotonic() + DEADLINE
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {DEADLINE} s")
        await asyncio.sleep(0.25)


def create_stream(env: dict[str, str]) -> dict[str, Any]:
    """``expo streams create`` on the shared store, as an operator would run it."""
    done = subprocess.run(
        [str(EXPO), "streams", "create", "--title", "Two processes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    created: dict[str, Any] = json.loads(done.stdout)
    return created


@contextlib.asynccontextmanager
async def every(seconds: float, work: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Run ``work`` now and every ``seconds`` until the block ends (a player's or a page's loop)."""

    async def loop() -> None:
        while True:
            await work()
            await asyncio.sleep(seconds)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises what failed in ``work``


async def test_two_processes_on_one_redis_agree_on_the_audience(
    servers: tuple[ServerProcess, ServerProcess], environment: dict[str, str]
) -> None:
    a, b = servers
    created = create_stream(environment)
    stream = created["id"]
    assert created["whip_url"] == f"{a.url}/api/streams/{stream}/whip"

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10) as http:
            first = await http.get(f"{a.url}/api/streams/{stream}/stats")
            second = await http.get(f"{b.url}/api/streams/{stream}/stats")
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        return first.json(), second.json()

    broadcaster = Broadcaster(created["whip_url"], created["key"], width=320, height=180, max_backoff=2)
    broadcaster.start()
    pc: RTCPeerConnection | None = None
    try:
        await eventually(both, lambda s: s[0]["status"] == s[1]["status"] == "live", "status on A and B")
        async with (
            httpx.AsyncClient(base_url=a.url, timeout=10) as on_a,
            httpx.AsyncClient(base_url=b.url, timeout=10) as on_b,
        ):
            # 1. A WHEP player on A, decoding real frames.
            player = await play(on_a, stream)
            pc = player.pc
            assert player.response.status_code == 201, player.response.text
            frames = await first_frames(player, "video", 3)
            assert frames[0].width == 320

            # 2. An HLS player on A without cookies: its playlist URL carries its viewer token.
            index = await eventually(
                lambda: on_a.get(created["hls_url"]), lambda r: r.status_code == 200, "HLS index"
            )
            media = next(line for line in index.text.splitlines() if line.startswith("media.m3u8?v="))
            segments: list[str] = []

            async def poll_hls() -> None:
                playlist = await on_a.get(f"/live/{stream}/{media}")
                assert playlist.status_code == 200, playlist.text
                segments[:] = [line for line in playlist.text.splitlines() if line.endswith(".ts")]

            # 3. A watch page on B, heartbeating (its cookie jar keeps the expo_viewer cookie).
            async def heartbeat() -> None:
                beat = await on_b.post(f"/api/streams/{stream}/heartbeat")
                assert beat.status_code == 200, beat.text

            async with every(2.0, poll_hls), every(5.0, heartbeat):
                # (A view is stored just after its viewer is counted live: poll until both settle.)
                first, second = await eventually(
                    both, lambda s: s[0] == s[1] and s[0]["total_views"] == 3, "three views on A and B"
                )
                assert first["live_viewers"] == 3 and first["unique_viewers"] == 3, first
                assert first["peak_viewers"] == 3, first
                assert segments, "the HLS player saw no segment"
                chunk = await on_a.get(f"/live/{stream}/{segments[-1]}")
                assert chunk.status_code == 200 and chunk.content[:1] == b"\x47"  # MPEG-TS sync byte
                # Counted once each, whichever process answers.
                assert (await on_b.get(f"/api/streams/{stream}/stats")).json()["live_viewers"] == 3

            # The viewers go: the WHEP player hangs up; the HLS player and the page just stop, as a
            # closed tab whose beacon got lost does. Their presence lapses within the TTL.
            await pc.close()
            left = time.monotonic()
            first, second = await eventually(
                both, lambda s: s[0]["live_viewers"] == s[1]["live_viewers"] == 0, "nobody left"
            )
            assert time.monotonic() - left <= VIEWER_TTL + 5
            assert first == second, (first, second)
            assert first["status"] == "live" and first["total_views"] == 3 and first["peak_viewers"] == 3
    finally:
        if pc is not None:
            await pc.close()
        await broadcaster.stop()  # DELETEs the WHIP session: the broadcast ends
    ended = await eventually(both, lambda s: s[0]["status"] == s[1]["status"] == "ended", "ended")
    assert ended[0] == ended[1]
