"""Session registration over HTTP: a thousand visitors at once for a hundred seats, then a
sustained stream of registrations, on SQLite and on PostgreSQL, beside the same server's /healthz.

    .venv/bin/python scripts/bench_registration.py [--seconds 5] [--connections 32] [--procs 1]
        [--stores sqlite,postgres] [--postgres postgresql://127.0.0.1:5432/postgres]
        [--url URL --database DBURL]

For each store it starts ``uvicorn expo.asgi:app`` (httptools, uvloop, ``--procs`` processes on one
port) on a fresh store (PostgreSQL: a new database made through the ``--postgres`` admin URL and
dropped afterwards), one store after the other in the same run, unless ``--url`` names a running
server (then ``--database`` is the store that server uses, for seeding). Users and API tokens are
made through the services (no argon2 per user); each token is used once before measuring, as a
visitor browses before registering, so the figures are about seats and not first-use bookkeeping.

Burst: 1,000 connections opened first, then one ``POST /api/programs/{id}/registration`` each, all
at once, for a program with 100 seats: confirmed must be exactly 100, waiting-list positions
exactly 1..900. Sustained: ``--connections`` keep-alive connections register for ``--seconds``
(each request a new user/program pair). Baseline: ``GET /healthz`` with the same client and
connections. Target, on either store: >= 1,000 registrations/s with p99 <= 100 ms. The last line
is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchlib import free_port, wait_ready
from loadgen import read_response

from expo.expos import services as expos

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
BURST, SEATS = 1000, 100
TARGET_RPS, TARGET_P99_MS = 1000, 100.0


# Seeding through the services -------------------------------------------------------------------------------


@dataclass
class Seed:
    burst_program: int
    programs: list[int]
    tokens: list[str]


async def seed(database: str, users: int, programs: int) -> Seed:
    from sqlmodel import col, select

    from expo.accounts import services as accounts
    from expo.accounts.models import TokenKind, User
    from expo.agenda.models import Program
    from expo.db import Database, import_models, utcnow

    import_models()
    db = Database(database)
    try:
        async with db.session() as s:
            expo = await expos.ensure_expo(s, "bench-" + secrets.token_hex(3), "Registration bench")
            assert expo.id is not None
            start = utcnow() + timedelta(days=1)
            rows = [
                Program(
                    expo_id=expo.id, title=f"Session {i}", starts_at=start, ends_at=start + timedelta(hours=1)
                )
                for i in range(programs + 1)
            ]
            rows[0].capacity = SEATS
            s.add_all(rows)
            await s.commit()
            ids = [p.id for p in rows if p.id is not None]
        # Accounts in one statement: the services' create_user would hash a password per user.
        table = User.__table__  # type: ignore[attr-defined]
        tag = secrets.token_hex(3)
        now = utcnow()
        values = [
            {"email": f"b{tag}-{i}@bench.example", "name": f"Visitor {i}", "role": "visitor"}
            | {"password_hash": "!", "is_active": True, "created_at": now}
            for i in range(users)
        ]
        async with db.engine.begin() as conn:
            await conn.execute(table.insert(), values)
        tokens = []
        async with db.session() as s:
            found = (await s.exec(select(User).where(col(User.email).like(f"b{tag}-%")))).all()
            for user in found:
                raw, _ = await accounts.issue_token(s, user, TokenKind.API, name="bench")
                tokens.append(raw)
        return Seed(ids[0], ids[1:], tokens)
    finally:
        await db.dispose()


# A small keep-alive HTTP/1.1 client (no client library overhead to hide the server's cost) -----------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)

    def summary(self, elapsed: float) -> dict[str, float]:
        lat = sorted(self.latencies)
        return {
            "requests": len(lat),
            "rps": len(lat) / elapsed if elapsed else 0.0,
            "p50_ms": statistics.median(lat) * 1000 if lat else 0.0,
            "p99_ms": lat[max(int(len(lat) * 0.99) - 1, 0)] * 1000 if lat else 0.0,
            "errors": len(self.errors),
        }


def request(method: str, path: str, host: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    length = "Content-Length: 0\r\n" if method == "POST" else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{length}\r\n".encode()


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes, tally: Tally
) -> None:
    start = time.perf_counter()
    writer.write(data)
    status, body = await read_response(reader)
    tally.latencies.append(time.perf_counter() - start)
    tally.bodies.append(body)
    if status != 200:
        tally.errors.append(status)


async def burst(host: str, port: int, requests: list[bytes]) -> tuple[Tally, float]:
    """Open one connection per request, then send them all at the same moment."""
    conns = [await asyncio.open_connection(host, port) for _ in requests]
    tally = Tally()
    start = time.perf_counter()
    await asyncio.gather(*(exchange(r, w, data, tally) for (r, w), data in zip(conns, requests, strict=True)))
    elapsed = time.perf_counter() - start
    for _, w in conns:
        w.close()
    return tally, elapsed


async def sustained(host: str, port: int, queues: list[list[bytes]], seconds: float) -> tuple[Tally, float]:
    """One keep-alive connection per queue, each sending its requests in turn until time is up."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def worker(queue: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for data in queue:
                if time.perf_counter() >= deadline:
                    break
                await exchange(reader, writer, data, tally)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(q) for q in queues))
    return tally, time.perf_counter() - start


