"""Soak: a live broadcast with an audience that keeps coming and going, for half an hour, watching
the server process for anything that grows without bound.

    .venv/bin/python scripts/soak.py [--minutes 30] [--viewers 6] [--store sqlite|postgres]

Set-up: a fresh data directory seeded with the demo expo (:func:`expo.demo.seed_demo`: floor,
booths, schedule, logins), then ``expo serve`` (uvicorn, one process) on a loopback port, and one
WHIP publisher in its own process (scripts/_soak_publisher.py: pre-encoded H.264 and Opus, so it
costs next to nothing) taking the demo's broadcast live. Load (scripts/_soak_crowd.py): WHEP
viewers joining every few seconds while fewer than ``--viewers`` watch, some leaving without
``DELETE``; HLS players; watch-page visitors (heartbeat, leave), the floor, a booth page and a
search; chat lines; ``/ws`` subscribers connecting and dropping. The clients share the machine's
two cores with the server (and with whatever else runs there).

Every ``--sample`` seconds it records the server's resident memory and open file descriptors
(``/proc/PID``), its asyncio tasks, the memory blocks its Python objects hold and its event-loop
lag (``/metrics``: ``expo_asyncio_tasks``, ``expo_python_allocated_blocks`` and
``expo_event_loop_lag_max_seconds``, the largest lag of its last 10 s), the live viewers
(``/stats``), the requests the server answered and its 5xx, and the round trip of a ``/healthz``
probe every 0.5 s (lag as a client sees it). Every ``--row`` seconds (a minute) it prints a row.

Verdict, "grows without bound": the samples are cut in thirds; the first third is the warm-up
(caches, the allocator's arenas, the HLS window and the recording filling up). The median of the
last third is compared with the median of the middle third: **fail** when open fds grow by more
than 8, asyncio tasks by more than 15 (a WebRTC viewer alone holds a few fds and about ten tasks,
and the audience moves by a viewer or two between samples), or resident memory by more than 5 %.
Medians of thirds, not first and last samples, so that one viewer more at the end does not read
as a leak, while over 30 minutes a leak of one fd, two tasks or 2 MiB a minute does
(tests/test_soak_figures.py). It also fails when the server answered any 5xx, or when no WHEP
viewer got in (nothing was soaked). Exit status 1 on failure. The table, then as the last line
one JSON object with every row and the verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from benchlib import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from _soak_figures import Metrics, Sample, minute_rows, print_table, read_metrics, verdict  # noqa: E402

PY = sys.executable
POSTGRES_ADMIN = os.environ.get("EXPO_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


@dataclass(frozen=True)
class Seeded:
    stream_id: int
    key: str
    booth_id: int
    slug: str
    logins: tuple[tuple[str, str], ...]


def seed(env: dict[str, str]) -> Seeded:
    """The demo expo on the store ``env`` names, as ``expo demo`` creates it (without serving)."""
    from expo.accounts.models import Role
    from expo.cli import run_on_store
    from expo.config import load_settings
    from expo.db import Database
    from expo.demo import DEMO_LOGINS, seed_demo

    settings = load_settings(None, env)

    async def work(db: Database) -> Seeded:
        info = await seed_demo(db, settings)
        assert info.broadcast.id is not None and info.floor.exhibitor_booth.id is not None
        logins = tuple((d.email, d.password) for d in DEMO_LOGINS if d.role in (Role.VISITOR, Role.EXHIBITOR))
        return Seeded(
            info.broadcast.id, info.broadcast.key, info.floor.exhibitor_booth.id, info.expo.slug, logins
        )

    return run_on_store(settings, work, upgrade=True)


async def postgres(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def proc_figures(pid: int) -> tuple[float, int]:
    """Resident memory (MiB) and open file descriptors of process ``pid``."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Watch:
    """Samples the server while the crowd (its own process) runs, and reads the crowd's tally."""

    def __init__(self, server: subprocess.Popen[Any], http: httpx.AsyncClient) -> None:
        self.server, self.http = server, http
        self.samples: list[Sample] = []
        self.tally: dict[str, Any] = {"errors": {}, "whep_now": 0, "whep_joined": 0}
        self.probe_max = 0.0
        self.probe_errors = 0

    async def follow(self, crowd: asyncio.subprocess.Process) -> None:
        """Keep the crowd's last tally line."""
        assert crowd.stdout is not None
        async for line in crowd.stdout:
            if line.startswith(b"{"):
                self.tally = json.loads(line)

    async def probe(self) -> None:
        """``/healthz`` round trips: what a client waits on a server that does nothing else."""
        while True:
            t0 = time.perf_counter()
            try:
                await self.http.get("/healthz")
                self.probe_max = max(self.probe_max, time.perf_counter() - t0)
            except httpx.HTTPError:
                self.probe_errors += 1
            await asyncio.sleep(0.5)

    async def sample(self, at: float, stream_id: int) -> None:
        rss, fds = proc_figures(self.server.pid)
        last = self.samples[-1] if self.samples else None
        try:
            metrics = read_metrics((await self.http.get("/metrics")).text)
            live = int((await self.http.get(f"/api/streams/{stream_id}/stats")).json()["live_viewers"])
        except httpx.HTTPError:  # a server too busy to answer in time: a gap, counted as an error
            self.probe_errors += 1
            metrics = Metrics(None, None, last.requests if last else 0, last.server_5xx if last else 0)
            live = last.live_viewers if last else 0
        self.samples.append(
            Sample(
                at=at,
                rss_mib=round(rss, 1),
                fds=fds,
                tasks=metrics.tasks,
                lag_ms=metrics.lag_ms,
                probe_ms=round(self.probe_max * 1000, 1),
                live_viewers=live,
                whep_now=int(self.tally["whep_now"]),
                requests=metrics.requests,
                server_5xx=metrics.server_5xx,
                client_errors=sum(self.tally["errors"].values()) + self.probe_errors,
                py_kblocks=round(metrics.blocks / 1000, 1) if metrics.blocks is not None else None,
            )
        )
        self.probe_max = 0.0


