"""A publisher's SRTP is handled in the socket's callback, not by a task woken per packet
(streaming.direct_receive), in the order it arrived, with nothing lost on the way."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aioice.stun
import pylibsrtp
import pytest
from aioice.ice import StunProtocol
from aiortc import clock
from aiortc.rtcdtlstransport import State
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from streaming import direct_receive
from streaming.direct_receive import RTP_HANDLER, receive_directly
from tests.conftest import IN_CI
from tests.streaming.peers import Broadcast, until

RTP = bytes([0x80, 96]) + bytes(10)  # an RTP header; each test's payload follows it
RTCP = bytes([0x80, 200]) + bytes(6)
DTLS = bytes([22, 254, 253]) + bytes(10)


class Srtp:
    def unprotect(self, data: bytes) -> bytes:
        if data.endswith(b"forged"):
            raise pylibsrtp.Error("authentication failed")
        return data

    def unprotect_rtcp(self, data: bytes) -> bytes:
        return b"clear rtcp:" + data


class Connection:
    """aioice's connection as far as the transport's task sees it: a queue of datagrams."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()

    def data_received(self, data: bytes, component: int) -> None:
        self._queue.put_nowait((data, component))


class Receiver:
    """aiortc's receiver as the transport calls it: a coroutine per packet."""

    def __init__(self, handled: list[bytes], transport: Transport) -> None:
        self.handled = handled
        self.transport = transport

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        payload = packet.payload
        if payload.endswith(b"broken"):
            raise ValueError("a handler bug")
        if payload.endswith(b"closing"):
            raise ConnectionError("the connection closed meanwhile")
        if payload.endswith(b"wait") and self.transport.gate is not None:
            await self.transport.gate  # as if an RTCP reply had to wait for the socket
        self.handled.append(payload)


class Router:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver: Receiver | None = receiver

    def route_rtp(self, packet: RtpPacket) -> Receiver | None:
        return self.receiver


class Transport:
    """aiortc's DTLS transport as far as receiving SRTP goes."""

    def __init__(self) -> None:
        self.transport = type("Ice", (), {})()
        self.transport._connection = Connection()
        self._rx_srtp: Srtp | None = None
        self._state = State.CONNECTING
        self._RTCDtlsTransport__rx_bytes = 0
        self._RTCDtlsTransport__rx_packets = 0
        self.handled: list[bytes] = []  # RTP payloads, and RTCP as it was handed on
        self.gate: asyncio.Future[None] | None = None
        self._rtp_header_extensions_map = HeaderExtensionsMap()
        self._rtp_router = Router(Receiver(self.handled, self))

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        raise AssertionError("the direct path parses and routes RTP itself")

    async def _handle_rtcp_data(self, data: bytes) -> None:
        self.handled.append(data)

    @property
    def connection(self) -> Connection:
        return self.transport._connection  # type: ignore[no-any-return]

    def receive(self, data: bytes) -> None:
        self.connection.data_received(data, 1)


def connected() -> Transport:
    transport = Transport()
    assert receive_directly(transport)  # type: ignore[arg-type]
    transport._rx_srtp, transport._state = Srtp(), State.CONNECTED
    return transport


async def test_srtp_and_srtcp_are_handled_at_once_and_counted() -> None:
    transport = connected()
    transport.receive(RTP + b"media")
    transport.receive(RTCP)
    assert transport.handled == [b"media", b"clear rtcp:" + RTCP]
    assert transport.connection._queue.empty()
    assert transport._RTCDtlsTransport__rx_packets == 2
    assert transport._RTCDtlsTransport__rx_bytes == len(RTP + b"media") + len(RTCP)


