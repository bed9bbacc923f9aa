"""``scripts/bench_fanout.py --workers N``: one broadcast's viewers spread over ``expo serve
--workers N`` against one process, in the same run (see bench_fanout.py for the peers).

Each server runs as ``expo serve [--workers N]`` on a fresh SQLite store and its own Redis
database. The publisher lands on one worker (the origin). K viewers join each process
(``--audience per-process``, the default: N workers get N times the viewers of one process, so
that each process is measured at the load the single one had, since a viewer's cost falls as a
process serves more of them), or K in all (``--audience total``). Each viewer is a new connection,
placed on the workers in turn (``--spread even``, the default: a viewer that the kernel's
``SO_REUSEPORT`` hash put elsewhere tries again on a new connection, as if a round-robin balancer
were in front) or where the kernel puts it (``--spread kernel``); those on other workers are
relayed from the origin. Which process holds each viewer is read from its session URL, and each
worker's pid from its private address on the bus (``ss``). Per process: CPU idle (publisher
only), with half the viewers playing and with all of them (busy), CPU per viewer, first-frame
times. Viewers count the encoded frames they receive instead of decoding them
(``--viewers-decode`` to decode): the server sends the same, and on a 2-core machine decoding
viewers would take the cores from the servers being measured.

Derived figures:

* viewers one process can hold = (1 core - idle) / CPU per viewer; the cluster's is the sum over
  its workers of the same with each worker's own CPU per viewer (the relayed ones' cost included).
  A projection from measured costs: on this 2-core machine the viewers' own processes take the
  cores long before the servers would.
* the same at one more viewer's cost (``+1``, ``holds+1``): (busy - half) / the viewers that
  joined in between, on the event loop's thread, where a viewer's work is done (the HLS
  packager's and the recorder's threads do the same work whatever the audience); a process holds
  the viewers it has plus (1 core - busy, all threads) / that cost. It shows how a viewer's cost
  falls with the viewers a process has, but rests on a difference of two windows: the target is
  judged on "holds", every process at the same load. Needs the one-by-one joins.
* relay cost per viewer: a relay link costs the same whatever the number of viewers it feeds
  (one message per frame of the stream, on each end), so it is measured on its own first
  (scripts/_relay_link_cost.py: both ends in one process, against feeding the same frames with
  no link) and divided by the viewers the relaying workers served. Also printed: CPU per viewer
  on a relaying worker minus on the origin, measured at once (noisier: a difference of two
  differences).
* time to first frame through the relay against direct (viewers on the origin), same run. The
  viewers join one by one, each once the one before has a picture (``--no-one-by-one``: all at
  once, as up to 2026-12-03), so that each first frame is one viewer's, not that of sixteen
  processes starting together on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
from bench_forward import cpu_seconds  # the process's CPU seconds, and its event loop thread's
from benchlib import free_port, stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from expo.bus import connect_bus  # noqa: E402

PY = sys.executable
PROCESSES_KEY = "server-processes"  # streaming.cluster.PROCESSES_KEY
PUBLISHERS_KEY = "stream-publishers"  # streaming.plane.PUBLISHERS_KEY
LOCK = "test-lock"  # tests/streaming/test_multiprocess.py's claim on a Redis database


async def _members(bus_url: str, key: str) -> list[str]:
    bus = connect_bus(bus_url)
    await bus.connect()
    try:
        return await bus.presence_members(key)
    finally:
        await bus.close()


def members(bus_url: str, key: str) -> list[str]:
    return asyncio.run(_members(bus_url, key))


def pid_listening(port: int) -> int:
    """The pid of the process listening on TCP ``port`` (from ``ss``)."""
    out = subprocess.run(
        ["ss", "-H", "-ltnp", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"pid=(\d+)", out)
    if found is None:
        raise SystemExit(f"no process found listening on port {port}: {out!r}")
    return int(found.group(1))


def workers_by_instance(bus_url: str, count: int, timeout: float = 60) -> dict[str, int]:
    """Each worker's instance name and pid, once all ``count`` have named their private address."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in members(bus_url, PROCESSES_KEY) if "@" in m]
        if len(found) >= count:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(found)} of {count} workers named themselves on the bus")
        time.sleep(0.2)
    pids = {}
    for member in found:
        instance, address = member.split("@", 1)
        pids[instance] = pid_listening(int(address.rsplit(":", 1)[1]))
    return pids


