"""Server CPU per WHEP viewer of one 1 Mbps broadcast, against stock aiortc fan-out, in one run.

    .venv/bin/python scripts/bench_fanout.py [--viewers 8] [--baseline-viewers 4] [--seconds 15]
    .venv/bin/python scripts/bench_fanout.py --workers 2 [--viewers 8] [--redis redis://127.0.0.1:6379]
        [--spread even|kernel] [--audience per-process|total]

With ``--workers N`` it measures instead ``expo serve --workers N`` against one process, viewers
spread over the workers and relayed from the one that holds the publisher: see
scripts/_fanout_workers.py.

For each server, in turn: one WHIP publisher (scripts/_fanout_peer.py: 640x360 at 30 fps, H.264
pinned at ``--kbps``, plus Opus) goes live; the server's CPU time (utime + stime of its process,
from /proc/PID/stat) is measured over ``--seconds`` with no viewer; then K viewers join, each a
real aiortc peer in its own process that decodes every frame; once all have a picture the
server's CPU is measured again over the same window. CPU per viewer = (busy - idle) / K, as a
share of one core. Only the server process is counted: the publisher and the viewers (decoding
on the same two cores) are separate processes and excluded, though they compete for the cores.

* expo: ``expo serve`` on a fresh store, a stream from ``expo streams create``; the router
  forwards the publisher's encoded frames (HLS packaging and recording of the stream are part of
  the idle figure, so they cancel out).
* expo, sender path (``--sender-path``, on by default): the same server with the RTP forwarder
  disabled, so every viewer's frames go through aiortc's own ``RTCRtpSender`` task (what the
  router did before ``streaming.forwarder``), for the forwarder's gain in the same run.
* baseline: scripts/_relay_baseline.py, aiortc's ``MediaRelay`` (decode once, encode per viewer).
  It gets fewer viewers by default: at ~20 % of a core each, more would saturate this machine
  and understate its cost.

Also measured: time from each viewer's WHEP POST to its first decoded video frame, and the RTP
packets the viewers received per second per core of the server's CPU (the long-run goal is
40,000, LiveKit's published per-core rate). Targets:
expo <= 1 % of a core per viewer, >= 20x less than the baseline, first frame <= 1 s. The last
line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import free_port, print_side_by_side, stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PEER = str(ROOT / "scripts" / "_fanout_peer.py")
TICK = os.sysconf("SC_CLK_TCK")
# ``expo serve`` with every viewer's frames handed to aiortc's sender instead of the forwarder.
SENDER_PATH = (
    "import sys; from streaming.forwarder import RtpForwarder; "
    "RtpForwarder._can_drive = staticmethod(lambda sender: False); "
    "from expo.cli import main; sys.argv[0] = 'expo'; main()"
)
JOIN_TIMEOUT = 15.0  # seconds for every viewer to decode its first frame
SETTLE = 2.0


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of stat


def core_share(pid: int, seconds: float) -> float:
    """Share of one core ``pid`` uses over the next ``seconds``."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


