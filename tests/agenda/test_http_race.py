"""A thousand simultaneous registrations over HTTP for the last seats, against two real server
processes (uvicorn workers) sharing one SQLite store: exactly the seats left are confirmed and
everyone else is told a distinct place on the waiting list."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from expo.agenda.seats import SeatDesk
from expo.config import Settings
from expo.db import Database
from expo.expos import services as expos
from tests.agenda.conftest import make_program, make_tokens, make_visitors
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


async def _post(host: str, port: int, path: str, token: str) -> tuple[int, dict[str, object]]:
    """One request on its own connection, raw HTTP/1.1 (a thousand httpx clients would be the bottleneck)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        head, _, body = (await reader.read(-1)).partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), json.loads(body)
    finally:
        writer.close()


async def _seed(url: str, holders: int, crowd: int) -> tuple[int, list[str]]:
    db = Database(url)
    try:
        async with db.session() as s:
            expo = await expos.ensure_expo(s, "fair", "Fair")
        pid = await make_program(db, expo, capacity=100)
        desk = SeatDesk(db)
        for uid in await make_visitors(db, holders, prefix="holder"):
            await desk.register(pid, uid)
        return pid, await make_tokens(db, await make_visitors(db, crowd, prefix="crowd"))
    finally:
        await db.dispose()


def test_a_thousand_requests_for_the_last_seats_on_two_server_processes(settings: Settings) -> None:
    env = {**os.environ, "EXPO_DATA_DIR": settings.data_dir, "EXPO_SECRET_KEY": settings.secret_key}
    env |= {"EXPO_LOG_LEVEL": "warning", "EXPO_ACCESS_LOG": "false"}
    subprocess.run(
        [sys.executable, "-m", "expo", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    pid, tokens = asyncio.run(_seed(settings.database, 95, 1000))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "expo.asgi:app", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(
        [*command, "--log-level", "warning", "--no-access-log"],
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

        async def rush() -> list[tuple[int, dict[str, object]]]:
            path = f"/api/programs/{pid}/registration"
            return await asyncio.gather(*(_post("127.0.0.1", port, path, t) for t in tokens))

        replies = asyncio.run(rush())
        program = httpx.get(f"http://127.0.0.1:{port}/api/programs/{pid}").json()
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert {status for status, _ in replies} == {200}
    seats = [body for _, body in replies]
    assert sum(s["status"] == "confirmed" for s in seats) == 5
    assert sorted(int(str(s["position"])) for s in seats if s["status"] == "waitlisted") == list(
        range(1, 996)
    )
    assert (program["confirmed"], program["waitlisted"], program["seats_left"]) == (100, 995, 0)
