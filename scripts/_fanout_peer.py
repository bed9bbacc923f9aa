"""The WebRTC peers of scripts/bench_fanout.py, one per process: a WHIP publisher or a WHEP viewer.

    _fanout_peer.py publish WHIP_URL KEY [--kbps 1000]
    _fanout_peer.py view WHEP_URL --seconds S [--no-decode] [--on INSTANCE]

``publish`` sends a 640x360 30 fps picture (the demo's clock pattern with a block of noise, so
that x264 actually spends the bitrate) as H.264 at a fixed bitrate, and a tone as Opus, until
killed; every 2 s it prints ``{"kbps": ...}``, the video bitrate it sent (RTCP stats).

``view`` POSTs a WHEP offer (H.264 first), decodes (unless ``--no-decode``: then it counts the
encoded frames, keyframe first) every video and audio frame it receives for
``S`` seconds, then DELETEs its session. It prints ``{"first_frame_s": ..., "location": ...}`` as
soon as the first video frame is decoded (measured from just before the POST; the session's URL
names the server process that holds it), and at the end ``{"frames": n,
"fps": ..., "packets_per_s": ..., "first_frame_s": ...}`` (RTP packets received on both
tracks). Each line is one JSON object, flushed at once. With ``--on INSTANCE`` it POSTs again
(each time on a new connection, DELETEing the session it got) until the session's URL ends in
``.INSTANCE``: a spread over the workers as even as a round-robin balancer's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import h264
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.broadcaster import ClockPattern, Tone
from streaming.codecs import is_keyframe, preferred_codecs
from streaming.direct_receive import receive_directly_on
from streaming.receiver import EncodedFrameTap, install_tap

LOOPBACK = RTCConfiguration(iceServers=[])
SDP = {"Content-Type": "application/sdp"}
# ``view --on``: tries before giving up on landing on the wanted process (1 in N each time).
MAX_LANDINGS = 60
NOISE = (192, 108)  # luma block of random bytes: keeps x264 at its target bitrate


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def fix_bitrate(bps: int) -> None:
    """Pin aiortc's H.264 encoder to ``bps``: by default it follows the receiver's REMB estimate
    (0.5-3 Mbps), which would make the figure depend on what the server reports back."""
    h264.H264Encoder.target_bitrate = property(  # type: ignore[assignment]
        lambda self: bps, lambda self, value: None
    )


class NoisyClock(ClockPattern):
    """The demo's clock pattern with a block of fresh noise in the top-left corner."""

    def draw(self, clock: str, counter: int) -> av.VideoFrame:
        frame = super().draw(clock, counter)
        luma = frame.planes[0]
        data = bytearray(bytes(luma))
        w, h = NOISE
        noise = os.urandom(w * h)
        for row in range(h):
            data[row * luma.line_size : row * luma.line_size + w] = noise[row * w : (row + 1) * w]
        luma.update(bytes(data))
        return frame


