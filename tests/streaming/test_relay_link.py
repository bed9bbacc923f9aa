"""The relay link's own parts: the lean WebSocket client against uvicorn, and the origin's outbox
that sends a stream's audio with its next video frame (streaming/link_socket.py, streaming/relay.py).

The whole link between two ``expo serve`` processes is tested in test_cluster.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from expo.wsprotocol import WRITE_FRAME, uvicorn_websocket_options
from streaming.link_socket import HandshakeError, LinkSocket
from streaming.on_air_switch import default_codec
from streaming.relay import DESCRIBE, FRAME, Outbox, RelayLink, binary_frame, describe_codec, joined_frames
from streaming.router import MediaRouter
from tests.streaming.peers import until

SIZES = [0, 1, 125, 126, 65_535, 65_536, 300_000]  # every length encoding of RFC 6455, 5.2

Endpoint = Callable[[WebSocket], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(endpoint: Endpoint, **options: float) -> AsyncIterator[str]:
    """uvicorn with expo's WebSocket protocol on a free port, one route: ``ws://…/link``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = Starlette(routes=[WebSocketRoute("/link", endpoint)])
    websockets = uvicorn_websocket_options() | options
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **websockets
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started)
    try:
        yield f"ws://127.0.0.1:{port}/link"
    finally:
        server.should_exit = True
        await task


async def test_every_message_arrives_whole_and_in_order_and_pings_keep_the_link_open() -> None:
    heard: list[bytes] = []
    disconnects: list[int] = []

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        for size in SIZES:
            await websocket.send_bytes(bytes([size % 251]) * size)
        message = await websocket.receive()  # the client's, once it has answered several pings
        heard.append(message["bytes"])
        await websocket.send_bytes(b"echo " + message["bytes"])
        disconnects.append((await websocket.receive())["code"])

    received: list[bytes] = []
    # uvicorn pings every 50 ms and drops a client whose pong is a second late (a second, not
    # less: server and client share this loop, which a busy machine may stall for a while).
    async with serving(endpoint, ws_ping_interval=0.05, ws_ping_timeout=1.0) as url:
        link = await LinkSocket.connect(url, {}, received.append, max_size=1 << 20)
        await until(lambda: len(received) == len(SIZES) and link.pings_answered >= 25)
        assert not link.closed.done()  # past the ping timeout several times over
        assert link.send(b"K\x00")
        await until(lambda: len(received) > len(SIZES))
        link.close()
        await asyncio.wait_for(asyncio.shield(link.closed), 5)

    assert [len(m) for m in received[: len(SIZES)]] == SIZES
    assert all(m == bytes([len(m) % 251]) * len(m) for m in received[: len(SIZES)])
    assert heard == [b"K\x00"] and received[-1] == b"echo K\x00"  # masked on the way, as RFC 6455 asks
    assert disconnects == [1000]
    assert not link.send(b"late")


async def test_a_refused_upgrade_is_a_connection_error() -> None:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.close(code=4403)  # before accepting, as the relay route refuses a bad signature

    async with serving(endpoint) as url:
        with pytest.raises(HandshakeError, match="403"):
            await LinkSocket.connect(url, {}, lambda _: None, max_size=1024)


async def test_a_message_over_the_limit_fails_the_link_and_is_not_delivered() -> None:
    codes: list[int] = []

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_bytes(b"x" * 100)
        await websocket.send_bytes(b"y" * 2_000)
        codes.append((await websocket.receive())["code"])

    received: list[bytes] = []
    async with serving(endpoint) as url:
        link = await LinkSocket.connect(url, {}, received.append, max_size=1_000)
        await asyncio.wait_for(asyncio.shield(link.closed), 5)
        await until(lambda: bool(codes))
    assert received == [b"x" * 100]
    assert codes == [1009]  # "message too big"


async def test_audio_waits_for_the_next_video_frame_and_goes_out_in_the_same_write() -> None:
    writes: list[bytes] = []

    def write(frame: bytes) -> bool:
        writes.append(frame)
        return True

    outbox = Outbox(write, hold=5.0)  # longer than the test: only the video frame releases the audio
    assert outbox.put(b"audio 1", hold=True) and outbox.put(b"audio 2", hold=True)
    assert writes == []
    assert outbox.put(b"video 1")
    assert writes == [binary_frame(b"audio 1") + binary_frame(b"audio 2") + binary_frame(b"video 1")]
    assert outbox.put(b"video 2")  # nothing held: the frame alone
    assert writes[1:] == [binary_frame(b"video 2")]
    outbox.put(b"audio 3", hold=True)
    outbox.end()  # the held audio still goes out, before the end
    assert writes[2:] == [binary_frame(b"audio 3")]
    assert not outbox.put(b"after the end")


async def test_audio_without_video_goes_out_after_the_hold() -> None:
    writes: list[bytes] = []

    def write(frame: bytes) -> bool:
        writes.append(frame)
        return True

    outbox = Outbox(write, hold=0.04)
    outbox.put(b"audio 1", hold=True)
    outbox.put(b"audio 2", hold=True)
    await until(lambda: bool(writes), timeout=2)
    assert writes == [binary_frame(b"audio 1") + binary_frame(b"audio 2")]


async def test_held_audio_keeps_its_place_when_the_socket_cannot_take_more() -> None:
    outbox = Outbox(lambda _frame: False, hold=5.0)  # the socket's buffer is full: the writer's turn
    outbox.put(b"audio", hold=True)
    outbox.put(b"video")
    outbox.end()
    assert [await outbox.get(), await outbox.get(), await outbox.get()] == [b"audio", b"video", None]


async def test_a_relayed_publication_passes_keyframe_requests_on_without_the_origins_interval() -> None:
    asked: list[int] = []

    class Origin:
        """The link's far end, which holds requests to the interval for the publisher itself."""

        async def request_keyframe(self) -> bool:
            asked.append(len(asked))
            return True

    router = MediaRouter(keyframe_interval=3600)  # a local publication would ask once an hour
    relayed = router.publish_relayed("video", default_codec("video"), Origin(), stream_id="1")
    relayed.request_keyframe()
    await until(lambda: len(asked) == 1)
    relayed.request_keyframe()  # a second viewer arrives on this process
    await until(lambda: len(asked) == 2)
    await router.close()


async def test_frames_read_together_with_the_track_description_are_not_lost() -> None:
    codec = default_codec("video")
    description = DESCRIBE + json.dumps({"tracks": [describe_codec("video", codec)]}).encode()
    keyframe = FRAME + bytes((0, 1)) + (3000).to_bytes(4, "big") + b"\x00\x00\x00\x01\x65keyframe"

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        # Both in one write, so that the relaying side reads them at once.
        assert websocket.scope["extensions"][WRITE_FRAME](joined_frames([description, keyframe]))
        await websocket.receive()

    router = MediaRouter()
    async with serving(endpoint) as url:
        link = RelayLink(1, router, lambda _link, _said: None)
        await link.open(url, {})
        [video] = link.publications
        assert (video.frames_received, video.keyframes_received) == (1, 1)
        await link.close()
    await router.close()
