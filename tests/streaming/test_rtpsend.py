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
from typing import Any

import pytest
from aiortc.rtp import RtpPacket
from pylibsrtp import Policy, Session

from streaming import srtp_batch
from streaming.forwarder import HISTORY_SIZE, extension_block
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
