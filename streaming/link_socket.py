"""The client end of a relay link's WebSocket, lean enough to carry a stream's every frame.

A relay link (:mod:`streaming.relay`) takes 80 messages a second from the origin process for one
stream (30 video frames, 50 audio). Through the ``websockets`` library's asyncio client each of
them passed through its sans-I/O parser, a message assembler, futures and an ``async for`` loop
before the frame reached the router: more CPU than the frame's own forwarding. Here the bytes are
parsed where they arrive, in :meth:`LinkSocket.data_received`, and each complete message goes to a
callback at once: no task switch, no queue, no copy beyond cutting it out of the buffer.

It speaks only what the link needs of RFC 6455, as a client: the opening handshake (with the
accept key checked), unfragmented binary and text messages in, pings answered, the closing
handshake, and masked binary messages out. Anything else from the server (a masked frame, a
fragmented message, a message over ``max_size``) fails the connection with close code 1002 or
1009, as the RFC says a client must.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
from collections.abc import Callable
from struct import Struct
from typing import cast
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
_MAX_HEAD = 16 * 1024  # the handshake's response head
_TEXT, BINARY, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x8, 0x9, 0xA
_LENGTH_16, _LENGTH_64 = Struct("!H"), Struct("!Q")
_HEADER_16, _HEADER_64 = Struct("!BBH"), Struct("!BBQ")
_CLOSE_CODE = Struct("!H")
PROTOCOL_ERROR, TOO_BIG = 1002, 1009


class HandshakeError(ConnectionError):
    """The server did not accept the WebSocket upgrade."""


def accept_key(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` a server must answer ``key`` with."""
    return base64.b64encode(hashlib.sha1(key + _GUID, usedforsecurity=False).digest())


def frame_header(opcode: int, length: int, *, mask_bit: int = 0) -> bytes:
    """The header of one final frame of ``opcode`` with ``length`` payload bytes (RFC 6455,
    section 5.2); ``mask_bit`` 0x80 for a client's masked frame, whose key follows the header."""
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, mask_bit | length))
    if length < 1 << 16:
        return _HEADER_16.pack(first, mask_bit | 126, length)
    return _HEADER_64.pack(first, mask_bit | 127, length)


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client-to-server frame (RFC 6455, section 5.3)."""
    length = len(payload)
    header = frame_header(opcode, length, mask_bit=0x80)
    mask = os.urandom(4)
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return header + mask + masked


class LinkSocket(asyncio.Protocol):
    """A WebSocket client connection that hands each message to ``on_message`` as it arrives.

    Made by :meth:`connect`; ``closed`` is done once the connection is gone, whoever ended it.
    """

    def __init__(self, on_message: Callable[[bytes], None], max_size: int) -> None:
        self._on_message = on_message
        self._max_size = max_size
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._key = base64.b64encode(os.urandom(16))
        self._loop = asyncio.get_running_loop()
        self._upgraded: asyncio.Future[None] = self._loop.create_future()
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._close_sent = False
        self.pings_answered = 0

    @classmethod
    async def connect(
        cls, url: str, headers: dict[str, str], on_message: Callable[[bytes], None], *, max_size: int
    ) -> LinkSocket:
        """Open ``url`` (``ws://host:port/path``) with the extra request ``headers``.

        ``OSError`` if the server cannot be reached, :class:`HandshakeError` if it refuses the
        upgrade or answers with something else than a WebSocket handshake.
        """
        parts = urlsplit(url)
        if parts.scheme != "ws" or not parts.hostname or parts.port is None:
            raise HandshakeError(f"not a ws://host:port URL: {url!r}")
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            lambda: cls(on_message, max_size), parts.hostname, parts.port
        )
        protocol._request(parts.netloc, parts.path or "/", headers)
        try:
            await asyncio.shield(protocol._upgraded)
        except BaseException:  # refused, or cancelled (a timeout): nobody waits for the handshake now
            protocol._upgraded.cancel()
            protocol.abort()
            raise
        return protocol

    # What the link does with it --------------------------------------------------------------------

    def send(self, message: bytes) -> bool:
        """Send ``message`` as one binary message; ``False`` if the connection is closing or gone."""
        return self._write(BINARY, message)

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; the server's close frame (or its going away) ends it."""
        if self._write(_CLOSE, _CLOSE_CODE.pack(code)):
            self._close_sent = True
            self._loop.call_later(2.0, self.abort)  # a server that never answers the close

    def abort(self) -> None:
        """Drop the connection now."""
        if self._transport is not None:
            self._transport.abort()

    # asyncio.Protocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no asyncio.Transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self._upgraded.done():
            self._upgraded.set_exception(HandshakeError(f"connection lost during the handshake: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded.done() and not self._handshake():
            return
        self._frames()

    # Inside ----------------------------------------------------------------------------------------

    def _request(self, host: str, path: str, headers: dict[str, str]) -> None:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        assert self._transport is not None
        self._transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _handshake(self) -> bool:
        """Read the response head if it is all here; ``True`` once upgraded."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                self._refuse("the handshake's response head is too long")
            return False
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        status = head[0].split(" ", 2)
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if len(status) < 2 or status[1] != "101":
            self._refuse(f"the server answered {head[0]!r}")
            return False
        if fields.get("sec-websocket-accept", "").encode() != accept_key(self._key):
            self._refuse("wrong Sec-WebSocket-Accept")
            return False
        self._upgraded.set_result(None)
        return True

    def _refuse(self, reason: str) -> None:
        if not self._upgraded.done():
            self._upgraded.set_exception(HandshakeError(reason))
        self.abort()

    def _frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, start = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = _LENGTH_16.unpack_from(buffer, 2)[0], 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = _LENGTH_64.unpack_from(buffer, 2)[0], 10
            if second & 0x80 or first & 0x70 or not first & 0x80:
                # A masked server frame, reserved bits, or a fragment: nothing the origin sends.
                self._fail(PROTOCOL_ERROR)
                return
            if length > self._max_size:
                self._fail(TOO_BIG)
                return
            end = start + length
            if len(buffer) < end:
                return
            payload = bytes(buffer[start:end])
            del buffer[:end]
            opcode = first & 0x0F
            if opcode in (BINARY, _TEXT):
                if not self._close_sent:
                    self._on_message(payload)
            elif opcode == _PING:
                self.pings_answered += self._write(_PONG, payload)
            elif opcode == _CLOSE:
                if not self._close_sent:
                    self._write(_CLOSE, payload[:2])
                self.abort()
                return
            elif opcode != _PONG:  # a continuation or an unknown opcode
                self._fail(PROTOCOL_ERROR)
                return
            if self._transport is None or self._transport.is_closing():
                return  # on_message closed the connection

    def _fail(self, code: int) -> None:
        self._write(_CLOSE, _CLOSE_CODE.pack(code))
        self.abort()

    def _write(self, opcode: int, payload: bytes) -> bool:
        transport = self._transport
        if transport is None or transport.is_closing() or self._close_sent:
            return False
        with contextlib.suppress(OSError):
            transport.write(client_frame(opcode, payload))
            return True
        return False
