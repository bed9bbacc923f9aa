"""SDP offers that must be refused before any media flows (issue 12, finding 9): no DTLS
fingerprint (media without an authenticated key exchange), control characters, ports out of range,
no origin line. For WHIP, WHEP and room offers alike; the broadcast stays as it was."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from aiortc import RTCPeerConnection

from expo.errors import BadRequest
from streaming.broadcaster import ClockPattern, Tone
from streaming.plane import MediaPlane
from streaming.whip import parse_offer
from tests.conftest import LiveServer
from tests.streaming.test_rooms import Member, join, new_room
from tests.streaming.test_whip_whep import LOOPBACK, SDP, SMALL, new_stream, play, publish


async def offer_of(sending: bool) -> str:
    """A genuine aiortc offer: audio and video, sent (WHIP) or received (WHEP)."""
    pc = RTCPeerConnection(LOOPBACK)
    try:
        if sending:
            pc.addTransceiver(ClockPattern(*SMALL), direction="sendonly")
            pc.addTransceiver(Tone(), direction="sendonly")
        else:
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


def without_fingerprint(offer: str) -> str:
    return "".join(line for line in offer.splitlines(keepends=True) if not line.startswith("a=fingerprint:"))


def md5_fingerprint_only(offer: str) -> str:
    lines = [
        "a=fingerprint:md5 00:11:22:33\r\n" if line.startswith("a=fingerprint:") else line
        for line in offer.splitlines(keepends=True)
    ]
    return "".join(lines)


def with_nul(offer: str) -> str:
    return offer.replace("s=-", "s=-\x00", 1)


def with_port_99999(offer: str) -> str:
    lines = offer.splitlines(keepends=True)
    media = next(i for i, line in enumerate(lines) if line.startswith("m="))
    kind, _port, rest = lines[media].split(" ", 2)
    lines[media] = f"{kind} 99999 {rest}"
    return "".join(lines)


def without_origin(offer: str) -> str:
    return "".join(line for line in offer.splitlines(keepends=True) if not line.startswith("o="))


SPOILERS: list[tuple[Callable[[str], str], str]] = [
    (without_fingerprint, "sdp.no_fingerprint"),
    (md5_fingerprint_only, "sdp.no_fingerprint"),
    (with_nul, "sdp.invalid"),
    (with_port_99999, "sdp.invalid"),
    (without_origin, "sdp.invalid"),
]


@pytest.mark.parametrize("sending", [True, False])
async def test_parse_offer_refuses_what_cannot_be_used_safely(sending: bool) -> None:
    offer = await offer_of(sending)
    assert parse_offer(offer.encode(), sending=sending) == offer
    for spoil, code in SPOILERS:
        with pytest.raises(BadRequest) as refused:
            parse_offer(spoil(offer).encode(), sending=sending)
        assert refused.value.code == code, spoil.__name__


async def status_of(http: httpx.AsyncClient, stream_id: int) -> str:
    figures: dict[str, str] = (await http.get(f"/api/streams/{stream_id}/stats")).json()
    return figures["status"]


async def test_whip_and_whep_refuse_offers_without_a_fingerprint(live_server: LiveServer) -> None:
    stream_id, key = new_stream(live_server)
    plane = live_server.app.state.platform.get(MediaPlane)
    whip, whep = f"/api/streams/{stream_id}/whip", f"/api/streams/{stream_id}/whep"
    sending, receiving = await offer_of(True), await offer_of(False)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        for spoil, code in SPOILERS:
            headers = {**SDP, "Authorization": f"Bearer {key}"}
            refused = await http.post(whip, content=spoil(sending).encode(), headers=headers)
            assert refused.status_code == 400, (spoil.__name__, refused.text)
            assert refused.json()["error"]["code"] == code
        assert await status_of(http, stream_id) == "scheduled"
        assert stream_id not in plane.publishers

        # Live for real: a viewer's offer without a fingerprint gets no session either.
        publisher = await publish(http, stream_id, key)
        try:
            assert publisher.response.status_code == 201, publisher.response.text
            for spoil, code in SPOILERS:
                refused = await http.post(whep, content=spoil(receiving).encode(), headers=SDP)
                assert refused.status_code == 400, (spoil.__name__, refused.text)
                assert refused.json()["error"]["code"] == code
            assert plane.viewer_count(stream_id) == 0
            viewer = await play(http, stream_id)  # a genuine offer is still answered
            await viewer.pc.close()
            assert viewer.response.status_code == 201
        finally:
            await publisher.pc.close()


async def test_room_offers_without_a_fingerprint_are_refused(live_server: LiveServer) -> None:
    room = new_room(live_server)
    members: list[Member] = []
    sending, receiving = await offer_of(True), await offer_of(False)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        host = await join(http, room, room.host_key, members)
        guest = await join(http, room, room.guest_key, members)
        for spoil, code in SPOILERS:
            published = await http.post(
                f"{host.url}/publish", content=spoil(sending).encode(), headers={**SDP, **host.auth}
            )
            assert published.status_code == 400, (spoil.__name__, published.text)
            assert published.json()["error"]["code"] == code
            subscribed = await http.post(
                f"{host.url}/subscriptions/{guest.id}",
                content=spoil(receiving).encode(),
                headers={**SDP, **host.auth},
            )
            assert subscribed.status_code == 400, (spoil.__name__, subscribed.text)
            assert subscribed.json()["error"]["code"] == code
