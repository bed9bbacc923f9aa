"""A room on air through the real HTTP server: two aiortc participants send H.264 pictures of two
sizes, the host puts the room on air into a broadcast, a WHEP viewer decodes one participant and
then, after the host switches, the other, without a decoding error; ffprobe decodes the HLS of
the broadcast; a WHIP encoder is refused while the room feeds it; off air ends the broadcast for
its viewers; and a process that starts ends a broadcast left on air by one that stopped."""

from __future__ import annotations

import asyncio
from typing import Any

import av
import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription

from streaming import services
from streaming.broadcaster import ClockPattern, Tone
from streaming.codecs import preferred_codecs
from streaming.models import RoomOnAir, Stream, StreamStatus
from streaming.on_air import OnAirDesk
from streaming.plane import MediaPlane
from tests.conftest import LiveServer
from tests.streaming.test_cluster import ended, probe
from tests.streaming.test_rooms import Member, join, members, new_room, organizer_of
from tests.streaming.test_whip_whep import LOOPBACK, SDP, SMALL, new_stream, peers, play, publish, until

__all__ = ["members", "peers"]  # fixtures

OTHER = (192, 108)  # the second participant's picture: told apart from the first by its size


async def send(member: Member, size: tuple[int, int]) -> None:
    """The member sends a moving picture of ``size`` in H.264 (as room pages do) and a tone."""
    pc = RTCPeerConnection(LOOPBACK)
    member.pcs.append(pc)
    video = pc.addTransceiver(ClockPattern(*size), direction="sendonly")
    video.setCodecPreferences(preferred_codecs("video"))
    pc.addTransceiver(Tone(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    response = await member.http.post(
        f"{member.url}/publish", content=pc.localDescription.sdp, headers={**SDP, **member.auth}
    )
    assert response.status_code == 201, response.text
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))


async def frames_until(track: Any, size: tuple[int, int], timeout: float = 20.0) -> int:
    """Decode the viewer's video until a picture of ``size`` comes; how many came before it."""
    before = 0
    async with asyncio.timeout(timeout):
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            if (frame.width, frame.height) == size:
                return before
            before += 1


async def test_a_room_on_air_feeds_a_broadcast_switching_at_keyframes(
    live_server: LiveServer, members: list[Member], peers: list[RTCPeerConnection]
) -> None:
    room = new_room(live_server)
    stream_id, key = new_stream(live_server)
    platform = live_server.app.state.platform
    on_air_url = f"/api/rooms/{room.id}/on-air"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        organizer = await organizer_of(live_server, http)
        ann = await join(http, room, room.host_key, members, name="Ann")
        bo = await join(http, room, room.guest_key, members, name="Bo")
        await send(ann, SMALL)
        await send(bo, OTHER)

        # The host sees the broadcasts they may put the room on air into; a guest's key may not.
        state = await http.get(on_air_url, params={"key": room.host_key}, headers=organizer)
        assert state.status_code == 200, state.text
        assert state.json()["on_air"] is False
        assert stream_id in [s["id"] for s in state.json()["streams"]]
        guest = await http.get(on_air_url, params={"key": room.guest_key})
        assert guest.status_code == 403 and guest.json()["error"]["code"] == "room.host_only"
        body = {"key": room.host_key, "stream_id": stream_id, "feed": ann.id}
        assert (await http.put(on_air_url, json=body)).status_code == 401  # signed out

        on = await http.put(on_air_url, json=body, headers=organizer)
        assert on.status_code == 200, on.text
        assert on.json()["on_air"] is True and on.json()["stream_id"] == stream_id
        assert on.json()["watch_url"].endswith(f"/watch/{stream_id}")
        assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "live"
        again = await http.put(on_air_url, json=body, headers=organizer)
        assert again.status_code == 409 and again.json()["error"]["code"] == "on_air.busy"

        # A WHEP viewer of the broadcast decodes Ann's picture and sound, forwarded, not re-encoded.
        player = await play(http, stream_id)
        peers.append(player.pc)
        assert player.response.status_code == 201, player.response.text
        await until(lambda: "video" in player.tracks and "audio" in player.tracks, timeout=15)
        await frames_until(player.tracks["video"], SMALL)
        audio = await player.tracks["audio"].recv()
        assert isinstance(audio, av.AudioFrame) and audio.sample_rate == 48000

        # The room is the broadcast's one source: an encoder is refused while it feeds it.
        encoder = await publish(http, stream_id, key)
        assert encoder.response.status_code == 409
        assert encoder.response.json()["error"]["code"] == "stream.publisher_connected"

        # The host puts Bo on air: the same viewer goes on decoding, now Bo's picture.
        switched = await http.put(f"{on_air_url}/feed", json={"key": room.host_key, "feed": bo.id})
        assert switched.status_code == 200, switched.text
        assert switched.json()["feed"] == bo.id
        await frames_until(player.tracks["video"], OTHER)
        for _ in range(10):  # and keeps decoding Bo, no error
            frame = await player.tracks["video"].recv()
            assert isinstance(frame, av.VideoFrame) and (frame.width, frame.height) == OTHER
        state = await http.get(on_air_url, params={"key": room.host_key})
        assert state.json()["source"] == bo.id
        unknown = await http.put(f"{on_air_url}/feed", json={"key": room.host_key, "feed": "abc123"})
        assert unknown.status_code == 404

        # HLS of the broadcast, muxed from the same frames, decodes.
        async def hls_ready() -> bool:
            return (await http.get(f"/live/{stream_id}/index.m3u8")).status_code == 200

        async with asyncio.timeout(20):
            while not await hls_ready():
                await asyncio.sleep(0.2)
        hls = await asyncio.to_thread(probe, f"{live_server.url}/live/{stream_id}/index.m3u8")
        assert hls["video"]["codec_name"] == "h264" and hls["audio"]["codec_name"] == "aac"

        # Off air: the broadcast ends and its viewer sees the end; the room goes on.
        off = await http.post(f"{on_air_url}/end", json={"key": room.host_key})
        assert off.status_code == 200 and off.json()["on_air"] is False
        assert (await http.get(f"/api/streams/{stream_id}/stats")).json()["status"] == "ended"
        async with asyncio.timeout(15):
            while not await ended(player):
                pass
        assert platform.get(MediaPlane).publishers.get(stream_id) is None
        listed = await http.get(f"/api/rooms/{room.id}/participants", params={"key": room.host_key})
        assert {p["id"] for p in listed.json()["participants"]} == {ann.id, bo.id}
        off_again = await http.put(f"{on_air_url}/feed", json={"key": room.host_key, "feed": "auto"})
        assert off_again.status_code == 409 and off_again.json()["error"]["code"] == "on_air.off"

    async def link() -> RoomOnAir | None:
        async with platform.db.session() as session:
            row: RoomOnAir | None = await session.get(RoomOnAir, room.id)
            return row

    assert live_server.call(link()) is None


