"""Baseline server of scripts/bench_audience.py: the ``websockets`` library's ``broadcast()`` alone.

    _ws_baseline.py --port P

Speaks just enough of the page protocol for the same clients: ``{"type": "subscribe"}`` adds the
connection to the audience and is answered ``{"type": "subscribed", ...}``; a ``{"type":
"publish", "text": T}`` frame from any connection sends ``T`` to the whole audience with
``websockets.broadcast``, which writes to every connection at once without waiting for any.
Without per-message deflate, as expo serves its sockets.
"""

from __future__ import annotations

import argparse
import json
import resource

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

audience: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    try:
        async for text in ws:
            frame = json.loads(text)
            if frame.get("type") == "subscribe":
                audience.add(ws)
                await ws.send(json.dumps({"type": "subscribed", "channel": frame.get("channel")}))
            elif frame.get("type") == "publish":
                broadcast(audience, frame["text"])
    finally:
        audience.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, backlog=4096, max_queue=None, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(main(port))  # the event loop uvicorn runs expo on
