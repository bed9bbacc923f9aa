"""What one relay link costs on its own, both ends, in one process: run by bench_fanout.py --workers.

    _relay_link_cost.py [--seconds 10] [--kbps 1000] [--rounds 1]

A broadcast's two publications (H.264 video at 30 fps, a keyframe every 2 s, ``--kbps``; Opus at
50 frames a second) are fed with frames of those sizes, first with no link (the baseline: the
feeding itself), then with a relay link on loopback: the origin's side (``streaming.relay.serve_link``
behind uvicorn with expo's WebSocket protocol) and the receiving side (``RelayLink`` feeding
publications of a router) in this one process; then with a link whose origin writes every frame on
its own (``AUDIO_HOLD`` 0, as before audio waited for the next video frame), the windows taking
turns for ``--rounds`` rounds. The process's CPU time over each window gives the link's cost per
stream, both ends; the time from opening the link to the first relayed frame is its part of a
relayed viewer's first frame. Prints a short table, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from expo.wsprotocol import uvicorn_websocket_options
from streaming import relay
from streaming.publication import Publication
from streaming.relay import RelayLink, serve_link
from streaming.router import MediaRouter

H264 = RTCRtpCodecParameters(
    mimeType="video/H264",
    clockRate=90000,
    payloadType=102,
    parameters={"packetization-mode": "1", "level-asymmetry-allowed": "1", "profile-level-id": "42e01f"},
)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
HOLD = relay.AUDIO_HOLD


class _Nobody:
    async def request_keyframe(self) -> bool:
        return True


def cpu() -> float:
    return time.process_time()  # the process's CPU time, all threads, to the nanosecond


async def feed(video: Publication, audio: Publication, kbps: int) -> None:
    """30 video frames (a keyframe every 60) and 50 audio frames a second, of realistic sizes."""
    frame = bytes(max(1, kbps * 1000 // 8 // 30))
    keyframe = bytes(len(frame) * 8)
    sound = bytes(120)
    started, tick = time.monotonic(), 0
    while True:
        # Every 10 ms: audio on even ticks (20 ms), video on ticks 0, 3, 7 of 10 (about 30 fps).
        if tick % 2 == 0:
            audio.deliver(OPUS, sound, tick * 480, True)
        if tick % 10 in (0, 3, 7):
            n = tick // 10 * 3 + (0, 3, 7).index(tick % 10)
            key = n % 60 == 0
            video.deliver(H264, keyframe if key else frame, n * 3000, key)
        tick += 1
        await asyncio.sleep(max(0.0, started + tick * 0.01 - time.monotonic()))


async def until(check: Callable[[], bool]) -> None:
    while True:
        if check():
            return
        await asyncio.sleep(0.001)


async def measure(seconds: float) -> float:
    before, at = cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    return (cpu() - before) / (time.monotonic() - at)


async def relayed_window(port: int, router: MediaRouter, seconds: float, hold: float) -> dict[str, float]:
    """Open a link with ``hold`` as the origin's audio hold, wait for both tracks, measure, close."""
    relay.AUDIO_HOLD = hold  # read by serve_link when the link opens
    link = RelayLink(1, router, lambda _link, _said: None)
    opened_at = time.monotonic()
    await link.open(f"ws://127.0.0.1:{port}/link", {})
    opened = time.monotonic() - opened_at
    running = asyncio.create_task(link.run())
    await until(lambda: link.frames > 0)
    first = time.monotonic() - opened_at
    # Video starts on a keyframe (one every 2 s here): the window starts once both tracks flow.
    await until(lambda: all(p.frames_received for p in link.publications))
    await asyncio.sleep(1)
    frames_before = link.frames
    core = await measure(seconds)
    relayed = (link.frames - frames_before) / seconds
    await link.close()
    await asyncio.gather(running, return_exceptions=True)
    return {"core": core, "frames_per_s": relayed, "open_s": opened, "first_frame_s": first}


async def main(seconds: float, kbps: int, rounds: int) -> None:
    router = MediaRouter()  # the receiving side's; its options for the origin's publications too
    video = router.publish_relayed("video", H264, _Nobody(), stream_id="1")
    audio = router.publish_relayed("audio", OPUS, _Nobody(), stream_id="1")

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await serve_link(websocket, [video, audio])

    app = Starlette(routes=[WebSocketRoute("/link", endpoint)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **uvicorn_websocket_options()
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    feeder = asyncio.create_task(feed(video, audio, kbps))
    await asyncio.sleep(1)
    # Windows taking turns: no link, audio held for the video (expo), every frame its own write.
    baselines: list[float] = []
    held: list[dict[str, float]] = []
    unheld: list[dict[str, float]] = []
    for _ in range(rounds):
        baselines.append(await measure(seconds))
        held.append(await relayed_window(port, router, seconds, HOLD))
        unheld.append(await relayed_window(port, router, seconds, 0.0))
    relay.AUDIO_HOLD = HOLD

    feeder.cancel()
    await asyncio.gather(feeder, return_exceptions=True)
    server.should_exit = True
    await serving
    baseline = statistics.median(baselines)

    def median(windows: list[dict[str, float]], key: str) -> float:
        return statistics.median(w[key] for w in windows)

    link_core = median(held, "core") - baseline
    unheld_core = median(unheld, "core") - baseline
    print(f"one relay link, both ends, {rounds} rounds of {seconds:g} s (medians; no link: {baseline:.2%})")
    print(f"  {'':<34}{'CPU, % of a core':>18}{'frames/s':>10}")
    print(f"  {'audio held for video (expo)':<34}{link_core:>18.2%}{median(held, 'frames_per_s'):>10.1f}")
    print(f"  {'every frame its own write':<34}{unheld_core:>18.2%}{median(unheld, 'frames_per_s'):>10.1f}")
    print(
        json.dumps(
            {
                "baseline_core": round(baseline, 5),
                "with_link_core": round(median(held, "core"), 5),
                "link_core": round(link_core, 5),
                "unheld_link_core": round(unheld_core, 5),
                "frames_per_s": round(median(held, "frames_per_s"), 1),
                "open_s": round(median(held, "open_s"), 4),
                "first_frame_s": round(median(held, "first_frame_s"), 4),
                "audio_hold_s": HOLD,
                "rounds": rounds,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--kbps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.kbps, args.rounds))
