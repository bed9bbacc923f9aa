"""Write a subscriber's RTP straight onto its connection's socket, beneath aiortc's sender.

aiortc's ``RTCRtpSender`` runs a task per track that wakes for every frame, builds an
``RtpPacket`` object per payload, serialises it and hands it down four coroutines (DTLS, ICE
transport, ICE connection, protocol) before it reaches the socket. For a forwarding server that
per-packet Python is nearly all of the cost of a viewer. An :class:`RtpForwarder` is called by the
publication for each frame instead, and does per packet only what differs between viewers: a
12-byte header and SRTP protection, in place in one buffer, from which the frame's packets leave
in one system call per run of equal sizes (UDP segmentation offload: see
:mod:`streaming.srtp_batch`; an H.264 frame is usually one run, an Opus frame one packet). What
is the same for every viewer of a frame (its RTP payloads, the send time, the header-extension
block, how the packets fall into batches) is computed once, in :class:`OutgoingFrame`.

The sender stays in charge of everything else: negotiation, RTCP sender reports (fed with the
counters the forwarder keeps), receiver reports, keyframe requests (relayed to the publication by
:class:`~streaming.tracks.EncodedRelayTrack`) and NACKs, which are answered from the forwarder's
own history of recent packets, over RTX when it was negotiated.

This relies on a few private attributes of aiortc 1.16, aioice 0.13 and pylibsrtp 1.0, checked
when a forwarder is created or first sends (without pylibsrtp's, packets are protected and sent
one by one, as with ``batching`` off). A connection the forwarder cannot drive (a TURN-relayed
pair, a later aiortc without those attributes) falls back to the sender's own path before
anything is sent, so the stream never jumps between two sequence-number spaces.
"""

from __future__ import annotations

import fractions
import functools
import logging
import random
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from struct import Struct
from typing import Any

import av
import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCRtpSender
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import pack_header_extensions
from av.stream import Stream

from streaming import srtp_batch
from streaming.ntp import now_ntp
from streaming.srtp_batch import Plan, plan_frame

try:
    from streaming import _rtpsend  # the send loop in C (streaming/_rtpsend.c), built at install
    from streaming._rtpsend import Outlet as Outlet  # re-exported: the publication keeps them
except ImportError:  # pragma: no cover - installed without a C compiler
    _rtpsend = None  # type: ignore[assignment]
    Outlet = None  # type: ignore[assignment,misc]

logger = logging.getLogger(__name__)

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
HISTORY_SIZE = 128  # packets kept per subscriber to answer NACKs (aiortc's sender keeps as many)
MAX_WRITE_BUFFER = 256 * 1024  # bytes queued in a socket that cannot keep up before frames drop

