"""The forwarder's send loop in C (streaming/_rtpsend.c): the same datagrams as the Python loop.

Each test sends a planned frame through ``send_plan`` to a UDP socket on loopback and reads what
a viewer would: every packet its own datagram, protected exactly as pylibsrtp protects it, with
this viewer's header and remembered for NACKs.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc.rtp import RtpPacket
from pylibsrtp import Policy, Session

from streaming import srtp_batch
from streaming.forwarder import HISTORY_SIZE, extension_block, extension_template
from streaming.srtp_batch import Plan, plan_frame
from tests.conftest import IN_CI

try:
    from streaming import _rtpsend
except ImportError as exc:  # pragma: no cover - installed without a C compiler
    if IN_CI:
        raise AssertionError("streaming._rtpsend was not built (CI=true: the C loop is required)") from exc
    pytest.skip(f"streaming._rtpsend not built: {exc}", allow_module_level=True)

KEY = bytes(range(30))  # master key and salt of AES_CM_128_HMAC_SHA1_80
SSRC = 0x1234ABCD
PAYLOAD_TYPE = 102
TIMESTAMP = 0xFFFFFF00  # near the top: the header must carry all 32 bits


def session(direction: int) -> Session:
    return Session(policy=Policy(key=KEY, ssrc_type=direction))


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        yield sock


def send(
    sender: socket.socket,
    udp_receiver: socket.socket,
    plan: Plan,
    sequence: int,
    history: list[Any],
    gso: bool = True,
) -> tuple[int, int, bool, int, list[bytes], int]:
    outbound = session(Policy.SSRC_ANY_OUTBOUND)
    context = srtp_batch.srtp_context(outbound)
    assert context is not None and srtp_batch.PROTECT_ADDRESS is not None
    address = srtp_batch.pack_sockaddr(socket.AF_INET, udp_receiver.getsockname())
    assert address is not None
    result: tuple[int, int, bool, int, list[bytes], int] = _rtpsend.send_plan(
        sender.fileno(),
        srtp_batch.PROTECT_ADDRESS,
        srtp_batch.address_of(context),
        plan,
        PAYLOAD_TYPE,
        sequence,
        TIMESTAMP,
        SSRC,
        history,
        address,
        gso,
    )
    return result


def expected_datagrams(plan: Plan, sequence: int) -> list[bytes]:
    """What pylibsrtp's own protect makes of the plan's packets, one by one."""
    outbound = session(Policy.SSRC_ANY_OUTBOUND)
    out = []
    for batch in plan:
        for first_byte, marker, body, _ in batch:
            header = srtp_batch.RTP_HEADER.pack(first_byte, marker | PAYLOAD_TYPE, sequence, TIMESTAMP, SSRC)
            out.append(outbound.protect(header + body))
            sequence = (sequence + 1) & 0xFFFF
    return out


def test_a_frame_leaves_as_pylibsrtp_would_protect_it_one_packet_at_a_time(
    sender: socket.socket, udp_receiver: socket.socket
) -> None:
    # Three full packets and a shorter one (one GSO batch), then one too long to join it.
    payloads = [os.urandom(1100) for _ in range(3)] + [os.urandom(1099), os.urandom(1150)]
    plan = plan_frame(extension_block((1, 2, "0"), 1 << 40), payloads)
    assert [len(batch) for batch in plan] == [4, 1]
    history: list[Any] = [None] * HISTORY_SIZE

    # The sequence numbers wrap inside the frame.
    sequence, sent, gso, batches, unsent, status = send(sender, udp_receiver, plan, 0xFFFE, history)

    expected = expected_datagrams(plan, 0xFFFE)
    received = [udp_receiver.recv(2048) for _ in expected]
    assert received == expected
    assert (sequence, sent, gso, batches, unsent, status) == (3, sum(map(len, expected)), True, 1, [], 0)
    # What the viewer reads once unprotected: its header, the payload, the marker on the last.
    inbound = session(Policy.SSRC_ANY_INBOUND)
    packets = [RtpPacket.parse(inbound.unprotect(datagram)) for datagram in received]
    assert [p.sequence_number for p in packets] == [0xFFFE, 0xFFFF, 0, 1, 2]
    assert {(p.ssrc, p.timestamp, p.payload_type) for p in packets} == {(SSRC, TIMESTAMP, PAYLOAD_TYPE)}
    assert [p.payload for p in packets] == payloads
    assert [p.marker for p in packets] == [0, 0, 0, 0, 1]
    # Each packet remembered for a NACK, where the Python loop keeps it.
    for number, payload, marker in zip([0xFFFE, 0xFFFF, 0, 1, 2], payloads, [0, 0, 0, 0, 0x80], strict=True):
        assert history[number % HISTORY_SIZE] == (number, TIMESTAMP, marker, payload)


def test_a_kernel_that_refuses_segmentation_gets_the_batch_datagram_by_datagram(
    sender: socket.socket, udp_receiver: socket.socket
) -> None:
    # More segments than any kernel segments at once (UDP_MAX_SEGMENTS: 64, 128 from Linux 6.4):
    # sendmsg fails with EINVAL, and the same buffer goes out one datagram at a time.
    payloads = [os.urandom(100) for _ in range(140)]
    plan: Plan = ((tuple((0x80, 0, payload, payload) for payload in payloads)),)
    history: list[Any] = [None] * HISTORY_SIZE

    sequence, _, gso, batches, unsent, status = send(sender, udp_receiver, plan, 7, history)

    assert [udp_receiver.recv(2048) for _ in payloads] == expected_datagrams(plan, 7)
    assert (sequence, gso, batches, unsent, status) == (147, False, 0, [], 0)


def test_without_segmentation_every_packet_is_sent_on_its_own(
    sender: socket.socket, udp_receiver: socket.socket
) -> None:
    payloads = [os.urandom(900), os.urandom(900), os.urandom(60)]
    plan = plan_frame(b"", payloads)
    history: list[Any] = [None] * HISTORY_SIZE

    _, _, gso, batches, _, _ = send(sender, udp_receiver, plan, 100, history, gso=False)

    assert [udp_receiver.recv(2048) for _ in payloads] == expected_datagrams(plan, 100)
    assert (gso, batches) == (False, 0)


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        ((((0x80, 0, b"x"),),), TypeError),  # a packet of three fields
        (((0x80, 0, b"x", b"x"),), TypeError),  # a batch that is not a tuple of packets
        ((((0x80, 0, "text", b"x"),),), TypeError),  # a body that is not bytes
        ((tuple((0x80, 0, bytes(60_000), b"") for _ in range(2)),), ValueError),  # beyond the buffer
    ],
)
def test_a_malformed_plan_is_refused_before_anything_is_sent(
    sender: socket.socket, udp_receiver: socket.socket, plan: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        send(sender, udp_receiver, plan, 0, [None] * HISTORY_SIZE)
    udp_receiver.settimeout(0.2)
    with pytest.raises(TimeoutError):
        udp_receiver.recv(2048)


def test_addresses_are_packed_as_the_kernel_reads_them() -> None:
    v4 = srtp_batch.pack_sockaddr(socket.AF_INET, ("127.0.0.1", 5004))
    assert v4 == socket.AF_INET.to_bytes(2, sys.byteorder) + b"\x13\x8c" + bytes([127, 0, 0, 1]) + bytes(8)
    v6 = srtp_batch.pack_sockaddr(socket.AF_INET6, ("::1", 5004, 0, 0))
    assert v6 is not None and len(v6) == 28 and v6[2:4] == b"\x13\x8c" and v6[8:24] == bytes(15) + b"\x01"
    # Not an IP address and port: the forwarder keeps to the Python loop.
    assert srtp_batch.pack_sockaddr(socket.AF_INET, ("example.org", 5004)) is None
    assert srtp_batch.pack_sockaddr(socket.AF_UNIX, "/tmp/socket") is None


def test_an_srtp_protect_of_another_signature_is_never_called_from_c(monkeypatch: pytest.MonkeyPatch) -> None:
    # libsrtp 3's srtp_protect takes six arguments: called as libsrtp 2's it would write anywhere.
    assert srtp_batch.protect_address() == srtp_batch.PROTECT_ADDRESS is not None
    monkeypatch.setattr(srtp_batch, "PROTECT_SIGNATURE", ["struct srtp_ctx_t_ *", "void *", "size_t"])
    assert srtp_batch.protect_address() is None


# Sending one frame to every viewer in one call (``fan_out``), each viewer's state in an Outlet.

CONNECTED = "connected"  # stands for aiortc's State.CONNECTED: fan_out compares identity


class Transport:
    """What fan_out asks of a viewer's datagram transport: whether datagrams wait in it."""

    def __init__(self) -> None:
        self.queued = 0

    def get_write_buffer_size(self) -> int:
        return self.queued