async def publish(whip_url: str, key: str, kbps: int) -> None:
    fix_bitrate(kbps * 1000)
    pc = RTCPeerConnection(LOOPBACK)
    video = pc.addTransceiver(NoisyClock(), direction="sendonly")
    video.setCodecPreferences(preferred_codecs("video"))
    audio = pc.addTransceiver(Tone(), direction="sendonly")
    audio.setCodecPreferences(preferred_codecs("audio"))
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.post(
            whip_url, content=pc.localDescription.sdp, headers={**SDP, "Authorization": f"Bearer {key}"}
        )
        if response.status_code != 201:
            raise SystemExit(f"WHIP refused: {response.status_code} {response.text[:200]}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        sent, at = 0, time.monotonic()
        try:
            while True:
                await asyncio.sleep(2)
                stats = await video.sender.getStats()
                total = sum(getattr(s, "bytesSent", 0) for s in stats.values() if s.type == "outbound-rtp")
                now = time.monotonic()
                emit(kbps=round((total - sent) * 8 / (now - at) / 1000))
                sent, at = total, now
        finally:
            await pc.close()


async def drain(track: MediaStreamTrack, counter: list[int], first: asyncio.Future[float]) -> None:
    """Decode ``track`` until it ends, counting frames; resolve ``first`` on the first one."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()
            counter[0] += 1
            if not first.done():
                first.set_result(time.monotonic())


async def packets_received(pc: RTCPeerConnection) -> int:
    """RTP packets received so far on every track of ``pc``."""
    total = 0
    for transceiver in pc.getTransceivers():
        stats = await transceiver.receiver.getStats()
        total += sum(getattr(s, "packetsReceived", 0) for s in stats.values() if s.type == "inbound-rtp")
    return total


def count_encoded(
    pc: RTCPeerConnection, counters: dict[str, list[int]], first: asyncio.Future[float]
) -> None:
    """Count ``pc``'s received frames before its decoders instead of decoding them (``--no-decode``):
    the server sends the same either way, and the viewers' processes leave the cores to it."""
    for transceiver in pc.getTransceivers():
        kind, counter = transceiver.kind, counters[transceiver.kind]

        def on_frame(
            codec: RTCRtpCodecParameters, frame: JitterFrame, kind: str = kind, counter: list[int] = counter
        ) -> None:
            if kind == "video" and not first.done() and is_keyframe(codec.name, frame.data):
                first.set_result(time.monotonic())
            if first.done() or kind != "video":
                counter[0] += 1

        install_tap(transceiver.receiver, EncodedFrameTap(on_frame, lambda: None))


async def view(whep_url: str, seconds: float, decode: bool = True, on: str | None = None) -> None:
    pc = RTCPeerConnection(LOOPBACK)
    video = pc.addTransceiver("video", direction="recvonly")
    video.setCodecPreferences(preferred_codecs("video"))
    pc.addTransceiver("audio", direction="recvonly")
    video_frames, audio_frames = [0], [0]
    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    unused: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    tasks: list[asyncio.Task[None]] = []

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video":
            tasks.append(asyncio.create_task(drain(track, video_frames, first)))
        else:
            tasks.append(asyncio.create_task(drain(track, audio_frames, unused)))

    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=20) as http:
        for _ in range(MAX_LANDINGS):
            started = time.monotonic()
            # A new connection for each try: the kernel chooses the worker per connection.
            response = await http.post(
                whep_url, content=pc.localDescription.sdp, headers={**SDP, "Connection": "close"}
            )
            if response.status_code != 201:
                raise SystemExit(f"WHEP refused: {response.status_code} {response.text[:200]}")
            if on is None or response.headers["location"].endswith("." + on):
                break
            await http.delete(urljoin(whep_url, response.headers["location"]))
        else:
            raise SystemExit(f"no session on {on} in {MAX_LANDINGS} tries")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        # As the server takes its publishers' packets: in the socket's callback, in C where built,
        # so that the viewers' own processes leave more of the two cores to the servers measured.
        receive_directly_on(pc)
        if not decode:
            count_encoded(pc, {"video": video_frames, "audio": audio_frames}, first)
        first_frame_s: float | None = None
        try:
            async with asyncio.timeout(10):
                first_frame_s = await first - started
            emit(first_frame_s=round(first_frame_s, 3), location=response.headers["location"])
            counted_from, counted, packets = time.monotonic(), video_frames[0], await packets_received(pc)
            await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
            elapsed = time.monotonic() - counted_from
            fps = (video_frames[0] - counted) / elapsed
            packets_per_s = (await packets_received(pc) - packets) / elapsed
        except TimeoutError:
            fps = packets_per_s = 0.0
        emit(
            frames=video_frames[0],
            audio_frames=audio_frames[0],
            fps=round(fps, 1),
            packets_per_s=round(packets_per_s, 1),
            first_frame_s=first_frame_s,
        )
        with contextlib.suppress(httpx.HTTPError):
            await http.delete(urljoin(whep_url, response.headers["location"]))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await pc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="role", required=True)
    pub = sub.add_parser("publish")
    pub.add_argument("url")
    pub.add_argument("key")
    pub.add_argument("--kbps", type=int, default=1000)
    viewer = sub.add_parser("view")
    viewer.add_argument("url")
    viewer.add_argument("--seconds", type=float, required=True)
    viewer.add_argument(
        "--decode",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="decode (else count encoded frames)",
    )
    viewer.add_argument("--on", help="the server process (session URL suffix) to play from")
    args = parser.parse_args()
    if args.role == "publish":
        asyncio.run(publish(args.url, args.key, args.kbps))
    else:
        asyncio.run(view(args.url, args.seconds, args.decode, args.on))


if __name__ == "__main__":
    main()
