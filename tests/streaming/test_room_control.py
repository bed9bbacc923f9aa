"""Room control through the real HTTP server: a room's capacity, its lobby (admit, turn away),
its lock, and the host's hand on the others (remove, ask to mute, lower a raised hand), each
heard by the pages on the room's channel. Browsers: test_room_control_browser.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from expo.config import Settings
from expo.expos.services import ensure_expo
from streaming import room_services
from streaming.models import Room, RoomKind
from streaming.rooms import RoomPlane
from tests.booths.web import browser, make_account
from tests.conftest import LiveServer, make_settings
from tests.streaming import test_cluster, test_rooms
from tests.streaming.in_room import host_and_guest, listening
from tests.streaming.teams import join_team
from tests.streaming.test_multiprocess import ServerProcess
from tests.streaming.test_rooms import Member, join, new_room, next_event, room_of
from tests.streaming.test_whip_whep import SDP


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Both stores: settings, the lock and attendance are written there."""
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


members = test_rooms.members  # the fixture: aiortc participants, closed after the test


def room_of_kind(server: LiveServer, kind: RoomKind) -> Room:
    """A room opened by a person (not the command line): its kind's defaults apply."""

    async def create() -> Room:
        async with server.app.state.platform.db.session() as session:
            expo = await ensure_expo(session, "fair", "Fair")
            room = await room_services.add_room(session, expo=expo, title="Talks", owner=None, kind=kind)
            await session.commit()
            return room

    return server.call(create())


async def save(server: LiveServer, room: Room) -> None:
    async with server.app.state.platform.db.session() as session:
        session.add(room)
        await session.commit()


async def put_settings(http: httpx.AsyncClient, room: Room, **change: Any) -> httpx.Response:
    return await http.put(f"/api/rooms/{room.id}/settings", json={"key": room.host_key, **change})


async def listed(http: httpx.AsyncClient, room: Room, key: str) -> dict[str, Any]:
    response = await http.get(f"/api/rooms/{room.id}/participants", params={"key": key})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def test_each_kind_has_its_capacity_and_the_host_changes_it(
    live_server: LiveServer, members: list[Member]
) -> None:
    meeting = room_of_kind(live_server, RoomKind.BOOTH_MEETING)
    signing = room_of_kind(live_server, RoomKind.SIGNING_CEREMONY)
    room = new_room(live_server)  # the command line's: a negotiation without a lobby
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        assert (await listed(http, meeting, meeting.guest_key))["settings"] == {
            "capacity": 6,
            "lobby": False,
            "locked": False,
            "limit": 12,
        }
        assert (await listed(http, signing, signing.host_key))["settings"]["capacity"] == 8
        assert (await listed(http, signing, signing.host_key))["settings"]["lobby"] is True
        assert (await listed(http, room, room.host_key))["settings"]["lobby"] is False
        # Nor has a booth's walk-in room: "Meet us now" invites visitors straight in.
        walk_in = room_of_kind(live_server, RoomKind.NEGOTIATION)
        assert (await listed(http, walk_in, walk_in.host_key))["settings"]["lobby"] is True
        walk_in.walk_in = True
        live_server.call(save(live_server, walk_in))
        assert (await listed(http, walk_in, walk_in.host_key))["settings"]["lobby"] is False

        # Only the host's key changes it, and only from 2 to the server's limit.
        refused = await http.put(
            f"/api/rooms/{room.id}/settings", json={"key": room.guest_key, "capacity": 2}
        )
        assert error(refused) == (403, "room.host_only")
        for capacity in (1, 13):
            assert error(await put_settings(http, room, capacity=capacity)) == (422, "room.invalid_capacity")
        changed = await put_settings(http, room, capacity=2)
        assert changed.status_code == 200 and changed.json()["capacity"] == 2

        await join(http, room, room.host_key, members)
        await join(http, room, room.guest_key, members)
        full = await http.post(f"/api/rooms/{room.id}/participants", json={"key": room.guest_key})
        assert error(full) == (409, "room.full")
        assert "full (2 people)" in full.json()["error"]["message"]
        # Room for one more once the host says so.
        assert (await put_settings(http, room, capacity=3)).status_code == 200
        await join(http, room, room.guest_key, members)
        assert len((await listed(http, room, room.guest_key))["participants"]) == 3


