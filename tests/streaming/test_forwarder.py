"""The RTP forwarder beneath aiortc's sender, with real aiortc viewers over loopback.

What a viewer must not notice: its frames come straight from the forwarder instead of the
sender's own task, yet it still decodes them, gets sender reports that match what it received,
and gets a lost packet back (over RTX) when it asks for it with a NACK.
"""

from __future__ import annotations

import asyncio
import errno
import fractions
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import get_encoder
from aiortc.mediastreams import VideoStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from streaming import forwarder as forwarder_module
from streaming import srtp_batch
from streaming.forwarder import OutgoingFrame, extension_block
from streaming.tracks import EncodedRelayTrack, SharedPacketizer
from tests.streaming import peers
from tests.streaming.peers import HEIGHT, WIDTH, Broadcast, decoded_frames, until

H264_CODEC = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=102)


def relay(track: Any) -> EncodedRelayTrack:
    assert isinstance(track, EncodedRelayTrack)
    return track


@pytest.mark.parametrize("codec", ["video/H264", "video/VP8"])
async def test_viewers_frames_are_written_by_the_forwarder_not_the_senders_task(
    make_broadcast: Callable[..., Awaitable[Broadcast]], codec: str
) -> None:
    broadcast = await make_broadcast(codec)
    viewers = [await broadcast.add_viewer() for _ in range(2)]

    for viewer in viewers:
        frames = await decoded_frames(viewer.track("video"), 15)
        assert frames[-1].width == WIDTH
        await decoded_frames(viewer.track("audio"), 5)
        for sender in viewer.senders:
            track = relay(sender.track)
            forwarder = track.forwarder
            assert forwarder is not None and forwarder.direct and not forwarder.fallback
            # Nothing went the sender's way: every frame it received was forwarded, none queued.
            assert track.frames_forwarded > 0 and track.frames_queued == 0 and track.queued == 0
            assert forwarder.packets_sent >= track.frames_forwarded