class Viewer:
    """One viewer's outlet, configured as the forwarder configures it, and its socket to read."""

    def __init__(self, sender: socket.socket, receiver: socket.socket, ids: tuple[int, int, str], ssrc: int):
        self.receiver = receiver
        self.ids, self.ssrc = ids, ssrc
        self.outbound = session(Policy.SSRC_ANY_OUTBOUND)
        self.context = srtp_batch.srtp_context(self.outbound)
        self.history: list[Any] = [None] * HISTORY_SIZE
        self.pair, self.transport = object(), Transport()
        self.nominated = {1: self.pair}
        self.dtls = SimpleNamespace(_state=CONNECTED, _tx_srtp=self.outbound)
        # Where aiortc and the track keep the counters fan_out writes.
        self.sender_dict: dict[str, Any] = {"_RTCRtpSender__octet_count": 0, "_RTCRtpSender__packet_count": 0}
        self.dtls_dict: dict[str, Any] = {
            "_RTCDtlsTransport__tx_bytes": 7,
            "_RTCDtlsTransport__tx_packets": 1,
        }
        self.track_dict: dict[str, Any] = {"frames_forwarded": 3}
        self.outlet = _rtpsend.Outlet()
        self.outlet.sequence = 0xFFFE
        extension, abs_offset = extension_template(ids)
        address = srtp_batch.pack_sockaddr(socket.AF_INET, receiver.getsockname())
        assert address is not None and self.context is not None
        self.outlet.configure(
            sender.fileno(),
            address,
            srtp_batch.address_of(self.context),
            PAYLOAD_TYPE,
            ssrc,
            ORIGIN,
            self.history,
            extension,
            abs_offset,
            self,
            self.dtls,
            self.outbound,
            self.nominated,
            self.pair,
            self.transport,
            self.sender_dict,
            self.dtls_dict,
            self.track_dict,
        )

    def expected(self, payloads: list[bytes], sequence: int) -> list[bytes]:
        """The frame as the per-viewer path sends it: plan_frame, then pylibsrtp, packet by packet."""
        plan = plan_frame(extension_block(self.ids, NTP_TIME), payloads)
        reference = session(Policy.SSRC_ANY_OUTBOUND)
        timestamp = (ORIGIN + TIMESTAMP) & 0xFFFFFFFF
        out = []
        for batch in plan:
            for first_byte, marker, body, _ in batch:
                header = srtp_batch.RTP_HEADER.pack(
                    first_byte, marker | PAYLOAD_TYPE, sequence, timestamp, self.ssrc
                )
                out.append(reference.protect(header + body))
                sequence = (sequence + 1) & 0xFFFF
        return out


