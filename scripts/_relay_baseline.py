"""Baseline server of scripts/bench_fanout.py: stock aiortc fan-out through ``MediaRelay``.

    _relay_baseline.py --port P

``POST /whip`` takes one publisher's SDP offer (any bearer key); ``POST /whep`` a viewer's offer;
``DELETE /whep/{n}`` ends that viewer. This is the textbook aiortc server: the publisher's tracks
are decoded once by aiortc's receiver, ``MediaRelay.subscribe`` hands every viewer the decoded
frames, and each viewer's ``RTCRtpSender`` encodes them again (H.264 at aiortc's default bitrate
for video, Opus for audio). It is what expo's router avoids by forwarding encoded frames.
"""

from __future__ import annotations

import argparse
import itertools

import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

LOOPBACK = RTCConfiguration(iceServers=[])
relay = MediaRelay()
published: dict[str, MediaStreamTrack] = {}
peers: dict[str, RTCPeerConnection] = {}
numbers = itertools.count(1)


async def answer(pc: RTCPeerConnection, request: Request) -> str:
    await pc.setRemoteDescription(RTCSessionDescription(sdp=(await request.body()).decode(), type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription.sdp


async def whip(request: Request) -> Response:
    pc = RTCPeerConnection(LOOPBACK)
    pc.on("track", lambda track: published.__setitem__(track.kind, track))
    sdp = await answer(pc, request)
    peers["publisher"] = pc
    return Response(sdp, 201, media_type="application/sdp", headers={"Location": "/whip/publisher"})


async def whep(request: Request) -> Response:
    if not published:
        return Response("no publisher", 409)
    pc = RTCPeerConnection(LOOPBACK)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=(await request.body()).decode(), type="offer"))
    for track in published.values():
        pc.addTrack(relay.subscribe(track))  # decoded frames in; this sender encodes them again
    await pc.setLocalDescription(await pc.createAnswer())
    name = str(next(numbers))
    peers[name] = pc
    return Response(
        pc.localDescription.sdp, 201, media_type="application/sdp", headers={"Location": f"/whep/{name}"}
    )


async def leave(request: Request) -> Response:
    pc = peers.pop(request.path_params["name"], None)
    if pc is not None:
        await pc.close()
    return Response(status_code=200)


async def healthz(request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/whip", whip, methods=["POST"]),
        Route("/whep", whep, methods=["POST"]),
        Route("/whep/{name}", leave, methods=["DELETE"]),
        Route("/healthz", healthz),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