@dataclass
class Peer:
    """A peer process whose JSON lines are collected by a reader thread."""

    proc: subprocess.Popen[str]
    role: str
    lines: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, *args: str, script: str = PEER) -> Peer:
        proc = subprocess.Popen([PY, script, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        peer = cls(proc, args[0])
        threading.Thread(target=peer._read, daemon=True).start()
        return peer

    @classmethod
    def viewer(cls, whep_url: str, seconds: float, *, decode: bool, extra: tuple[str, ...] = ()) -> Peer:
        """A WHEP viewer playing for ``seconds``: it decodes every frame, or without ``decode``
        counts the encoded frames it receives."""
        decoding = () if decode else ("--no-decode",)
        return cls.start("view", whep_url, "--seconds", str(seconds), *decoding, *extra)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def next(self, timeout: float) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise SystemExit(f"{self.role} peer said nothing for {timeout} s") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def measure(
    name: str, server: subprocess.Popen[Any], whip: str, key: str, whep: str, k: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Idle and busy CPU of ``server`` around ``k`` viewers joining one publisher."""
    peers: list[Peer] = []
    try:
        publisher = Peer.start("publish", whip, key, "--kbps", str(args.kbps))
        peers.append(publisher)
        publisher.next(30)  # live, and two seconds of media sent
        publisher.next(10)
        print(f"{name}: publisher live; measuring {args.seconds:.0f} s without viewers ...", flush=True)
        idle = core_share(server.pid, args.seconds)
        duration = JOIN_TIMEOUT + SETTLE + args.seconds + 3
        viewers = [Peer.viewer(whep, duration, decode=True) for _ in range(k)]
        peers += viewers
        first = [float(v.next(JOIN_TIMEOUT + 10)["first_frame_s"]) for v in viewers]
        print(f"{name}: {k} viewers decoding; measuring {args.seconds:.0f} s ...", flush=True)
        time.sleep(SETTLE)
        busy = core_share(server.pid, args.seconds)
        kbps = []
        while not publisher.lines.empty():
            kbps.append(publisher.lines.get()["kbps"])
        ends = [v.next(duration + 10) for v in viewers]
    finally:
        for peer in peers:
            peer.stop()
    per_viewer = (busy - idle) / k
    return {
        "viewers": k,
        "publisher_kbps": round(statistics.median(kbps)) if kbps else None,
        "idle_core": round(idle, 4),
        "busy_core": round(busy, 4),
        "core_per_viewer": round(per_viewer, 5),
        "viewers_per_core": round(1 / per_viewer) if per_viewer > 0 else None,
        "first_frame_p50_s": round(statistics.median(first), 3),
        "first_frame_max_s": round(max(first), 3),
        "viewer_fps_min": min(e["fps"] for e in ends),
        "viewer_fps_mean": round(statistics.mean(e["fps"] for e in ends), 1),
        "viewer_frames_min": min(e["frames"] for e in ends),
        # Every packet a viewer received, the server forwarded: its rate per core of server CPU.
        "packets_per_s_per_core": round(sum(e["packets_per_s"] for e in ends) / (busy - idle))
        if busy > idle
        else None,
    }


def prepare_store(tmp: Path, port: int, title: str) -> tuple[dict[str, str], dict[str, Any]]:
    """A fresh store in ``tmp`` with one stream: the environment of a server on ``port`` and the
    stream (``expo streams create``'s JSON: id and key)."""
    env = {
        **os.environ,
        "EXPO_DATA_DIR": str(tmp),
        "EXPO_LOG_LEVEL": "warning",
        "EXPO_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    expo = [PY, "-m", "expo"]
    subprocess.run([*expo, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    out = subprocess.run(
        [*expo, "streams", "create", "--title", title],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return env, json.loads(out.stdout)


def run_expo(args: argparse.Namespace, *, forwarder: bool = True) -> dict[str, Any]:
    port = free_port()
    env, stream = prepare_store(Path(tempfile.mkdtemp(prefix="expo-bench-fanout-")), port, "Fan-out bench")
    serve = [PY, "-m", "expo"] if forwarder else [PY, "-c", SENDER_PATH]
    server = subprocess.Popen(
        [*serve, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", server)
        return measure(
            "expo" if forwarder else "expo, sender path",
            server,
            stream["whip_url"],
            stream["key"],
            stream["whep_url"],
            args.viewers,
            args,
        )
    finally:
        stop(server)


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [PY, str(ROOT / "scripts" / "_relay_baseline.py"), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/healthz", server)
        return measure("baseline", server, f"{base}/whip", "any", f"{base}/whep", args.baseline_viewers, args)
    finally:
        server.kill()
        server.wait()


def add_viewers_decode(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """``--viewers-decode``: the viewers decode every frame instead of counting encoded ones."""
    parser.add_argument(
        "--viewers-decode",
        action=argparse.BooleanOptionalAction,
        default=False,
        help=f"{scope}viewers decode every frame (default: they count the encoded frames they "
        "receive, leaving the cores to the servers measured)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=8, help="WHEP viewers of the expo server")
    parser.add_argument("--baseline-viewers", type=int, default=4, help="viewers of the MediaRelay baseline")
    parser.add_argument("--seconds", type=float, default=15.0, help="each CPU measurement window")
    parser.add_argument("--kbps", type=int, default=1000, help="the publisher's H.264 bitrate")
    parser.add_argument(
        "--sender-path",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure expo with the RTP forwarder off (aiortc's sender task per viewer)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="measure expo serve --workers N against one process instead"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis for --workers (a random db)")
    add_viewers_decode(parser, "with --workers: ")
    parser.add_argument(
        "--one-by-one",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --workers: each viewer joins once the one before has a picture (else all at once)",
    )
    parser.add_argument(
        "--spread",
        choices=["even", "kernel"],
        default="even",
        help="with --workers: viewers in turn on each process (a round-robin balancer), or where "
        "the kernel's SO_REUSEPORT hash puts them (as up to 2026-12-05)",
    )
    parser.add_argument(
        "--audience",
        choices=["per-process", "total"],
        default="per-process",
        help="with --workers: --viewers on each process (N workers get N times as many as one "
        "process, so that every process is measured at the same load), or in all",
    )
    args = parser.parse_args()
    if args.workers > 1:
        import _fanout_workers

        _fanout_workers.run(args, Peer)
        return

    expo = run_expo(args)
    sender = run_expo(args, forwarder=False) if args.sender_path else None
    baseline = run_baseline(args)
    ratio = baseline["core_per_viewer"] / expo["core_per_viewer"] if expo["core_per_viewer"] > 0 else None

    rows = [
        ("viewers", "viewers", "{}"),
        ("publisher video kbps", "publisher_kbps", "{}"),
        ("server core, no viewer", "idle_core", "{:.1%}"),
        ("server core, K viewers", "busy_core", "{:.1%}"),
        ("server core per viewer", "core_per_viewer", "{:.2%}"),
        ("viewers per core", "viewers_per_core", "{}"),
        ("first frame p50 (s)", "first_frame_p50_s", "{:.3f}"),
        ("first frame max (s)", "first_frame_max_s", "{:.3f}"),
        ("viewer fps, mean", "viewer_fps_mean", "{}"),
        ("viewer fps, slowest", "viewer_fps_min", "{}"),
        ("RTP packets/s per core", "packets_per_s_per_core", "{:,}"),
    ]
    columns = [("expo", expo)] + ([("sender path", sender)] if sender else []) + [("MediaRelay", baseline)]
    print_side_by_side(rows, columns)
    verdict = {
        "core_per_viewer <= 1%": expo["core_per_viewer"] <= 0.01,
        "baseline/expo >= 20x": ratio is not None and ratio >= 20,
        "first frame max <= 1 s": expo["first_frame_max_s"] <= 1.0,
    }
    print(f"\nbaseline / expo CPU per viewer: {ratio:.1f}x" if ratio else "\nratio: expo cost not measurable")
    forwarder_gain = None
    if sender and expo["core_per_viewer"] > 0:
        forwarder_gain = sender["core_per_viewer"] / expo["core_per_viewer"]
        print(f"sender path / forwarder CPU per viewer: {forwarder_gain:.2f}x")
    for target, ok in verdict.items():
        print(f"  {target:<26}{'PASS' if ok else 'FAIL'}")
    print(
        json.dumps(
            {
                "expo": expo,
                "baseline": baseline,
                "sender_path": sender,
                "ratio_baseline_over_expo": round(ratio, 1) if ratio else None,
                "ratio_sender_path_over_expo": round(forwarder_gain, 2) if forwarder_gain else None,
                "seconds": args.seconds,
                "kbps": args.kbps,
                "pass": all(verdict.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
