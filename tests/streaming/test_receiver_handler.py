"""A tapped receiver handles each packet in a plain function (streaming.receiver.packet_handler)
that does what aiortc's coroutine does: receiver-report statistics, NACKs for what is missing,
RTX unwrapped, depayloading, frames passed on whole, a keyframe asked for when one is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc import RTCPeerConnection, clock
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    wrap_rtx,
)

from streaming.direct_receive import RTP_HANDLER
from streaming.ntp import now_ms, now_ntp
from streaming.receiver import MAX_FRAMES_BEHIND_GAP, EncodedFrameTap, install_tap
from streaming.remb import LeanBitrateEstimator
from streaming.room_speakers import SpeakingMeter, meter_audio

H264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=96)
RTX = RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=97, parameters={"apt": 96})
MEDIA_SSRC, RTX_SSRC = 1111, 2222
IDR, SLICE = 0x65, 0x41  # single-NAL payloads: the NAL header of an IDR slice, of a non-IDR slice


@dataclass
class Server:
    receiver: Any
    frames: list[tuple[str, bytes]] = field(default_factory=list)
    rtcp: list[Any] = field(default_factory=list)

    def receive(self, packet: RtpPacket) -> None:
        getattr(self.receiver, RTP_HANDLER)(packet, now_ms())

    def nacked(self) -> list[int]:
        return [
            n
            for p in self.rtcp
            if isinstance(p, RtcpRtpfbPacket) and p.fmt == RTCP_RTPFB_NACK
            for n in p.lost
        ]

    def plis(self) -> int:
        return sum(isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_PLI for p in self.rtcp)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    pc = RTCPeerConnection()
    receiver: Any = pc.addTransceiver("video", direction="recvonly").receiver
    receiver._track = RemoteStreamTrack(kind="video")  # what applying a remote offer sets
    receiver._RTCRtpReceiver__codecs.update({96: H264, 97: RTX})
    receiver._RTCRtpReceiver__rtx_ssrc[RTX_SSRC] = MEDIA_SSRC
    receiver._set_rtcp_ssrc(9999)
    result = Server(receiver)

    async def send_rtcp(packet: Any) -> None:
        result.rtcp.append(packet)

    receiver._send_rtcp = send_rtcp

    def on_frame(codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        result.frames.append((codec.name, frame.data))

    install_tap(receiver, EncodedFrameTap(on_frame, lambda: None))
    try:
        yield result
    finally:
        await pc.close()


def media(sequence: int, timestamp: int, nal: int, body: bytes = b"picture") -> RtpPacket:
    """A one-packet H.264 frame (a single NAL unit, the marker bit set)."""
    packet = RtpPacket(
        payload_type=96, marker=1, sequence_number=sequence, timestamp=timestamp, ssrc=MEDIA_SSRC
    )
    packet.payload = bytes([nal]) + body
    return packet


async def test_a_lost_packet_is_nacked_and_its_retransmission_completes_the_stream(server: Server) -> None:
    server.receive(media(100, 0, IDR))
    server.receive(media(102, 6000, SLICE, b"third"))  # 101 lost on the way
    assert server.nacked() == [101]
    assert [data for _, data in server.frames] == [b"\x00\x00\x00\x01" + bytes([IDR]) + b"picture"]
    server.receive(
        wrap_rtx(media(101, 3000, SLICE, b"second"), payload_type=97, sequence_number=7, ssrc=RTX_SSRC)
    )
    # The retransmission, unwrapped, fills the gap: the frames behind it go on, in order.
    assert [data[5:] for _, data in server.frames] == [b"picture", b"second", b"third"]
    assert {name for name, _ in server.frames} == {"H264"}
    # The statistics of the receiver reports count both sources, as aiortc's own handler does.
    streams = server.receiver._RTCRtpReceiver__remote_streams
    assert streams[MEDIA_SSRC].packets_received == 2 and streams[RTX_SSRC].packets_received == 1
    assert {s.source for s in server.receiver.getSynchronizationSources()} == {MEDIA_SSRC, RTX_SSRC}


async def test_a_gap_never_filled_asks_for_a_keyframe(server: Server) -> None:
    server.receive(media(1, 0, IDR))
    for n in range(3, 3 + MAX_FRAMES_BEHIND_GAP + 1):  # 2 never comes
        server.receive(media(n, n * 3000, SLICE))
    assert server.plis() == 1
    # The keyframe, then all but the frame the gap broke (given up up to its first frame end).
    assert len(server.frames) == 1 + MAX_FRAMES_BEHIND_GAP


async def test_a_payload_type_given_another_codec_is_read_as_that_codec(server: Server) -> None:
    server.receive(wrap_rtx(media(1, 0, IDR), payload_type=97, sequence_number=1, ssrc=3333))
    assert server.frames == []  # RTX from a source nobody announced: dropped
    # A renegotiation gives 97 to H.264 itself (aiortc updates its codecs in place).
    server.receiver._RTCRtpReceiver__codecs[97] = RTCRtpCodecParameters(
        mimeType="video/H264", clockRate=90000, payloadType=97
    )
    packet = media(1, 0, IDR)
    packet.payload_type = 97
    server.receive(packet)
    assert [name for name, _ in server.frames] == ["H264"]


async def test_what_aiortc_would_drop_is_dropped(server: Server) -> None:
    stranger = media(1, 0, IDR)
    stranger.payload_type = 100  # a payload type nobody negotiated
    server.receive(stranger)
    broken = media(2, 0, IDR)
    broken.payload = bytes([28])  # a fragmentation unit without its header
    server.receive(broken)
    unknown_rtx = wrap_rtx(media(3, 0, IDR), payload_type=97, sequence_number=1, ssrc=3333)
    server.receive(unknown_rtx)  # RTX from a source with no media source
    server.receiver._enabled = False
    server.receive(media(4, 0, IDR))
    assert server.frames == [] and server.rtcp == []


async def test_an_audio_meter_wraps_the_plain_handler() -> None:
    pc = RTCPeerConnection()
    receiver: Any = pc.addTransceiver("audio", direction="recvonly").receiver
    receiver._track = RemoteStreamTrack(kind="audio")
    try:
        install_tap(receiver, EncodedFrameTap(lambda codec, frame: None, lambda: None))
        handler = getattr(receiver, RTP_HANDLER)
        meter = SpeakingMeter()
        meter_audio(receiver, meter)
        assert getattr(receiver, RTP_HANDLER) is not handler
        packet = RtpPacket(payload_type=111, sequence_number=1, timestamp=960, ssrc=5)
        packet.extensions.audio_level = (True, 20)
        packet.payload = b"\xfc" + bytes(30)
        await receiver._handle_rtp_packet(packet, now_ms())  # the path through the DTLS task
        getattr(receiver, RTP_HANDLER)(packet, now_ms())  # the direct one
        assert (meter.packets, meter.loud) == (2, 2)
    finally:
        await pc.close()


def test_the_clocks_read_from_time_agree_with_aiortcs() -> None:
    assert abs(now_ms() - clock.current_ms()) < 50
    assert abs(now_ntp() - clock.current_ntp_time()) < 0.05 * 2**32


async def test_the_publishers_bandwidth_is_estimated_and_reported_by_remb(server: Server) -> None:
    estimator = server.receiver._RTCRtpReceiver__remote_bitrate_estimator
    assert type(estimator) is LeanBitrateEstimator  # aiortc's estimates, cheaper (test_remb)
    handle = getattr(server.receiver, RTP_HANDLER)
    start = now_ms()
    # Four seconds of a 30 fps stream, each frame one packet stamped with its abs-send-time.
    for n in range(120):
        packet = media(1000 + n, n * 3000, IDR if n == 0 else SLICE, bytes(900))
        packet.extensions.abs_send_time = int(n / 30 * (1 << 18)) & 0xFFFFFF
        handle(packet, start + n * 33)
    rembs = [p for p in server.rtcp if isinstance(p, RtcpPsfbPacket) and p.fmt == RTCP_PSFB_APP]
    assert rembs and rembs[-1].fci.startswith(b"REMB")
