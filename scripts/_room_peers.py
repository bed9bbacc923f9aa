"""The participants of scripts/bench_rooms.py: one process holds the people of several rooms.

    _room_peers.py expo BASE_URL ROOMS_JSON --seconds S [--kbps 500] [--settle 3]
    _room_peers.py baseline BASE_URL ROOMS_JSON --seconds S [...]

``ROOMS_JSON`` is a list of rooms (``expo rooms create``'s objects; for ``baseline`` only their
ids matter), each filled with ``--people`` participants (4). Every participant sends the same
pre-encoded media: a two-second loop of 640x360 H.264 at ``--kbps`` (keyframe each second,
encoded once at start with the noise block of scripts/_fanout_peer.py so the encoder spends the
bitrate) and Opus, handed to aiortc as encoded packets (``RTCRtpSender`` packs them, nobody
encodes), so a room's senders cost the machine no more than the server's forwarding should. Each
participant receives every other one of their room on its own connection (the room API's
subscriptions) and counts the encoded video frames before the decoder: nothing is decoded.

* ``expo``: join with the room's key (``POST /api/rooms/{id}/participants``), publish with the
  participant's secret, subscribe to the others.
* ``baseline``: scripts/_relay_rooms.py (aiortc's ``MediaRelay``), the same requests without the
  join: the server decodes each publisher once and encodes it again for every subscriber.

Lines printed (JSON, flushed): ``{"ready": true, "subscriptions": n}`` once every subscription has
received a keyframe; then, ``--settle`` seconds later, frames are counted for ``--seconds`` and the
last line is ``{"fps": [...], "sent_fps": [...], "packets_per_s": p}``: each subscription's video
frames per second, each sender's (a client short of CPU sends fewer than 30) and the RTP packets
per second all the subscriptions received. The process then waits to be killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _fanout_peer import LOOPBACK, SDP, NoisyClock, emit, packets_received

from streaming.codecs import is_keyframe, preferred_codecs
from streaming.receiver import EncodedFrameTap, install_tap

FPS = 30
VIDEO_CLOCK = fractions.Fraction(1, 90_000)
AUDIO_CLOCK = fractions.Fraction(1, 48_000)
OPUS_SAMPLES = 960  # 20 ms at 48 kHz


def encode_video(kbps: int, seconds: float = 2.0) -> list[bytes]:
    """A loop of ``seconds`` of the noisy clock as H.264 (constrained baseline, a keyframe each
    second, no B-frames), one Annex B access unit a frame."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 640, 360, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.bit_rate = kbps * 1000
    codec.options = {
        "profile": "baseline",
        "level": "31",
        "tune": "zerolatency",
        "preset": "veryfast",
        "g": str(FPS),
        "keyint_min": str(FPS),
        "bf": "0",
    }
    source = NoisyClock()
    frames: list[bytes] = []
    for i in range(int(seconds * FPS)):
        picture = source.draw(f"{i // FPS:02d}", i)
        picture.pts, picture.time_base = i, codec.time_base
        frames.extend(bytes(p) for p in codec.encode(picture))
    frames.extend(bytes(p) for p in codec.encode(None))
    return frames


def encode_audio(seconds: float = 1.0) -> list[bytes]:
    """A loop of ``seconds`` of a 440 Hz tone as 20 ms Opus packets (aiortc's own encoder)."""
    step = 2 * math.pi * 440 / 48_000
    chunk = struct.pack(f"<{OPUS_SAMPLES}h", *(int(6000 * math.sin(step * i)) for i in range(OPUS_SAMPLES)))
    encoder, packets = OpusEncoder(), []
    for n in range(int(seconds * 48_000 / OPUS_SAMPLES)):
        frame = av.AudioFrame(format="s16", layout="mono", samples=OPUS_SAMPLES)
        frame.planes[0].update(chunk)
        frame.pts, frame.sample_rate, frame.time_base = n * OPUS_SAMPLES, 48_000, AUDIO_CLOCK
        payloads, _ = encoder.encode(frame)
        packets.extend(payloads)
    return packets


class PacketTrack(MediaStreamTrack):
    """A track of pre-encoded packets at their real pace: the loop of ``payloads``, for ever
    (``index``: how many it has given)."""

    def __init__(self, kind: str, payloads: list[bytes], period: float, step: int, clock: fractions.Fraction):
        super().__init__()
        self.kind = kind
        self._payloads, self._period, self._step, self._clock = payloads, period, step, clock
        self.index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.index * self._period - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._payloads[self.index % len(self._payloads)])
        packet.pts, packet.time_base = self.index * self._step, self._clock
        self.index += 1
        return packet


@dataclass
class Subscription:
    pc: RTCPeerConnection
    frames: list[int] = field(default_factory=lambda: [0])
    keyframe: asyncio.Event = field(default_factory=asyncio.Event)


