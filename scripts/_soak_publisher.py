"""The WHIP publisher of scripts/soak.py: pre-encoded media, so that it costs the machine next to
nothing for half an hour.

    _soak_publisher.py WHIP_URL KEY

Two seconds of H.264 (640x360, 30 fps, a keyframe every second, as tests.streaming.synthetic
encodes them) and one second of Opus are encoded once at start-up, then sent in a loop at real-time
pace with ever-increasing timestamps: aiortc's sender packetises an ``av.Packet`` without encoding
it. Keyframe requests are not honoured (nothing is encoded); a new viewer waits at most a second.

Prints ``{"live": true}`` once the WHIP POST was answered 201, then every 10 s
``{"video_packets": n, "audio_packets": n}`` (packets handed to the senders so far). A
connection that fails is published again after 1 s. SIGTERM DELETEs the session and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import av
import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.codecs import preferred_codecs
from tests.streaming.synthetic import h264_packets, opus_packets

SIZE = (640, 360)


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


class LoopedPackets(MediaStreamTrack):
    """Sends ``packets`` (one period of ``period`` RTP ticks at ``clock_rate``) over and over, each
    one at its place in time, shifted by a period per loop."""

    def __init__(self, kind: str, packets: list[av.Packet[Any]], clock_rate: int, period: int) -> None:
        super().__init__()
        self.kind = kind
        self.time_base = Fraction(1, clock_rate)
        self.clock_rate = clock_rate
        self.period = period
        first = packets[0].pts or 0
        self.items = [(bytes(p), ((p.pts or 0) - first) % 2**32) for p in packets]
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        loop, index = divmod(self.sent, len(self.items))
        payload, offset = self.items[index]
        pts = loop * self.period + offset
        await asyncio.sleep(max(0.0, self._start + pts / self.clock_rate - time.monotonic()))
        packet = av.Packet(payload)
        packet.pts, packet.time_base = pts, self.time_base
        self.sent += 1
        return packet


def media() -> tuple[LoopedPackets, LoopedPackets]:
    video = h264_packets(2.0, size=SIZE)
    audio = opus_packets(1.0)
    return LoopedPackets("video", video, 90000, 2 * 90000), LoopedPackets("audio", audio, 48000, 48000)


async def publish_once(http: httpx.AsyncClient, url: str, key: str, stop: asyncio.Event) -> None:
    """One WHIP session: until the connection fails or ``stop`` is set (then DELETEd)."""
    video, audio = media()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    failed = asyncio.Event()

    @pc.on("connectionstatechange")
    def changed() -> None:
        if pc.connectionState in ("failed", "closed"):
            failed.set()

    pc.addTransceiver(video, direction="sendonly").setCodecPreferences(preferred_codecs("video"))
    pc.addTransceiver(audio, direction="sendonly").setCodecPreferences(preferred_codecs("audio"))
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"}
    response = await http.post(url, content=pc.localDescription.sdp, headers=headers)
    if response.status_code != 201:
        await pc.close()
        raise RuntimeError(f"WHIP refused: {response.status_code} {response.text[:200]}")
    location = urljoin(url, response.headers["location"])
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    emit(live=True)
    try:
        while not (stop.is_set() or failed.is_set()):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await stop.wait()
            emit(video_packets=video.sent, audio_packets=audio.sent)
    finally:
        if stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                await http.delete(location, headers={"Authorization": f"Bearer {key}"})
        await pc.close()


async def main(url: str, key: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with httpx.AsyncClient(timeout=20) as http:
        while not stop.is_set():
            try:
                await publish_once(http, url, key, stop)
            except (httpx.HTTPError, RuntimeError) as exc:
                emit(error=str(exc))
            if not stop.is_set():
                await asyncio.sleep(1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
