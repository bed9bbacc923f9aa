"""The receive path's unprotect-and-parse in C (streaming/_rtprecv.c): aiortc's packets, exactly.

``parse_rtp`` must give what aiortc's ``RtpPacket.parse`` gives (every field, every negotiated
header extension) and refuse what it refuses; ``open_rtp`` must accept what pylibsrtp's own
``unprotect`` accepts and nothing else.
"""

from __future__ import annotations

import os
import random
import struct
from typing import Any

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket, pack_header_extensions
from pylibsrtp import Policy, Session

from streaming import srtp_batch
from tests.conftest import IN_CI

try:
    from streaming import _rtprecv
except ImportError as exc:  # pragma: no cover - installed without a C compiler
    if IN_CI:
        raise AssertionError("streaming._rtprecv was not built (CI=true: the C path is required)") from exc
    pytest.skip(f"streaming._rtprecv not built: {exc}", allow_module_level=True)

URIS = {
    1: "urn:ietf:params:rtp-hdrext:sdes:mid",
    2: "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    3: "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    4: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    5: "urn:ietf:params:rtp-hdrext:toffset",
    6: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    7: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
}
# A value of the right size for each negotiated extension, and one nobody negotiated (id 9).
VALUES = {
    1: b"video1",
    2: b"r0",
    3: b"h",
    4: b"\x12\x34\x56",
    5: b"\xff\xff\xfe",
    6: b"\x85",
    7: b"\x01\x02",
    9: b"?",
}


def extensions_map(ids: dict[int, str]) -> HeaderExtensionsMap:
    mapping = HeaderExtensionsMap()
    mapping.configure(
        RTCRtpParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for i, u in ids.items()]
        )
    )
    return mapping


def ids_of(mapping: HeaderExtensionsMap) -> HeaderExtensions:
    ids: HeaderExtensions = mapping._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
    return ids


def same(a: RtpPacket, b: RtpPacket) -> bool:
    return vars(a) == vars(b)  # extensions compare as dataclasses: every field