def count_frames(pc: RTCPeerConnection, sub: Subscription) -> None:
    """Count the video frames ``pc`` receives (from its first keyframe on), before any decoder."""
    for transceiver in pc.getTransceivers():
        if transceiver.kind != "video":
            continue

        def on_frame(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
            if not sub.keyframe.is_set() and is_keyframe(codec.name, frame.data):
                sub.keyframe.set()
            if sub.keyframe.is_set():
                sub.frames[0] += 1

        install_tap(transceiver.receiver, EncodedFrameTap(on_frame, lambda: None))


class Refused(Exception):
    """The server answered an offer with something other than 201."""

    def __init__(self, url: str, response: httpx.Response) -> None:
        super().__init__(f"{url}: {response.status_code} {response.text[:200]}")
        self.status = response.status_code


async def offer(pc: RTCPeerConnection, http: httpx.AsyncClient, url: str, secret: str | None) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    headers = {**SDP, **({"Authorization": f"Bearer {secret}"} if secret else {})}
    response = await http.post(url, content=pc.localDescription.sdp, headers=headers)
    if response.status_code != 201:
        raise Refused(url, response)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))


async def receive(http: httpx.AsyncClient, url: str, secret: str | None) -> Subscription:
    """A receive-only connection to ``url``, counting its video frames. The publisher's own
    connection may still be completing: the server answers 409 until then, and we ask again."""
    for _attempt in range(50):
        pc = RTCPeerConnection(LOOPBACK)
        video = pc.addTransceiver("video", direction="recvonly")
        video.setCodecPreferences(preferred_codecs("video"))
        pc.addTransceiver("audio", direction="recvonly")
        try:
            await offer(pc, http, url, secret)
        except Refused as refused:
            await pc.close()
            if refused.status != 409:
                raise
            await asyncio.sleep(0.2)
            continue
        sub = Subscription(pc)
        count_frames(pc, sub)
        return sub
    raise SystemExit(f"{url}: still not publishing")


async def fill_room(
    mode: str, http: httpx.AsyncClient, room: dict[str, Any], people: int, media: dict[str, list[bytes]]
) -> tuple[list[RTCPeerConnection], list[Subscription]]:
    """``people`` participants in ``room``: each publishes, then receives every other one."""
    room_id = room["id"]
    api = f"/api/rooms/{room_id}" if mode == "expo" else f"/rooms/{room_id}"
    members: list[tuple[str, str | None]] = []  # (participant id, secret)
    for n in range(people):
        if mode == "expo":
            key = room["host_url"].split("key=", 1)[1]
            joined = await http.post(f"{api}/participants", json={"key": key, "name": f"Peer {n + 1}"})
            if joined.status_code != 201:
                raise Refused(f"{api}/participants", joined)
            members.append((joined.json()["id"], joined.json()["secret"]))
        else:
            members.append((str(n + 1), None))
    senders: list[RTCPeerConnection] = []
    for pid, secret in members:
        pc = RTCPeerConnection(LOOPBACK)
        video = pc.addTransceiver(
            PacketTrack("video", media["video"], 1 / FPS, 90_000 // FPS, VIDEO_CLOCK), direction="sendonly"
        )
        video.setCodecPreferences(preferred_codecs("video"))
        audio = pc.addTransceiver(
            PacketTrack("audio", media["audio"], OPUS_SAMPLES / 48_000, OPUS_SAMPLES, AUDIO_CLOCK),
            direction="sendonly",
        )
        audio.setCodecPreferences(preferred_codecs("audio"))
        await offer(pc, http, f"{api}/participants/{pid}/publish", secret)
        senders.append(pc)
    subscriptions = [
        await receive(http, f"{api}/participants/{pid}/subscriptions/{other}", secret)
        for pid, secret in members
        for other, _ in members
        if other != pid
    ]
    return senders, subscriptions


async def run(args: argparse.Namespace, rooms: list[dict[str, Any]]) -> None:
    media = {"video": encode_video(args.kbps), "audio": encode_audio()}
    async with httpx.AsyncClient(base_url=args.base, timeout=30) as http:
        filled = await asyncio.gather(*(fill_room(args.mode, http, r, args.people, media) for r in rooms))
    subscriptions = [s for _, subs in filled for s in subs]
    tracks = [
        t.track
        for pcs, _ in filled
        for pc in pcs
        for t in pc.getSenders()
        if t.track and t.track.kind == "video"
    ]
    async with asyncio.timeout(60):
        await asyncio.gather(*(s.keyframe.wait() for s in subscriptions))
    emit(ready=True, subscriptions=len(subscriptions))
    await asyncio.sleep(args.settle)
    frames = [s.frames[0] for s in subscriptions]
    sent = [t.index for t in tracks]
    packets = sum([await packets_received(s.pc) for s in subscriptions])
    started = time.monotonic()
    await asyncio.sleep(args.seconds)
    elapsed = time.monotonic() - started
    fps = [round((s.frames[0] - f) / elapsed, 1) for s, f in zip(subscriptions, frames, strict=True)]
    received = sum([await packets_received(s.pc) for s in subscriptions]) - packets
    sent_fps = [round((t.index - n) / elapsed, 1) for t, n in zip(tracks, sent, strict=True)]
    emit(fps=fps, sent_fps=sent_fps, packets_per_s=round(received / elapsed, 1))
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()  # until killed: the rooms stay as they are


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mode", choices=["expo", "baseline"])
    parser.add_argument("base")
    parser.add_argument("rooms")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--kbps", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(run(args, json.loads(Path(args.rooms).read_text())))


if __name__ == "__main__":
    main()
