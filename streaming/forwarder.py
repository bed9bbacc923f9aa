"""Write a subscriber's RTP straight onto its connection's socket, beneath aiortc's sender.

aiortc's ``RTCRtpSender`` runs a task per track that wakes for every frame, builds an
``RtpPacket`` object per payload, serialises it and hands it down four coroutines (DTLS, ICE
transport, ICE connection, protocol) before it reaches the socket. For a forwarding server that
per-packet Python is nearly all of the cost of a viewer. An :class:`RtpForwarder` is called by the
publication for each frame instead, and does per packet only what differs between viewers: a
12-byte header, SRTP protection and one ``sendto``. What is the same for every viewer of a frame
(its RTP payloads, the send time, the header-extension block) is computed once, in
:class:`OutgoingFrame`.

The sender stays in charge of everything else: negotiation, RTCP sender reports (fed with the
counters the forwarder keeps), receiver reports, keyframe requests (relayed to the publication by
:class:`~streaming.tracks.EncodedRelayTrack`) and NACKs, which are answered from the forwarder's
own history of recent packets, over RTX when it was negotiated.

This relies on a few private attributes of aiortc 1.16 and aioice 0.13, all checked when a
forwarder is created. A connection the forwarder cannot drive (a TURN-relayed pair, a later aiortc
without those attributes) falls back to the sender's own path before anything is sent, so the
stream never jumps between two sequence-number spaces.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from struct import Struct
from typing import Any

import av
from aioice.ice import StunProtocol
from aiortc import RTCRtpSender
from aiortc.clock import current_ntp_time
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import pack_header_extensions
from av.stream import Stream

logger = logging.getLogger(__name__)

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
HISTORY_SIZE = 128  # packets kept per subscriber to answer NACKs (aiortc's sender keeps as many)
MAX_WRITE_BUFFER = 256 * 1024  # bytes queued in a socket that cannot keep up before frames drop

_RTP_HEADER = Struct("!BBHLL")
_EXTENSION_HEADER = Struct("!HH")
_ORIGINAL_SEQUENCE = Struct("!H")

# The sender's sender-report inputs, read by its RTCP task, and the DTLS transport's counters.
_SENDER_NTP = "_RTCRtpSender__ntp_timestamp"
_SENDER_RTP_TIMESTAMP = "_RTCRtpSender__rtp_timestamp"
_SENDER_OCTETS = "_RTCRtpSender__octet_count"
_SENDER_PACKETS = "_RTCRtpSender__packet_count"
_DTLS_BYTES = "_RTCDtlsTransport__tx_bytes"
_DTLS_PACKETS = "_RTCDtlsTransport__tx_packets"
_SENDER_ATTRS = (_SENDER_NTP, _SENDER_RTP_TIMESTAMP, _SENDER_OCTETS, _SENDER_PACKETS)
_DTLS_ATTRS = (_DTLS_BYTES, _DTLS_PACKETS)

Packer = Callable[["av.Packet[Stream]"], tuple[list[bytes], int]]


@dataclass(slots=True, frozen=True)
class _Negotiated:
    """What the sender's ``send()`` was given: fixed for the life of the stream."""

    payload_type: int
    rtx_payload_type: int | None
    extension_ids: tuple[int, int, str]  # mid's id, abs-send-time's id, the mid itself


@dataclass(slots=True)
class OutgoingFrame:
    """One encoded frame as every subscriber of a publication sends it.

    :param packet: the frame, for subscribers that packetise it themselves.
    :param keyframe: whether a decoder can start on it.
    :param payloads: its RTP payloads when they are the same for every subscriber, else ``None``.
    :param timestamp: the RTP timestamp of ``payloads`` before each subscriber's random offset.
    :param ntp_time: when it is sent, for abs-send-time and the sender reports.
    """

    packet: av.Packet[Stream]
    keyframe: bool
    payloads: list[bytes] | None = None
    timestamp: int = 0
    ntp_time: int = field(default_factory=current_ntp_time)
    _extension_blocks: dict[tuple[int, int, str], bytes] = field(default_factory=dict)

    def extension_block(self, ids: tuple[int, int, str]) -> bytes:
        """:func:`extension_block` for this frame: viewers almost always negotiate the same ids
        and mids, so it is built once per frame and shared."""
        block = self._extension_blocks.get(ids)
        if block is None:
            block = self._extension_blocks[ids] = extension_block(ids, self.ntp_time)
        return block


