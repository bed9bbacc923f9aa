"""Real aiortc peers over loopback for the media-router tests: publisher → server → viewers.

The publisher encodes a moving test pattern and a tone-free audio track; the "server" peer
connection receives them and a :class:`MediaRouter` forwards the encoded frames to viewer peer
connections, which decode them. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack

from streaming.codecs import preferred_codecs
from streaming.direct_receive import receive_directly_on
from streaming.publication import Publication
from streaming.router import MediaRouter

WIDTH, HEIGHT = 320, 240
# No STUN server: aiortc's default one is unreachable here and would only slow gathering down.
LOOPBACK = RTCConfiguration(iceServers=[])


class MovingPattern(VideoStreamTrack):
    """A 30 fps test pattern that changes every frame, so the encoder has real work to do."""

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        shift = (pts // 3000) * 4
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma, *chroma = frame.planes
        row = bytes((x + shift) % 256 for x in range(luma.line_size))
        luma.update(row * HEIGHT)
        for plane in chroma:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


@dataclass
class Viewer:
    """A viewer peer connection and the server-side peer connection that feeds it."""

    pc: RTCPeerConnection
    server_pc: RTCPeerConnection
    senders: list[RTCRtpSender]

    def track(self, kind: str) -> MediaStreamTrack:
        return next(t.receiver.track for t in self.pc.getTransceivers() if t.kind == kind)

    def receiver(self, kind: str) -> RTCRtpReceiver:
        return next(t.receiver for t in self.pc.getTransceivers() if t.kind == kind)


@dataclass
class Broadcast:
    router: MediaRouter
    publisher: RTCPeerConnection
    server_pc: RTCPeerConnection
    video: Publication
    audio: Publication
    pcs: list[RTCPeerConnection] = field(default_factory=list)

    async def add_viewer(self) -> Viewer:
        pc, server_pc = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
        self.pcs += [pc, server_pc]
        for kind in ("video", "audio"):
            pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        # As a WHEP handler would: subscribe before reading the viewer's offer.
        senders = [self.video.attach(server_pc), self.audio.attach(server_pc)]
        await server_pc.setRemoteDescription(pc.localDescription)
        receive_directly_on(server_pc)
        await server_pc.setLocalDescription(await server_pc.createAnswer())
        await pc.setRemoteDescription(server_pc.localDescription)
        return Viewer(pc, server_pc, senders)


async def start_broadcast(codec: str, router: MediaRouter) -> Broadcast:
    publisher, server_pc = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    video = publisher.addTransceiver(MovingPattern(), direction="sendonly")
    video.setCodecPreferences([c for c in preferred_codecs("video") if c.mimeType in (codec, "video/rtx")])
    publisher.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await publisher.setLocalDescription(await publisher.createOffer())
    await server_pc.setRemoteDescription(publisher.localDescription)
    # As a WHIP handler would: take the transports' SRTP directly, route the tracks before any
    # media arrives.
    receive_directly_on(server_pc)
    publications = {t.kind: router.publish(t, stream_id="demo") for t in server_pc.getTransceivers()}
    await server_pc.setLocalDescription(await server_pc.createAnswer())
    await publisher.setRemoteDescription(server_pc.localDescription)
    return Broadcast(router, publisher, server_pc, publications["video"], publications["audio"])


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def decoded_frames(track: MediaStreamTrack, count: int, timeout: float = 10.0) -> list[Any]:
    frames: list[Any] = []
    async with asyncio.timeout(timeout):
        while len(frames) < count:
            frames.append(await track.recv())
    return frames


def assert_not_decoded(server_pc: RTCPeerConnection) -> None:
    """aiortc's decoder output would pile up in the unread remote tracks: there must be none."""
    for transceiver in server_pc.getTransceivers():
        receiver: Any = transceiver.receiver
        decoded: asyncio.Queue[Any] = receiver.track._queue
        pending = []
        while not decoded.empty():
            pending.append(decoded.get_nowait())
        assert all(item is None for item in pending), "the server decoded media it only forwards"
        thread = receiver._RTCRtpReceiver__decoder_thread
        assert thread is not None and not thread.is_alive()
