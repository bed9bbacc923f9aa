"""Rehearsals through the real HTTP server, with real aiortc peers on loopback: a WHIP publish with
``?rehearsal=1`` keeps the stream scheduled and private (WHEP for its managers only, no HLS, no
views), "Go live" makes the same publisher public, and a rehearsal that ends leaves the stream
scheduled. A plain WHIP POST still goes live at once (tests/streaming/test_whip_whep.py)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import av
import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from starlette.applications import Starlette

from streaming import services
from streaming.broadcaster import ClockPattern, Tone
from streaming.cluster import Cluster
from streaming.codecs import preferred_codecs
from streaming.plane import PUBLISHERS_KEY, MediaPlane
from tests.booths.web import browser, make_account
from tests.conftest import LiveServer
from tests.streaming.test_chat import create_stream, login
from tests.streaming.test_e2e_browser import eventually
from tests.streaming.test_whip_whep import LOOPBACK, SDP, SMALL, Player, first_frames, play, until


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    """Peer connections to close after the test, whatever happened."""
    pcs: list[RTCPeerConnection] = []
    yield pcs
    for pc in pcs:
        await pc.close()


async def publish(
    http: httpx.AsyncClient, stream_id: int, key: str, peers: list[RTCPeerConnection], query: str = ""
) -> httpx.Response:
    """An aiortc encoder's WHIP POST to ``.../whip{query}``; connected when it was answered."""
    pc = RTCPeerConnection(LOOPBACK)
    peers.append(pc)
    video = pc.addTransceiver(ClockPattern(*SMALL), direction="sendonly")
    video.setCodecPreferences(preferred_codecs("video"))
    pc.addTransceiver(Tone(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await http.post(
        f"/api/streams/{stream_id}/whip{query}",
        content=pc.localDescription.sdp,
        headers={**SDP, "Authorization": f"Bearer {key}"},
    )
    if response.status_code == 201:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
    return response


async def watch(
    http: httpx.AsyncClient, stream_id: int, peers: list[RTCPeerConnection], token: str = ""
) -> Player:
    player = await play(http, stream_id, {"Authorization": f"Bearer {token}"} if token else None)
    peers.append(player.pc)
    return player


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def stats(http: httpx.AsyncClient, stream_id: int) -> dict[str, Any]:
    response = await http.get(f"/api/streams/{stream_id}/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stream_key(server: LiveServer, stream_id: int) -> str:
    async with server.app.state.platform.db.session() as session:
        return (await services.get_stream(session, stream_id)).key


async def test_a_rehearsal_is_private_until_go_live_makes_the_same_publisher_public(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    owner = await login(live_server, "owner@example.com", "exhibitor")
    visitor = await login(live_server, "ann@example.com")
    stream_id = live_server.call(
        create_stream(live_server.app.state.platform.db, owner_email="owner@example.com")
    )
    key = live_server.call(stream_key(live_server, stream_id))
    plane = live_server.app.state.platform.get(MediaPlane)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        assert error_code(await publish(http, stream_id, key, peers, "?rehearsal=maybe")) == (
            400,
            "stream.invalid_rehearsal",
        )
        rehearsal = await publish(http, stream_id, key, peers, "?rehearsal=1")
        assert rehearsal.status_code == 201, rehearsal.text
        assert rehearsal.headers["location"].startswith(f"/api/streams/{stream_id}/whip/")
        assert (await stats(http, stream_id))["status"] == "scheduled"
        second = await publish(http, stream_id, key, peers)
        assert error_code(second) == (409, "stream.publisher_connected")

        # Visitors, signed in or not, get the usual refusal of a stream that is not live.
        for token in ("", visitor):
            refused = await watch(http, stream_id, peers, token)
            assert error_code(refused.response) == (409, "stream.not_live")
        # The owner sees the rehearsal as viewers will, and is not counted as one.
        preview = await watch(http, stream_id, peers, owner)
        assert preview.response.status_code == 201, preview.response.text
        video = await first_frames(preview, "video", 3)
        assert all(isinstance(f, av.VideoFrame) and (f.width, f.height) == SMALL for f in video)
        figures = await stats(http, stream_id)
        assert (figures["live_viewers"], figures["total_views"]) == (0, 0)
        assert (await http.get(f"/live/{stream_id}/index.m3u8")).status_code == 404

        # Only the stream's managers take it live.
        golive = f"/api/streams/{stream_id}/golive"
        assert (await http.post(golive)).status_code == 401
        as_visitor = await http.post(golive, headers={"Authorization": f"Bearer {visitor}"})
        assert error_code(as_visitor) == (403, "stream.forbidden")
        went = await http.post(golive, headers={"Authorization": f"Bearer {owner}"})
        assert went.status_code == 200 and went.json() == {"status": "live"}
        again = await http.post(golive, headers={"Authorization": f"Bearer {owner}"})
        assert error_code(again) == (409, "stream.not_rehearsing")
        assert (await stats(http, stream_id))["status"] == "live"

        # The same publisher, now public: a signed-out viewer decodes it, and is counted; HLS runs.
        viewer = await watch(http, stream_id, peers)
        assert viewer.response.status_code == 201, viewer.response.text
        assert len(await first_frames(viewer, "video", 3)) == 3
        await eventually(lambda: stats(http, stream_id), lambda s: s["total_views"] == 1, "the view")
        playlist = f"/live/{stream_id}/index.m3u8"
        await eventually(lambda: http.get(playlist), lambda r: r.status_code == 200, "HLS")
        assert error_code(await publish(http, stream_id, key, peers, "?rehearsal=1")) == (
            409,
            "stream.publisher_connected",
        )

        # Its DELETE ends the broadcast, as any publisher's does.
        ended = await http.delete(rehearsal.headers["location"], headers={"Authorization": f"Bearer {key}"})
        assert ended.status_code == 200
        assert (await stats(http, stream_id))["status"] == "ended"
        assert not plane.rehearsing(stream_id)


async def test_a_rehearsal_that_ends_leaves_the_stream_scheduled(
    live_server: LiveServer, peers: list[RTCPeerConnection]
) -> None:
    await login(live_server, "owner@example.com", "exhibitor")
    stream_id = live_server.call(
        create_stream(live_server.app.state.platform.db, owner_email="owner@example.com")
    )
    key = live_server.call(stream_key(live_server, stream_id))
    plane = live_server.app.state.platform.get(MediaPlane)
    plane.reconnect_grace = 0.01  # a lost *broadcast* would be ended at once: a rehearsal is not

    async def drop(encoder: RTCPeerConnection) -> None:
        """The encoder vanishes once connected (its close tells the server at once)."""
        await until(lambda: encoder.connectionState == "connected")
        await encoder.close()
        await until(lambda: stream_id not in plane.publishers)

    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        # Stopped by its DELETE: nobody saw anything, the broadcast can still start.
        first = await publish(http, stream_id, key, peers, "?rehearsal=1")
        assert first.status_code == 201, first.text
        stopped = await http.delete(first.headers["location"], headers={"Authorization": f"Bearer {key}"})
        assert stopped.status_code == 200
        assert (await stats(http, stream_id))["status"] == "scheduled"
        assert not plane.rehearsing(stream_id)

        # Its encoder vanishes without a DELETE: the stream stays scheduled, no grace is counted.
        second = await publish(http, stream_id, key, peers, "?rehearsal=true")
        assert second.status_code == 201, second.text
        await until(lambda: plane.publishers.get(stream_id) is not None and plane.rehearsing(stream_id))
        await drop(peers[-1])
        assert (await stats(http, stream_id))["status"] == "scheduled"
        assert not plane.rehearsing(stream_id)

        # A plain WHIP POST goes live at once, as the contract says. Its encoder drops: the stream
        # stays live for it to come back, and cannot be rehearsed meanwhile.
        plane.reconnect_grace = 600.0
        live = await publish(http, stream_id, key, peers)
        assert live.status_code == 201, live.text
        assert (await stats(http, stream_id))["status"] == "live"
        await until(lambda: plane.publishers.get(stream_id) is not None)
        await drop(peers[-1])
        assert (await stats(http, stream_id))["status"] == "live"
        assert error_code(await publish(http, stream_id, key, peers, "?rehearsal=1")) == (409, "stream.live")
        back = await publish(http, stream_id, key, peers)
        assert back.status_code == 201, back.text
        await http.delete(back.headers["location"], headers={"Authorization": f"Bearer {key}"})
        assert (await stats(http, stream_id))["status"] == "ended"
        ended = await publish(http, stream_id, key, peers, "?rehearsal=1")
        assert error_code(ended) == (409, "stream.ended")


def golive_config(page: httpx.Response) -> dict[str, Any]:
    assert page.status_code == 200, page.text
    found = re.search(r'<script type="application/json" id="golive-config">(.*?)</script>', page.text, re.S)
    assert found is not None
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def test_the_go_live_page_offers_go_live_for_a_rehearsal_another_process_holds(app: Starlette) -> None:
    # With ``expo serve --workers N``, OBS may rehearse through one process while the presenter's
    # go-live page is served by another: it still offers "Go live now" (which that process forwards).
    platform = app.state.platform
    await make_account(app, "owner@example.com", "exhibitor")
    stream_id = await create_stream(platform.db, owner_email="owner@example.com")
    platform.get(Cluster).listen_on("127.0.0.1", 41001)  # one process of several
    page = f"/streams/{stream_id}/live"
    async with browser(app, "owner@example.com") as owner:
        assert golive_config(await owner.get(page))["rehearsing"] is False
        await platform.bus.presence_touch(PUBLISHERS_KEY, f"{stream_id}/elsewhere", 60.0)
        shown = golive_config(await owner.get(page))
        assert shown["rehearsing"] is True and shown["status"] == "scheduled"
        # Once live, the publisher over there is the broadcast itself, not a rehearsal.
        async with platform.db.session() as session:
            await services.go_live(session, await services.get_stream(session, stream_id))
        shown = golive_config(await owner.get(page))
        assert shown["rehearsing"] is False and shown["status"] == "live"