def extension_block(ids: tuple[int, int, str], ntp_time: int) -> bytes:
    """The RTP header extension (profile, length, elements) carrying the mid and abs-send-time.

    ``ids`` are the negotiated ids of the mid and abs-send-time extensions (0: not negotiated)
    and the mid; the abs-send-time is ``ntp_time`` in its 6.18 fixed-point format.
    """
    mid_id, abs_send_time_id, mid = ids
    elements: list[tuple[int, bytes]] = []
    if mid_id and mid:
        elements.append((mid_id, mid.encode()))
    if abs_send_time_id:
        elements.append((abs_send_time_id, ((ntp_time >> 14) & 0xFFFFFF).to_bytes(3, "big")))
    if not elements:
        return b""
    profile, value = pack_header_extensions(elements)
    return _EXTENSION_HEADER.pack(profile, len(value) >> 2) + value


class RtpForwarder:
    """Sends one subscriber's frames as RTP on its sender's transport, without a task of its own.

    States: *negotiating* (the sender has not been started: frames are refused), *direct*
    (frames are written to the socket here), *fallback* (the connection is one this class cannot
    drive, decided before the first packet: :meth:`send` returns ``None`` and the caller queues
    frames for the sender's own task instead).

    :param sender: the subscriber's sender; its ``_retransmit`` is replaced to answer NACKs from
        this forwarder's history.
    :param pack: turns a frame into RTP payloads for subscribers that cannot share them (VP8).
    """

    def __init__(self, sender: RTCRtpSender, pack: Packer) -> None:
        self._sender = sender
        self._pack = pack
        self._negotiated: _Negotiated | None = None
        self._sequence = random.getrandbits(16)
        self._rtx_sequence = random.getrandbits(16)
        self._timestamp_origin = random.getrandbits(32)
        self._history: list[tuple[int, int, int, bytes] | None] = [None] * HISTORY_SIZE
        self._packets = 0
        self._octets = 0
        self.fallback = not self._can_drive(sender)
        self.direct = False
        self.packets_sent = 0
        self.retransmissions = 0
        if not self.fallback:
            self._wrap_send()
            sender._retransmit = self._retransmit  # type: ignore[method-assign]

    @property
    def negotiated(self) -> bool:
        """Whether the sender was started (the viewer's answer is in and DTLS is up)."""
        return self._negotiated is not None

    def send(self, frame: OutgoingFrame) -> bool | None:
        """Send ``frame`` now; whether it went out, or ``None`` if frames must go the sender's way.

        ``False`` means the frame was dropped: the connection is not up yet, or its socket has
        more than :data:`MAX_WRITE_BUFFER` bytes waiting (a viewer that cannot keep up loses
        frames instead of growing memory).
        """
        if self.fallback:
            return None
        negotiated = self._negotiated
        dtls: RTCDtlsTransport = self._sender.transport
        if negotiated is None or dtls._state is not State.CONNECTED:
            return False
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return False
        protocol = pair.protocol
        if type(protocol) is not StunProtocol:
            if not self.direct:
                # Only a plain UDP socket can be written to synchronously; a TURN allocation
                # sends through coroutines. Nothing was sent yet, so the sender takes over.
                self.fallback = True
                return None
            return False  # the nominated pair changed mid-stream: rare, and only a frame lost
        transport: Any = protocol.transport  # a selector datagram transport, with a write buffer
        if transport is None or transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            return False
        self.direct = True
        if frame.payloads is None:
            payloads, timestamp = self._pack(frame.packet)
        else:
            payloads, timestamp = frame.payloads, frame.timestamp
        if not payloads:
            return True
        timestamp = (self._timestamp_origin + timestamp) & 0xFFFFFFFF
        extension = frame.extension_block(negotiated.extension_ids)
        first_byte = 0x90 if extension else 0x80
        payload_type = negotiated.payload_type
        ssrc = self._sender._ssrc
        protect = dtls._tx_srtp.protect
        sendto = transport.sendto
        address = pair.remote_addr
        history = self._history
        sequence = self._sequence
        last = len(payloads) - 1
        sent_bytes = payload_bytes = 0
        for index, payload in enumerate(payloads):
            marker = 0x80 if index == last else 0
            header = _RTP_HEADER.pack(first_byte, marker | payload_type, sequence, timestamp, ssrc)
            data = protect(header + extension + payload)
            sendto(data, address)
            sent_bytes += len(data)
            history[sequence % HISTORY_SIZE] = (sequence, timestamp, marker, payload)
            payload_bytes += len(payload)
            sequence = (sequence + 1) & 0xFFFF
        self._sequence = sequence
        self._octets += payload_bytes
        self._packets += len(payloads)
        self.packets_sent += len(payloads)
        # What the sender's RTCP task puts in its next sender report, and the transport's stats.
        state = vars(self._sender)
        state[_SENDER_NTP] = frame.ntp_time
        state[_SENDER_RTP_TIMESTAMP] = timestamp
        state[_SENDER_OCTETS] = self._octets
        state[_SENDER_PACKETS] = self._packets
        dtls_state = vars(dtls)
        dtls_state[_DTLS_BYTES] += sent_bytes
        dtls_state[_DTLS_PACKETS] += len(payloads)
        return True

    async def _retransmit(self, sequence_number: int) -> None:
        """Answer a viewer's NACK for ``sequence_number`` if the packet is still remembered."""
        entry = self._history[sequence_number % HISTORY_SIZE]
        negotiated = self._negotiated
        if entry is None or entry[0] != sequence_number or negotiated is None:
            return
        _, timestamp, marker, payload = entry
        extension = extension_block(negotiated.extension_ids, current_ntp_time())
        first_byte = 0x90 if extension else 0x80
        if negotiated.rtx_payload_type is not None:
            # RFC 4588: the original sequence number, then the payload, on the RTX stream.
            header = _RTP_HEADER.pack(
                first_byte,
                marker | negotiated.rtx_payload_type,
                self._rtx_sequence,
                timestamp,
                self._sender._rtx_ssrc,
            )
            payload = _ORIGINAL_SEQUENCE.pack(sequence_number) + payload
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        else:
            header = _RTP_HEADER.pack(
                first_byte, marker | negotiated.payload_type, sequence_number, timestamp, self._sender._ssrc
            )
        self.retransmissions += 1
        await self._sender.transport._send_rtp(header + extension + payload)

    def _wrap_send(self) -> None:
        """Learn the negotiated payload types and extension ids when the sender is started."""
        start = self._sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            self._negotiated = _negotiated(parameters)
            await start(parameters)

        self._sender.send = send  # type: ignore[method-assign]

    @staticmethod
    def _can_drive(sender: RTCRtpSender) -> bool:
        state, dtls_state = vars(sender), vars(sender.transport)
        missing = [name for name in _SENDER_ATTRS if name not in state]
        missing += [name for name in _DTLS_ATTRS if name not in dtls_state]
        if missing or not hasattr(sender, "_retransmit"):
            logger.warning("aiortc's RTCRtpSender changed (%s missing): forwarding through it", missing)
            return False
        return True


def _negotiated(parameters: RTCRtpSendParameters) -> _Negotiated:
    codec = parameters.codecs[0]
    assert codec.payloadType is not None  # negotiation assigns every payload type
    rtx = next(
        (
            c.payloadType
            for c in parameters.codecs
            if c.mimeType.lower().endswith("/rtx") and c.parameters.get("apt") == codec.payloadType
        ),
        None,
    )
    ids: dict[str, Any] = {ext.uri: ext.id for ext in parameters.headerExtensions}
    return _Negotiated(
        payload_type=codec.payloadType,
        rtx_payload_type=rtx,
        extension_ids=(int(ids.get(MID_URI, 0)), int(ids.get(ABS_SEND_TIME_URI, 0)), parameters.muxId or ""),
    )