async def test_a_receiver_with_a_plain_handler_gets_each_packet_without_a_coroutine(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = connected()
    receiver: Any = transport._rtp_router.receiver
    got: list[tuple[bytes, int]] = []

    def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        if packet.payload == b"broken":
            raise ValueError("a handler bug")
        got.append((packet.payload, arrival_time_ms))

    setattr(receiver, RTP_HANDLER, handle)
    transport.receive(RTP + b"one")
    transport.receive(RTP + b"broken")  # logged; only that packet is lost
    transport.receive(RTP + b"two")
    assert [payload for payload, _ in got] == [b"one", b"two"]
    assert transport.handled == []  # not through the coroutine
    # Arrival times as aiortc's clock gives them: milliseconds since 1900.
    assert abs(got[0][1] - clock.current_ms()) < 1000
    assert "handling a received packet failed" in caplog.text


async def test_what_does_not_parse_or_has_no_receiver_is_dropped() -> None:
    transport = connected()
    transport.receive(bytes([0x80, 96, 0, 1]))  # too short for an RTP header
    transport._rtp_router.receiver = None  # a source nobody negotiated
    transport.receive(RTP + b"stray")
    assert transport.handled == []
    assert transport.connection._queue.empty()


async def test_dtls_and_anything_before_the_keys_take_the_tasks_queue_and_so_does_what_follows() -> None:
    transport = Transport()
    assert receive_directly(transport)  # type: ignore[arg-type]
    assert receive_directly(transport)  # type: ignore[arg-type]  # once per transport: audio and video share it
    transport.receive(RTP)  # no keys yet
    transport._rx_srtp, transport._state = Srtp(), State.CONNECTED
    transport.receive(DTLS)
    transport.receive(RTP + b"2")  # behind queued packets: queued too, so that order holds
    queue = transport.connection._queue
    assert [queue.get_nowait()[0] for _ in range(queue.qsize())] == [RTP, DTLS, RTP + b"2"]
    assert transport.handled == []
    transport.receive(RTP + b"3")  # the task has read them all: direct again
    assert transport.handled == [b"3"]


async def test_empty_and_forged_packets_are_dropped_and_a_failing_handler_costs_only_its_packet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = connected()
    transport.receive(b"")  # an empty datagram (anyone can send one to the port) goes nowhere
    assert transport.connection._queue.empty()
    transport.receive(RTP + b"forged")
    transport.receive(RTP + b"closing")
    assert caplog.text == ""  # as aiortc: a closing connection is no failure
    transport.receive(RTP + b"broken")
    transport.receive(RTP + b"ok")
    assert transport.handled == [b"ok"]
    assert "handling a received packet failed" in caplog.text


async def test_a_handler_that_waits_is_carried_on_by_a_task() -> None:
    transport = connected()
    transport.gate = asyncio.get_running_loop().create_future()
    transport.receive(RTP + b"wait")
    transport.receive(RTP + b"next")
    assert transport.handled == [b"next"]
    transport.gate.set_result(None)
    await until(lambda: len(transport.handled) == 2)
    assert transport.handled[1] == b"wait"


async def test_a_transport_without_what_it_relies_on_is_left_as_it_is() -> None:
    transport = Transport()
    del transport._RTCDtlsTransport__rx_bytes
    original = transport.connection.data_received
    assert not receive_directly(transport)  # type: ignore[arg-type]
    assert transport.connection.data_received == original


def srtp_queued(dtls: Any, mark: Callable[[], Any]) -> list[Any]:
    """What ``mark()`` said each time an SRTP or SRTCP packet went through the task's queue of the
    real transport ``dtls`` from now on."""
    queue = dtls.transport._connection._queue
    marks: list[Any] = []
    put = queue.put_nowait

    def counting_put(item: Any) -> None:
        if item is not None and 127 < item[0][0] < 192:
            marks.append(mark())
        put(item)

    queue.put_nowait = counting_put
    return marks


async def test_a_real_publishers_media_stops_going_through_the_queue_once_connected(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    dtls: Any = broadcast.server_pc.getTransceivers()[0].receiver.transport
    queued = srtp_queued(dtls, lambda: broadcast.video.frames_received)
    await until(lambda: broadcast.video.frames_received >= 30 and broadcast.audio.frames_received >= 30)
    settled = broadcast.video.frames_received
    await until(lambda: broadcast.video.frames_received >= settled + 30)
    # Whatever queued while the connection was being set up, nothing does once media flows.
    assert [n for n in queued if n >= settled] == []


async def test_a_viewers_rtcp_is_handled_at_once_too(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    viewer = await broadcast.add_viewer()
    tracks: list[Any] = [s.track for s in viewer.senders]
    await until(lambda: all(t.forwarder is not None and t.forwarder.negotiated for t in tracks))
    dtls: Any = viewer.senders[0].transport
    queued = srtp_queued(dtls, lambda: None)
    handled: list[bytes] = []
    handle = dtls._handle_rtcp_data

    async def counting_handle(data: bytes) -> None:
        handled.append(data)
        await handle(data)

    dtls._handle_rtcp_data = counting_handle
    # The viewer's receiver reports come about once a second: two of them, straight from the socket.
    await until(lambda: len(handled) >= 2)
    assert queued == []


async def test_an_empty_datagram_from_anyone_leaves_the_broadcast_running(
    make_broadcast: Callable[..., Awaitable[Broadcast]],
) -> None:
    broadcast = await make_broadcast()
    await until(lambda: broadcast.video.frames_received >= 10)
    dtls: Any = broadcast.server_pc.getTransceivers()[0].receiver.transport
    pair = next(iter(dtls.transport._connection._nominated.values()))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.sendto(b"", (pair.local_candidate.host, pair.local_candidate.port))
    received = broadcast.video.frames_received
    await until(lambda: broadcast.video.frames_received >= received + 30)
    assert dtls.state == "connected"


async def test_media_reaches_the_connection_without_aioice_parsing_it_as_stun_and_stun_still_does(
    make_broadcast: Callable[..., Awaitable[Broadcast]], monkeypatch: pytest.MonkeyPatch
) -> None:
    broadcast = await make_broadcast()
    await until(lambda: broadcast.video.frames_received >= 10)
    dtls: Any = broadcast.server_pc.getTransceivers()[0].receiver.transport
    protocols = [p for p in dtls.transport._connection._protocols if type(p) is StunProtocol]
    assert protocols and all("datagram_received" in vars(p) for p in protocols)
    parsed: list[bytes] = []
    parse = aioice.stun.parse_message

    def counting(data: bytes) -> Any:
        parsed.append(data)
        return parse(data)

    monkeypatch.setattr(aioice.stun, "parse_message", counting)
    protocol, stranger = protocols[0], ("127.0.0.1", 9)
    received = dtls._RTCDtlsTransport__rx_packets
    # An SRTP packet (RFC 7983: first byte 128 to 191) goes straight to the connection, where it
    # is counted and, failing authentication, dropped; it is never parsed as a STUN message.
    protocol.datagram_received(RTP + b"forged", stranger)
    assert parsed == [] and dtls._RTCDtlsTransport__rx_packets == received + 1
    # A STUN message (first byte 0 to 3) still goes aioice's way.
    protocol.datagram_received(bytes(20), stranger)
    assert parsed == [bytes(20)]
    received = broadcast.video.frames_received
    await until(lambda: broadcast.video.frames_received >= received + 30)
    assert dtls.state == "connected"


async def test_a_real_publishers_rtp_is_unprotected_and_parsed_in_c(
    make_broadcast: Callable[..., Awaitable[Broadcast]], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not direct_receive.C_PATH:
        if IN_CI:
            raise AssertionError("streaming._rtprecv was not built (CI=true: the C path is required)")
        pytest.skip("streaming._rtprecv not built")
    broadcast = await make_broadcast()
    await until(lambda: broadcast.video.frames_received >= 10)
    # From now on pylibsrtp's unprotect and aiortc's parser are not called for media at all.
    calls: list[str] = []
    unprotect, parse = pylibsrtp.Session.unprotect, RtpPacket.parse.__func__  # type: ignore[attr-defined]

    def counted_unprotect(self: pylibsrtp.Session, data: bytes) -> bytes:
        calls.append("unprotect")
        return unprotect(self, data)

    def counted_parse(cls: type[RtpPacket], data: bytes, *args: Any) -> RtpPacket:
        calls.append("parse")
        return parse(cls, data, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(pylibsrtp.Session, "unprotect", counted_unprotect)
    monkeypatch.setattr(RtpPacket, "parse", classmethod(counted_parse))
    settled = broadcast.video.frames_received
    await until(
        lambda: broadcast.video.frames_received >= settled + 30 and broadcast.audio.frames_received >= 30
    )
    assert calls == []
