"""A room's media beyond camera and microphone, with aiortc participants through the real server:
who speaks (read from the RTP audio-level header, never decoded), a dropped participant who comes
back into the same seat, a shared screen beside the camera, and mute / camera-off on tiles."""

from __future__ import annotations

from typing import Any

import av
from aiortc.mediastreams import AudioStreamTrack

from streaming.rooms import RoomPlane
from tests.conftest import LiveServer
from tests.streaming import test_rooms
from tests.streaming.in_room import host_and_guest
from tests.streaming.test_rooms import Member, next_event
from tests.streaming.test_whip_whep import until

members = test_rooms.members  # the fixture: aiortc participants, closed after the test


async def events_until(socket: Any, wanted: str, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """Read the channel until an event of type ``wanted``; every event read is kept in ``seen``."""
    while True:
        event = await next_event(socket)
        seen.append(event)
        if event["type"] == wanted:
            return event


async def test_the_one_who_makes_a_sound_is_the_one_speaking(
    live_server: LiveServer, members: list[Member]
) -> None:
    plane = live_server.app.state.platform.get(RoomPlane)
    async with host_and_guest(
        live_server, members, host_name="Ann", guest_name="Bo", listener="guest"
    ) as inside:
        http, room, host, guest, socket = inside
        assert room.id is not None
        assert (await guest.publish(audio=AudioStreamTrack())).status_code == 201  # silence
        assert (await host.publish()).status_code == 201  # a tone
        seen: list[dict[str, Any]] = []
        speaking = await events_until(socket, "speaking", seen)
        assert speaking == {"type": "speaking", "ids": [host.id]}
        assert plane.speakers.active_speaker(room.id) == host.id
        assert plane.speakers.speaking(room.id) == [host.id]
        # The meter read headers only: the audio publication's decoder never started.
        publications = plane.media.router.publications(f"room:{room.id}:{host.id}")
        assert all(p.tap.decoder_thread_released for p in publications)

        # The host leaves: nobody speaks, and nobody is the room's active speaker any more.
        assert (await http.delete(host.url, headers=host.auth)).status_code == 204
        assert plane.speakers.active_speaker(room.id) is None


async def test_a_dropped_participant_comes_back_into_the_same_seat(
    live_server: LiveServer, members: list[Member]
) -> None:
    plane = live_server.app.state.platform.get(RoomPlane)
    async with host_and_guest(live_server, members, guest_name="Bo") as inside:
        http, room, host, guest, socket = inside
        assert room.id is not None
        assert (
            await http.put(f"{guest.url}/hand", json={"raised": True}, headers=guest.auth)
        ).status_code == 200
        seat = plane.participant(room.id, guest.id, guest.joined["secret"])
        stay = seat.stay
        assert (await guest.publish()).status_code == 201
        seen: list[dict[str, Any]] = []
        await events_until(socket, "published", seen)
        assert (await host.receive(guest)).status_code == 201
        assert len(await host.frames(guest, "video", 3)) == 3

        # The guest's network drops: every connection of theirs goes without a word.
        await guest.close()
        guest.pcs.clear()
        host.tracks.pop(guest.id)
        assert (await events_until(socket, "reconnecting", seen))["id"] == guest.id

        # Their page joins again with its token: the same seat, hand still raised.
        again = await http.post(
            f"/api/rooms/{room.id}/participants",
            json={"key": room.guest_key, "rejoin": guest.joined["rejoin"]},
        )
        assert again.status_code == 201, again.text
        assert again.json()["id"] == guest.id and again.json()["secret"] == guest.joined["secret"]
        assert (await guest.publish()).status_code == 201
        published = await events_until(socket, "published", seen)
        assert published["participant"]["id"] == guest.id
        assert published["participant"]["hand"] is True
        assert published["participant"]["reconnecting"] is False
        # The others saw "reconnecting", never "left" and "joined": no ghost tile.
        assert [e["type"] for e in seen if e["type"] in ("left", "joined")] == []
        assert seat.stay == stay
        # And the media flows again.
        assert (await host.receive(guest)).status_code == 201
        assert len(await host.frames(guest, "video", 3)) == 3

        # Their page gives up on a connection the server still thinks is up: joined again,
        # its next publish replaces that connection instead of being refused.
        sending = seat.publisher
        again = await http.post(
            f"/api/rooms/{room.id}/participants",
            json={"key": room.guest_key, "rejoin": guest.joined["rejoin"]},
        )
        assert again.json()["id"] == guest.id
        assert (await guest.publish()).status_code == 201
        assert seat.publisher is not sending and seat.publishing and not seat.reconnecting
        assert sending is not None and sending.ended.is_set()

        # A forged token is no seat: it is a new guest.
        other = await http.post(
            f"/api/rooms/{room.id}/participants", json={"key": room.guest_key, "rejoin": "forged"}
        )
        assert other.status_code == 201 and other.json()["id"] not in (guest.id, host.id)


async def test_a_seat_not_taken_back_in_time_is_freed(live_server: LiveServer, members: list[Member]) -> None:
    plane = live_server.app.state.platform.get(RoomPlane)
    plane.rejoin_grace = 0.5
    async with host_and_guest(live_server, members) as inside:
        http, room, _, guest, socket = inside
        assert room.id is not None
        assert (await guest.publish()).status_code == 201
        seat = plane.participant(room.id, guest.id, guest.joined["secret"])
        await until(lambda: seat.publisher is not None and seat.publisher.connected.is_set())
        seen: list[dict[str, Any]] = []
        await guest.close()
        assert (await events_until(socket, "reconnecting", seen))["id"] == guest.id
        assert (await events_until(socket, "left", seen))["id"] == guest.id
        again = await http.post(
            f"/api/rooms/{room.id}/participants",
            json={"key": room.guest_key, "rejoin": guest.joined["rejoin"]},
        )
        assert again.status_code == 201 and again.json()["id"] != guest.id


async def test_a_shared_screen_is_a_second_picture_beside_the_camera(
    live_server: LiveServer, members: list[Member]
) -> None:
    plane = live_server.app.state.platform.get(RoomPlane)
    async with host_and_guest(live_server, members, host_name="Ann", listener="guest") as inside:
        http, room, host, guest, socket = inside
        assert room.id is not None
        assert (await host.publish()).status_code == 201
        not_yet = await guest.receive(host, screen=True)
        assert not_yet.status_code == 409 and not_yet.json()["error"]["code"] == "room.not_sharing"
        assert (await host.publish(path="screen")).status_code == 201
        seen: list[dict[str, Any]] = []
        shared = await events_until(socket, "screen", seen)
        assert shared["participant"]["id"] == host.id and shared["participant"]["screen"]
        again = await host.publish(path="screen")
        assert again.status_code == 409 and again.json()["error"]["code"] == "room.already_sharing"

        # The guest receives both: the camera and, on a connection of its own, the screen.
        assert (await guest.receive(host)).status_code == 201
        response = await guest.receive(host, screen=True)
        assert response.status_code == 201
        assert response.headers["location"] == f"{guest.url}/subscriptions/{host.id}/screen"
        screen = await guest.frames(host, "video", 3, screen=True)
        assert all(isinstance(f, av.VideoFrame) for f in screen)
        assert len(await guest.frames(host, "video", 3)) == 3
        # A screen is not a person: the room still counts two.
        assert len(plane.participants(room.id)) == 2

        assert (await http.delete(f"{host.url}/screen", headers=host.auth)).status_code == 204
        stopped = await events_until(socket, "screen", seen)
        assert stopped["participant"]["screen"] is None
        assert plane.media.router.publications(f"room:{room.id}:{host.id}:screen") == []
        assert (await http.delete(f"{host.url}/screen", headers=host.auth)).status_code == 404


async def test_mute_and_camera_off_are_told_to_the_others(
    live_server: LiveServer, members: list[Member]
) -> None:
    async with host_and_guest(live_server, members) as inside:
        http, _, host, guest, socket = inside
        response = await http.put(f"{guest.url}/media", json={"muted": True}, headers=guest.auth)
        assert response.status_code == 200 and response.json()["muted"] is True
        event = await events_until(socket, "media", [])
        assert event["participant"]["id"] == guest.id
        assert (event["participant"]["muted"], event["participant"]["camera_off"]) == (True, False)
        response = await http.put(f"{guest.url}/media", json={"camera_off": True}, headers=guest.auth)
        assert (response.json()["muted"], response.json()["camera_off"]) == (True, True)
        wrong = await http.put(f"{guest.url}/media", json={"muted": "loud"}, headers=guest.auth)
        assert wrong.status_code == 422
        stranger = await http.put(f"{guest.url}/media", json={"muted": True}, headers=host.auth)
        assert stranger.status_code == 401
