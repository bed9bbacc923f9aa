"""WHIP ingest and WHEP playback through the real HTTP server, with real aiortc peers on loopback.

The publisher is an aiortc peer connection encoding a test pattern (H.264) and a tone; viewers
are aiortc peer connections that decode what the server forwards. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from sqlmodel import select

from expo.expos.services import ensure_expo
from streaming import services
from streaming.audience import Audience
from streaming.broadcaster import ClockPattern, Tone
from streaming.codecs import preferred_codecs
from streaming.models import Recording, Visibility
from streaming.plane import MediaPlane
from tests.conftest import LiveServer, create_schema, make_settings

LOOPBACK = RTCConfiguration(iceServers=[])
SDP = {"Content-Type": "application/sdp"}
SMALL = (320, 180)  # the publisher's picture: enough to decode, cheap to encode on two cores


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def new_stream(server: LiveServer, visibility: Visibility = Visibility.PUBLIC) -> tuple[int, str]:
    """A scheduled stream (id, key) created through the services, as `expo streams create` does."""

    async def create() -> tuple[int, str]:
        async with server.app.state.platform.db.session() as session:
            expo = await ensure_expo(session, "fair", "Fair")
            stream = await services.create_stream(
                session, expo=expo, title="Keynote", owner=None, visibility=visibility
            )
            assert stream.id is not None
            return stream.id, stream.key

    return server.call(create())


@dataclass
class Publisher:
    """An aiortc encoder publishing over WHIP."""

    pc: RTCPeerConnection
    response: httpx.Response
    location: str = ""


@dataclass
class Player:
    """An aiortc WHEP player; ``tracks`` fills as the server's tracks arrive."""

    pc: RTCPeerConnection
    response: httpx.Response
    tracks: dict[str, MediaStreamTrack] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return self.response.headers["location"]


