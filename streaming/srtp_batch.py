"""Protect a frame's RTP packets in place, in one buffer, and send them with one system call.

Per packet, a forwarder that calls ``Session.protect`` then ``sendto`` pays twice for what the
packet's bytes do not need: pylibsrtp copies each packet into its buffer and out again as a new
``bytes``, and every ``sendto`` walks the kernel's whole UDP path (on loopback, down to the
receiving socket and the wake-up of its reader). Here a frame's packets are laid out one after
the other in a scratch buffer, protected there by libsrtp (in place: ``srtp_protect`` appends the
tag after the payload), and handed to the kernel as one ``sendmsg`` with Linux's UDP generic
segmentation offload (``UDP_SEGMENT``, Linux 4.18+): it splits the buffer into datagrams of the
given size after routing, so the network stack is walked once per batch, not once per packet.

GSO wants every datagram of a batch the same size but the last. aiortc's H.264 packetiser splits
a NAL unit into payloads that differ by one byte (the longer ones first), so the shorter ones get
that byte back as RTP padding (RFC 3550 §5.1: the P bit, and the padding's length as its last
octet), which every receiver strips before the depacketiser sees the payload: viewers get the
same payloads as before. Packets that differ by more start a new batch.

Where the kernel or the path refuses GSO (an old kernel, a device without checksum offload) the
same buffer goes out datagram by datagram, and the forwarder stops asking. pylibsrtp has no API
for protecting in place; :func:`srtp_context` reaches for its session's libsrtp context, and
returns ``None`` if a later pylibsrtp no longer has it (the forwarder then protects packet by
packet).
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
import sys
import threading
from collections.abc import Sequence
from struct import Struct
from typing import Any

from pylibsrtp import Session

logger = logging.getLogger(__name__)

RTP_HEADER = Struct("!BBHLL")
UDP_SEGMENT = 103  # linux/udp.h; Python's socket module has no name for it
MAX_SEGMENTS = 64  # UDP_MAX_SEGMENTS before Linux 6.4 raised it
MAX_BATCH_BYTES = 60_000  # plaintext per batch: the batch, tags included, fits one 64 KiB datagram
MAX_PADDING = 16  # bytes of RTP padding spent to bring a packet to the size of the one before it
_BUFFER_SIZE = 65_536 + 2_048
_SEGMENT_SIZE = Struct("=H")
# Errors that say the kernel or the route cannot segment: send datagram by datagram from now on.
_NO_GSO = frozenset({errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP})

# One packet of a plan: the header's first octet (version, padding and extension bits), the
# marker bit (0x80 on the frame's last packet), what follows the header (extension block,
# payload, padding) and the bare payload (kept for retransmissions).
PlannedPacket = tuple[int, int, bytes, bytes]
# A batch: packets whose bodies are the same length, but the last, which may be shorter.
Plan = tuple[tuple[PlannedPacket, ...], ...]

GSO_AVAILABLE = sys.platform == "linux"

try:
    from pylibsrtp._binding import ffi, lib  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - a pylibsrtp without its cffi binding module
    ffi = lib = None

# How streaming/_rtpsend.c calls srtp_protect and streaming/_rtprecv.c srtp_unprotect: libsrtp 2's
# (context, packet, &length).
PROTECT_SIGNATURE = ["struct srtp_ctx_t_ *", "void *", "int *"]


def protect_address(name: str = "srtp_protect") -> int | None:
    """Where libsrtp's ``srtp_protect`` (or ``name``: ``srtp_unprotect``) is, for the loops in C;
    ``None`` when the binding has none, or one the C code would call wrongly (libsrtp 3's take six
    arguments)."""
    if lib is None or not hasattr(lib, name):
        return None
    function = ffi.addressof(lib, name)
    if [arg.cname for arg in ffi.typeof(function).args] != PROTECT_SIGNATURE:
        logger.warning("pylibsrtp's %s is not libsrtp 2's: RTP is handled in Python", name)
        return None
    return int(ffi.cast("uintptr_t", function))


PROTECT_ADDRESS = protect_address()
UNPROTECT_ADDRESS = protect_address("srtp_unprotect")


def plan_frame(extension: bytes, payloads: Sequence[bytes]) -> Plan:
    """How a frame's ``payloads`` go out: its batches, each packet's header bits and body.

    The same for every viewer that negotiated the same header extensions, so it is computed once
    per frame (see :meth:`streaming.forwarder.OutgoingFrame.plan`).
    """
    first_byte = 0x90 if extension else 0x80
    batches: list[list[tuple[bytes, int]]] = []  # (payload, padded length), per batch
    current: list[tuple[bytes, int]] = []
    size = total = 0
    closed = True
    for payload in payloads:
        length = len(extension) + len(payload)
        if not closed and length <= size and len(current) < MAX_SEGMENTS and total + size <= MAX_BATCH_BYTES:
            # A little shorter: padded to size. Much shorter: the batch's last datagram, as it is.
            closed = size - length > MAX_PADDING
            current.append((payload, length if closed else size))
            total += size
            continue
        current = [(payload, length)]
        batches.append(current)
        size = total = length
        closed = False
    last = len(payloads) - 1
    plan: list[tuple[PlannedPacket, ...]] = []
    index = 0
    for batch in batches:
        packets: list[PlannedPacket] = []
        for position, (payload, length) in enumerate(batch):
            marker = 0x80 if index == last else 0
            body = extension + payload
            padding = length - len(body) if position < len(batch) - 1 else 0  # the last may be shorter
            if padding:
                packets.append(
                    (first_byte | 0x20, marker, body + bytes(padding - 1) + bytes((padding,)), payload)
                )
            else:
                packets.append((first_byte, marker, body, payload))
            index += 1
        plan.append(tuple(packets))
    return tuple(plan)


def srtp_context(session: Session) -> Any | None:
    """The libsrtp context of a pylibsrtp ``session``, or ``None`` if it cannot be reached."""
    if lib is None or not hasattr(lib, "srtp_protect"):
        return None
    srtp = getattr(session, "_srtp", None)
    try:
        return srtp[0] if srtp is not None else None
    except (TypeError, IndexError):
        return None


def address_of(context: Any | None) -> int:
    """The address of a libsrtp ``context`` (from :func:`srtp_context`), 0 for none."""
    return 0 if context is None else int(ffi.cast("uintptr_t", context))


def pack_sockaddr(family: int, address: Any) -> bytes | None:
    """``address`` (as Python's socket module gives it) as the kernel's ``sockaddr_in`` or
    ``sockaddr_in6``, for sending from C; ``None`` if it is not a plain IP address and port."""
    try:
        if family == socket.AF_INET:
            host, port = address
            ip = socket.inet_pton(family, host)
            return _SOCKADDR_FAMILY.pack(family) + _SOCKADDR_IN.pack(port, ip, b"")
        if family == socket.AF_INET6:
            host, port, flow, scope = (*address, 0, 0)[:4]
            ip = socket.inet_pton(family, host)
            return _SOCKADDR_FAMILY.pack(family) + _SOCKADDR_IN6.pack(port, flow, ip) + _SCOPE.pack(scope)
    except (OSError, TypeError, ValueError, struct.error):
        return None
    return None


_SOCKADDR_FAMILY = Struct("=H")  # sa_family_t, in the host's order
_SOCKADDR_IN = Struct("!H4s8s")  # port, address, zeros
_SOCKADDR_IN6 = Struct("!HI16s")  # port, flow information, address
_SCOPE = Struct("=I")


class Scratch:
    """A buffer where a batch is protected in place, with libsrtp's ``srtp_protect`` at hand.

    Used synchronously on one thread (one per thread: see :func:`scratch`), so a batch is written
    and sent before another one can start.
    """

    def __init__(self) -> None:
        self._cdata = ffi.new("unsigned char[]", _BUFFER_SIZE)
        self.view = memoryview(ffi.buffer(self._cdata))
        self.base = self._cdata
        self.length = ffi.new("int *")
        self.protect = lib.srtp_protect


_local = threading.local()
# Sockets of our own on the transports forwarders write to, and how many forwarders use each.
_sockets: dict[int, tuple[socket.socket, int]] = {}


def acquire_socket(transport: Any) -> socket.socket:
    """A socket on the same kernel socket as a datagram ``transport``, for ``sendmsg``.

    asyncio's and uvloop's transports expose no ``sendmsg``, so it is a ``dup`` of the transport's
    file descriptor, shared by every forwarder writing to that transport (a viewer's audio and
    video are bundled on one ICE pair) until the last one calls :func:`release_socket`, which the
    caller must do while it still holds ``transport`` (entries are keyed by its ``id``). Raises
    ``OSError`` when no file descriptor is left.
    """
    key = id(transport)
    entry = _sockets.get(key)
    if entry is None:
        sock = socket.socket(fileno=socket.dup(transport.get_extra_info("socket").fileno()))
        sock.setblocking(False)
        entry = (sock, 0)
    _sockets[key] = (entry[0], entry[1] + 1)
    return entry[0]


def release_socket(transport: Any) -> None:
    """One user of :func:`acquire_socket`'s socket for ``transport`` is done; the last closes it."""
    key = id(transport)
    sock, users = _sockets.pop(key)
    if users > 1:
        _sockets[key] = (sock, users - 1)
    else:
        sock.close()


def scratch() -> Scratch:
    """This thread's :class:`Scratch`."""
    buffer: Scratch | None = getattr(_local, "scratch", None)
    if buffer is None:
        buffer = _local.scratch = Scratch()
    return buffer


def send_batch(sock: socket.socket, data: memoryview, segment: int, address: Any, gso: bool) -> bool:
    """Send the datagrams of ``segment`` bytes (the last may be shorter) laid out in ``data``.

    With ``gso``, in one ``sendmsg``; returns whether GSO may be used again on this socket.
    Raises ``BlockingIOError`` when the socket's send buffer is full: with GSO nothing was sent
    (the kernel takes all datagrams or none); without, only whole datagrams before ``data[sent:]``,
    where ``sent`` is the exception's ``characters_written``.
    """
    if gso:
        try:
            sock.sendmsg([data], [(socket.IPPROTO_UDP, UDP_SEGMENT, _SEGMENT_SIZE.pack(segment))], 0, address)
            return True
        except OSError as exc:
            if isinstance(exc, BlockingIOError) or exc.errno not in _NO_GSO:
                raise
            logger.info("UDP segmentation refused (%s): sending datagram by datagram", exc)
    for offset in range(0, len(data), segment):
        try:
            sock.sendto(data[offset : offset + segment], address)
        except BlockingIOError as exc:
            exc.characters_written = offset
            raise
    return False
