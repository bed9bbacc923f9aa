"""Many watch-page WebSocket clients in one process, for scripts/bench_audience.py.

    _ws_clients.py '{"url": ..., "channel": ..., "count": N, "local_host": "127.0.0.2"}'

Opens ``count`` connections (from ``local_host``, so that several processes do not share one
address's ephemeral ports), sends each the page's subscribe frame and waits for ``subscribed``.
Then prints ``{"ready": N, "connect_s": ...}`` and records every frame whose text carries a
benchmark marker ``bench-SEQ-T0`` (``T0``: the publisher's ``time.time()``) as a delivery latency
``time.time() - T0``. On ``stop`` (a line on stdin) it prints
``{"latencies": {SEQ: [seconds, ...]}, "errors": n}`` and closes everything.

Why not the ``websockets`` client: these clients share the machine's two cores with the server
they measure. The library's client costs tens of microseconds per received frame (a reader task,
a message assembler, a task per connection to iterate), so 10,000 receivers took longer than the
server's whole fan-out and the figure measured the clients. This one is a plain asyncio protocol
on uvloop speaking just enough RFC 6455: the opening handshake, masked text frames out, unmasked
frames in, a pong for every ping, and a close.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import resource
import struct
import sys
import time
from typing import Any, cast
from urllib.parse import urlsplit

import uvloop

MARKER = re.compile(rb"bench-(\d+)-(\d+\.\d+)")
HANDSHAKES = 100  # concurrent opening handshakes per process
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (RFC 6455 section 5.2)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class Client(asyncio.Protocol):
    """One page's socket: handshake, subscribe, then note the markers of incoming text frames."""

    def __init__(self, spec: dict[str, Any], latencies: dict[int, list[float]], errors: list[int]) -> None:
        self.spec = spec
        self.latencies = latencies
        self.errors = errors
        self.buffer = b""
        self.upgraded = False
        self.subscribed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is no subclass
        url = urlsplit(self.spec["url"])
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET {url.path or '/'} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.upgraded:
            head, found, rest = self.buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.fail(f"handshake refused: {head[:40]!r}")
                return
            self.upgraded, self.buffer = True, rest
            subscribe = {"type": "subscribe", "channel": self.spec["channel"]}
            self.send(TEXT, json.dumps(subscribe).encode())
        self.frames(now)

    def frames(self, now: float) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            opcode, length = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, 2)
                start = 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, 2)
                start = 10
            if len(buffer) < start + length:
                break
            payload, buffer = buffer[start : start + length], buffer[start + length :]
            if opcode == TEXT:
                self.text(payload, now)
            elif opcode == PING:
                self.send(PONG, payload)
            elif opcode == CLOSE and self.transport is not None:
                self.transport.close()
        self.buffer = buffer

    def text(self, payload: bytes, now: float) -> None:
        match = MARKER.search(payload)
        if match:
            self.latencies.setdefault(int(match[1]), []).append(now - float(match[2]))
        elif not self.subscribed.done():
            frame = json.loads(payload)
            if frame.get("type") == "subscribed":
                self.subscribed.set_result(None)
            elif frame.get("type") == "error":
                self.fail(f"subscription refused: {frame}")

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def fail(self, why: str) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(SystemExit(why))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.subscribed.done():
            self.errors[0] += 1
        else:
            self.subscribed.set_exception(SystemExit(f"connection lost while subscribing: {exc}"))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.send(CLOSE, struct.pack("!H", 1000))
            self.transport.close()


async def open_one(
    spec: dict[str, Any], gate: asyncio.Semaphore, latencies: dict[int, list[float]], errors: list[int]
) -> Client:
    url = urlsplit(spec["url"])
    async with gate:
        _transport, client = await asyncio.get_running_loop().create_connection(
            lambda: Client(spec, latencies, errors),
            url.hostname,
            url.port,
            local_addr=(spec["local_host"], 0),
        )
        await asyncio.wait_for(client.subscribed, 60)
        return client


async def main(spec: dict[str, Any]) -> None:
    raise_fd_limit()
    t0 = time.monotonic()
    gate = asyncio.Semaphore(HANDSHAKES)
    latencies: dict[int, list[float]] = {}
    errors = [0]
    clients = await asyncio.gather(*(open_one(spec, gate, latencies, errors) for _ in range(spec["count"])))
    print(json.dumps({"ready": len(clients), "connect_s": round(time.monotonic() - t0, 2)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps({"latencies": latencies, "errors": errors[0]}), flush=True)
    for client in clients:
        client.close()


if __name__ == "__main__":
    uvloop.run(main(json.loads(sys.argv[1])))