ORIGIN = 0x10000000  # the viewer's random timestamp origin, added to the frame's
NTP_TIME = (3_900_000_000 << 32) | 0x12345678


def fan_out(payloads: list[bytes], viewers: list[Viewer]) -> list[tuple[Any, list[bytes] | None, int]]:
    assert srtp_batch.PROTECT_ADDRESS is not None
    return _rtpsend.fan_out(
        srtp_batch.PROTECT_ADDRESS, CONNECTED, payloads, TIMESTAMP, NTP_TIME, [v.outlet for v in viewers]
    )


@pytest.fixture
def viewers(sender: socket.socket) -> Iterator[list[Viewer]]:
    receivers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for receiver in receivers:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
    # Viewers negotiate different extension ids and mids (or none), and have their own SSRCs.
    yield [
        Viewer(sender, receivers[0], (1, 2, "0"), 0x1111),
        Viewer(sender, receivers[1], (3, 0, "video2"), 0x2222),
    ]
    for receiver in receivers:
        receiver.close()


def test_one_call_sends_each_viewer_what_the_per_viewer_path_would(viewers: list[Viewer]) -> None:
    # A batch of four (the shorter fourth padded), then one too long to join it.
    payloads = [os.urandom(1100) for _ in range(3)] + [os.urandom(1099), os.urandom(1150)]

    assert fan_out(payloads, viewers) == []  # every viewer got the frame: nothing for Python

    for viewer in viewers:
        expected = viewer.expected(payloads, 0xFFFE)
        assert [viewer.receiver.recv(2048) for _ in expected] == expected
        outlet = viewer.outlet
        assert outlet.sequence == 3 and outlet.packets == outlet.packets_sent == 5
        assert outlet.octets == sum(map(len, payloads))
        assert outlet.batches_sent == 1  # the batch of four in one send; the last alone
        for number, payload, marker in zip(
            [0xFFFE, 0xFFFF, 0, 1, 2], payloads, [0, 0, 0, 0, 0x80], strict=True
        ):
            assert viewer.history[number % HISTORY_SIZE] == (
                number,
                ORIGIN + TIMESTAMP - (1 << 32),
                marker,
                payload,
            )
        # The sender reports' inputs, the transport's stats and the track's count, as aiortc reads them.
        assert viewer.sender_dict == {
            "_RTCRtpSender__ntp_timestamp": NTP_TIME,
            "_RTCRtpSender__rtp_timestamp": (ORIGIN + TIMESTAMP) & 0xFFFFFFFF,
            "_RTCRtpSender__octet_count": sum(map(len, payloads)),
            "_RTCRtpSender__packet_count": 5,
        }
        assert viewer.dtls_dict == {
            "_RTCDtlsTransport__tx_bytes": 7 + sum(map(len, expected)),
            "_RTCDtlsTransport__tx_packets": 6,
        }
        assert viewer.track_dict == {"frames_forwarded": 4}


