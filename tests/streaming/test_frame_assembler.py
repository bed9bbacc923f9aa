"""A publisher's frames leave the server's receiver with their last packet (streaming.receiver).

aiortc's jitter buffer let a video frame go only when the next frame's first packet arrived, and
audio four packets later still: every hop through the server added a frame interval to video and
80 ms to audio. These tests feed :class:`FrameAssembler` packets in every order a network makes,
then send one frame at a time through real aiortc peers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import av
from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket

from streaming.codecs import preferred_codecs
from streaming.receiver import MAX_FRAMES_BEHIND_GAP, MAX_MISORDER, FrameAssembler
from streaming.router import MediaRouter
from tests.streaming.peers import LOOPBACK, until
from tests.streaming.synthetic import h264_packets, opus_packets

VIDEO_PT = 96


def packet(sequence: int, timestamp: int, data: bytes, *, marker: bool = False) -> RtpPacket:
    """A depayloaded packet as aiortc hands it over (the frame bytes in ``_data``)."""
    out = RtpPacket(
        payload_type=VIDEO_PT, marker=int(marker), sequence_number=sequence & 0xFFFF, timestamp=timestamp
    )
    out._data = data  # type: ignore[attr-defined]
    return out


def frame_packets(first_sequence: int, timestamp: int, parts: Iterable[bytes]) -> list[RtpPacket]:
    """One video frame's packets, the marker bit on the last."""
    parts = list(parts)
    return [
        packet(first_sequence + i, timestamp, part, marker=i == len(parts) - 1)
        for i, part in enumerate(parts)
    ]


class Collected:
    def __init__(self, kind: str = "video") -> None:
        self.frames: list[tuple[int, bytes]] = []
        self.assembler = FrameAssembler(kind, self.deliver)

    def deliver(self, payload_type: int, frame: JitterFrame) -> None:
        assert payload_type == VIDEO_PT
        self.frames.append((frame.timestamp, frame.data))

    def add(self, packets: Iterable[RtpPacket]) -> list[bool]:
        return [self.assembler.add(p)[0] for p in packets]


def test_a_video_frame_leaves_with_its_last_packet_not_with_the_next_frames_first() -> None:
    got = Collected()
    first, second = frame_packets(10, 3000, [b"a", b"b", b"c"]), frame_packets(13, 6000, [b"d"])

    got.add(first[:2])
    assert got.frames == []
    got.add(first[2:])
    assert got.frames == [(3000, b"abc")]
    got.add(second)
    assert got.frames == [(3000, b"abc"), (6000, b"d")]


def test_packets_out_of_order_make_the_frame_once_its_gap_is_filled_and_frames_stay_in_order() -> None:
    got = Collected()
    first, second = frame_packets(65534, 3000, [b"a", b"b", b"c"]), frame_packets(1, 6000, [b"d", b"e"])

    # The middle packet of the first frame comes last (a retransmission after a NACK), across the
    # sequence number's wrap.
    got.add([first[0], first[2], *second])
    assert got.frames == []
    got.add([first[1]])
    assert got.frames == [(3000, b"abc"), (6000, b"de")]


def test_a_sender_that_never_sets_the_marker_bit_has_its_frame_passed_on_at_the_next_timestamp() -> None:
    got = Collected()
    got.add([packet(1, 3000, b"a"), packet(2, 3000, b"b")])
    assert got.frames == []
    got.add([packet(3, 6000, b"c")])
    assert got.frames == [(3000, b"ab")]


def test_padding_sent_between_frames_to_probe_the_bandwidth_is_no_frame() -> None:
    got = Collected()
    got.add(frame_packets(1, 3000, [b"a", b"b"]))
    got.add([packet(3, 3000, b""), packet(4, 3000, b"")])  # padding only, the last frame's timestamp
    got.add(frame_packets(5, 6000, [b"c"]))
    assert got.frames == [(3000, b"ab"), (6000, b"c")]
    audio = Collected("audio")
    audio.add([packet(1, 960, b"x"), packet(2, 960, b""), packet(3, 1920, b"y")])
    assert audio.frames == [(960, b"x"), (1920, b"y")]


def test_duplicates_and_packets_behind_what_went_are_not_passed_on_twice() -> None:
    got = Collected()
    frame = frame_packets(100, 3000, [b"a", b"b"])
    got.add([*frame, frame[1], frame[0], frame[1]])
    assert got.frames == [(3000, b"ab")]
    assert got.assembler.dropped == 3