@contextlib.contextmanager
def redis_database(redis_url: str) -> Iterator[str]:
    """A Redis database among 1-15 that no test holds (the tests' lock key), emptied of the
    app's keys before and after: a fresh store numbers its streams from 1 again."""
    token = secrets.token_hex(8)
    while True:
        bus_url = f"{redis_url.rstrip('/')}/{random.randint(1, 15)}"
        client = redis.Redis.from_url(bus_url)
        if client.set(LOCK, token, nx=True, ex=900):
            break
        time.sleep(0.2)
    try:
        empty(client)
        yield bus_url
    finally:
        empty(client)
        if client.get(LOCK) == token.encode():
            client.delete(LOCK)


def empty(client: redis.Redis) -> None:
    keys = list(client.scan_iter("expo:*"))
    if keys:
        client.delete(*keys)


def run_served(args: argparse.Namespace, workers: int, peer: Any) -> dict[str, Any]:
    """One server (``workers`` processes), one publisher, ``args.viewers`` viewers (on each
    process with ``--audience per-process``): per-process figures."""
    audience = args.viewers * workers if args.audience == "per-process" else args.viewers
    with redis_database(args.redis) as bus_url:
        return serve_and_measure(args, workers, audience, bus_url, peer)


def serve_and_measure(
    args: argparse.Namespace, workers: int, audience: int, bus_url: str, peer: Any
) -> dict[str, Any]:
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="expo-bench-workers-"))
    env = {
        **os.environ,
        "EXPO_DATA_DIR": str(tmp),
        "EXPO_LOG_LEVEL": "warning",
        "EXPO_BUS_URL": bus_url,
        "EXPO_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("EXPO_CONFIG", None)
    expo = [PY, "-m", "expo"]
    subprocess.run([*expo, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    out = subprocess.run(
        [*expo, "streams", "create", "--title", "Workers bench"],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    stream = json.loads(out.stdout)
    command = [*expo, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    name = f"{workers} process{'es' if workers > 1 else ''}"
    peers: list[Any] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", server)
        pids = workers_by_instance(bus_url, workers)
        publisher = peer.start("publish", stream["whip_url"], stream["key"], "--kbps", str(args.kbps))
        peers.append(publisher)
        publisher.next(30)
        publisher.next(10)
        origin = next(
            m.split("/", 1)[1] for m in members(bus_url, PUBLISHERS_KEY) if m.startswith(f"{stream['id']}/")
        )
        print(f"{name}: publisher live; measuring {args.seconds:.0f} s without viewers ...", flush=True)
        idle = shares(pids, args.seconds)
        # Joining one by one, a viewer's own process starts (imports, keys) while the others play,
        # not at the same moment as fifteen others on the same two cores.
        duration = 25 + 2 * (2 + args.seconds) + 3
        instances = sorted(pids, key=lambda i: i != origin)
        viewers, firsts = [], []
        half: dict[str, tuple[float, float]] = {}
        half_firsts: list[dict[str, Any]] = []
        for n in range(audience):
            if n == audience // 2 and args.one_by_one:
                # Half the audience playing (spread as the whole will be): a second point, so that
                # what one more viewer costs is seen apart from what the first costs.
                print(f"{name}: {n} viewers playing; measuring {args.seconds:.0f} s ...", flush=True)
                time.sleep(2)
                half = shares(pids, args.seconds)
                half_firsts = list(firsts)
            # Each plays until the window is over: later joins take a few seconds each.
            joins_after = 4 * (audience - 1 - n) if args.one_by_one else 0
            seconds = duration + joins_after
            # Evenly over the processes, as a round-robin balancer would (the kernel's hash can
            # give one process 2 of 16, leaving its per-viewer figure resting on two viewers).
            placed = ("--on", instances[n % len(instances)]) if args.spread == "even" else ()
            viewers.append(peer.viewer(stream["whep_url"], seconds, decode=args.viewers_decode, extra=placed))
            peers.append(viewers[-1])
            if args.one_by_one:
                firsts.append(viewers[-1].next(35))
        if not args.one_by_one:
            firsts = [v.next(35) for v in viewers]
        print(f"{name}: {len(viewers)} viewers playing; measuring {args.seconds:.0f} s ...", flush=True)
        time.sleep(2)
        busy = shares(pids, args.seconds)
        ends = [v.next(duration + 4 * audience + 10) for v in viewers]
    finally:
        for started in peers:
            started.stop()
        stop(server, 30)
    processes = []
    for instance in sorted(pids, key=lambda i: i != origin):
        mine = [f["first_frame_s"] for f in firsts if str(f["location"]).endswith("." + instance)]
        n = len(mine)
        (idle_core, idle_loop), (busy_core, busy_loop) = idle[instance], busy[instance]
        per_viewer = (busy_core - idle_core) / n if n else None
        n_half = sum(1 for f in half_firsts if str(f["location"]).endswith("." + instance)) if half else 0
        # One more viewer's cost, from half the audience to all of it on this process, on the
        # event loop's thread, where a viewer's work is done; what the process holds at that
        # cost: the viewers it has plus what its spare core buys.
        added = n - n_half if half else 0
        marginal = (busy_loop - half[instance][1]) / added if added > 0 else None
        marginal_process = (busy_core - half[instance][0]) / added if added > 0 else None
        processes.append(
            {
                "role": "origin" if instance == origin else "relay",
                "viewers": n,
                "idle_core": round(idle_core, 4),
                "busy_core": round(busy_core, 4),
                "core_per_viewer": round(per_viewer, 5) if per_viewer is not None else None,
                "holds": round((1 - idle_core) / per_viewer) if per_viewer and per_viewer > 0 else None,
                "viewers_half": n_half,
                "half_core": round(half[instance][0], 4) if half else None,
                "loop_idle_core": round(idle_loop, 4),
                "loop_half_core": round(half[instance][1], 4) if half else None,
                "loop_busy_core": round(busy_loop, 4),
                "marginal_core_per_viewer": round(marginal, 5) if marginal is not None else None,
                "marginal_process_core_per_viewer": round(marginal_process, 5)
                if marginal_process is not None
                else None,
                "holds_at_marginal": round(n + (1 - busy_core) / marginal)
                if marginal and marginal > 0
                else None,
                "first_frame_p50_s": round(statistics.median(mine), 3) if mine else None,
                "first_frame_max_s": round(max(mine), 3) if mine else None,
            }
        )
    return {
        "workers": workers,
        "viewers": len(firsts),
        "processes": processes,
        "viewer_fps_min": min(e["fps"] for e in ends),
        "viewer_fps_mean": round(statistics.mean(e["fps"] for e in ends), 1),
    }


def shares(pids: dict[str, int], seconds: float) -> dict[str, tuple[float, float]]:
    """Each process's share of one core over the next ``seconds``, and its event loop thread's,
    measured over the same window."""
    before = {i: cpu_seconds(pid) for i, pid in pids.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    after = {i: cpu_seconds(pid) for i, pid in pids.items()}
    return {i: ((after[i][0] - before[i][0]) / elapsed, (after[i][1] - before[i][1]) / elapsed) for i in pids}


def link_alone(args: argparse.Namespace) -> dict[str, Any]:
    """scripts/_relay_link_cost.py's figures: one relay link on its own, both ends, one process."""
    print("relay link alone: measuring ...", flush=True)
    script = str(ROOT / "scripts" / "_relay_link_cost.py")
    command = [PY, script, "--seconds", str(args.seconds), "--kbps", str(args.kbps)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def run(args: argparse.Namespace, peer: Any) -> None:
    link = link_alone(args)
    one = run_served(args, 1, peer)
    many = run_served(args, args.workers, peer)
    single = one["processes"][0]
    origin = many["processes"][0]
    relays = [p for p in many["processes"][1:] if p["core_per_viewer"] is not None]
    held_one = single["holds"]
    held_many = sum(p["holds"] or 0 for p in many["processes"])
    relayed = sum(p["viewers"] for p in relays)
    link_core = max(0.0, float(link["link_core"]))  # one stream's relay link, both ends
    relay_cost = link_core / relayed if relayed else None
    difference = (
        statistics.mean(p["core_per_viewer"] for p in relays) - origin["core_per_viewer"]
        if relays and origin["core_per_viewer"] is not None
        else None
    )
    direct_ff = origin["first_frame_p50_s"]
    relay_ff = max((p["first_frame_max_s"] for p in relays), default=None)
    relay_ff_p50 = statistics.median(p["first_frame_p50_s"] for p in relays) if relays else None
    added = relay_ff_p50 - direct_ff if relay_ff_p50 is not None and direct_ff is not None else None

    header = (
        f"{'':<26}{'viewers':>8}{'idle':>7}{'half':>7}{'busy':>7}{'/viewer':>9}{'holds':>7}"
        f"{'+1':>8}{'holds+1':>8}{'ff p50':>8}{'ff max':>8}"
    )
    print("\n" + header)
    for label, figures in [("1 process", single)] + [
        (f"{args.workers} workers: {p['role']}", p) for p in many["processes"]
    ]:
        per, half = figures["core_per_viewer"], figures["half_core"]
        extra = figures["marginal_core_per_viewer"]
        print(
            f"{label:<26}{figures['viewers_half']:>3}/{figures['viewers']:<4}{figures['idle_core']:>7.1%}"
            f"{(f'{half:.1%}' if half is not None else '-'):>7}{figures['busy_core']:>7.1%}"
            f"{(f'{per:.2%}' if per is not None else '-'):>9}{figures['holds'] or '-'!s:>7}"
            f"{(f'{extra:.2%}' if extra is not None else '-'):>8}{figures['holds_at_marginal'] or '-'!s:>8}"
            f"{figures['first_frame_p50_s'] or '-'!s:>8}{figures['first_frame_max_s'] or '-'!s:>8}"
        )
    marginal_one = single["holds_at_marginal"]
    marginal_many = sum(p["holds_at_marginal"] or 0 for p in many["processes"])
    if marginal_one:
        print(
            f"at one more viewer's cost: 1 process {marginal_one}, {args.workers} workers {marginal_many}: "
            f"{marginal_many / marginal_one:.2f}x"
        )
    ratio = held_many / held_one if held_one else None
    print(f"\nviewers held at their measured cost: 1 process {held_one}, {args.workers} workers {held_many}")
    if ratio:
        print(f"  {args.workers} workers / 1 process: {ratio:.2f}x")
    print(
        f"relay link alone, both ends: {link_core:.2%} of a core for {link['frames_per_s']} frames/s; "
        f"opened in {link['open_s'] * 1000:.1f} ms, first frame {link['first_frame_s'] * 1000:.1f} ms after"
    )
    if relay_cost is not None:
        print(f"  per relayed viewer ({relayed} here): {relay_cost:.3%} of a core")
    if link_core > 0:
        print(f"  <= 0.1% per viewer from {math.ceil(link_core / 0.001)} relayed viewers on a process")
    if difference is not None:
        print(f"CPU per viewer, relaying worker - origin: {difference:+.3%} of a core")
    if added is not None:
        through = f"p50 {relay_ff_p50:.3f} s vs {direct_ff:.3f} s direct"
        print(f"first frame through the relay: {through} ({added:+.3f} s)")
    every = [p["core_per_viewer"] for p in [single, *many["processes"]] if p["core_per_viewer"] is not None]
    verdict = {
        "every process <= 1% per viewer": all(c <= 0.01 for c in every),
        f"{args.workers} workers >= 1.8x one": ratio is not None and ratio >= 1.8,
        "relay <= 0.1% per viewer": relay_cost is not None and relay_cost <= 0.001,
        "relay adds <= 50 ms to first frame": added is not None and added <= 0.05,
        "first frame <= 1 s": relay_ff is not None and relay_ff <= 1.0,
    }
    for target, ok in verdict.items():
        print(f"  {target:<38}{'PASS' if ok else 'FAIL'}")
    print(
        json.dumps(
            {
                "one_process": one,
                "workers": many,
                "ratio_held": round(ratio, 2) if ratio else None,
                "ratio_held_at_marginal": round(marginal_many / marginal_one, 2) if marginal_one else None,
                "relay_link": link,
                "relay_core_per_viewer": round(relay_cost, 5) if relay_cost is not None else None,
                "relay_minus_origin_per_viewer": round(difference, 5) if difference is not None else None,
                "first_frame_added_s": round(added, 3) if added is not None else None,
                "seconds": args.seconds,
                "kbps": args.kbps,
                "pass": all(verdict.values()),
            }
        )
    )