@pytest.mark.parametrize(
    "change",
    ["disabled", "dtls closed", "pair renominated", "datagrams queued", "srtp session replaced"],
)
def test_a_viewer_whose_connection_changed_is_left_to_python_and_sent_nothing(
    viewers: list[Viewer], change: str
) -> None:
    changed, other = viewers
    if change == "disabled":
        changed.outlet.disable()
    elif change == "dtls closed":
        changed.dtls._state = "closed"
    elif change == "pair renominated":
        changed.nominated[1] = object()
    elif change == "datagrams queued":
        changed.transport.queued = 1200  # they must leave before this frame, or it overtakes them
    else:
        changed.dtls._tx_srtp = session(Policy.SSRC_ANY_OUTBOUND)
    payloads = [os.urandom(300)]

    assert fan_out(payloads, viewers) == [(changed.outlet, None, 0)]

    assert other.receiver.recv(2048) == other.expected(payloads, 0xFFFE)[0]
    assert changed.outlet.sequence == 0xFFFE and changed.outlet.packets_sent == 0
    assert changed.track_dict == {"frames_forwarded": 3}
    changed.receiver.settimeout(0.2)
    with pytest.raises(TimeoutError):
        changed.receiver.recv(2048)


def test_outlets_refuse_what_they_cannot_send(viewers: list[Viewer], sender: socket.socket) -> None:
    assert srtp_batch.PROTECT_ADDRESS is not None
    with pytest.raises(ValueError, match="no payloads"):
        fan_out([], viewers)
    with pytest.raises(TypeError):
        fan_out(["text"], viewers)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="larger than a datagram"):
        fan_out([b"x", bytes(65_536)], viewers)  # refused before the first payload goes
    viewers[0].receiver.settimeout(0.2)
    with pytest.raises(TimeoutError):
        viewers[0].receiver.recv(2048)
    with pytest.raises(TypeError):
        _rtpsend.fan_out(srtp_batch.PROTECT_ADDRESS, CONNECTED, [b"x"], 0, 0, [object()])  # type: ignore[list-item]
    outlet = _rtpsend.Outlet()
    assert not outlet.configured and outlet.owner is None
    with pytest.raises(ValueError):  # an extension block that is not whole 32-bit words
        outlet.configure(
            sender.fileno(),
            bytes(16),
            1,
            96,
            1,
            0,
            [None],
            b"\xbe\xde\x00",
            -1,
            None,
            None,
            None,
            {},
            None,
            None,
            {},
            {},
            {},
        )
    assert not outlet.configured