async def publish(
    http: httpx.AsyncClient, stream_id: int, key: str, size: tuple[int, int] = SMALL
) -> Publisher:
    pc = RTCPeerConnection(LOOPBACK)
    video = pc.addTransceiver(ClockPattern(*size), direction="sendonly")
    video.setCodecPreferences(preferred_codecs("video"))
    pc.addTransceiver(Tone(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await http.post(
        f"/api/streams/{stream_id}/whip",
        content=pc.localDescription.sdp,
        headers={**SDP, "Authorization": f"Bearer {key}"},
    )
    if response.status_code == 201:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    else:
        await pc.close()
    return Publisher(pc, response, response.headers.get("location", ""))


async def play(http: httpx.AsyncClient, stream_id: int, headers: dict[str, str] | None = None) -> Player:
    pc = RTCPeerConnection(LOOPBACK)
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    tracks: dict[str, MediaStreamTrack] = {}
    pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
    await pc.setLocalDescription(await pc.createOffer())
    response = await http.post(
        f"/api/streams/{stream_id}/whep", content=pc.localDescription.sdp, headers={**SDP, **(headers or {})}
    )
    if response.status_code == 201:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    else:
        await pc.close()
    return Player(pc, response, tracks)


async def media_playlist(http: httpx.AsyncClient, stream_id: int) -> str:
    """The stream's HLS media playlist (the last one its index names), or "" with no index yet."""
    index = await http.get(f"/live/{stream_id}/index.m3u8")
    if index.status_code != 200:
        return ""
    return (await http.get(f"/live/{stream_id}/" + index.text.strip().splitlines()[-1])).text


async def first_frames(player: Player, kind: str, count: int, timeout: float = 15.0) -> list[Any]:
    """Decoded frames of ``kind`` (video frames start with the first keyframe the server sends)."""
    frames: list[Any] = []
    async with asyncio.timeout(timeout):
        while kind not in player.tracks:
            await asyncio.sleep(0.02)
        while len(frames) < count:
            frames.append(await player.tracks[kind].recv())
    return frames


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    """Peer connections to close after the test, whatever happened."""
    pcs: list[RTCPeerConnection] = []
    yield pcs
    for pc in pcs:
        await pc.close()


async def test_publish_then_three_viewers_decode_and_the_broadcast_ends_on_delete(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    stream_id, key = new_stream(live_server)
    platform = live_server.app.state.platform
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        publisher = await publish(http, stream_id, key)
        peers.append(publisher.pc)
        response = publisher.response
        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/sdp"
        assert response.text.startswith("v=0") and "a=candidate:" in response.text
        assert publisher.location.startswith(f"/api/streams/{stream_id}/whip/")
        assert response.headers["etag"]
        assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "live"

        # Three WHEP players decode real pictures; the time to the first frame is measured.
        players = []
        for _ in range(3):
            started = time.monotonic()
            player = await play(http, stream_id)
            peers.append(player.pc)
            assert player.response.status_code == 201, player.response.text
            assert player.response.headers["content-type"] == "application/sdp"
            assert player.location.startswith(f"/api/streams/{stream_id}/whep/")
            video = await first_frames(player, "video", 5)
            print(f"\nWHEP POST to first decoded frame: {(time.monotonic() - started) * 1000:.0f} ms")
            assert all(isinstance(f, av.VideoFrame) and (f.width, f.height) == SMALL for f in video)
            audio = await first_frames(player, "audio", 3)
            assert all(isinstance(f, av.AudioFrame) and f.sample_rate == 48000 for f in audio)
            players.append(player)
        await until(lambda: live_server.call(platform.get(Audience).live_viewers(stream_id)) == 3)

        # A second encoder is refused while the first one is connected.
        second = await publish(http, stream_id, key)
        assert second.response.status_code == 409
        assert second.response.json()["error"]["code"] == "stream.publisher_connected"

        # The H.264 broadcast is also packaged for HLS, from the same forwarded frames.
        async def hls_ready() -> bool:
            return (await http.get(f"/live/{stream_id}/index.m3u8")).status_code == 200

        deadline = time.monotonic() + 15
        while not await hls_ready():
            assert time.monotonic() < deadline, "no HLS playlist"
            await asyncio.sleep(0.2)

        # One viewer leaves; its session is gone, a second DELETE is a 404.
        leaving = players.pop()
        assert (await http.delete(leaving.location)).status_code == 200
        await until(
            lambda: (
                leaving.pc.connectionState == "closed"
                or platform.get(MediaPlane).viewer_count(stream_id) == 2
            )
        )
        assert platform.get(MediaPlane).viewer_count(stream_id) == 2
        assert (await http.delete(leaving.location)).status_code == 404

        # The encoder's DELETE needs its key, then ends the broadcast for everyone.
        assert (await http.delete(publisher.location)).status_code == 401
        wrong = {"Authorization": "Bearer not-the-key"}
        assert (await http.delete(publisher.location, headers=wrong)).status_code == 401
        ended = await http.delete(publisher.location, headers={"Authorization": f"Bearer {key}"})
        assert ended.status_code == 200
        figures = (await http.get(f"/api/streams/{stream_id}/stats")).json()
        assert figures["status"] == "ended" and figures["total_views"] == 3
        await until(lambda: all(p.pc.connectionState == "closed" for p in players), timeout=15)
        assert platform.get(MediaPlane).viewer_count(stream_id) == 0
        assert (
            await http.delete(publisher.location, headers={"Authorization": f"Bearer {key}"})
        ).status_code == 404
        # The HLS playlist is final, and the live period was recorded.
        assert "#EXT-X-ENDLIST" in await media_playlist(http, stream_id)

    async def recordings() -> list[Recording]:
        async with platform.db.session() as session:
            return list((await session.exec(select(Recording).where(Recording.stream_id == stream_id))).all())

    stored = live_server.call(recordings())
    assert len(stored) == 1 and stored[0].size_bytes > 0


async def test_requests_the_endpoints_refuse(live_server: LiveServer, peers: list[RTCPeerConnection]) -> None:
    stream_id, key = new_stream(live_server)
    whip, whep = f"/api/streams/{stream_id}/whip", f"/api/streams/{stream_id}/whep"
    bearer = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:

        async def code(response: httpx.Response, status: int) -> str:
            assert response.status_code == status, response.text
            assert response.status_code < 500
            error: str = response.json()["error"]["code"]
            return error

        valid = await publish(http, 999999, key)  # a real offer, to an unknown stream
        assert await code(valid.response, 404) == "stream.unknown"
        offer = valid.pc.localDescription.sdp
        assert await code(
            await http.post(whip, content=offer, headers={**SDP, "Authorization": "Bearer x"}), 401
        )
        assert await code(await http.post(whip, content=offer, headers=SDP), 401) == "stream.key_required"
        receiving = await play(http, 999999)
        peers.append(receiving.pc)
        for body in ("v=0\r\nnot sdp\r\n", receiving.pc.localDescription.sdp):
            wrong = await http.post(whip, content=body, headers={**SDP, "Authorization": "Bearer x"})
            assert await code(wrong, 401) == "stream.bad_key"  # whatever the body
        garbage = "v=0\r\nthis is not sdp\r\nm=video banana\r\n"
        assert (
            await code(await http.post(whip, content=garbage, headers={**SDP, **bearer}), 400)
            == "sdp.invalid"
        )
        assert await code(await http.post(whip, content=b"\xff\xfe", headers={**SDP, **bearer}), 400)
        assert await code(await http.post(whip, content="", headers={**SDP, **bearer}), 400) == "sdp.invalid"
        huge = offer + "a=x-padding:" + "x" * 70_000 + "\r\n"
        assert await code(await http.post(whip, content=huge, headers={**SDP, **bearer}), 413)
        as_json = {"Content-Type": "application/json", **bearer}
        assert await code(await http.post(whip, content=offer, headers=as_json), 415)
        # A WHIP offer that only wants to receive publishes nothing.
        viewer_offer = (await play(http, 999999)).pc.localDescription.sdp
        assert await code(await http.post(whip, content=viewer_offer, headers={**SDP, **bearer}), 400) == (
            "sdp.no_media"
        )
        # Nothing to watch yet.
        assert await code((await play(http, stream_id)).response, 409) == "stream.not_live"
        assert await code(await http.post(whep, content=garbage, headers=SDP), 400) == "sdp.invalid"
        assert await code((await play(http, 999999)).response, 404) == "stream.unknown"
        assert await code(await http.delete(f"{whep}/no-such-session"), 404) == "stream.no_session"
        assert await code(await http.delete(f"{whip}/no-such-session", headers=bearer), 404)
        assert await code(await http.patch(f"{whep}/no-such-session", content=b"", headers=SDP), 404)

        # RFC 9725 discovery: OPTIONS says what to POST.
        for url in (whip, whep):
            options = await http.options(url)
            assert options.status_code == 204
            assert options.headers["accept-post"] == "application/sdp"
            assert "POST" in options.headers["allow"]
            assert options.headers["access-control-allow-origin"] == "*"
            assert "link" not in options.headers  # no ICE servers configured: loopback needs none

        # Registered-only broadcasts need a signed-in viewer.
        private_id, _ = new_stream(live_server, Visibility.REGISTERED)
        assert await code((await play(http, private_id)).response, 401) == "stream.sign_in_to_watch"

        # PATCH (trickle ICE, ICE restart) is not supported on a live session: 405 with Allow.
        publisher = await publish(http, stream_id, key)
        peers.append(publisher.pc)
        assert publisher.response.status_code == 201
        patched = await http.patch(publisher.location, content="a=candidate:x", headers=bearer)
        assert patched.status_code == 405 and "DELETE" in patched.headers["allow"]
        # A player that only decodes VP8 cannot be sent this H.264 broadcast.
        vp8_only = RTCPeerConnection(LOOPBACK)
        peers.append(vp8_only)
        wants = vp8_only.addTransceiver("video", direction="recvonly")
        wants.setCodecPreferences([c for c in preferred_codecs("video") if c.mimeType == "video/VP8"])
        await vp8_only.setLocalDescription(await vp8_only.createOffer())
        refused = await http.post(whep, content=vp8_only.localDescription.sdp, headers=SDP)
        assert await code(refused, 400) == "sdp.unsupported"
        assert live_server.app.state.platform.get(MediaPlane).viewer_count(stream_id) == 0
        assert (await http.delete(publisher.location, headers=bearer)).status_code == 200
        # An ended stream cannot go live again (an organizer must reopen it).
        again = await publish(http, stream_id, key)
        assert await code(again.response, 409) == "stream.ended"


def test_ice_servers_are_advertised_in_link_headers(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        ice_servers="stun:stun.example.net:3478, turn:turn.example.net:3478?transport=udp",
        turn_username="expo",
        turn_password='pa"ss',
    )
    asyncio.run(create_schema(settings.database))
    from expo.app import create_app

    with (
        LiveServer(create_app(settings, check_schema=False)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        stream_id, _ = new_stream(server)
        links = http.options(f"/api/streams/{stream_id}/whip").headers["link"]
    assert '<stun:stun.example.net:3478>; rel="ice-server"' in links
    assert (
        '<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="expo"; '
        'credential="pa\\"ss"; credential-type="password"'
    ) in links


async def test_a_publisher_that_drops_can_resume_within_the_grace_period(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    stream_id, key = new_stream(live_server)
    plane = live_server.app.state.platform.get(MediaPlane)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        first = await publish(http, stream_id, key)
        assert first.response.status_code == 201
        viewer = await play(http, stream_id)
        peers.append(viewer.pc)
        await first_frames(viewer, "video", 1)

        # The encoder vanishes without DELETE: its viewers are hung up, the stream stays live ...
        plane.reconnect_grace = 30.0
        await first.pc.close()
        await until(lambda: stream_id not in plane.publishers and viewer.pc.connectionState == "closed")
        assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "live"
        # ... and an encoder reconnecting in time resumes it.
        second = await publish(http, stream_id, key)
        peers.append(second.pc)
        assert second.response.status_code == 201
        again = await play(http, stream_id)
        peers.append(again.pc)
        await first_frames(again, "video", 1)

        # Without a reconnection the stream ends once the grace period is over.
        plane.reconnect_grace = 0.2
        await second.pc.close()

        async def status() -> str:
            figures: dict[str, str] = (await http.get(f"/api/streams/{stream_id}/stats")).json()
            return figures["status"]

        deadline = time.monotonic() + 15
        while await status() != "ended":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)


async def test_empty_datagrams_to_the_servers_ports_do_not_end_a_broadcast(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    # Anyone who learns a port can send one; aiortc alone closed the connection on it.
    stream_id, key = new_stream(live_server)
    plane = live_server.app.state.platform.get(MediaPlane)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        publisher = await publish(http, stream_id, key)
        peers.append(publisher.pc)
        viewer = await play(http, stream_id)
        peers.append(viewer.pc)
        await first_frames(viewer, "video", 5)
        ports = re.findall(r"a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host", publisher.response.text)
        ports += re.findall(r"a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host", viewer.response.text)
        assert ports
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            for host, port in ports:
                if ":" not in host:
                    stranger.sendto(b"", (host, int(port)))
        video = next(p for p in plane.publishers[stream_id].publications if p.kind == "video")
        received = video.frames_received
        await until(lambda: video.frames_received >= received + 30)
        await first_frames(viewer, "video", 30)
        assert publisher.pc.connectionState == "connected" and viewer.pc.connectionState == "connected"


async def test_a_delete_right_after_the_connection_closed_still_ends_the_broadcast(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    stream_id, key = new_stream(live_server)
    plane = live_server.app.state.platform.get(MediaPlane)
    plane.reconnect_grace = 60.0  # long: only the DELETE can end the stream within this test
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        publisher = await publish(http, stream_id, key)
        assert publisher.response.status_code == 201
        await until(lambda: publisher.pc.connectionState == "connected")
        # A browser closes its connection as it stops, so the server may see the drop first.
        await publisher.pc.close()
        await until(lambda: stream_id not in plane.publishers)
        assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "live"
        wrong = await http.delete(publisher.location, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        deleted = await http.delete(publisher.location, headers={"Authorization": f"Bearer {key}"})
        assert deleted.status_code == 200
        assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "ended"
        assert stream_id not in plane._grace
        again = await http.delete(publisher.location, headers={"Authorization": f"Bearer {key}"})
        assert again.status_code == 404


async def test_an_encoder_back_during_the_dropped_ones_teardown_keeps_its_viewers_and_playlist(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    stream_id, key = new_stream(live_server)
    plane = live_server.app.state.platform.get(MediaPlane)
    plane.reconnect_grace = 60.0
    # The dropped publisher's teardown is held at its last step (ending its HLS playlist), as a
    # teardown with many viewers to hang up takes its time, while its encoder comes back.
    finish_hls = plane._finish_hls
    held, release = threading.Event(), threading.Event()

    async def held_finish_hls(stream: int) -> None:
        held.set()
        await asyncio.to_thread(release.wait, 20)
        await finish_hls(stream)

    plane._finish_hls = held_finish_hls
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        first = await publish(http, stream_id, key)
        peers.append(first.pc)
        assert first.response.status_code == 201
        await until(lambda: first.pc.connectionState == "connected")
        await first.pc.close()
        await until(held.is_set)
        back = asyncio.create_task(publish(http, stream_id, key))
        # It waits for the teardown to finish (or, answered at once, meets what the teardown does).
        await until(lambda: stream_id in plane._claimed or back.done())
        plane._finish_hls = finish_hls
        release.set()
        second = await back
        peers.append(second.pc)
        assert second.response.status_code == 201, second.response.text
        viewer = await play(http, stream_id)
        peers.append(viewer.pc)
        await first_frames(viewer, "video", 5)

        # The resumed broadcast's playlist goes on: the old teardown ended only the old one.
        async with asyncio.timeout(15):
            while "#EXTINF" not in (playlist := await media_playlist(http, stream_id)):
                await asyncio.sleep(0.2)
        assert "#EXT-X-ENDLIST" not in playlist
        assert viewer.pc.connectionState == "connected" and plane.viewer_count(stream_id) == 1
        assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "live"


async def test_ending_the_stream_from_the_api_hangs_up_publisher_and_viewers(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    stream_id, key = new_stream(live_server)
    platform = live_server.app.state.platform

    async def end() -> None:
        async with platform.db.session() as session:
            await services.end(session, await services.get_stream(session, stream_id), bus=platform.bus)

    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        publisher = await publish(http, stream_id, key)
        peers.append(publisher.pc)
        viewer = await play(http, stream_id)
        peers.append(viewer.pc)
        await first_frames(viewer, "video", 1)
        live_server.call(end())  # what POST /api/streams/{id}/end does for a manager
        await until(
            lambda: publisher.pc.connectionState == "closed" and viewer.pc.connectionState == "closed"
        )
        assert stream_id not in platform.get(MediaPlane).publishers
