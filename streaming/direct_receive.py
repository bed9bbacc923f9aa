"""SRTP packets handled in the socket's callback instead of a task woken for each one.

aiortc receives through a task per DTLS transport: aioice puts every datagram into an
``asyncio.Queue`` and the transport's task, woken for it, takes it out, unprotects it and hands it
to its receiver or sender. On a server that receives hundreds of packets a second per publisher,
that wake-up (a future, a scheduled callback, the task's step through four nested coroutines,
then a new future to wait on) costs more than the packet's own handling. :func:`receive_directly`
makes the ICE connection's datagram callback do that handling itself for SRTP and SRTCP once the
transport is connected: unprotect, parse and route as aiortc's transport does, with the same
counters, then hand the packet to its receiver. A receiver tapped by :mod:`streaming.receiver`
has a plain function for that (:data:`RTP_HANDLER`: aiortc's statistics, NACKs, bitrate
estimation, then the frame assembler, without a coroutine); any other gets aiortc's coroutine.
Where streaming/_rtprecv.c was built (:data:`C_PATH`), unprotecting and parsing an RTP packet are
one call into C, which gives aiortc's own packet objects.

Everything else still takes the queue (DTLS records, anything before the keys exist), and so does
every packet behind one still queued, so that the order packets arrived in is the order they are
handled. aiortc's RTCP handlers are coroutines that in practice never wait (their RTCP replies are
written to the socket at once); one that does is carried on by a task from where it stopped. An
empty datagram, which anyone can send to the port and on which aiortc's task ends (closing the
connection), is dropped.

Like :mod:`streaming.receiver`, this relies on private attributes of aiortc 1.16 and aioice 0.13,
checked before anything is changed: a release that renamed them keeps aiortc's own path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCDtlsTransport, RTCPeerConnection
from aiortc.rtcdtlstransport import State
from aiortc.rtp import HeaderExtensions, RtpPacket, is_rtcp

from streaming import srtp_batch
from streaming.ntp import now_ms

try:
    from streaming import _rtprecv  # unprotect and parse in one call (streaming/_rtprecv.c)
except ImportError:  # pragma: no cover - installed without a C compiler
    _rtprecv = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_RX_BYTES = "_RTCDtlsTransport__rx_bytes"
_RX_PACKETS = "_RTCDtlsTransport__rx_packets"
_INSTALLED = "_expo_direct_receive"
_IDS = "_HeaderExtensionsMap__ids"
CONNECTED = State.CONNECTED
RTP_HANDLER = "expo_handle_rtp"
"""The attribute of a receiver whose packets need no coroutine: a plain function
``(packet, arrival_time_ms) -> None`` set by :func:`streaming.receiver.install_tap`, called here for
each of its packets (and wrapped by :func:`streaming.room_speakers.meter_audio`)."""


def receive_directly_on(pc: RTCPeerConnection) -> None:
    """:func:`receive_directly` for each of ``pc``'s transports: call once the offer is applied
    (bundling has chosen them), before any media can arrive."""
    for transceiver in pc.getTransceivers():
        receive_directly(transceiver.receiver.transport)


def receive_directly(transport: RTCDtlsTransport) -> bool:
    """Handle ``transport``'s SRTP and SRTCP in its ICE connection's datagram callback.

    Idempotent (audio and video bundled on one transport install it once); ``False`` if this
    aiortc or aioice lacks what it relies on, in which case nothing was changed.
    """
    ice: Any = transport.transport
    connection: Any = getattr(ice, "_connection", None)
    queue: Any = getattr(connection, "_queue", None)
    needed = (
        isinstance(queue, asyncio.Queue)
        and callable(getattr(connection, "data_received", None))
        and hasattr(transport, "_rx_srtp")
        and isinstance(getattr(transport, "_state", None), State)
        and hasattr(transport, _RX_BYTES)
        and hasattr(transport, _RX_PACKETS)
        and callable(getattr(transport, "_handle_rtp_data", None))
        and callable(getattr(transport, "_handle_rtcp_data", None))
        and hasattr(transport, "_rtp_router")
        and hasattr(transport, "_rtp_header_extensions_map")
    )
    if not needed:
        return False
    if getattr(connection, _INSTALLED, False):
        return True
    queued = connection.data_received  # aioice's: into the queue the transport's task reads
    demultiplexed = False
    # For the C path: the negotiated extension ids (aiortc configures them in place), and the
    # libsrtp context of the receiving session, looked up again if the session is replaced.
    found = getattr(transport._rtp_header_extensions_map, _IDS, None)
    in_c = C_PATH and isinstance(found, HeaderExtensions)
    ids = found if isinstance(found, HeaderExtensions) else HeaderExtensions()
    session: Any = None
    context = 0

    def data_received(data: bytes, component: int) -> None:
        nonlocal demultiplexed, session, context
        if not data:
            return  # aiortc's task would end on it (no first byte to read), and the connection with it
        srtp = transport._rx_srtp
        if srtp is None or not queue.empty() or not 127 < data[0] < 192 or transport._state is not CONNECTED:
            queued(data, component)
            return
        if not demultiplexed:  # the first SRTP packet: the connection's sockets all exist by now
            demultiplexed = True
            for protocol in getattr(connection, "_protocols", ()):
                route_media_first(protocol, data_received)
        setattr(transport, _RX_BYTES, getattr(transport, _RX_BYTES) + len(data))
        setattr(transport, _RX_PACKETS, getattr(transport, _RX_PACKETS) + 1)
        try:
            if is_rtcp(data):
                run_now(transport._handle_rtcp_data(srtp.unprotect_rtcp(data)))
                return
            if in_c and srtp is not session:
                session, context = srtp, srtp_batch.address_of(srtp_batch.srtp_context(srtp))
            if not context:
                plain = srtp.unprotect(data)
        except pylibsrtp.Error:
            return  # as aiortc: a packet that does not authenticate is dropped
        # What the transport's _handle_rtp_data does (parse, route), then the receiver's handler.
        arrival_time_ms = now_ms()
        try:
            if context:
                packet = _rtprecv.open_rtp(UNPROTECT_ADDRESS, context, data, ids, RtpPacket, HeaderExtensions)
                if packet is None:
                    return  # not authentic (or replayed): dropped, as above
            else:
                packet = RtpPacket.parse(plain, transport._rtp_header_extensions_map)
        except ValueError:
            return
        receiver = transport._rtp_router.route_rtp(packet)
        if receiver is None:
            return
        handle = vars(receiver).get(RTP_HANDLER)  # a tapped receiver's plain function
        if handle is None:
            run_now(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms))
            return
        try:
            handle(packet, arrival_time_ms)
        except ConnectionError:
            pass
        except Exception:
            logger.exception("handling a received packet failed")

    connection.data_received = data_received
    setattr(connection, _INSTALLED, True)
    return True


UNPROTECT_ADDRESS = srtp_batch.UNPROTECT_ADDRESS or 0
C_PATH = _rtprecv is not None and bool(UNPROTECT_ADDRESS)
"""Whether RTP is unprotected and parsed in C (streaming/_rtprecv.c: one copy, aiortc's objects
out), else by pylibsrtp and aiortc in Python."""


def route_media_first(protocol: Any, data_received: Callable[[bytes, int], None]) -> None:
    """Let ``protocol`` (one of an ICE connection's sockets) hand RTP and RTCP straight to
    ``data_received``, by their first byte (RFC 7983: 128 to 191), instead of first trying to parse
    each of them as a STUN message, which raises for every packet a publisher sends. STUN (first
    byte 0 to 3) and anything else still go aioice's way. Only plain UDP sockets (not TURN)."""
    if type(protocol) is not StunProtocol or "datagram_received" in vars(protocol):
        return
    stun_way = protocol.datagram_received

    def datagram_received(data: bytes, addr: tuple[Any, ...]) -> None:
        if data and 127 < data[0] < 192:
            data_received(data, protocol.local_candidate.component)
        else:
            stun_way(data, addr)

    protocol.datagram_received = datagram_received  # type: ignore[method-assign,assignment]


def run_now(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` here until it ends or waits; if it waits, a task carries it on."""
    try:
        waiting = coroutine.send(None)
    except (StopIteration, ConnectionError):
        return  # done, or the connection closed under it (aiortc's task ends quietly on that)
    except Exception:
        # aiortc's transport task would have ended on it; here only this packet is lost.
        logger.exception("handling a received packet failed")
        return
    task = asyncio.ensure_future(_Resumed(coroutine, waiting).run())
    _carried.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(_carried.discard)


_carried: set[asyncio.Future[None]] = set()


class _Resumed:
    """A coroutine that already ran up to its first wait, for a task to go on with.

    The task gets what the coroutine yielded (the future it waits on) as if the coroutine had
    yielded it to the task itself, and resumes it when that is done.
    """

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
        self._coroutine = coroutine
        self._waiting = waiting

    def __await__(self) -> Generator[Any, None, None]:
        waiting = self._waiting
        try:
            while True:
                yield waiting
                waiting = self._coroutine.send(None)
        except StopIteration:
            return
        finally:
            self._coroutine.close()

    async def run(self) -> None:
        try:
            await self
        except ConnectionError:
            pass
        except Exception:
            logger.exception("handling a received packet failed")
