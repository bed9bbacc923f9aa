"""Many watch-page WebSocket clients in one process, for scripts/bench_audience.py.

    _ws_clients.py '{"url": ..., "channel": ..., "count": N, "local_host": "127.0.0.2"}'

Opens ``count`` connections with the ``websockets`` client (from ``local_host``, so that several
processes do not share one address's ephemeral ports), sends each the page's subscribe frame and
waits for ``subscribed``. Then prints ``{"ready": N, "connect_s": ...}`` and records every frame
whose text carries a benchmark marker ``bench-SEQ-T0`` (``T0``: the publisher's ``time.time()``)
as a delivery latency ``time.time() - T0``. On ``stop`` (a line on stdin) it prints
``{"latencies": {SEQ: [seconds, ...]}, "errors": n}`` and closes everything.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

MARKER = re.compile(r"bench-(\d+)-(\d+\.\d+)")
HANDSHAKES = 100  # concurrent opening handshakes per process


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def open_one(spec: dict[str, Any], gate: asyncio.Semaphore) -> ClientConnection:
    async with gate:
        ws = await connect(
            spec["url"],
            local_addr=(spec["local_host"], 0),
            ping_interval=None,  # pages send application pings at most; the server pings anyway
            max_queue=None,
            open_timeout=60,
        )
        await ws.send(json.dumps({"type": "subscribe", "channel": spec["channel"]}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "subscribed":
                return ws
            if frame.get("type") == "error":
                raise SystemExit(f"subscription refused: {frame}")


async def listen(ws: ClientConnection, latencies: dict[int, list[float]], errors: list[int]) -> None:
    try:
        async for text in ws:
            now = time.time()
            match = MARKER.search(text if isinstance(text, str) else text.decode())
            if match:
                latencies.setdefault(int(match[1]), []).append(now - float(match[2]))
    except ConnectionClosed:
        errors[0] += 1


async def main(spec: dict[str, Any]) -> None:
    raise_fd_limit()
    t0 = time.monotonic()
    gate = asyncio.Semaphore(HANDSHAKES)
    sockets = await asyncio.gather(*(open_one(spec, gate) for _ in range(spec["count"])))
    latencies: dict[int, list[float]] = {}
    errors = [0]
    tasks = [asyncio.create_task(listen(ws, latencies, errors)) for ws in sockets]
    print(json.dumps({"ready": len(sockets), "connect_s": round(time.monotonic() - t0, 2)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps({"latencies": latencies, "errors": errors[0]}), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
