"""The RTP marker bit on what a viewer receives: set on the last packet of each video frame.

Browsers assemble a frame when its marker packet arrives (RFC 6184 for H.264, RFC 7741 for VP8);
a marker on the first packet makes them decode a frame cut short. aiortc's own receiver ignores the
bit, so this looks at the packets on the wire, for frames of noise that never fit in one packet.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

import av
import pytest
from aiortc.mediastreams import VideoStreamTrack
from aiortc.rtp import RtpPacket

from streaming.forwarder import RtpForwarder
from tests.streaming import peers
from tests.streaming.peers import HEIGHT, WIDTH, Broadcast, decoded_frames, until
from tests.streaming.test_forwarder import record_packets


class Noise(VideoStreamTrack):
    """Random pixels: encoded frames several RTP packets long (some P-frames still fit in one)."""

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane in frame.planes:
            plane.update(os.urandom(plane.buffer_size))
        frame.pts = pts
        frame.time_base = time_base
        return frame


def frames_of(packets: list[RtpPacket]) -> list[list[RtpPacket]]:
    """The packets of each frame the viewer received completely, in sequence order."""
    by_frame: dict[int, list[RtpPacket]] = defaultdict(list)
    for packet in packets:
        by_frame[packet.timestamp].append(packet)
    frames = [sorted(group, key=lambda p: p.sequence_number) for group in by_frame.values()]
    # The first and the last frame seen may be partial (recording started or stopped inside them).
    return frames[1:-1]


@pytest.mark.parametrize(
    ("codec", "batching"), [("video/H264", True), ("video/VP8", True), ("video/H264", False)]
)
async def test_the_marker_is_on_the_last_packet_of_every_frame(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
    codec: str,
    batching: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peers, "MovingPattern", Noise)  # the publisher sends noise
    # Batched sends, and the packet-by-packet path (``batching`` off, or behind queued datagrams).
    monkeypatch.setattr(RtpForwarder, "batching", batching)
    broadcast = await make_broadcast(codec)
    viewer = await broadcast.add_viewer()
    await decoded_frames(viewer.track("video"), 3)
    receiver = viewer.receiver("video")
    seen = record_packets(receiver)

    def video_frames() -> list[list[RtpPacket]]:
        # The media stream, not the occasional retransmission over RTX.
        ssrc = Counter(p.ssrc for p in seen).most_common(1)[0][0]
        return frames_of([p for p in seen if p.ssrc == ssrc])

    def long_frames() -> int:
        return sum(len(frame) > 1 for frame in video_frames())

    await until(lambda: bool(seen) and long_frames() >= 5)
    for frame in video_frames():
        assert [p.marker for p in frame] == [0] * (len(frame) - 1) + [1]
    forwarder = viewer.senders[0].track.forwarder  # type: ignore[attr-defined]
    assert forwarder.direct and (forwarder.batches_sent > 0) is batching
