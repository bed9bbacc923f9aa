"""RTP packets forwarded per second per core of the server, batched sends against one by one.

    .venv/bin/python scripts/bench_forward.py [--viewers 12] [--seconds 10] [--rounds 2] [--path-only]
        [--viewers-decode]

One ``expo serve`` on a fresh store, one WHIP publisher and K WHEP viewers, the peers of
scripts/bench_fanout.py (scripts/_fanout_peer.py: 640x360 at 30 fps, H.264 pinned at ``--kbps``
plus Opus; every viewer an aiortc peer in its own process that counts the encoded frames it
receives, or decodes them with ``--viewers-decode``: the server sends the same either way, and on
this 2-core machine twelve decoding viewers take the cores from the server measured). The server's
CPU (utime + stime of its process) is measured over ``--seconds`` with the publisher alone (before
the viewers come and after they leave: the mean of both), and, once all viewers have a picture,
over alternating windows of ``--seconds`` each:

* batched: ``RtpForwarder.batching`` on (streaming/srtp_batch.py: each frame's packets protected
  in place in one buffer and sent with one ``sendmsg`` per run of equal sizes, UDP GSO), in C
  (streaming/_rtpsend.c) where that was built, each frame to all viewers in one call
  (``RtpForwarder.fan_out``: the publication's ``send_to_all``);
* batched, a call per viewer: the same with ``fan_out`` off (``RtpForwarder.native``: one C call
  per frame and viewer, the loop before the fan-out);
* batched, Python loop: the same with ``native`` off too (the loop before streaming/_rtpsend.c);
* one by one: batching off, the path before it (one ``Session.protect`` and one ``sendto`` per
  packet). The modes are switched by a signal, so that all serve the same viewers of the same
  stream in the same run, in turns: batched, a call per viewer, batched in Python, one by one,
  batched, ...

Packets per second per core = the RTP packets the viewers received per second (their own
counters, over the whole run; the stream and the viewers are the same in every window) divided
by the server CPU the viewers cost in that window (window CPU - publisher-only CPU). The figure
is the median over the rounds. The same figure for the server's event-loop thread alone (where
frames are forwarded, kernel sends included) leaves out the HLS packager's and the recorder's
threads, whose CPU does not grow with viewers but moves by more than a viewer costs. Target:
>= 100,000 batched. The last line printed is one JSON object with the figures.

First, in this process (``--path-only``: only that), the forwarding path alone: the media router
of the tests (tests/streaming/peers.py) with K real aiortc viewers on loopback, fed frames of the
same shape (4 RTP packets of H.264, 1 of Opus) straight into each subscriber (with the fan-out,
to all of them in one ``send_to_all``), ``--frames`` of each per round and mode, alternating;
thread CPU time per packet, from the subscriber's ``push`` (or the one call) to the socket (SRTP
and the ``sendto``/``sendmsg`` system calls included, the viewers' own work not: they read their
sockets between rounds), weighted as a 30 fps stream with 20 ms Opus packets sends them.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_fanout import JOIN_TIMEOUT, SETTLE, TICK, Peer, add_viewers_decode, prepare_store
from benchlib import free_port, print_side_by_side, stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TARGET = 100_000
# Each mode: the signal that switches ``expo serve``'s forwarders to it, and their ``batching``,
# ``native`` and ``fan_out`` (see the docstring).
MODES = {
    "batched": (signal.SIGUSR1, True, True, True),
    "batched, a call per viewer": (signal.SIGPWR, True, True, False),
    "batched, Python loop": (signal.SIGWINCH, True, False, False),
    "one by one": (signal.SIGUSR2, False, False, False),
}
# ``expo serve`` whose forwarders switch modes on those signals (``native`` only where it was built).
SERVE = (
    "import signal, sys; from streaming.forwarder import RtpForwarder; "
    "built = RtpForwarder.native; "
    "switch = lambda batching, native, fan_out: lambda *_: (setattr(RtpForwarder, 'batching', batching), "
    "setattr(RtpForwarder, 'native', native and built), "
    "setattr(RtpForwarder, 'fan_out', fan_out and built)); "
    + "".join(f"signal.signal({int(sig)}, switch({b}, {n}, {f})); " for sig, b, n, f in MODES.values())
    + "from expo.cli import main; sys.argv[0] = 'expo'; main()"
)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of process ``pid``, and of its main thread (the event loop)."""
    figures = []
    for path in (f"/proc/{pid}/stat", f"/proc/{pid}/task/{pid}/stat"):
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        figures.append((int(fields[11]) + int(fields[12])) / TICK)  # utime, stime
    return figures[0], figures[1]


def core_share(pid: int, seconds: float) -> tuple[float, float]:
    """Share of one core the process ``pid``, and its event loop's thread, use over ``seconds``."""
    (process, thread), start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    (process_end, thread_end), elapsed = cpu_seconds(pid), time.monotonic() - start
    return (process_end - process) / elapsed, (thread_end - thread) / elapsed