async def test_a_guest_waits_in_the_lobby_until_the_host_admits_or_turns_them_away(
    live_server: LiveServer, members: list[Member]
) -> None:
    room = room_of_kind(live_server, RoomKind.NEGOTIATION)
    plane = live_server.app.state.platform.get(RoomPlane)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        host = await join(http, room, room.host_key, members)
        assert host.joined["waiting"] is False  # the host never waits
        async with listening(live_server, host.joined["channel"]) as socket:
            ada = await join(http, room, room.guest_key, members, name="Ada")
            assert ada.joined["waiting"] is True and ada.joined["participants"] == []
            knock = await next_event(socket)
            assert knock["type"] == "waiting" and knock["participant"]["name"] == "Ada"
            bob = await join(http, room, room.guest_key, members, name="Bob")
            await next_event(socket)

            # The host's key lists who waits; a guest's does not, and nobody waiting is "in".
            as_host = await listed(http, room, room.host_key)
            assert [p["name"] for p in as_host["waiting"]] == ["Ada", "Bob"]
            assert [p["id"] for p in as_host["participants"]] == [host.id]
            assert (await listed(http, room, room.guest_key))["waiting"] == []
            # Waiting, they send no media, receive nobody, raise no hand.
            assert error(await ada.publish()) == (403, "room.lobby")
            assert error(await http.put(f"{ada.url}/hand", json={"raised": True}, headers=ada.auth)) == (
                403,
                "room.lobby",
            )
            # Only the host lets people in.
            assert error(await http.post(f"{bob.url}/lobby/{ada.id}/admit", headers=bob.auth)) == (
                403,
                "room.host_only",
            )

            admitted = await http.post(f"{host.url}/lobby/{ada.id}/admit", headers=host.auth)
            assert admitted.status_code == 200 and admitted.json()["name"] == "Ada"
            event = await next_event(socket)
            assert event["type"] == "admitted" and event["participant"]["id"] == ada.id
            again = await http.post(f"{host.url}/lobby/{ada.id}/admit", headers=host.auth)
            assert error(again) == (404, "room.not_waiting")
            assert (await ada.publish()).status_code == 201

            away = await http.post(f"{host.url}/lobby/{bob.id}/turn-away", headers=host.auth)
            assert away.status_code == 204
            while (event := await next_event(socket))["type"] != "turned_away":
                pass
            assert event == {"type": "turned_away", "id": bob.id}
        # Turned away, Bob's seat is gone; Ada is in the room.
        gone = await http.put(f"{bob.url}/name", json={"name": "Bob"}, headers=bob.auth)
        assert error(gone) == (404, "room.no_participant")
        assert [p.id for p in plane.participants(room.id or 0)] == [host.id, ada.id]
        assert plane.waiting(room.id or 0) == []

        # A full room takes nobody more into its lobby either, nor lets anyone in from it.
        assert (await put_settings(http, room, capacity=2)).status_code == 200
        full = await http.post(f"/api/rooms/{room.id}/participants", json={"key": room.guest_key})
        assert error(full) == (409, "room.full")
        # The host turns the lobby off: guests come straight in.
        assert (await put_settings(http, room, lobby=False, capacity=3)).json()["lobby"] is False
        carol = await join(http, room, room.guest_key, members, name="Carol")
        assert carol.joined["waiting"] is False and len(carol.joined["participants"]) == 2


async def test_a_locked_room_lets_no_guest_in_until_the_host_unlocks_it(
    live_server: LiveServer, members: list[Member]
) -> None:
    room = new_room(live_server)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        host = await join(http, room, room.host_key, members)
        async with listening(live_server, host.joined["channel"]) as socket:
            locked = await put_settings(http, room, locked=True)
            assert locked.status_code == 200 and locked.json()["locked"] is True
            assert await next_event(socket) == {"type": "settings", "settings": locked.json()}
        refused = await http.post(f"/api/rooms/{room.id}/participants", json={"key": room.guest_key})
        assert error(refused) == (409, "room.locked")
        assert refused.json()["error"]["message"] == "The host has locked this room: nobody new can join."
        # The host's own key still gets in (a reloaded host page).
        await join(http, room, room.host_key, members)
        # The lock is kept in the store: it holds whichever process answers, and after a restart.
        assert live_server.call(room_of(live_server.app, room.id or 0)).locked is True
        assert (await put_settings(http, room, locked=False)).json()["locked"] is False
        await join(http, room, room.guest_key, members)


