"""Four-person telepresence rooms a core of the server holds, against aiortc's MediaRelay, in one run.

    .venv/bin/python scripts/bench_rooms.py [--rooms 2] [--baseline-rooms 1] [--seconds 10] [--clients 2]

Each room holds ``--people`` participants (4) who each send 640x360 H.264 at ``--kbps`` (500) and
Opus, pre-encoded once (scripts/_room_peers.py: the clients pack packets, nobody encodes, so they
leave the cores to the server), and each receive every other one of their room, counting the
encoded frames (nothing is decoded). For each server in turn:

* expo: ``expo serve`` on a fresh store with ``--rooms`` rooms from ``expo rooms create``; every
  participant joins with the room's link key, publishes and subscribes through the room API, and
  the server forwards encoded frames (streaming.forwarder), never decoding them;
* baseline: scripts/_relay_rooms.py, aiortc's ``MediaRelay`` (each publisher decoded once, encoded
  again for every subscriber), with ``--baseline-rooms`` rooms (one already takes most of a core).

The server's CPU (utime + stime of its process, from /proc/PID/stat) is measured over
``--seconds`` before anyone joins (idle) and once every subscription has its first keyframe and
``--settle`` seconds have passed (busy), while the participants count the frames they receive.
The participants' processes (``--clients``, rooms spread over them) share the machine's two cores
with the server and are not counted, so the rooms a core holds is extrapolated from the CPU the
rooms cost: rooms / (busy - idle), valid while every participant receives >= 25 fps. Also
printed: forwarded RTP packets per second per core (the long-run goal is LiveKit's per-core rate,
~60 such rooms). Target: >= 15 rooms per core with every participant at >= 25 fps. The last line
printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_fanout import PY, ROOT, Peer, cpu_seconds, prepare_store
from benchlib import free_port, print_side_by_side, stop, wait_ready

ROOM_PEERS = str(ROOT / "scripts" / "_room_peers.py")
MIN_FPS = 25.0


def measure(
    name: str,
    server: subprocess.Popen[Any],
    mode: str,
    base: str,
    rooms: list[dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Idle CPU of ``server``, then its CPU while ``rooms`` are full, and what the participants got."""
    c0, t0 = cpu_seconds(server.pid), time.monotonic()
    time.sleep(args.seconds)
    idle = (cpu_seconds(server.pid) - c0) / (time.monotonic() - t0)
    clients: list[Peer] = []
    tmp = Path(tempfile.mkdtemp(prefix="expo-bench-rooms-"))
    try:
        for n in range(min(args.clients, len(rooms))):
            share = tmp / f"rooms-{n}.json"
            share.write_text(json.dumps(rooms[n :: args.clients]))
            clients.append(
                Peer.start(
                    mode,
                    base,
                    str(share),
                    f"--seconds={args.seconds}",
                    f"--settle={args.settle}",
                    f"--people={args.people}",
                    f"--kbps={args.kbps}",
                    script=ROOM_PEERS,
                )
            )
        ready = [c.next(timeout=180) for c in clients]
        time.sleep(args.settle)
        c0, t0 = cpu_seconds(server.pid), time.monotonic()
        time.sleep(args.seconds)
        busy = (cpu_seconds(server.pid) - c0) / (time.monotonic() - t0)
        ends = [c.next(timeout=args.seconds + args.settle + 30) for c in clients]
    finally:
        for client in clients:
            client.stop()
    fps = [f for end in ends for f in end["fps"]]
    packets = sum(end["packets_per_s"] for end in ends)
    cost = busy - idle
    return {
        "server": name,
        "rooms": len(rooms),
        "subscriptions": sum(r["subscriptions"] for r in ready),
        "idle_core": round(idle, 4),
        "busy_core": round(busy, 4),
        "core_per_room": round(cost / len(rooms), 4) if cost > 0 else None,
        "rooms_per_core": round(len(rooms) / cost, 1) if cost > 0 else None,
        "fps_min": min(fps),
        "fps_mean": round(statistics.mean(fps), 1),
        "sent_fps_min": min(f for end in ends for f in end["sent_fps"]),
        "all_at_25_fps": min(fps) >= MIN_FPS,
        "packets_per_s": round(packets),
        "packets_per_s_per_core": round(packets / cost) if cost > 0 else None,
    }


def run_expo(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    env, _ = prepare_store(Path(tempfile.mkdtemp(prefix="expo-bench-rooms-")), port, "Rooms bench")
    rooms = [
        json.loads(
            subprocess.run(
                [PY, "-m", "expo", "rooms", "create", "--title", f"Negotiation {n + 1}"],
                env=env,
                check=True,
                capture_output=True,
                cwd=ROOT,
            ).stdout
        )
        for n in range(args.rooms)
    ]
    server = subprocess.Popen(
        [PY, "-m", "expo", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", server)
        return measure("expo", server, "expo", f"http://127.0.0.1:{port}", rooms, args)
    finally:
        stop(server)


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [PY, str(ROOT / "scripts" / "_relay_rooms.py"), "--port", str(port), "--kbps", str(args.kbps)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", server)
        rooms = [{"id": n + 1} for n in range(args.baseline_rooms)]
        return measure("baseline", server, "baseline", f"http://127.0.0.1:{port}", rooms, args)
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", type=int, default=2, help="four-person rooms on the expo server")
    parser.add_argument("--baseline-rooms", type=int, default=1, help="rooms on the MediaRelay baseline")
    parser.add_argument("--people", type=int, default=4, help="participants a room")
    parser.add_argument("--seconds", type=float, default=10.0, help="each CPU measurement window")
    parser.add_argument("--settle", type=float, default=3.0, help="after the last keyframe, before measuring")
    parser.add_argument("--kbps", type=int, default=500, help="each participant's H.264 bitrate")
    parser.add_argument(
        "--clients", type=int, default=2, help="participant processes, rooms spread over them"
    )
    args = parser.parse_args()

    expo = run_expo(args)
    baseline = run_baseline(args) if args.baseline_rooms else None
    rows = [
        ("rooms", "rooms", "{}"),
        ("subscriptions", "subscriptions", "{}"),
        ("server core, empty", "idle_core", "{:.1%}"),
        ("server core, rooms full", "busy_core", "{:.1%}"),
        ("server core per room", "core_per_room", "{:.2%}"),
        ("rooms per core", "rooms_per_core", "{}"),
        ("fps, slowest participant", "fps_min", "{}"),
        ("fps, mean", "fps_mean", "{}"),
        ("fps sent, slowest sender", "sent_fps_min", "{}"),
        ("RTP packets/s received", "packets_per_s", "{:,}"),
        ("RTP packets/s per core", "packets_per_s_per_core", "{:,}"),
    ]
    print_side_by_side(rows, [("expo", expo)] + ([("MediaRelay", baseline)] if baseline else []))
    ratio = None
    if baseline and baseline["core_per_room"] and expo["core_per_room"]:
        ratio = baseline["core_per_room"] / expo["core_per_room"]
        print(f"\nMediaRelay / expo server CPU per room: {ratio:.1f}x")
    verdict = {
        ">= 15 rooms per core": (expo["rooms_per_core"] or 0) >= 15,
        "every participant >= 25 fps": expo["all_at_25_fps"],
    }
    for target, ok in verdict.items():
        print(f"  {target:<30}{'PASS' if ok else 'FAIL'}")
    print(
        json.dumps(
            {
                "expo": expo,
                "baseline": baseline,
                "ratio_baseline_over_expo": round(ratio, 1) if ratio else None,
                "people": args.people,
                "kbps": args.kbps,
                "seconds": args.seconds,
                "pass": all(verdict.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