def start_server(tmp: Path) -> tuple[subprocess.Popen[Any], dict[str, str]]:
    port = free_port()
    env, stream = prepare_store(tmp, port, "Forwarding bench")
    server = subprocess.Popen(
        [PY, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/healthz", server)
    return server, stream


def run(args: argparse.Namespace) -> dict[str, Any]:
    server, stream = start_server(Path(tempfile.mkdtemp(prefix="expo-bench-forward-")))
    peers: list[Peer] = []
    windows: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    try:
        publisher = Peer.start("publish", stream["whip_url"], stream["key"], "--kbps", str(args.kbps))
        peers.append(publisher)
        publisher.next(30)  # live, and two seconds of media sent
        publisher.next(10)
        print(f"publisher live; measuring {args.seconds:.0f} s without viewers ...", flush=True)
        idle = core_share(server.pid, args.seconds)
        duration = JOIN_TIMEOUT + SETTLE + (args.seconds + SETTLE) * args.rounds * len(MODES) + 3
        viewers = [
            Peer.viewer(stream["whep_url"], duration, decode=args.viewers_decode) for _ in range(args.viewers)
        ]
        peers += viewers
        for viewer in viewers:
            viewer.next(JOIN_TIMEOUT + 10)
        time.sleep(SETTLE)
        for round_ in range(args.rounds):
            for mode, (signum, *_) in MODES.items():
                server.send_signal(signum)
                time.sleep(SETTLE)  # frames already on their way finish in the previous mode
                busy = core_share(server.pid, args.seconds)
                windows[mode].append(busy)
                print(f"round {round_ + 1}, {mode}: {busy[0]:.1%} of a core ({busy[1]:.1%} loop)", flush=True)
        ends = [viewer.next(duration + 10) for viewer in viewers]
        time.sleep(SETTLE)  # the viewers have left: the publisher alone again
        after = core_share(server.pid, args.seconds)
        idle = ((idle[0] + after[0]) / 2, (idle[1] + after[1]) / 2)
    finally:
        for peer in peers:
            peer.stop()
        stop(server)
    packets = sum(end["packets_per_s"] for end in ends)
    figures: dict[str, Any] = {}
    for mode, shares in windows.items():
        process = [share[0] for share in shares]
        loop = [share[1] for share in shares]
        rates = [round(packets / (share - idle[0])) for share in process if share > idle[0]]
        loop_rates = [round(packets / (share - idle[1])) for share in loop if share > idle[1]]
        figures[mode] = {
            "idle_core": round(idle[0], 4),
            "busy_core": round(statistics.median(process), 4),
            "core_per_viewer": round((statistics.median(process) - idle[0]) / args.viewers, 5),
            "loop_idle_core": round(idle[1], 4),
            "loop_busy_core": round(statistics.median(loop), 4),
            "loop_packets_per_s_per_core": round(statistics.median(loop_rates)) if loop_rates else None,
            "loop_packets_per_s_per_core_rounds": loop_rates,
            "packets_per_s": round(packets),
            "packets_per_s_per_core": round(statistics.median(rates)) if rates else None,
            "packets_per_s_per_core_rounds": rates,
            "viewer_fps_min": min(end["fps"] for end in ends),
        }
    return figures


async def forwarding_path(viewers: int, frames: int, rounds: int) -> dict[str, dict[str, Any]]:
    """Thread CPU per forwarded packet, per mode, with real aiortc viewers in this process."""
    import av
    from aiortc.codecs import get_encoder
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from streaming.forwarder import OutgoingFrame, RtpForwarder, send_to_all
    from streaming.router import MediaRouter
    from tests.streaming.peers import decoded_frames, start_broadcast

    broadcast = await start_broadcast("video/H264", MediaRouter())
    try:
        peers = [await broadcast.add_viewer() for _ in range(viewers)]
        for peer in peers:
            await decoded_frames(peer.track("video"), 2)
        tracks = [[sender.track for sender in peer.senders] for peer in peers]
        # From now on only the frames below reach the subscribers.
        broadcast.video._subscribers.clear()
        broadcast.audio._subscribers.clear()
        h264 = get_encoder(RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102))
        nal, opus = b"\x00\x00\x00\x01\x41" + os.urandom(4200), os.urandom(120)
        cpu: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
        built = RtpForwarder.native
        for index in range(rounds * len(MODES) * 3):
            mode = list(MODES)[index % len(MODES)]
            _, RtpForwarder.batching, native, fan_out = MODES[mode]
            RtpForwarder.native = native and built
            RtpForwarder.fan_out = fan_out and built
            # As the publication does: each frame to all viewers in one call (their outlets).
            outlets = (
                [[t.outlet() for t in kinds] for kinds in zip(*tracks, strict=True)]
                if fan_out and built
                else []
            )
            video_s = audio_s = 0.0
            packets = 0
            for n in range(frames):
                packet = av.Packet(nal)
                packet.pts, packet.time_base = n * 3000, fractions.Fraction(1, 90000)
                video = OutgoingFrame.of(packet, keyframe=False)
                video.payloads, video.timestamp = h264.pack(packet)
                audio = OutgoingFrame(
                    opus, n * 960, fractions.Fraction(1, 48000), False, payloads=[opus], timestamp=n * 960
                )
                t0 = time.thread_time()
                if outlets:
                    send_to_all(video, outlets[0])
                else:
                    for video_track, _ in tracks:
                        video_track.push(video)  # type: ignore[attr-defined]
                t1 = time.thread_time()
                if outlets:
                    send_to_all(audio, outlets[1])
                else:
                    for _, audio_track in tracks:
                        audio_track.push(audio)  # type: ignore[attr-defined]
                video_s, audio_s = video_s + t1 - t0, audio_s + time.thread_time() - t1
                packets = len(video.payloads)
                if n % 10 == 9:
                    await asyncio.sleep(0)  # the viewers read their sockets
            cpu[mode].append((video_s / (frames * viewers * packets), audio_s / (frames * viewers)))
        RtpForwarder.batching, RtpForwarder.native, RtpForwarder.fan_out = True, built, built
        figures: dict[str, dict[str, Any]] = {}
        for mode, samples in cpu.items():
            video_us = statistics.median(v for v, _ in samples) * 1e6
            audio_us = statistics.median(a for _, a in samples) * 1e6
            # Weighted as a stream sends them: 30 video frames and 50 Opus packets a second.
            per_packet = (video_us * packets * 30 + audio_us * 50) / (packets * 30 + 50)
            figures[mode] = {
                "path_video_us_per_packet": round(video_us, 2),
                "path_audio_us_per_packet": round(audio_us, 2),
                "path_packets_per_s_per_core": round(1e6 / per_packet),
            }
        return figures
    finally:
        await broadcast.router.close()
        for pc in [broadcast.publisher, broadcast.server_pc, *broadcast.pcs]:
            await pc.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=12, help="WHEP viewers, each an aiortc peer")
    add_viewers_decode(parser)
    parser.add_argument("--seconds", type=float, default=10.0, help="each CPU measurement window")
    parser.add_argument("--rounds", type=int, default=2, help="windows per mode, alternating")
    parser.add_argument("--kbps", type=int, default=1000, help="the publisher's H.264 bitrate")
    parser.add_argument("--frames", type=int, default=150, help="frames of each kind per path round")
    parser.add_argument("--path-only", action="store_true", help="only the in-process forwarding path")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    path = asyncio.run(forwarding_path(args.viewers, args.frames, args.rounds))
    figures: dict[str, Any] = {mode: {} for mode in MODES} if args.path_only else run(args)
    for mode in MODES:
        figures[mode].update(path[mode])
    batched, python_loop, each = figures["batched"], figures["batched, Python loop"], figures["one by one"]
    per_viewer = figures["batched, a call per viewer"]
    print_side_by_side(
        [
            ("path: µs per video packet", "path_video_us_per_packet", "{:.2f}"),
            ("path: µs per audio packet", "path_audio_us_per_packet", "{:.2f}"),
            ("path: packets/s per core", "path_packets_per_s_per_core", "{:,}"),
            ("server core, publisher only", "idle_core", "{:.1%}"),
            ("server core, K viewers", "busy_core", "{:.1%}"),
            ("server core per viewer", "core_per_viewer", "{:.2%}"),
            ("RTP packets/s received", "packets_per_s", "{:,}"),
            ("RTP packets/s per core", "packets_per_s_per_core", "{:,}"),
            ("event loop thread, no viewer", "loop_idle_core", "{:.1%}"),
            ("event loop thread, K viewers", "loop_busy_core", "{:.1%}"),
            ("... RTP packets/s per its core", "loop_packets_per_s_per_core", "{:,}"),
            ("viewer fps, slowest", "viewer_fps_min", "{}"),
        ],
        [
            ("C fan-out", batched),
            ("C per viewer", per_viewer),
            ("Python loop", python_loop),
            ("one by one", each),
        ],
        label_width=30,
    )
    key = "path_packets_per_s_per_core" if args.path_only else "packets_per_s_per_core"
    rate, before, python_rate = batched.get(key), each.get(key), python_loop.get(key)
    gain = rate / before if rate and before else None
    c_gain = rate / python_rate if rate and python_rate else None
    per_viewer_rate = per_viewer.get(key)
    fan_gain = rate / per_viewer_rate if rate and per_viewer_rate else None
    print(f"\n{args.viewers} viewers, load average {load:.1f} at the start")
    if gain:
        print(f"batched / one by one: {gain:.2f}x")
    if c_gain:
        print(f"batched, C fan-out / Python loop: {c_gain:.2f}x")
    if fan_gain:
        print(f"C fan-out / a C call per viewer: {fan_gain:.2f}x")
    ok = rate is not None and rate >= TARGET
    print(f"  packets/s per core >= {TARGET:,}  {'PASS' if ok else 'FAIL'}")
    print(
        json.dumps(
            {
                **figures,
                "viewers": args.viewers,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "kbps": args.kbps,
                "load_average": round(load, 2),
                "ratio_batched_over_one_by_one": round(gain, 2) if gain else None,
                "ratio_c_loop_over_python_loop": round(c_gain, 2) if c_gain else None,
                "ratio_fan_out_over_call_per_viewer": round(fan_gain, 2) if fan_gain else None,
                "pass": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
