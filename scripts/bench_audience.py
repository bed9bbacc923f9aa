"""Delivery latency of one chat message to N watch pages on one server process, against
``websockets.broadcast()``, in one run.

    .venv/bin/python scripts/bench_audience.py [--clients 10000] [--procs 4] [--rounds 8]

expo: ``expo serve`` (one uvicorn process: uvloop, httptools, uvicorn's sans-I/O WebSocket protocol
with prepared frames for fan-out (expo.wsprotocol), no per-message deflate, no concurrency limit) on
a fresh store with one public stream. N clients (scripts/_ws_clients.py, ``--procs`` processes each
holding N/procs connections with a lean asyncio client) open ``/ws`` and subscribe to the stream's
channel ``stream:{id}``, as the watch page does. Then a signed-in user posts ``--rounds`` chat
messages through ``POST /api/streams/{id}/chat`` (rate limit: 5 per 10 s, hence ``--interval``);
each carries the wall clock time just before the POST, and every client records ``time.time()`` on
receipt: all on one machine, so one clock. The latency covers the whole path: HTTP, the store's
write, the bus, the per-connection queues and the socket.

baseline: scripts/_ws_baseline.py, a ``websockets`` server that only knows ``subscribe`` and
sends a published text to everybody with ``websockets.broadcast()``, triggered by a frame from a
controlling connection; the same clients, the same frame text.

The clients' own receiving competes with the server for this machine's cores, alike for both.
Target: N = 10,000 with p99 <= 250 ms on expo. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from benchlib import free_port, print_side_by_side, wait_ready
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
EMAIL, PASSWORD = "bench-audience@example.com", "bench-password-1"


def raise_fd_limit() -> None:
    """Every process started from here inherits the hard limit as its soft one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_share(pid: int, seconds: float) -> float:
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def run_clients(
    server: subprocess.Popen[Any],
    url: str,
    channel: str,
    args: argparse.Namespace,
    publish: Callable[[str], None],
) -> dict[str, Any]:
    """Connect the clients, publish ``args.rounds`` marked messages, gather the latencies."""
    counts = [args.clients // args.procs + (i < args.clients % args.procs) for i in range(args.procs)]
    clients = [
        subprocess.Popen(
            [
                PY,
                str(ROOT / "scripts" / "_ws_clients.py"),
                json.dumps({"url": url, "channel": channel, "count": n, "local_host": f"127.0.0.{i + 2}"}),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, n in enumerate(counts)
    ]
    try:
        started = time.monotonic()
        ready = [json.loads(c.stdout.readline() or "{}") for c in clients if c.stdout]  # blocks until ready
        if sum(r.get("ready", 0) for r in ready) != args.clients:
            raise SystemExit(f"not every client connected: {ready}")
        connect_s = time.monotonic() - started
        print(f"  {args.clients} clients subscribed in {connect_s:.1f} s", flush=True)
        rss = rss_mb(server.pid)
        time.sleep(2)  # let the join traffic settle
        idle = core_share(server.pid, 3)  # heartbeats, pings: subtracted from the rounds' CPU
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        for seq in range(args.rounds):
            publish(f"bench-{seq}-{time.time():.6f}")
            time.sleep(args.interval)
        time.sleep(3)
        fanout_cpu = cpu_seconds(server.pid) - cpu0 - idle * (time.monotonic() - t0)
        latencies: dict[int, list[float]] = {seq: [] for seq in range(args.rounds)}
        errors = 0
        for c in clients:
            assert c.stdin and c.stdout
            c.stdin.write("stop\n")
            c.stdin.flush()
            result = json.loads(c.stdout.readline())
            errors += result["errors"]
            for seq, values in result["latencies"].items():
                latencies[int(seq)] += values
    finally:
        for c in clients:
            try:
                c.wait(60)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
    pooled = [v for values in latencies.values() for v in values]
    expected = args.clients * args.rounds
    return {
        "clients": args.clients,
        "connect_s": round(connect_s, 1),
        "server_rss_mb": round(rss),
        "delivered": len(pooled),
        "missing": expected - len(pooled),
        "closed": errors,
        "p50_ms": round(statistics.median(pooled) * 1000, 1) if pooled else None,
        "p99_ms": round(percentile(pooled, 0.99) * 1000, 1) if pooled else None,
        "max_ms": round(max(pooled) * 1000, 1) if pooled else None,
        "server_us_per_delivery": round(fanout_cpu / max(1, len(pooled)) * 1e6, 1),
        "round_p99_ms": [round(percentile(v, 0.99) * 1000) if v else None for v in latencies.values()],
    }


def run_expo(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="expo-bench-audience-"))
    env = {
        **os.environ,
        "EXPO_DATA_DIR": str(tmp),
        "EXPO_LOG_LEVEL": "warning",
        "EXPO_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    expo = [PY, "-m", "expo"]
    subprocess.run([*expo, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run(
        [*expo, "users", "create", "--email", EMAIL, "--role", "visitor"],
        env=env,
        input=PASSWORD.encode(),
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    created = subprocess.run(
        [*expo, "streams", "create", "--title", "Audience bench"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    stream_id = json.loads(created.stdout)["id"]
    server = subprocess.Popen(
        [*expo, "serve"],
        env={**env, "EXPO_HOST": "127.0.0.1", "EXPO_PORT": str(port)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    post_ms: list[float] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/healthz", server)
        with httpx.Client(base_url=base, timeout=30) as http:
            login = http.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
            login.raise_for_status()
            http.headers["Authorization"] = f"Bearer {login.json()['token']}"

            def publish(body: str) -> None:
                t0 = time.monotonic()
                response = http.post(f"/api/streams/{stream_id}/chat", json={"body": body})
                post_ms.append((time.monotonic() - t0) * 1000)
                if response.status_code != 201:
                    raise SystemExit(f"chat refused: {response.status_code} {response.text}")

            figures = run_clients(server, f"ws://127.0.0.1:{port}/ws", f"stream:{stream_id}", args, publish)
    finally:
        stop(server)
    figures["post_p50_ms"] = round(statistics.median(post_ms), 1) if post_ms else None
    return figures


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen([PY, str(ROOT / "scripts" / "_ws_baseline.py"), "--port", str(port)])
    try:
        wait_ready(f"http://127.0.0.1:{port}/", server, status=None)  # it answers plain HTTP with 426
        with connect(f"ws://127.0.0.1:{port}/") as control:

            def publish(body: str) -> None:
                # The frame expo sends for a chat line, with the same marker in the body.
                event = {"kind": "chat", "id": 1, "user": {"id": 1, "name": "bench"}, "body": body}
                frame = {"type": "event", "channel": "stream:1", "data": event}
                control.send(json.dumps({"type": "publish", "text": json.dumps(frame)}))

            return run_clients(server, f"ws://127.0.0.1:{port}/", "stream:1", args, publish)
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--rounds", type=int, default=8, help="messages published")
    parser.add_argument("--interval", type=float, default=2.5, help="seconds between messages")
    args = parser.parse_args()
    raise_fd_limit()

    print(f"expo: {args.clients} watch pages on /ws, chat through the API ...", flush=True)
    expo = run_expo(args)
    print(f"baseline: {args.clients} clients on websockets.broadcast() ...", flush=True)
    baseline = run_baseline(args)

    rows = [
        ("clients", "clients", "{}"),
        ("subscribed in (s)", "connect_s", "{}"),
        ("server RSS (MB)", "server_rss_mb", "{}"),
        ("delivered", "delivered", "{}"),
        ("missing", "missing", "{}"),
        ("p50 (ms)", "p50_ms", "{}"),
        ("p99 (ms)", "p99_ms", "{}"),
        ("max (ms)", "max_ms", "{}"),
        ("server CPU µs/delivery", "server_us_per_delivery", "{}"),
    ]
    print_side_by_side(rows, [("expo", expo), ("broadcast()", baseline)])
    print(f"expo chat POST p50: {expo['post_p50_ms']} ms (included in expo's latencies)")
    ratio = expo["p99_ms"] / baseline["p99_ms"] if expo["p99_ms"] and baseline["p99_ms"] else None
    ok = args.clients >= 10_000 and expo["missing"] == 0 and (expo["p99_ms"] or 1e9) <= 250
    print(f"p99 expo / broadcast(): {ratio:.2f}" if ratio else "p99 ratio: n/a")
    for name, figures in (("expo", expo), ("broadcast()", baseline)):
        within = figures["missing"] == 0 and (figures["p99_ms"] or 1e9) <= 250
        print(f"{name} at N = {args.clients}: p99 <= 250 ms, nothing lost: {'yes' if within else 'no'}")
    print(f"target N >= 10,000 with p99 <= 250 ms, nothing lost: {'PASS' if ok else 'FAIL'}")
    print(
        json.dumps(
            {"expo": expo, "baseline": baseline, "p99_ratio": round(ratio, 2) if ratio else None, "pass": ok}
        )
    )


if __name__ == "__main__":
    main()