async def test_sender_reports_count_what_the_forwarder_sent(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()
    await decoded_frames(viewer.track("video"), 5)

    async def remote_outbound() -> Any:
        stats = await viewer.receiver("video").getStats()
        return next((s for s in stats.values() if s.type == "remote-outbound-rtp"), None)

    # The sender's own RTCP task sends a report every 0.5-1.5 s; wait for one sent after now.
    since = time.time()
    report = None
    async with asyncio.timeout(5):
        while report is None or report.remoteTimestamp.timestamp() < since:
            await asyncio.sleep(0.1)
            report = await remote_outbound()
    inbound = next(s for s in (await viewer.receiver("video").getStats()).values() if s.type == "inbound-rtp")
    # A report states what had been sent when it left; the viewer received about as much by now.
    assert 0 < report.packetsSent <= inbound.packetsReceived + 100
    assert report.packetsSent >= inbound.packetsReceived * 0.5
    assert report.bytesSent > report.packetsSent * 100  # payload octets, not a packet count
    # Its NTP time is the send time of a recent frame, which lets players sync audio and video.
    assert abs(report.remoteTimestamp.timestamp() - time.time()) < 3


def record_packets(receiver: Any) -> list[RtpPacket]:
    """Every RTP packet the viewer's ``receiver`` takes from the wire from now on, RTX included."""
    seen: list[RtpPacket] = []
    handle = receiver._handle_rtp_packet

    async def recording(packet: RtpPacket, arrival_time_ms: int) -> None:
        seen.append(packet)
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = recording
    return seen


async def test_a_nacked_packet_is_sent_again_over_rtx(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()
    await decoded_frames(viewer.track("video"), 5)
    receiver: Any = viewer.receiver("video")
    seen = record_packets(receiver)
    await until(lambda: len(seen) >= 10)
    original = seen[-5]
    forwarder = relay(viewer.senders[0].track).forwarder
    assert forwarder is not None
    resent = forwarder.retransmissions

    # The viewer's own RTCP stack reports the packet lost, over the wire.
    await receiver._send_rtcp_nack(original.ssrc, [original.sequence_number])

    await until(lambda: forwarder.retransmissions == resent + 1, timeout=5)
    await until(lambda: any(p.ssrc != original.ssrc for p in seen), timeout=5)
    (again,) = [p for p in seen if p.ssrc != original.ssrc]
    # RFC 4588: on the RTX stream, the original sequence number, then the original payload.
    assert again.payload_type != original.payload_type
    assert again.payload == original.sequence_number.to_bytes(2, "big") + original.payload
    assert again.timestamp == original.timestamp and again.marker == original.marker


async def test_a_nack_for_a_forgotten_packet_is_ignored(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()
    frames = await decoded_frames(viewer.track("video"), 5)
    receiver: Any = viewer.receiver("video")
    forwarder = relay(viewer.senders[0].track).forwarder
    assert forwarder is not None
    seen = record_packets(receiver)
    # The first one is older than the history by then (30 fps: 7 s; longer on a busy machine).
    await until(lambda: len(seen) > 200, timeout=30)

    await receiver._send_rtcp_nack(seen[0].ssrc, [seen[0].sequence_number])
    # The viewer keeps decoding and nothing was resent for a packet no longer remembered.
    more = await decoded_frames(viewer.track("video"), 10)
    assert more[-1].pts > frames[-1].pts
    assert forwarder.retransmissions == 0


def test_a_frames_extension_block_is_built_once_for_viewers_that_negotiated_alike() -> None:
    frame = OutgoingFrame(
        b"\x00", 0, fractions.Fraction(1, 90000), keyframe=True, ntp_time=(1_000 << 32) | (1 << 31)
    )
    block = frame.extension_block((3, 2, "0"))
    assert frame.extension_block((3, 2, "0")) is block
    # One-byte header profile, two words: mid "0" under id 3, abs-send-time 1000.5 s under id 2.
    abs_send_time = (((1_000 << 32) | (1 << 31)) >> 14) & 0xFFFFFF
    expected = b"\xbe\xde\x00\x02" + b"\x30" + b"0" + b"\x22" + abs_send_time.to_bytes(3, "big") + b"\x00\x00"
    assert block == expected
    assert frame.extension_block((1, 2, "1")) != block
    assert extension_block((0, 0, ""), 0) == b""


class Noise(VideoStreamTrack):
    """Random pixels: encoded frames several RTP packets long."""

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane in frame.planes:
            plane.update(os.urandom(plane.buffer_size))
        frame.pts, frame.time_base = pts, time_base
        return frame


@pytest.mark.parametrize(
    ("native", "fan_out"),
    [(True, True), (True, False), (False, False)],
    ids=["fan-out", "c-loop", "python-loop"],
)
async def test_batched_frames_reach_the_viewer_whole_with_the_marker_on_their_last_packet(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
    monkeypatch: pytest.MonkeyPatch,
    native: bool,
    fan_out: bool,
) -> None:
    if native and not forwarder_module.RtpForwarder.native:
        pytest.skip("streaming._rtpsend not built (test_rtpsend fails for it in CI)")
    monkeypatch.setattr(forwarder_module.RtpForwarder, "native", native)
    monkeypatch.setattr(forwarder_module.RtpForwarder, "fan_out", fan_out)
    monkeypatch.setattr(peers, "MovingPattern", Noise)  # frames of noise never fit one packet
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()
    await decoded_frames(viewer.track("video"), 3)
    forwarder = relay(viewer.senders[0].track).forwarder
    assert forwarder is not None and forwarder.batching
    assert (forwarder._native is not None and forwarder.native) == native  # the loop under test
    # With fan-out, the publication sends the viewer's frames with all others' in one call.
    assert (relay(viewer.senders[0].track) in broadcast.video._outlets) == fan_out
    # The same frames, read as aiortc's sender reads them and packetised by aiortc's own code.
    reference, packetizer = broadcast.video.subscribe(), get_encoder(H264_CODEC)
    expected: dict[int, list[bytes]] = {}

    async def packetize() -> None:
        while True:
            payloads, timestamp = packetizer.pack(await reference.recv())
            expected[(forwarder._timestamp_origin + timestamp) & 0xFFFFFFFF] = payloads

    reader = asyncio.create_task(packetize())
    seen = record_packets(viewer.receiver("video"))
    ssrc = viewer.senders[0]._ssrc

    def whole_frames() -> dict[int, list[RtpPacket]]:
        """The frames received with as many packets as the reference gives them, in order; not
        the first and last (they may be partial), nor one whose lost packet came back over RTX."""
        media = [p for p in seen if p.ssrc == ssrc]  # not the retransmissions over RTX
        frames: dict[int, list[RtpPacket]] = {}
        for packet in sorted(media, key=lambda p: (p.sequence_number - media[0].sequence_number) & 0xFFFF):
            frames.setdefault(packet.timestamp, []).append(packet)
        return {t: ps for t, ps in list(frames.items())[1:-1] if len(ps) == len(expected.get(t, ()))}

    # Frames of several packets, received whole (a busy machine loses some: they come over RTX).
    await until(lambda: sum(len(ps) > 1 for ps in whole_frames().values()) >= 5, timeout=30)
    # Still decodable after all those batches.
    await decoded_frames(viewer.track("video"), 5)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    extension = extension_block(forwarder._negotiated.extension_ids, 0)  # its length, as sent
    compared = 0
    for timestamp, packets in whole_frames().items():
        # The payloads aiortc's own packetiser gives, byte for byte, padding stripped.
        assert [p.payload for p in packets] == expected[timestamp]
        assert [p.marker for p in packets] == [0] * (len(packets) - 1) + [1]
        # Padded exactly where the batch plan brings a shorter packet to its batch's size (how
        # often that happens depends on the encoder's frame sizes: test_srtp_batch covers it).
        plan = srtp_batch.plan_frame(extension, expected[timestamp])
        padded = [
            len(body) - len(extension) - len(payload) for batch in plan for _, _, body, payload in batch
        ]
        assert [p.padding_size for p in packets] == padded
        compared += len(packets) > 1
    assert compared >= 5
    assert 0 < forwarder.batches_sent < forwarder.packets_sent  # several packets per send


def strip_mid_extension(sdp: str) -> str:
    """``sdp`` without the mid header extension, as a player that does not offer it sends."""
    return "".join(line for line in sdp.splitlines(keepends=True) if "rtp-hdrext:sdes:mid" not in line)


async def test_a_viewer_that_does_not_negotiate_the_mid_extension_still_decodes(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    pc, server_pc = RTCPeerConnection(peers.LOOPBACK), RTCPeerConnection(peers.LOOPBACK)
    broadcast.pcs += [pc, server_pc]
    for kind in ("video", "audio"):
        pc.addTransceiver(kind, direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    senders = [broadcast.video.attach(server_pc), broadcast.audio.attach(server_pc)]
    offer = RTCSessionDescription(sdp=strip_mid_extension(pc.localDescription.sdp), type="offer")
    await server_pc.setRemoteDescription(offer)
    await server_pc.setLocalDescription(await server_pc.createAnswer())
    assert "sdes:mid" not in server_pc.localDescription.sdp
    await pc.setRemoteDescription(server_pc.localDescription)
    viewer = peers.Viewer(pc, server_pc, senders)

    frames = await decoded_frames(viewer.track("video"), 10)
    assert frames[-1].width == WIDTH
    forwarder = relay(senders[0].track).forwarder
    assert forwarder is not None and forwarder.direct and forwarder.packets_sent > 0


async def test_an_aiortc_the_forwarder_cannot_drive_falls_back_to_its_sender_with_a_warning(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A later aiortc whose sender no longer keeps one of the counters the forwarder feeds.
    monkeypatch.setattr(forwarder_module, "_SENDER_ATTRS", (*forwarder_module._SENDER_ATTRS, "_gone"))
    caplog.set_level(logging.WARNING, logger="streaming.forwarder")
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()

    frames = await decoded_frames(viewer.track("video"), 10)
    assert frames[-1].width == WIDTH
    track = relay(viewer.senders[0].track)
    forwarder = track.forwarder
    assert forwarder is not None and forwarder.fallback and not forwarder.direct
    assert forwarder.packets_sent == 0 and track.frames_queued > 0  # read by the sender's own task
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "aiortc's RTCRtpSender changed (['_gone'] missing): forwarding through it" in warned


async def test_a_full_socket_buffer_hands_the_rest_of_a_batch_to_the_transport(
    make_broadcast: Callable[..., Awaitable[Broadcast]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forwarder_module.RtpForwarder, "native", False)  # the Python loop's sends
    monkeypatch.setattr(peers, "MovingPattern", Noise)
    send_batch = srtp_batch.send_batch
    calls = 0
    armed = False
    # The batches the kernel did not take whole: (sequence numbers, RTP timestamp) of each.
    refused: list[tuple[list[int], int]] = []

    def full_now_and_then(sock: socket.socket, data: memoryview, size: int, address: Any, gso: bool) -> bool:
        # What the kernel answers when the socket's send buffer is full: with GSO it takes none of
        # the batch, datagram by datagram it takes those before ``characters_written``.
        nonlocal calls
        calls += 1
        if not armed or calls % 2:
            return send_batch(sock, data, size, address, gso)
        first, timestamp = int.from_bytes(data[2:4]), int.from_bytes(data[4:8])  # RTP headers are clear
        count = -(-len(data) // size)
        refused.append(([(first + i) & 0xFFFF for i in range(count)], timestamp))
        if calls % 4 == 2:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        sock.sendto(data[:size], address)
        error = BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        error.characters_written = size
        raise error

    monkeypatch.setattr(srtp_batch, "send_batch", full_now_and_then)
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()
    await decoded_frames(viewer.track("video"), 3)
    seen = record_packets(viewer.receiver("video"))
    armed = True
    await until(lambda: len(refused) >= 7, timeout=15)

    def arrived(numbers: list[int], timestamp: int) -> bool:
        got = {p.sequence_number for p in seen if p.timestamp == timestamp}
        return set(numbers) <= got

    # Every datagram of those batches reaches the viewer, once the transport has sent the rest.
    await until(lambda: all(arrived(*batch) for batch in refused[:6]))
    # Still decodable.
    more = await decoded_frames(viewer.track("video"), 5)
    assert more[-1].width == WIDTH


async def test_a_batch_the_kernel_refuses_is_dropped_and_logged_with_the_viewers_address(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(forwarder_module.RtpForwarder, "native", False)  # the Python loop's sends
    monkeypatch.setattr(peers, "MovingPattern", Noise)
    send_batch = srtp_batch.send_batch
    refused = 0
    # An ICMP "port unreachable" for an earlier datagram, reported by the next send.
    unreachable = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")

    def refuse_once(sock: socket.socket, data: memoryview, segment: int, address: Any, gso: bool) -> bool:
        nonlocal refused
        if not refused:
            refused += 1
            raise unreachable
        return send_batch(sock, data, segment, address, gso)

    monkeypatch.setattr(srtp_batch, "send_batch", refuse_once)
    caplog.set_level(logging.DEBUG, logger="streaming.forwarder")
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()
    await until(lambda: refused == 1)
    # The forwarder goes on with the next frames.
    frames = await decoded_frames(viewer.track("video"), 10)
    assert frames[-1].width == WIDTH
    forwarder = relay(viewer.senders[0].track).forwarder
    assert forwarder is not None and forwarder.direct
    logged = [r.getMessage() for r in caplog.records if r.name == "streaming.forwarder"]
    assert f"RTP to {forwarder._address} not sent: {unreachable}" in logged


async def test_a_frames_batches_are_planned_once_for_all_its_viewers(
    make_broadcast: Callable[..., Awaitable[Broadcast]], monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[list[bytes]] = []  # the payloads of each plan made (kept: their ids stay unique)
    plan_frame = forwarder_module.plan_frame

    def counting(extension: bytes, payloads: list[bytes]) -> srtp_batch.Plan:
        planned.append(payloads)
        return plan_frame(extension, payloads)

    monkeypatch.setattr(forwarder_module, "plan_frame", counting)
    monkeypatch.setattr(forwarder_module.RtpForwarder, "fan_out", False)  # one send() per viewer
    broadcast = await make_broadcast()
    viewers = [await broadcast.add_viewer() for _ in range(2)]
    for viewer in viewers:
        await decoded_frames(viewer.track("video"), 5)
    # Both viewers negotiated alike and share the H.264 payloads: one plan per frame, not per viewer.
    assert len(planned) >= 5
    assert len({id(payloads) for payloads in planned}) == len(planned)


async def test_a_viewer_whose_connection_changes_leaves_the_fan_out_and_comes_back(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    if not forwarder_module.RtpForwarder.fan_out:
        pytest.skip("streaming._rtpsend not built (test_rtpsend fails for it in CI)")
    broadcast = await make_broadcast()
    viewers = [await broadcast.add_viewer() for _ in range(2)]
    for viewer in viewers:
        await decoded_frames(viewer.track("video"), 3)
    tracks = [relay(viewer.senders[0].track) for viewer in viewers]
    outlets = broadcast.video._outlets
    assert set(tracks) <= set(outlets)  # both viewers' frames go out in one call per frame
    # The first viewer's socket goes (as when its ICE pair changes): the call must not write to it.
    forwarder = tracks[0].forwarder
    assert forwarder is not None
    forwarder._release_socket()
    before = tracks[0].frames_forwarded
    # Its frames go the forwarder's own way, which takes a new socket, and then it rejoins. (Frames
    # decoded before the release may still wait in the viewer's track: read until a new one is sent.)
    async with asyncio.timeout(10):
        while tracks[0].frames_forwarded == before:
            await decoded_frames(viewers[0].track("video"), 1)
    frames = await decoded_frames(viewers[0].track("video"), 10)
    assert frames[-1].width == WIDTH
    assert tracks[0].frames_forwarded > before and tracks[0] in outlets and outlets[tracks[0]].configured
    await decoded_frames(viewers[1].track("video"), 10)
    # A viewer that leaves leaves the fan-out at once.
    tracks[1].stop()
    assert tracks[1] not in outlets


@pytest.mark.parametrize(
    "codec",
    [H264_CODEC, RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)],
    ids=["h264", "opus"],
)
def test_a_frame_is_packetised_from_its_bytes_as_aiortc_packetises_its_packet(
    codec: RTCRtpCodecParameters,
) -> None:
    # Two NAL units, one too long for a packet (FU-A), then a short one (STAP-A); or an Opus frame.
    data = b"\x00\x00\x00\x01\x65" + os.urandom(3000) + b"\x00\x00\x00\x01\x41" + os.urandom(200)
    clock = fractions.Fraction(1, codec.clockRate)
    frame = OutgoingFrame(data, 123_456, clock, keyframe=True)
    packetizer = SharedPacketizer(codec)
    expected = get_encoder(codec).pack(OutgoingFrame(data, 123_456, clock, True).packet)

    assert packetizer.pack_frame(frame) == expected
    assert frame._packet is None  # no av.Packet was made for it
    # A frame in another time base goes through aiortc's pack(), which converts its pts.
    other = OutgoingFrame(data, 1_000, fractions.Fraction(1, 1000), keyframe=True)
    assert packetizer.pack_frame(other) == (expected[0], codec.clockRate)