def packet(rng: random.Random, extension_ids: list[int], *, two_byte: bool = False) -> bytes:
    """An RTP packet with some CSRCs, the given extension elements, perhaps padding."""
    csrcs = [rng.getrandbits(32) for _ in range(rng.randrange(3))]
    padding = rng.choice([0, 0, 1, 4, 255])
    elements = [(i, VALUES[i]) for i in extension_ids]
    first = 0x80 | (0x20 if padding else 0) | len(csrcs)
    block = b""
    if elements or two_byte:
        profile, value = (
            pack_header_extensions(elements)
            if not two_byte
            else (0x1000, b"".join(bytes([i, len(v)]) + v for i, v in elements))
        )
        value += bytes(-len(value) % 4)
        block = struct.pack("!HH", profile, len(value) // 4) + value
        first |= 0x10
    header = struct.pack(
        "!BBHLL",
        first,
        rng.choice([0, 0x80]) | rng.randrange(128),
        rng.getrandbits(16),
        rng.getrandbits(32),
        rng.getrandbits(32),
    )
    tail = bytes(padding - 1) + bytes([padding]) if padding else b""
    return (
        header
        + b"".join(struct.pack("!L", c) for c in csrcs)
        + block
        + os.urandom(rng.randrange(1200))
        + tail
    )


def parse_both(data: bytes, mapping: HeaderExtensionsMap) -> tuple[Any, Any]:
    """What aiortc and the C parser make of ``data``: a packet, or the exception's type."""
    results: list[Any] = []
    for parse in (
        lambda: RtpPacket.parse(data, mapping),
        lambda: _rtprecv.parse_rtp(data, ids_of(mapping), RtpPacket, HeaderExtensions),
    ):
        try:
            results.append(parse())
        except (ValueError, struct.error) as exc:
            # aiortc lets struct.error out for a known extension of the wrong size: the C parser
            # raises ValueError, which the receive path drops like every other malformed packet.
            results.append(ValueError if isinstance(exc, (ValueError, struct.error)) else type(exc))
    return results[0], results[1]


def test_packets_parse_field_for_field_as_aiortc_parses_them() -> None:
    rng = random.Random(7)
    mapping = extensions_map(URIS)
    for n in range(400):
        ids = rng.sample([1, 2, 3, 4, 5, 6, 7, 9], rng.randrange(5))
        data = packet(rng, ids, two_byte=n % 5 == 0)
        expected, got = parse_both(data, mapping)
        assert isinstance(got, RtpPacket) and same(expected, got), data.hex()
    # The values decoded as aiortc decodes them.
    data = packet(random.Random(1), [1, 2, 3, 4, 5, 6, 7])
    parsed = _rtprecv.parse_rtp(data, ids_of(mapping), RtpPacket, HeaderExtensions)
    assert parsed.extensions == HeaderExtensions(
        abs_send_time=0x123456,
        audio_level=(True, 5),
        mid="video1",
        repaired_rtp_stream_id="r0",
        rtp_stream_id="h",
        transmission_offset=-2,
        transport_sequence_number=0x0102,
    )


def test_only_negotiated_extensions_are_read() -> None:
    data = packet(random.Random(3), [1, 4, 6])
    for ids in ({}, {4: URIS[4]}, {1: URIS[1], 6: URIS[6]}):
        mapping = extensions_map(ids)
        expected, got = parse_both(data, mapping)
        assert same(expected, got)


def test_malformed_packets_are_refused_as_aiortc_refuses_them() -> None:
    rng = random.Random(11)
    mapping = extensions_map(URIS)
    refused = 0
    for n in range(3000):
        data = bytearray(packet(rng, rng.sample([1, 4, 5, 6, 7, 9], rng.randrange(4)), two_byte=n % 4 == 0))
        # Cut it short, or flip bytes where the header, the extension block and the padding are.
        if rng.random() < 0.5:
            data = data[: rng.randrange(len(data))]
        for _ in range(rng.randrange(1, 4)):
            if data:
                data[rng.choice([0, 1, 12, 13, 14, 15, 16, 17, 18, len(data) - 1]) % len(data)] = (
                    rng.getrandbits(8)
                )
        expected, got = parse_both(bytes(data), mapping)
        if expected is ValueError:
            refused += 1
            assert got is ValueError, bytes(data).hex()
        else:
            assert isinstance(got, RtpPacket) and same(expected, got), bytes(data).hex()
    assert refused > 500  # the mutations did produce malformed packets


KEY = bytes(range(30))


def test_open_rtp_accepts_what_pylibsrtp_unprotects_and_nothing_else() -> None:
    assert srtp_batch.UNPROTECT_ADDRESS is not None
    outbound = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    reference = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
    inbound = Session(policy=Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND))
    context = srtp_batch.address_of(srtp_batch.srtp_context(inbound))
    mapping = extensions_map(URIS)
    rng = random.Random(5)

    def open_rtp(data: bytes) -> RtpPacket | None:
        return _rtprecv.open_rtp(
            srtp_batch.UNPROTECT_ADDRESS or 0, context, data, ids_of(mapping), RtpPacket, HeaderExtensions
        )

    sequence = 1000
    for _ in range(50):
        clear = bytearray(packet(rng, [1, 4]))
        clear[2:4] = sequence.to_bytes(2, "big")
        sequence += 1
        protected = outbound.protect(bytes(clear))
        opened = open_rtp(protected)
        assert opened is not None and same(opened, RtpPacket.parse(reference.unprotect(protected), mapping))
        assert open_rtp(protected) is None  # a replay: libsrtp's replay window refuses it
    forged = bytearray(outbound.protect(bytes(packet(rng, [1]))))
    forged[-1] ^= 1  # the authentication tag no longer matches
    assert open_rtp(bytes(forged)) is None
    with pytest.raises(ValueError):
        open_rtp(bytes(70_000))  # larger than any datagram
    with pytest.raises(ValueError):
        _rtprecv.open_rtp(0, context, b"x", ids_of(mapping), RtpPacket, HeaderExtensions)