# One store --------------------------------------------------------------------------------------------------


def start_servers(env: dict[str, str], procs: int) -> tuple[list[subprocess.Popen[bytes]], int]:
    port = free_port()
    cmd = [PY, "-m", "uvicorn", "expo.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(procs), "--http", "httptools", "--loop", "uvloop", "--no-access-log"]
    cmd += ["--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [proc], port


async def measure(host: str, port: int, data: Seed, args: argparse.Namespace) -> dict[str, Any]:
    hostport = f"{host}:{port}"
    # Warm-up: every token is used once (its first use is recorded, the auth cache learns it).
    warm = [request("GET", "/api/me", hostport, t) for t in data.tokens]
    await sustained(host, port, [warm[i :: args.connections] for i in range(args.connections)], 120)

    path = f"/api/programs/{data.burst_program}/registration"
    tally, elapsed = await burst(
        host, port, [request("POST", path, hostport, t) for t in data.tokens[:BURST]]
    )
    seats = [json.loads(b) for b in tally.bodies if b.startswith(b'{"status"')]
    confirmed = sum(s["status"] == "confirmed" for s in seats)
    positions = sorted(s["position"] for s in seats if s["status"] == "waitlisted")
    burst_figures = {
        **tally.summary(elapsed),
        "confirmed": confirmed,
        "waitlisted": len(positions),
        "positions_ok": positions == list(range(1, len(positions) + 1)),
        "wall_ms": elapsed * 1000,
    }

    # Sustained: connection c takes users c, c+C, ... each over every program in turn.
    pairs = [(p, t) for p in data.programs for t in data.tokens]
    queues = [
        [
            request("POST", f"/api/programs/{p}/registration", hostport, t)
            for p, t in pairs[c :: args.connections]
        ]
        for c in range(args.connections)
    ]
    regs_tally, regs_elapsed = await sustained(host, port, queues, args.seconds)
    health = [[request("GET", "/healthz", hostport)] * 1_000_000 for _ in range(args.connections)]
    health_tally, health_elapsed = await sustained(host, port, health, min(args.seconds, 3))
    return {
        "burst": burst_figures,
        "sustained": regs_tally.summary(regs_elapsed),
        "healthz": health_tally.summary(health_elapsed),
    }


def run_store(name: str, database: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "EXPO_DATA_DIR": str(tmp / name), "EXPO_DATABASE_URL": database}
    env |= {"EXPO_LOG_LEVEL": "warning", "EXPO_ACCESS_LOG": "false"}
    subprocess.run([PY, "-m", "expo", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    data = asyncio.run(seed(database, BURST, args.programs))
    procs, port = start_servers(env, args.procs)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", procs[0])
        return asyncio.run(measure("127.0.0.1", port, data, args))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the sustained run")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections, sustained run")
    parser.add_argument("--programs", type=int, default=40, help="programs for the sustained run")
    parser.add_argument("--procs", type=int, default=1, help="server processes (uvicorn workers)")
    parser.add_argument("--stores", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--postgres",
        default="postgresql://127.0.0.1:5432/postgres",
        help="admin URL of the PostgreSQL server (the benchmark creates and drops its own database)",
    )
    parser.add_argument("--url", help="a running server to measure instead (needs --database)")
    parser.add_argument("--database", help="with --url: that server's store, for seeding")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    results: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="expo-bench-reg-"))
    if args.url:
        if not args.database:
            parser.error("--url needs --database (the store that server uses)")
        from urllib.parse import urlsplit

        target = urlsplit(args.url)
        data = asyncio.run(seed(args.database, BURST, args.programs))
        results["server"] = asyncio.run(
            measure(target.hostname or "127.0.0.1", target.port or 80, data, args)
        )
    else:
        stores = [s.strip() for s in args.stores.split(",") if s.strip()]
        if not stores or set(stores) - {"sqlite", "postgres"}:
            parser.error("--stores is a comma-separated list of sqlite and postgres")
        if "sqlite" in stores:
            results["sqlite"] = run_store(
                "sqlite", f"sqlite+aiosqlite:///{tmp / 'sqlite' / 'expo.db'}", args, tmp
            )
        if "postgres" in stores:
            name = "expo_bench_" + secrets.token_hex(4)
            asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{name}"'))
            try:
                base = args.postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
                results["postgres"] = run_store("postgres", f"{base}/{name}", args, tmp)
            finally:
                asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    report(results, args)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"{'store':<10}{'run':<30}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for store, r in results.items():
        b = r["burst"]
        rows = [
            (f"burst {BURST} for {SEATS} seats", b),
            (f"sustained ({args.connections} conns)", r["sustained"]),
            ("baseline GET /healthz", r["healthz"]),
        ]
        for label, f in rows:
            print(
                f"{store:<10}{label:<30}{f['rps']:>9.0f}{f['p50_ms']:>9.1f}{f['p99_ms']:>9.1f}{f['errors']:>8}"
            )
        print(
            f"{'':<10}burst: confirmed {b['confirmed']} (must be {SEATS}), waitlisted {b['waitlisted']}, "
            f"positions 1..{b['waitlisted']} {'exact' if b['positions_ok'] else 'WRONG'}, "
            f"all answered in {b['wall_ms']:.0f} ms"
        )
    summary: dict[str, Any] = {"procs": args.procs, "connections": args.connections, "seconds": args.seconds}
    for store, r in results.items():
        summary[store] = {
            "burst_confirmed": r["burst"]["confirmed"],
            "burst_waitlisted": r["burst"]["waitlisted"],
            "burst_p50_ms": round(r["burst"]["p50_ms"], 1),
            "burst_p99_ms": round(r["burst"]["p99_ms"], 1),
            "registrations_per_s": round(r["sustained"]["rps"]),
            "sustained_p50_ms": round(r["sustained"]["p50_ms"], 2),
            "sustained_p99_ms": round(r["sustained"]["p99_ms"], 2),
            "healthz_rps": round(r["healthz"]["rps"]),
            "errors": r["burst"]["errors"] + r["sustained"]["errors"],
        }
    ok = all(r["burst"]["confirmed"] == SEATS and r["burst"]["positions_ok"] for r in results.values())
    print()
    for store, r in results.items():
        s = r["sustained"]
        fast = s["rps"] >= TARGET_RPS and s["p99_ms"] <= TARGET_P99_MS
        print(
            f"{store}: {s['rps']:.0f} registrations/s, p99 {s['p99_ms']:.1f} ms "
            f"(target >= {TARGET_RPS}/s, p99 <= {TARGET_P99_MS:.0f} ms): {'PASS' if fast else 'FAIL'}"
        )
    print(f"Never more confirmed than seats: {'PASS' if ok else 'FAIL'}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