async def test_the_host_removes_asks_to_mute_and_lowers_hands(
    live_server: LiveServer, members: list[Member]
) -> None:
    plane = live_server.app.state.platform.get(RoomPlane)
    async with host_and_guest(live_server, members, guest_name="Ada") as inside:
        http, room, host, guest, socket = inside
        other = await join(http, room, room.guest_key, members, name="Bob")
        assert (await next_event(socket))["participant"]["name"] == "Bob"  # the host hears him come in
        # A guest raises their hand: everyone hears it, and the list shows it.
        raised = await http.put(f"{guest.url}/hand", json={"raised": True}, headers=guest.auth)
        assert raised.status_code == 200 and raised.json()["hand"] is True
        event = await next_event(socket)
        assert event["type"] == "hand" and event["participant"]["hand"] is True
        hands = {p["name"]: p["hand"] for p in (await listed(http, room, room.guest_key))["participants"]}
        assert hands == {"Host": False, "Ada": True, "Bob": False}
        # The host lowers it.
        assert (await http.delete(f"{host.url}/others/{guest.id}/hand", headers=host.auth)).status_code == 204
        event = await next_event(socket)
        assert event["type"] == "hand" and event["participant"]["hand"] is False

        # Asked to mute: only the page of that participant acts on it; no media is touched.
        muted = await http.post(f"{host.url}/others/{guest.id}/mute", headers=host.auth)
        assert muted.status_code == 204
        assert await next_event(socket) == {"type": "mute", "id": guest.id}

        # A guest controls nobody else; the host does not remove themselves.
        for url in (f"{other.url}/others/{guest.id}/remove", f"{other.url}/others/{guest.id}/mute"):
            assert error(await http.post(url, headers=other.auth)) == (403, "room.host_only")
        refused = await http.delete(f"{other.url}/others/{guest.id}/hand", headers=other.auth)
        assert error(refused) == (403, "room.host_only")
        itself = await http.post(f"{host.url}/others/{host.id}/remove", headers=host.auth)
        assert error(itself) == (404, "room.no_participant")

        removed = await http.post(f"{host.url}/others/{guest.id}/remove", headers=host.auth)
        assert removed.status_code == 204
        assert await next_event(socket) == {"type": "removed", "id": guest.id}
        # Their seat is gone at once: the secret they held opens nothing.
        gone = await http.post(f"{guest.url}/publish", content="v=0", headers={**SDP, **guest.auth})
        assert error(gone) == (404, "room.no_participant")
        assert [p.id for p in plane.participants(room.id or 0)] == [host.id, other.id]


