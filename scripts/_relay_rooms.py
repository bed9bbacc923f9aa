"""Baseline server of scripts/bench_rooms.py: stock aiortc rooms through ``MediaRelay``.

    _relay_rooms.py --port P [--kbps 500]

``POST /rooms/{room}/participants/{id}/publish`` takes a participant's SDP offer and keeps their
tracks; ``POST /rooms/{room}/participants/{id}/subscriptions/{other}`` answers a receive-only
offer with ``other``'s tracks (409 until they publish). The textbook aiortc room: each
publisher's tracks are decoded once by aiortc's receiver, ``MediaRelay.subscribe`` hands every
subscriber the decoded frames and each subscriber's ``RTCRtpSender`` encodes them again (H.264
pinned at ``--kbps``, as the participants send, and Opus). What expo's rooms avoid by forwarding
the encoded frames.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fanout_peer import LOOPBACK, fix_bitrate

relay = MediaRelay()
published: dict[tuple[str, str], dict[str, MediaStreamTrack]] = {}
peers: list[RTCPeerConnection] = []


def participant(request: Request) -> tuple[str, str]:
    return request.path_params["room"], request.path_params["id"]


async def publish(request: Request) -> Response:
    pc = RTCPeerConnection(LOOPBACK)
    tracks = published.setdefault(participant(request), {})
    pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=(await request.body()).decode(), type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    peers.append(pc)
    return Response(pc.localDescription.sdp, 201, media_type="application/sdp")


async def subscribe(request: Request) -> Response:
    tracks = published.get((request.path_params["room"], request.path_params["other"]))
    if not tracks or len(tracks) < 2:
        return Response("not publishing yet", 409)
    pc = RTCPeerConnection(LOOPBACK)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=(await request.body()).decode(), type="offer"))
    for track in tracks.values():
        pc.addTrack(relay.subscribe(track))  # decoded frames in; this sender encodes them again
    await pc.setLocalDescription(await pc.createAnswer())
    peers.append(pc)
    return Response(pc.localDescription.sdp, 201, media_type="application/sdp")


async def healthz(request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/rooms/{room}/participants/{id}/publish", publish, methods=["POST"]),
        Route("/rooms/{room}/participants/{id}/subscriptions/{other}", subscribe, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kbps", type=int, default=500)
    args = parser.parse_args()
    fix_bitrate(args.kbps * 1000)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
