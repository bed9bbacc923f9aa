"""The media router with real aiortc peers over loopback: publisher → server → viewers.

The publisher encodes a moving test pattern and a tone-free audio track; the "server" peer
connection receives them and :class:`MediaRouter` forwards the encoded frames to viewer peer
connections, which decode them. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import av
import pytest
from aiortc import RTCPeerConnection
from aiortc.exceptions import OperationError
from aiortc.mediastreams import MediaStreamError

from streaming.codecs import is_keyframe, preferred_codecs
from streaming.tracks import EncodedRelayTrack
from tests.streaming.peers import (
    HEIGHT,
    LOOPBACK,
    WIDTH,
    Broadcast,
    assert_not_decoded,
    decoded_frames,
    until,
)


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
