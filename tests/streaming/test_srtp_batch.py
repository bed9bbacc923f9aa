"""How a frame's packets are laid out in batches, and a batch leaving as separate datagrams."""

from __future__ import annotations

import os
import socket

import pytest
from aiortc.rtp import RtpPacket

from streaming.forwarder import extension_block
from streaming.srtp_batch import plan_frame, send_batch


def test_a_frame_is_planned_in_batches_of_equal_sizes_with_the_marker_on_its_last_packet() -> None:
    # What aiortc's H.264 packetiser makes of a NAL unit: the longer payloads first, one byte apart;
    # then a short one (the next NAL unit), and one too long to join the batch before it.
    payloads = [b"a" * 1200, b"b" * 1200, b"c" * 1199, b"d" * 1199, b"e" * 40, b"f" * 900]
    extension = extension_block((1, 2, "0"), 0)

    plan = plan_frame(extension, payloads)

    packets = [packet for batch in plan for packet in batch]
    assert [len(batch) for batch in plan] == [5, 1]
    assert [marker for _, marker, _, _ in packets] == [0, 0, 0, 0, 0, 0x80]
    assert [payload for *_, payload in packets] == payloads
    lengths = [len(body) for _, _, body, _ in plan[0]]
    # Every datagram of a batch the size of the first, but the last (what UDP GSO requires).
    assert lengths[:-1] == [len(extension) + 1200] * 4 and lengths[-1] < lengths[0]
    # The shorter ones are brought to size with RTP padding, which receivers strip.
    for first_byte, _, body, payload in packets:
        parsed = RtpPacket.parse(bytes([first_byte, 96]) + bytes(10) + body)
        assert parsed.payload == payload
        assert (first_byte & 0x20 != 0) == (parsed.padding_size > 0)
    assert [bool(first_byte & 0x20) for first_byte, *_ in packets] == [False, False, True, True, False, False]


@pytest.mark.parametrize("gso", [True, False])
def test_a_batch_arrives_as_one_datagram_per_packet(udp_receiver: socket.socket, gso: bool) -> None:
    packets = [os.urandom(1216) for _ in range(3)] + [os.urandom(700)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)

        again = send_batch(sender, memoryview(b"".join(packets)), 1216, udp_receiver.getsockname(), gso)

    # The viewer's socket reads each packet on its own, whole, in order (segmented by the kernel
    # with GSO, or sent one by one without; a kernel that refuses GSO turns it off for next time).
    assert [udp_receiver.recv(2048) for _ in packets] == packets
    assert again in (gso, False)