async def test_the_rooms_managers_download_who_attended_and_when(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "organizer@example.com", "organizer")
    await make_account(app, "stranger@example.com", "organizer")
    await join_team(app.state.platform.db, "organizer@example.com", "fair")
    await join_team(app.state.platform.db, "stranger@example.com", "elsewhere")
    async with app.state.platform.db.session() as session:
        expo = await ensure_expo(session, "fair", "Fair")
        room = await room_services.add_room(session, expo=expo, title="Talks", owner=None)
        await session.commit()  # a negotiation: guests wait in the lobby
    base = f"/api/rooms/{room.id}/participants"

    async def enter(key: str, name: str) -> dict[str, Any]:
        response = await client.post(base, json={"key": key, "name": name})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def auth(who: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {who['secret']}"}

    host = await enter(room.host_key, "Ann")
    ada = await enter(room.guest_key, "Ada")
    turned = await enter(room.guest_key, "Mallory")
    eve = await enter(room.guest_key, "=SUM(1)")  # a spreadsheet must not run it
    for who in (ada, eve):
        admitted = await client.post(f"{base}/{host['id']}/lobby/{who['id']}/admit", headers=auth(host))
        assert admitted.status_code == 200, admitted.text
    # Turned away from the lobby: never in the room, so not in its attendance.
    away = await client.post(f"{base}/{host['id']}/lobby/{turned['id']}/turn-away", headers=auth(host))
    assert away.status_code == 204
    renamed = await client.put(f"{base}/{ada['id']}/name", json={"name": "Ada Lovelace"}, headers=auth(ada))
    assert renamed.status_code == 200
    removed = await client.post(f"{base}/{host['id']}/others/{eve['id']}/remove", headers=auth(host))
    assert removed.status_code == 204
    assert (await client.delete(f"{base}/{ada['id']}", headers=auth(ada))).status_code == 204
    assert (await client.post(f"/api/rooms/{room.id}/end", json={"key": room.host_key})).status_code == 200

    async with browser(app, "stranger@example.com") as stranger:
        assert (await stranger.get(f"/rooms/{room.id}/attendance.csv")).status_code == 403
    async with browser(app, "organizer@example.com") as organizer:
        assert f"/rooms/{room.id}/attendance.csv" in (await organizer.get("/rooms")).text
        response = await organizer.get(f"/rooms/{room.id}/attendance.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # One row a stay, in order of entry, with the name shown when they left and how they left.
    assert [(r["name"], r["role"], r["how"]) for r in rows] == [
        ("Ann", "host", "ended"),
        ("Ada Lovelace", "guest", "left"),
        ("'=SUM(1)", "guest", "removed"),
    ]
    for row in rows:
        joined = datetime.strptime(row["joined_utc"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        left = datetime.strptime(row["left_utc"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert joined <= left <= datetime.now(UTC) and abs(datetime.now(UTC) - joined) < timedelta(minutes=5)
        assert float(row["minutes"]) >= 0


# Processes A and B on one PostgreSQL and one Redis (see test_cluster).
cluster = test_cluster.cluster


async def test_room_control_works_whichever_process_a_request_reaches(
    cluster: tuple[dict[str, str], ServerProcess, ServerProcess],
) -> None:
    env, a, b = cluster
    created = test_cluster.rooms_create(env)
    room = created["id"]
    host_key, guest_key = (test_cluster.link_key(created, who) for who in ("host", "guest"))
    base = f"/api/rooms/{room}/participants"
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=20) as on_a,
        httpx.AsyncClient(base_url=b.url, timeout=20) as on_b,
    ):
        host = await on_a.post(base, json={"key": host_key})
        assert host.status_code == 201, host.text  # A holds the room from now on
        me = f"{base}/{host.json()['id']}"
        auth = {"Authorization": f"Bearer {host.json()['secret']}"}
        # Every request below reaches B, which forwards it to A.
        lobby = await on_b.put(f"/api/rooms/{room}/settings", json={"key": host_key, "lobby": True})
        assert lobby.status_code == 200 and lobby.json()["lobby"] is True
        guest = await on_b.post(base, json={"key": guest_key, "name": "Bob"})
        assert guest.status_code == 201 and guest.json()["waiting"] is True
        guest_id = guest.json()["id"]
        waiting = (await on_b.get(base, params={"key": host_key})).json()["waiting"]
        assert [p["name"] for p in waiting] == ["Bob"]
        assert (await on_b.post(f"{me}/lobby/{guest_id}/admit", headers=auth)).status_code == 200
        guest_auth = {"Authorization": f"Bearer {guest.json()['secret']}"}
        hand = await on_b.put(f"{base}/{guest_id}/hand", json={"raised": True}, headers=guest_auth)
        assert hand.status_code == 200 and hand.json()["hand"] is True
        assert (await on_b.post(f"{me}/others/{guest_id}/mute", headers=auth)).status_code == 204
        assert (await on_b.post(f"{me}/others/{guest_id}/remove", headers=auth)).status_code == 204
        present = (await on_b.get(base, params={"key": guest_key})).json()["participants"]
        assert [p["id"] for p in present] == [host.json()["id"]]
        locked = await on_b.put(f"/api/rooms/{room}/settings", json={"key": host_key, "locked": True})
        assert locked.status_code == 200
        refused = await on_b.post(base, json={"key": guest_key})
        assert error(refused) == (409, "room.locked")
