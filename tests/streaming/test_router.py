"""The media router with real aiortc peers over loopback: publisher → server → viewers.

The publisher encodes a moving test pattern and a tone-free audio track; the "server" peer
connection receives them and :class:`MediaRouter` forwards the encoded frames to viewer peer
connections, which decode them. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.exceptions import OperationError
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack

from streaming.codecs import is_keyframe, preferred_codecs
from streaming.publication import Publication
from streaming.router import MediaRouter
from streaming.tracks import EncodedRelayTrack

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
    # As a WHIP handler would: route the tracks before any media arrives.
    publications = {t.kind: router.publish(t, stream_id="demo") for t in server_pc.getTransceivers()}
    await server_pc.setLocalDescription(await server_pc.createAnswer())
    await publisher.setRemoteDescription(server_pc.localDescription)
    return Broadcast(router, publisher, server_pc, publications["video"], publications["audio"])


@pytest.fixture
async def make_broadcast() -> AsyncIterator[Callable[..., Awaitable[Broadcast]]]:
    started: list[Broadcast] = []

    async def make(codec: str = "video/H264", **router_options: int) -> Broadcast:
        broadcast = await start_broadcast(codec, MediaRouter(**router_options))
        started.append(broadcast)
        return broadcast

    yield make
    for broadcast in started:
        await broadcast.router.close()
        for pc in [broadcast.publisher, broadcast.server_pc, *broadcast.pcs]:
            await pc.close()


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


@pytest.mark.parametrize("codec", ["video/H264", "video/VP8"])
async def test_three_viewers_decode_forwarded_media_the_server_never_decodes(
    make_broadcast: Callable[..., Awaitable[Broadcast]], codec: str
) -> None:
    broadcast = await make_broadcast(codec)
    viewers = [await broadcast.add_viewer() for _ in range(3)]

    for viewer in viewers:
        video = await decoded_frames(viewer.track("video"), 10)
        assert all(isinstance(f, av.VideoFrame) and (f.width, f.height) == (WIDTH, HEIGHT) for f in video)
        audio = await decoded_frames(viewer.track("audio"), 5)
        assert all(isinstance(f, av.AudioFrame) and f.sample_rate == 48000 for f in audio)

    assert broadcast.video.codec is not None and broadcast.video.codec.mimeType == codec
    assert broadcast.audio.codec is not None and broadcast.audio.codec.mimeType == "audio/opus"
    assert broadcast.video.tap.decoder_thread_released and broadcast.video.tap.frames > 10
    assert_not_decoded(broadcast.server_pc)


async def test_a_stalled_subscriber_stays_bounded_and_does_not_stall_the_others(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast(max_video_frames=10, max_audio_frames=10)
    stalled_video, stalled_audio = broadcast.video.subscribe(), broadcast.audio.subscribe()
    viewers = [await broadcast.add_viewer() for _ in range(2)]

    # The stalled subscriber overflows (it never reads) ...
    await until(lambda: stalled_video.frames_dropped > 0 and stalled_audio.frames_dropped > 0)
    # ... while the others keep decoding a further second of video, the stalled queue bounded.
    for viewer in viewers:
        frames = await decoded_frames(viewer.track("video"), 30)
        assert frames[-1].width == WIDTH
        assert stalled_video.queued <= 10 and stalled_audio.queued <= 10
    assert stalled_video.frames_dropped > 20
    # A viewer that never reads does not make the publisher send keyframes on its behalf.
    plis = broadcast.video.plis_sent
    received = broadcast.video.frames_received
    await until(lambda: broadcast.video.frames_received > received + 30)
    assert broadcast.video.plis_sent <= plis + 1


async def test_a_late_subscriber_starts_on_a_keyframe_requested_upstream(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    # 1.5 s into the stream, with nobody asking for keyframes yet.
    await until(lambda: broadcast.video.frames_received >= 45)
    plis, keyframes = broadcast.video.plis_sent, broadcast.video.keyframes_received

    started = time.monotonic()
    late = broadcast.video.subscribe()
    async with asyncio.timeout(5):
        first = await late.recv()
    assert is_keyframe("H264", bytes(first))
    assert time.monotonic() - started < 4
    assert broadcast.video.plis_sent == plis + 1
    assert broadcast.video.keyframes_received == keyframes + 1

    # A real viewer joining late decodes at once too.
    viewer = await broadcast.add_viewer()
    frames = await decoded_frames(viewer.track("video"), 3)
    assert frames[0].width == WIDTH


async def test_a_viewers_picture_loss_indication_reaches_the_publisher(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast(codec="video/VP8")
    viewer = await broadcast.add_viewer()
    await decoded_frames(viewer.track("video"), 5)
    relay = viewer.senders[0].track
    assert isinstance(relay, EncodedRelayTrack)
    keyframes, plis = broadcast.video.keyframes_received, broadcast.video.plis_sent

    # The viewer's own RTCP stack sends a PLI over the wire to the server's sender.
    media_ssrc = viewer.receiver("video").getSynchronizationSources()[0].source
    await asyncio.sleep(0.6)  # let the throttle window of the viewer's own join request pass
    await viewer.receiver("video")._send_rtcp_pli(media_ssrc)

    await until(lambda: relay.keyframe_requests == 1, timeout=5)
    await until(lambda: broadcast.video.keyframes_received > keyframes, timeout=5)
    assert broadcast.video.plis_sent == plis + 1


async def test_many_requests_send_at_most_one_pli_per_interval(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast(codec="video/VP8")
    await until(lambda: broadcast.video.frames_received >= 10)
    started, plis = time.monotonic(), broadcast.video.plis_sent
    while time.monotonic() - started < 1.2:
        broadcast.video.request_keyframe()
        await asyncio.sleep(0.01)
    # Requests keep coming for 1.2 s: one PLI at once, then at most one per 0.5 s window.
    assert 1 <= broadcast.video.plis_sent - plis <= 3


async def test_publisher_leaving_ends_every_subscriber(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast(codec="video/VP8")
    viewer = await broadcast.add_viewer()
    await decoded_frames(viewer.track("video"), 3)

    await broadcast.publisher.close()
    async with asyncio.timeout(5):
        await broadcast.video.wait_ended()
        await broadcast.audio.wait_ended()
    assert broadcast.video.state == broadcast.audio.state == "ended"
    # Every server-side sender loop towards the viewer ran out of frames and stopped; hanging up
    # the viewer's peer connection is left to whoever owns it (the WHEP session).
    await until(lambda: all(sender.track is None for sender in viewer.senders), timeout=5)
    assert broadcast.router.publications("demo") == [broadcast.video, broadcast.audio]


async def test_closing_the_router_ends_subscribers_and_leaves_no_task(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    viewers = [await broadcast.add_viewer() for _ in range(2)]
    for viewer in viewers:
        await decoded_frames(viewer.track("video"), 3)
    idle = broadcast.video.subscribe()  # its join request leaves a PLI task pending or recent
    broadcast.video.request_keyframe()

    await broadcast.router.close()

    assert broadcast.router.publications() == []
    assert broadcast.video.state == broadcast.audio.state == "closed"
    leftover = [t for t in asyncio.all_tasks() if t.get_name().startswith("publication-") and not t.done()]
    assert leftover == []
    with pytest.raises(MediaStreamError):
        async with asyncio.timeout(5):
            while True:  # what was queued before the close is still handed out, then the end
                await idle.recv()
    # Every server-side sender loop saw its track end and let go of it.
    await until(lambda: all(s.track is None for v in viewers for s in v.senders), timeout=5)
    assert all(not p.subscribers for p in (broadcast.video, broadcast.audio))


async def test_a_viewer_that_cannot_decode_the_published_codec_is_refused(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast(codec="video/H264")
    pc, server_pc = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    broadcast.pcs += [pc, server_pc]
    wants = pc.addTransceiver("video", direction="recvonly")
    wants.setCodecPreferences([c for c in preferred_codecs("video") if c.mimeType == "video/VP8"])
    await pc.setLocalDescription(await pc.createOffer())
    broadcast.video.attach(server_pc)
    # Forwarding H.264 as VP8 would be garbage: negotiation fails instead (a WHEP 4xx later).
    with pytest.raises(OperationError):
        await server_pc.setRemoteDescription(pc.localDescription)
    assert len(broadcast.video.subscribers) == 1
    await server_pc.close()  # what the WHEP handler does with a refused session
    assert broadcast.video.subscribers == []