async def login_and_wait(http: httpx.AsyncClient, seeded: Seeded) -> list[str]:
    """The logins' API tokens, once the broadcast is live and packaged for HLS."""
    tokens = []
    for email, password in seeded.logins:
        login = await http.post("/api/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        tokens.append(login.json()["token"])
    deadline = time.monotonic() + 60
    while (await http.get(f"/live/{seeded.stream_id}/index.m3u8")).status_code != 200:
        if time.monotonic() > deadline:
            raise SystemExit("the broadcast did not go live within 60 s")
        await asyncio.sleep(0.5)
    return tokens


async def soak(
    args: argparse.Namespace, base: str, server: subprocess.Popen[Any], seeded: Seeded
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        spec = {
            "base": base,
            "stream_id": seeded.stream_id,
            "booth_id": seeded.booth_id,
            "slug": seeded.slug,
            "tokens": await login_and_wait(http, seeded),
            "viewers": args.viewers,
        }
        crowd = await asyncio.create_subprocess_exec(
            PY,
            str(ROOT / "scripts" / "_soak_crowd.py"),
            json.dumps(spec),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        watch = Watch(server, http)
        helpers = [asyncio.create_task(watch.follow(crowd)), asyncio.create_task(watch.probe())]
        started = time.monotonic()
        count = round(args.minutes * 60 / args.sample)
        printed = 0
        try:
            for k in range(1, count + 1):
                # On a fixed grid, so that every row holds the same number of samples.
                await asyncio.sleep(max(0.0, started + k * args.sample - time.monotonic()))
                if server.poll() is not None:
                    raise SystemExit(f"the server exited with {server.returncode}")
                if crowd.returncode is not None:
                    raise SystemExit(f"the crowd exited with {crowd.returncode}")
                await watch.sample(round(k * args.sample, 3), seeded.stream_id)
                rows = minute_rows(watch.samples, args.row)
                complete = len(rows) if k == count else len(rows) - 1
                print_table(rows[printed:complete], header=printed == 0 and complete > 0)
                printed = max(printed, complete)
        finally:
            if crowd.returncode is None:
                crowd.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(crowd.wait(), 30)
                except TimeoutError:
                    crowd.kill()
            await asyncio.gather(helpers[0], return_exceptions=True)
            helpers[1].cancel()
        tally = watch.tally
        return {
            "samples": [asdict(s) for s in watch.samples],
            "rows": minute_rows(watch.samples, args.row),
            "whep_joined": tally["whep_joined"],
            "chat_lines": tally.get("chat_lines", 0),
            "client_requests": tally.get("requests", 0),
            "client_errors": {
                **tally["errors"],
                **({"server timeouts": watch.probe_errors} if watch.probe_errors else {}),
            },
        }


def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="expo-soak-"))
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "EXPO_DATA_DIR": str(data),
        "EXPO_LOG_LEVEL": "warning",
        "EXPO_PUBLIC_URL": base,
        "EXPO_HOST": "127.0.0.1",
        "EXPO_PORT": str(port),
    }
    database = None
    if args.store == "postgres":
        database = "expo_soak_" + secrets.token_hex(4)
        asyncio.run(postgres(f'CREATE DATABASE "{database}"'))
        host = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        env["EXPO_DATABASE_URL"] = f"{host}/{database}"
    peers: list[subprocess.Popen[Any]] = []
    try:
        seeded = seed(env)
        log = open(data / "server.log", "w")  # noqa: SIM115 (closed with the server)
        server = subprocess.Popen([PY, "-m", "expo", "serve"], env=env, cwd=ROOT, stdout=log, stderr=log)
        peers.append(server)
        wait_ready(f"{base}/healthz", server)
        whip = f"{base}/api/streams/{seeded.stream_id}/whip"
        publisher = subprocess.Popen(
            [PY, str(ROOT / "scripts" / "_soak_publisher.py"), whip, seeded.key],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        peers.insert(0, publisher)
        print(
            f"soak: {args.minutes:g} min on {args.store}, {args.viewers} WHEP viewers at a time, server pid "
            f"{server.pid}, log {data / 'server.log'}",
            flush=True,
        )
        result = asyncio.run(soak(args, base, server, seeded))
        result["server_log_tail"] = (data / "server.log").read_text()[-2000:]
        return result
    finally:
        for proc in peers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if database:
            asyncio.run(postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the load runs")
    parser.add_argument("--viewers", type=int, default=6, help="WHEP viewers watching at a time")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--row", type=float, default=60.0, help="seconds a table row covers")
    args = parser.parse_args()
    result = run(args)
    judged = verdict(result["samples"], whep_joined=result["whep_joined"])
    print(
        f"\nWHEP viewers joined: {result['whep_joined']}, chat lines: {result['chat_lines']}, "
        f"client requests: {result['client_requests']}, client errors: {result['client_errors'] or 'none'}"
    )
    for line in judged["lines"]:
        print("  " + line)
    print("verdict: " + ("PASS" if judged["pass"] else "FAIL"))
    if not judged["pass"]:
        print("server log (tail):\n" + result["server_log_tail"], file=sys.stderr)
    summary = {k: v for k, v in result.items() if k not in ("samples", "server_log_tail")}
    print(
        json.dumps(
            {
                "minutes": args.minutes,
                "store": args.store,
                "viewers": args.viewers,
                **summary,
                "thirds": judged["thirds"],
                "pass": judged["pass"],
            }
        )
    )
    sys.exit(0 if judged["pass"] else 1)


if __name__ == "__main__":
    main()