async def test_a_new_room_broadcast_and_the_room_emptying_take_it_off_air(
    live_server: LiveServer, members: list[Member]
) -> None:
    room = new_room(live_server, "Port of Qingdao signing")
    platform = live_server.app.state.platform
    on_air_url = f"/api/rooms/{room.id}/on-air"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        organizer = await organizer_of(live_server, http)
        body = {"key": room.host_key}
        empty = await http.put(on_air_url, json=body, headers=organizer)
        assert empty.status_code == 409 and empty.json()["error"]["code"] == "on_air.empty"
        ann = await join(http, room, room.host_key, members, name="Ann")
        await send(ann, SMALL)
        # Without a broadcast named, one titled after the room is made, fed by whoever sends.
        on = await http.put(on_air_url, json=body, headers=organizer)
        assert on.status_code == 200, on.text
        stream_id = on.json()["stream_id"]
        assert on.json()["feed"] == "auto"
        await until(lambda: platform.get(OnAirDesk).state(room.id).switch.source == ann.id, timeout=15)

        async def stream() -> Stream:
            async with platform.db.session() as session:
                return await services.get_stream(session, stream_id)

        assert live_server.call(stream()).title == "Port of Qingdao signing"
        # The last one leaves: the room is off air and its broadcast has ended.
        assert (await http.delete(ann.url, headers=ann.auth)).status_code == 204
        await until(lambda: live_server.call(stream()).status == StreamStatus.ENDED, timeout=10)
        assert platform.get(OnAirDesk).state(room.id) is None


async def test_a_process_that_starts_ends_a_broadcast_left_on_air(live_server: LiveServer) -> None:
    room = new_room(live_server)
    stream_id, _ = new_stream(live_server)
    platform = live_server.app.state.platform

    async def left_on_air() -> None:
        # What a process that died while the room was on air leaves behind.
        async with platform.db.session() as session:
            row = await services.get_stream(session, stream_id)
            row.status = StreamStatus.LIVE.value
            session.add(row)
            assert room.id is not None
            session.add(RoomOnAir(room_id=room.id, stream_id=stream_id))
            await session.commit()

    async def after_start() -> tuple[str, RoomOnAir | None]:
        await platform.get(OnAirDesk).start()
        async with platform.db.session() as session:
            row = await services.get_stream(session, stream_id)
            return row.status, await session.get(RoomOnAir, room.id)

    live_server.call(left_on_air())
    status, link = live_server.call(after_start())
    assert status == StreamStatus.ENDED and link is None