def test_audio_packets_are_frames_passed_on_at_once_and_a_late_one_is_dropped() -> None:
    got = Collected("audio")
    got.add([packet(65535, 960, b"x")])
    assert got.frames == [(960, b"x")]
    got.add([packet(1, 2880, b"z"), packet(0, 1920, b"y"), packet(2, 3840, b"w")])
    # The packet that came after its successor would play out of order: it is dropped.
    assert got.frames == [(960, b"x"), (2880, b"z"), (3840, b"w")]
    assert got.assembler.dropped == 1


def test_a_gap_never_filled_is_given_up_after_a_bounded_number_of_frames_and_a_keyframe_asked() -> None:
    got = Collected()
    broken = frame_packets(0, 0, [b"a", b"lost", b"c"])
    later = [frame_packets(3 + i, 3000 * (i + 1), [bytes([65 + i])]) for i in range(MAX_FRAMES_BEHIND_GAP)]

    plis = got.add([broken[0], broken[2]])
    for frame in later[:-1]:
        plis += got.add(frame)
    assert got.frames == [] and not any(plis)  # still waiting for the retransmission

    # One frame end too many behind the gap: the broken frame goes, a PLI is sent, the rest go on.
    assert got.add(later[-1]) == [True]
    assert [data for _, data in got.frames] == [bytes([65 + i]) for i in range(MAX_FRAMES_BEHIND_GAP)]
    assert got.add([broken[1]]) == [False] and len(got.frames) == MAX_FRAMES_BEHIND_GAP


def test_a_new_sequence_is_taken_up_at_its_next_frame_boundary_with_a_keyframe_asked() -> None:
    got = Collected()
    got.add(frame_packets(5000, 3000, [b"a"]))
    restart = 5000 - MAX_MISORDER - 50
    # The publisher restarted mid-frame: the tail of that frame must not reach the viewers.
    assert got.add([packet(restart, 90000, b"tail"), packet(restart + 1, 90000, b"end", marker=True)]) == [
        True,
        False,
    ]
    got.add(frame_packets(restart + 2, 93000, [b"new", b"frame"]))
    assert got.frames == [(3000, b"a"), (93000, b"newframe")]


def test_a_jump_beyond_the_capacity_drops_what_waits_and_resumes_at_a_new_timestamp() -> None:
    got = Collected()
    got.add([packet(1, 3000, b"a")])  # its frame's last packet never comes
    far = 1 + got.assembler.capacity
    assert got.add([packet(far, 9000, b"mid"), packet(far + 1, 12000, b"b", marker=True)]) == [True, False]
    assert got.frames == [(12000, b"b")]


class GatedTrack(MediaStreamTrack):
    """Pre-encoded packets, each sent only once :meth:`release` allows it."""

    def __init__(self, kind: str, packets: list[av.Packet[Any]]) -> None:
        super().__init__()
        self.kind = kind
        self._packets = packets
        self._allowed = asyncio.Semaphore(0)

    def release(self, count: int = 1) -> None:
        for _ in range(count):
            self._allowed.release()

    async def recv(self) -> av.Packet[Any]:  # type: ignore[override]
        await self._allowed.acquire()
        return self._packets.pop(0)


async def test_one_frame_sent_reaches_the_publication_without_waiting_for_the_next() -> None:
    router = MediaRouter()
    publisher, server_pc = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    video, audio = GatedTrack("video", h264_packets(1.0)), GatedTrack("audio", opus_packets(1.0))
    transceiver = publisher.addTransceiver(video, direction="sendonly")
    transceiver.setCodecPreferences([c for c in preferred_codecs("video") if c.mimeType == "video/H264"])
    publisher.addTransceiver(audio, direction="sendonly")
    try:
        await publisher.setLocalDescription(await publisher.createOffer())
        await server_pc.setRemoteDescription(publisher.localDescription)
        publications = {t.kind: router.publish(t, stream_id="gated") for t in server_pc.getTransceivers()}
        await server_pc.setLocalDescription(await server_pc.createAnswer())
        await publisher.setRemoteDescription(server_pc.localDescription)

        # One keyframe and one Opus packet, then nothing: aiortc's own buffer would hold both for ever.
        video.release()
        audio.release()
        await until(
            lambda: publications["video"].frames_received == 1 and publications["audio"].frames_received == 1
        )
        assert publications["video"].keyframes_received == 1
        video.release(2)
        audio.release(2)
        await until(
            lambda: publications["video"].frames_received == 3 and publications["audio"].frames_received == 3
        )
    finally:
        await router.close()
        await publisher.close()
        await server_pc.close()