_RTP_HEADER = srtp_batch.RTP_HEADER
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

    :param data: the frame's bytes.
    :param pts: its timestamp, in ``time_base`` (the codec's clock, counted from the stream's first).
    :param time_base: the clock of ``pts``.
    :param keyframe: whether a decoder can start on it.
    :param payloads: its RTP payloads when they are the same for every subscriber, else ``None``.
    :param timestamp: the RTP timestamp of ``payloads`` before each subscriber's random offset.
    :param ntp_time: when it is sent, for abs-send-time and the sender reports.
    """

    data: bytes
    pts: int
    time_base: fractions.Fraction
    keyframe: bool
    payloads: list[bytes] | None = None
    timestamp: int = 0
    ntp_time: int = field(default_factory=now_ntp)
    _extension_blocks: dict[tuple[int, int, str], bytes] = field(default_factory=dict)
    _plans: dict[tuple[int, int, str], Plan] = field(default_factory=dict)
    _payload_bytes: int = -1
    _packet: av.Packet[Stream] | None = None

    @classmethod
    def of(cls, packet: av.Packet[Stream], keyframe: bool, **fields: Any) -> OutgoingFrame:
        """The frame of an ``av.Packet`` with ``pts`` and ``time_base`` set."""
        assert packet.time_base is not None
        return cls(bytes(packet), packet.pts or 0, packet.time_base, keyframe, _packet=packet, **fields)

    @property
    def packet(self) -> av.Packet[Stream]:
        """The frame as an ``av.Packet`` (``pts`` and ``time_base`` set), for subscribers that
        packetise it themselves: made on first use, as most frames are only ever sent as RTP."""
        packet = self._packet
        if packet is None:
            packet = self._packet = av.Packet(self.data)
            packet.pts, packet.time_base = self.pts, self.time_base
        return packet

    @property
    def payload_bytes(self) -> int:
        """The length of the shared ``payloads``, all together (the sender reports' octets)."""
        if self._payload_bytes < 0:
            self._payload_bytes = sum(map(len, self.payloads or ()))
        return self._payload_bytes

    def extension_block(self, ids: tuple[int, int, str]) -> bytes:
        """:func:`extension_block` for this frame: viewers almost always negotiate the same ids
        and mids, so it is built once per frame and shared."""
        block = self._extension_blocks.get(ids)
        if block is None:
            block = self._extension_blocks[ids] = extension_block(ids, self.ntp_time)
        return block

    def plan(self, ids: tuple[int, int, str]) -> Plan:
        """:func:`~streaming.srtp_batch.plan_frame` of the shared ``payloads``, once per frame."""
        plan = self._plans.get(ids)
        if plan is None:
            assert self.payloads is not None
            plan = self._plans[ids] = plan_frame(self.extension_block(ids), self.payloads)
        return plan


class _Counters:
    """A forwarder's sequence number and counters where the C loop was not built (else an
    :class:`~streaming._rtpsend.Outlet` holds them)."""

    __slots__ = ("batches_sent", "gso", "octets", "packets", "packets_sent", "sequence")

    def __init__(self) -> None:
        self.sequence = 0
        self.gso = False
        self.packets = self.octets = self.packets_sent = self.batches_sent = 0

    def disable(self) -> None:
        pass


def send_to_all(frame: OutgoingFrame, outlets: list[Outlet]) -> list[tuple[Outlet, list[bytes] | None, int]]:
    """Send ``frame`` (shared payloads) to every viewer in ``outlets`` in one call, in C: what
    :meth:`RtpForwarder.send` does for each, without Python per viewer. Returns those that need
    Python: ``(outlet, None, 0)`` for a viewer the frame was not sent to (its connection changed:
    it goes the forwarder's way), else the datagrams its socket had no room for or libsrtp's
    error status (see ``_rtpsend.fan_out``)."""
    assert _rtpsend is not None and srtp_batch.PROTECT_ADDRESS is not None and frame.payloads
    return _rtpsend.fan_out(
        srtp_batch.PROTECT_ADDRESS, State.CONNECTED, frame.payloads, frame.timestamp, frame.ntp_time, outlets
    )


@functools.lru_cache(maxsize=64)
def extension_template(ids: tuple[int, int, str]) -> tuple[bytes, int]:
    """:func:`extension_block` with an abs-send-time of 0, and where that time's three bytes are
    in it (-1 if it has none), for the C loop to write each frame's in."""
    block = extension_block(ids, 0)
    other = extension_block(ids, 0xFFFFFF << 14)
    offset = next((i for i, (a, b) in enumerate(zip(block, other, strict=True)) if a != b), -1)
    return block, offset


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

    #: Protect each frame's packets in one buffer and send them as one batch per run of equal
    #: sizes (:mod:`streaming.srtp_batch`); off, one ``protect`` and one ``sendto`` per packet,
    #: as before batching (``scripts/bench_forward.py`` measures one against the other).
    batching = True
    #: Run each batch's loop (headers, protection, history, the send) in C (``streaming/_rtpsend.c``)
    #: rather than in Python; the same datagrams either way. Off when the extension was not built.
    native = _rtpsend is not None and srtp_batch.PROTECT_ADDRESS is not None
    #: Let the publication send each frame to this viewer with all its other viewers in one C call
    #: (:func:`send_to_all`) once the connection is up, instead of calling :meth:`send` for each.
    fan_out = native

    def __init__(self, sender: RTCRtpSender, pack: Packer) -> None:
        self._sender = sender
        self._pack = pack
        self._negotiated: _Negotiated | None = None
        # The sequence number and counters, shared by every way of sending (an Outlet when the C
        # loop is built, so the publication can send frames here with all others' in one call).
        self._state: Outlet | _Counters = _rtpsend.Outlet() if _rtpsend is not None else _Counters()
        self._state.sequence = random.getrandbits(16)
        self._state.gso = srtp_batch.GSO_AVAILABLE
        self._rtx_sequence = random.getrandbits(16)
        self._timestamp_origin = random.getrandbits(32)
        self._history: list[tuple[int, int, int, bytes] | None] = [None] * HISTORY_SIZE
        # Set when the sender is started: the DTLS transport, its ICE pairs, the payload type.
        self._dtls: Any = None
        self._nominated: dict[int, Any] = {}
        self._payload_type = 0
        # Where frames go: the nominated ICE pair, its datagram transport and the viewer's address.
        self._pair: Any = None
        self._transport: Any = None
        self._address: Any = None
        # For batches: the libsrtp context of the transport's SRTP session, a socket of our own
        # on the pair's socket, and the thread's scratch buffer.
        self._srtp_session: object = None
        self._context: Any | None = None
        self._context_address = 0
        # For the C loop: the socket's descriptor and the viewer's address as a packed sockaddr.
        self._native: tuple[int, bytes] | None = None
        self._socket: socket.socket | None = None
        self._socket_finalizer: weakref.finalize[Any, Any] | None = None
        self._scratch: srtp_batch.Scratch | None = None
        self.fallback = not self._can_drive(sender)
        self.direct = False
        self.retransmissions = 0
        if not self.fallback:
            self._wrap_send()
            sender._retransmit = self._retransmit  # type: ignore[method-assign]

    @property
    def packets_sent(self) -> int:
        """RTP packets written to the viewer's socket by this forwarder."""
        return self._state.packets_sent

    @property
    def batches_sent(self) -> int:
        """Sends of several packets at once (see ``batching``)."""
        return self._state.batches_sent

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
        negotiated, dtls = self._negotiated, self._dtls
        if negotiated is None or dtls._state is not State.CONNECTED:
            return False
        pair = self._nominated.get(1)
        if pair is None:
            return False
        if pair is not self._pair and not self._take_route(pair):
            return None if self.fallback else False
        transport = self._transport
        queued = transport.get_write_buffer_size()
        if queued > MAX_WRITE_BUFFER:
            return False
        self.direct = True
        shared = frame.payloads is not None
        payloads, timestamp = (frame.payloads, frame.timestamp) if shared else self._pack(frame.packet)
        if not payloads:
            return True
        timestamp = (self._timestamp_origin + timestamp) & 0xFFFFFFFF
        session = dtls._tx_srtp
        if session is not self._srtp_session:
            self._srtp_session, self._context = session, srtp_batch.srtp_context(session)
            self._context_address = srtp_batch.address_of(self._context)
        if queued or not self.batching or self._context is None or not (self._socket or self._adopt()):
            # Behind datagrams the transport queued: go through it too, or they would be overtaken.
            sent_bytes = self._send_each(frame, payloads, session, timestamp)
        else:
            ids = negotiated.extension_ids
            plan = frame.plan(ids) if shared else plan_frame(frame.extension_block(ids), payloads)
            sent_bytes = self._send_batched(plan, timestamp)
        count = len(payloads)
        counters = self._state
        counters.octets += frame.payload_bytes if shared else sum(map(len, payloads))
        counters.packets += count
        counters.packets_sent += count
        # What the sender's RTCP task puts in its next sender report, and the transport's stats.
        state = vars(self._sender)
        state[_SENDER_NTP] = frame.ntp_time
        state[_SENDER_RTP_TIMESTAMP] = timestamp
        state[_SENDER_OCTETS] = counters.octets
        state[_SENDER_PACKETS] = counters.packets
        dtls_state = vars(dtls)
        dtls_state[_DTLS_BYTES] += sent_bytes
        dtls_state[_DTLS_PACKETS] += count
        return True

    def close(self) -> None:
        """Release the socket this forwarder writes batches to (the subscriber left)."""
        self._release_socket()

    def outlet(self, track: object) -> Outlet | None:
        """This viewer's outlet, configured, if the publication may now send ``track``'s frames
        with all others' in one call (:func:`send_to_all`): the last frame went out through the C
        loop and the connection is up. ``None`` while frames must come through :meth:`send`."""
        state, negotiated, dtls, pair = self._state, self._negotiated, self._dtls, self._pair
        if (
            not self.sends_together()
            or self._native is None
            or isinstance(state, _Counters)
            or negotiated is None
            or not self._context_address
            or dtls._state is not State.CONNECTED
            or self._nominated.get(1) is not pair
        ):
            return None
        fd, address = self._native
        extension, abs_offset = extension_template(negotiated.extension_ids)
        state.configure(
            fd,
            address,
            self._context_address,
            self._payload_type,
            self._sender._ssrc,
            self._timestamp_origin,
            self._history,
            extension,
            abs_offset,
            track,
            dtls,
            self._srtp_session,
            self._nominated,
            pair,
            self._transport,
            vars(self._sender),
            vars(dtls),
            vars(track),
        )
        return state

    @classmethod
    def sends_together(cls) -> bool:
        """Whether frames go to all viewers in one C call now (``fan_out``, ``native`` and
        ``batching`` all on: a benchmark may switch them while frames flow)."""
        return cls.fan_out and cls.native and cls.batching

    def queue(self, datagrams: list[bytes]) -> None:
        """Queue ``datagrams`` (protected, in order) on the transport: the socket had no room."""
        for datagram in datagrams:
            self._transport.sendto(datagram, self._address)

    def _take_route(self, pair: Any) -> bool:
        """Write to the newly nominated ICE ``pair`` from now on; whether frames can go there."""
        protocol = pair.protocol
        if type(protocol) is not StunProtocol:
            if not self.direct:
                # Only a plain UDP socket can be written to synchronously; a TURN allocation
                # sends through coroutines. Nothing was sent yet, so the sender takes over.
                self.fallback = True
            return False  # the nominated pair changed mid-stream: rare, and only a frame lost
        if protocol.transport is None:
            return False
        self._release_socket()
        self._pair, self._transport, self._address = pair, protocol.transport, pair.remote_addr
        return True

    def _send_batched(self, plan: Plan, timestamp: int) -> int:
        """Protect each batch of ``plan`` in place in the thread's scratch buffer and send it in
        one system call (see :mod:`streaming.srtp_batch`); returns the bytes sent."""
        if self._native is not None and self.native:
            return self._send_natively(plan, timestamp, *self._native)
        sock = self._socket
        assert sock is not None  # taken by send()
        buffer = self._scratch or self._take_scratch()
        view, base, length, protect = buffer.view, buffer.base, buffer.length, buffer.protect
        context, pack_into, address = self._context, _RTP_HEADER.pack_into, self._address
        payload_type = self._payload_type
        ssrc = self._sender._ssrc
        history = self._history
        counters = self._state
        sequence = counters.sequence
        sent = 0
        for batch in plan:
            offset = segment = 0
            for first_byte, marker, body, payload in batch:
                pack_into(view, offset, first_byte, marker | payload_type, sequence, timestamp, ssrc)
                end = offset + 12 + len(body)
                view[offset + 12 : end] = body
                length[0] = end - offset
                if protect(context, base + offset, length):
                    raise pylibsrtp.Error("SRTP protect failed")
                segment = segment or length[0]
                offset += length[0]
                history[sequence % HISTORY_SIZE] = (sequence, timestamp, marker, payload)
                sequence = (sequence + 1) & 0xFFFF
            try:
                if len(batch) == 1:  # a frame of one packet (audio): no segmentation to ask for
                    sock.sendto(view[:offset], address)
                else:
                    counters.gso = srtp_batch.send_batch(sock, view[:offset], segment, address, counters.gso)
                    counters.batches_sent += 1
            except BlockingIOError as exc:  # the socket's buffer is full: the transport queues the rest
                for start in range(getattr(exc, "characters_written", 0), offset, segment):
                    self._transport.sendto(bytes(view[start : min(start + segment, offset)]), address)
            except OSError as exc:  # ICMP unreachable from an earlier datagram: the viewer is leaving
                logger.debug("RTP to %s not sent: %s", address, exc)
            sent += offset
        counters.sequence = sequence
        return sent

    def _send_natively(self, plan: Plan, timestamp: int, fd: int, address: bytes) -> int:
        """:meth:`_send_batched`'s loop in C, one call per frame (see ``native``)."""
        assert _rtpsend is not None and srtp_batch.PROTECT_ADDRESS is not None
        counters = self._state
        sequence, sent, counters.gso, batches, unsent, status = _rtpsend.send_plan(
            fd,
            srtp_batch.PROTECT_ADDRESS,
            self._context_address,
            plan,
            self._payload_type,
            counters.sequence,
            timestamp,
            self._sender._ssrc,
            self._history,
            address,
            counters.gso,
        )
        counters.sequence = sequence
        counters.batches_sent += batches
        self.queue(unsent)  # the socket's buffer was full: the transport queues the rest
        if status:
            raise pylibsrtp.Error(f"SRTP protect failed ({status})")
        return int(sent)

    def _send_each(self, frame: OutgoingFrame, payloads: list[bytes], session: Any, timestamp: int) -> int:
        """Protect and send ``payloads`` one by one, through the transport (the path before
        batching, and the one behind datagrams the transport queued; see ``batching``)."""
        negotiated = self._negotiated
        assert negotiated is not None
        extension = frame.extension_block(negotiated.extension_ids)
        first_byte = 0x90 if extension else 0x80
        payload_type = negotiated.payload_type
        ssrc = self._sender._ssrc
        protect = session.protect
        sendto, address = self._transport.sendto, self._address
        history = self._history
        sequence = self._state.sequence
        last = len(payloads) - 1
        sent = 0
        for index, payload in enumerate(payloads):
            marker = 0x80 if index == last else 0
            header = _RTP_HEADER.pack(first_byte, marker | payload_type, sequence, timestamp, ssrc)
            data = protect(header + extension + payload)
            sendto(data, address)
            sent += len(data)
            history[sequence % HISTORY_SIZE] = (sequence, timestamp, marker, payload)
            sequence = (sequence + 1) & 0xFFFF
        self._state.sequence = sequence
        return sent

    def _take_scratch(self) -> srtp_batch.Scratch:
        self._scratch = srtp_batch.scratch()  # frames are sent on the event loop's thread only
        return self._scratch

    def _adopt(self) -> bool:
        """Take a socket for batches on the nominated pair's (:func:`srtp_batch.acquire_socket`),
        kept until the pair changes or :meth:`close`; ``False`` if none can be had."""
        try:
            self._socket = srtp_batch.acquire_socket(self._transport)
        except OSError as exc:  # out of file descriptors: this frame goes one packet at a time
            logger.warning("no socket for RTP batches (%s): sending packet by packet", exc)
            return False
        self._socket_finalizer = weakref.finalize(self, srtp_batch.release_socket, self._transport)
        address = srtp_batch.pack_sockaddr(self._socket.family, self._address)
        self._native = None if address is None else (self._socket.fileno(), address)
        return True

    def _release_socket(self) -> None:
        self._state.disable()  # the publication's C call must never write to the closed descriptor
        if self._socket_finalizer is not None:
            self._socket_finalizer()
        self._socket = self._socket_finalizer = self._native = None

    async def _retransmit(self, sequence_number: int) -> None:
        """Answer a viewer's NACK for ``sequence_number`` if the packet is still remembered."""
        entry = self._history[sequence_number % HISTORY_SIZE]
        negotiated = self._negotiated
        if entry is None or entry[0] != sequence_number or negotiated is None:
            return
        _, timestamp, marker, payload = entry
        extension = extension_block(negotiated.extension_ids, now_ntp())
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
            # Started once negotiation chose the transports (bundling may replace the first one).
            self._dtls = self._sender.transport
            self._nominated = self._dtls.transport._connection._nominated
            negotiated = self._negotiated = _negotiated(parameters)
            self._payload_type = negotiated.payload_type
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
