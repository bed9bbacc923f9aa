"""Telepresence rooms through the real HTTP server: aiortc participants that see each other through
the server's SFU, the realtime channel that tells them who comes and goes, every refusal, the
command line, and two Chromium profiles in one room with their fake cameras."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from playwright.async_api import Browser, Page
from sqlmodel import select
from starlette.applications import Starlette

from expo.accounts.services import create_user
from expo.cli import main
from expo.expos.services import ensure_expo, find_expo
from streaming import room_services
from streaming.broadcaster import ClockPattern, Tone
from streaming.codecs import preferred_codecs
from streaming.models import Room
from streaming.rooms import RoomPlane
from tests.booths.web import browser, make_account, post_form
from tests.conftest import LiveServer, signup_and_login
from tests.streaming.teams import give_booth, join_team
from tests.streaming.test_e2e_browser import collect_errors, eventually
from tests.streaming.test_whip_whep import LOOPBACK, SDP, SMALL, until

KEYS = ("host_key", "guest_key")


def new_room(server: LiveServer, title: str = "Contract signing") -> Room:
    async def create() -> Room:
        async with server.app.state.platform.db.session() as session:
            expo = await ensure_expo(session, "fair", "Fair")
            return await room_services.create_room(session, expo=expo, title=title, owner=None)

    return server.call(create())


async def organizer_of(server: LiveServer, http: httpx.AsyncClient) -> dict[str, str]:
    """Bearer headers of an organizer on the team of the command-line expo "fair"."""
    email, password = "organizer@example.com", "correct horse battery"

    async def create() -> None:
        async with server.app.state.platform.db.session() as session:
            await create_user(session, email=email, password=password, role="organizer")
        await join_team(server.app.state.platform.db, email, "fair")

    server.call(create())
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@dataclass
class Member:
    """An aiortc participant: its join answer, its sending connection, what it receives."""

    http: httpx.AsyncClient
    room: int
    joined: dict[str, Any]
    pcs: list[RTCPeerConnection] = field(default_factory=list)
    tracks: dict[str, dict[str, MediaStreamTrack]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.joined["id"])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.joined['secret']}"}

    @property
    def url(self) -> str:
        return f"/api/rooms/{self.room}/participants/{self.id}"

    async def publish(self, audio: MediaStreamTrack | None = None, path: str = "publish") -> httpx.Response:
        """Send a clock picture and ``audio`` (a tone by default); ``path="screen"`` shares a
        screen instead (the picture alone)."""
        pc = RTCPeerConnection(LOOPBACK)
        self.pcs.append(pc)
        video = pc.addTransceiver(ClockPattern(*SMALL), direction="sendonly")
        video.setCodecPreferences(preferred_codecs("video"))
        if path == "publish":
            pc.addTransceiver(audio or Tone(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        response = await self.http.post(
            f"{self.url}/{path}", content=pc.localDescription.sdp, headers={**SDP, **self.auth}
        )
        if response.status_code == 201:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def receive(self, other: Member, screen: bool = False) -> httpx.Response:
        """Receive ``other``'s camera and microphone, or their shared ``screen`` (kept under the
        key ``"{id}:screen"`` of ``tracks``)."""
        pc = RTCPeerConnection(LOOPBACK)
        self.pcs.append(pc)
        pc.addTransceiver("video", direction="recvonly")
        if not screen:
            pc.addTransceiver("audio", direction="recvonly")
        tracks = self.tracks.setdefault(f"{other.id}:screen" if screen else other.id, {})
        pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
        await pc.setLocalDescription(await pc.createOffer())
        response = await self.http.post(
            f"{self.url}/subscriptions/{other.id}" + ("/screen" if screen else ""),
            content=pc.localDescription.sdp,
            headers={**SDP, **self.auth},
        )
        if response.status_code == 201:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=response.text, type="answer"))
        return response

    async def frames(self, other: Member, kind: str, count: int, screen: bool = False) -> list[Any]:
        key = f"{other.id}:screen" if screen else other.id
        await until(lambda: kind in self.tracks.get(key, {}), timeout=15)
        track = self.tracks[key][kind]
        async with asyncio.timeout(20):
            return [await track.recv() for _ in range(count)]

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


@pytest.fixture
async def members() -> AsyncIterator[list[Member]]:
    joined: list[Member] = []
    yield joined
    for member in joined:
        await member.close()


async def join(
    http: httpx.AsyncClient, room: Room, key: str, members: list[Member], name: str = ""
) -> Member:
    assert room.id is not None
    response = await http.post(f"/api/rooms/{room.id}/participants", json={"key": key, "name": name})
    assert response.status_code == 201, response.text
    member = Member(http, room.id, response.json())
    members.append(member)
    return member


async def next_event(socket: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == "event":
                return frame["data"]  # type: ignore[no-any-return]


async def test_two_participants_see_each_other_through_the_server_and_hear_who_leaves(
    live_server: LiveServer, members: list[Member]
) -> None:
    room = new_room(live_server)
    plane = live_server.app.state.platform.get(RoomPlane)
    ws_url = live_server.url.replace("http", "ws") + "/ws"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        host = await join(http, room, room.host_key, members, name="Ann <b>Buyer</b>")
        assert host.joined["role"] == "host" and host.joined["participants"] == []
        async with websockets.connect(ws_url, origin=live_server.url) as socket:  # type: ignore[arg-type]
            await socket.send(json.dumps({"type": "subscribe", "channel": host.joined["channel"]}))
            guest = await join(http, room, room.guest_key, members)
            # Without a name, a guest is numbered by arrival (pages say it in their language).
            assert guest.joined["role"] == "guest" and guest.joined["name"] == "Guest 2"
            assert guest.joined["named"] is False
            # The name is kept as text; pages set it with textContent, never as HTML.
            assert guest.joined["participants"] == [
                {
                    "id": host.id,
                    "name": "Ann <b>Buyer</b>",
                    "named": True,
                    "number": 1,
                    "role": "host",
                    "publishing": False,
                    "media": None,
                    "hand": False,
                    "muted": False,
                    "camera_off": False,
                    "screen": None,
                    "reconnecting": False,
                }
            ]
            assert await next_event(socket) == {
                "type": "joined",
                "participant": {
                    "id": guest.id,
                    "name": "Guest 2",
                    "named": False,
                    "number": 2,
                    "role": "guest",
                    "publishing": False,
                    "media": None,
                    "hand": False,
                    "muted": False,
                    "camera_off": False,
                    "screen": None,
                    "reconnecting": False,
                },
            }

            sending = await host.publish()
            assert sending.status_code == 201
            # The answer asks the microphone's encoder for DTX: nearly silent while nobody speaks.
            opus = re.search(r"a=rtpmap:(\d+) opus/", sending.text)
            assert opus and f"a=fmtp:{opus.group(1)} usedtx=1\r\n" in sending.text
            assert (await guest.publish()).status_code == 201
            published = await next_event(socket)
            assert published["type"] == "published" and published["participant"]["id"] == host.id
            assert published["participant"]["publishing"] and published["participant"]["media"]
            assert (await host.receive(guest)).status_code == 201
            response = await guest.receive(host)
            assert response.status_code == 201
            assert response.headers["location"] == f"{guest.url}/subscriptions/{host.id}"

            # Each decodes the other's picture and sound, forwarded by the server, never decoded there.
            for viewer, sender in ((host, guest), (guest, host)):
                video = await viewer.frames(sender, "video", 5)
                assert all(isinstance(f, av.VideoFrame) and (f.width, f.height) == SMALL for f in video)
                audio = await viewer.frames(sender, "audio", 3)
                assert all(isinstance(f, av.AudioFrame) for f in audio)
            publications = plane.media.router.publications(f"room:{room.id}:{host.id}")
            assert {p.kind for p in publications} == {"audio", "video"}
            assert all(p.tap.decoder_thread_released for p in publications)

            # The guest leaves: the host hears of it, and its subscription to the guest is closed.
            assert (await http.delete(guest.url, headers=guest.auth)).status_code == 204
            while (event := await next_event(socket))["type"] != "left":
                pass
            assert event == {"type": "left", "id": guest.id}
        listed = await http.get(f"/api/rooms/{room.id}/participants", params={"key": room.guest_key})
        assert [p["id"] for p in listed.json()["participants"]] == [host.id]
        assert plane.participant(room.id, host.id, host.joined["secret"]).subscriptions == {}
        assert plane.media.router.publications(f"room:{room.id}:{guest.id}") == []

        # The organizers' live dashboard counts the room in session while anyone is in it.
        async def figures() -> dict[str, Any]:
            response = await http.get("/api/expos/fair/dashboard/live", headers=organizer)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        organizer = await organizer_of(live_server, http)
        assert (await figures())["rooms_in_session"] == 1
        assert (await http.delete(host.url, headers=host.auth)).status_code == 204
        assert (await figures())["rooms_in_session"] == 0


async def test_what_a_room_refuses(live_server: LiveServer, members: list[Member]) -> None:
    room = new_room(live_server)
    other = new_room(live_server, "Another")
    plane = live_server.app.state.platform.get(RoomPlane)
    plane.max_participants = 2
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        base = f"/api/rooms/{room.id}"
        cases = [
            (f"{base}/participants", {"key": other.host_key}, 404, "room.not_found"),  # another room's key
            ("/api/rooms/9999/participants", {"key": room.host_key}, 404, "room.not_found"),
            (f"{base}/participants", {"key": room.guest_key, "name": "x" * 61}, 422, None),
            (f"{base}/participants", {"key": ""}, 422, None),
        ]
        for url, body, status, code in cases:
            response = await http.post(url, json=body)
            assert response.status_code == status, (url, body, response.text)
            if code:
                assert response.json()["error"]["code"] == code
        host = await join(http, room, room.host_key, members)
        guest = await join(http, room, room.guest_key, members)
        full = await http.post(f"{base}/participants", json={"key": room.guest_key})
        assert full.status_code == 409 and full.json()["error"]["code"] == "room.full"

        offer = "not an SDP offer"
        for headers, status, code in [
            ({}, 401, "room.secret_required"),
            ({"Authorization": "Bearer wrong"}, 401, "room.bad_secret"),
        ]:
            response = await http.post(f"{host.url}/publish", content=offer, headers={**SDP, **headers})
            assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        response = await http.post(f"{host.url}/publish", content=offer, headers={**SDP, **host.auth})
        assert response.status_code == 400 and response.json()["error"]["code"] == "sdp.invalid"
        response = await http.post(f"{host.url}/publish", content="{}", headers=host.auth)
        assert response.status_code == 415
        # Nobody is sending yet: there is nothing to receive, and nobody receives themselves.
        assert (await host.receive(guest)).json()["error"]["code"] == "room.not_publishing"
        assert (await host.receive(host)).json()["error"]["code"] == "room.no_participant"
        gone = await http.delete(f"{host.url}/subscriptions/{guest.id}", headers=host.auth)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "room.no_subscription"

        # Only the host ends the room; then nobody gets in, and the page says so.
        refused = await http.post(f"{base}/end", json={"key": room.guest_key})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "room.host_only"
        assert (await http.post(f"{base}/end", json={"key": room.host_key})).status_code == 200
        assert plane.participants(room.id) == []
        again = await http.post(f"{base}/participants", json={"key": room.guest_key})
        assert again.status_code == 409 and again.json()["error"]["code"] == "room.ended"
        page = await http.get(f"/rooms/{room.id}", params={"key": room.guest_key})
        assert page.status_code == 200 and "This room has ended." in page.text
        assert (await http.get(f"/rooms/{room.id}", params={"key": "forged"})).status_code == 404

    # A room's channel is only for those given its name: a forged MAC is refused.
    ws_url = live_server.url.replace("http", "ws") + "/ws"
    async with websockets.connect(ws_url, origin=live_server.url) as socket:  # type: ignore[arg-type]
        await socket.send(json.dumps({"type": "subscribe", "channel": f"room:{room.id}:{'0' * 24}"}))
        async with asyncio.timeout(10):
            frame = json.loads(await socket.recv())
        assert frame["type"] == "error" and frame["code"] == "channel.forbidden"


def test_expo_rooms_create_prints_the_contracts_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path}"\npublic_url = "https://expo.example"\n')
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["rooms", "create", "--title", "Cloud signing", "--config", str(config)]) == 0
    created = json.loads(capsys.readouterr().out)
    assert list(created) == ["id", "host_url", "guest_url"]
    assert created["host_url"].startswith(f"https://expo.example/rooms/{created['id']}?key=")
    assert created["guest_url"].startswith(f"https://expo.example/rooms/{created['id']}?key=")
    assert created["host_url"] != created["guest_url"]
    assert main(["rooms", "create", "--title", " ", "--config", str(config)]) == 2


async def room_page(browser: Browser, url: str, errors: list[str], who: str) -> Page:
    """A signed-out profile on ``url``: opening it joins, without a click."""
    context = await browser.new_context(locale="en-US", viewport={"width": 1000, "height": 700})
    page = await context.new_page()
    collect_errors(page, errors, who)
    await page.goto(url)
    return page


async def videos(page: Page) -> list[dict[str, Any]]:
    """The participant of each remote <video>, its picture width and its clock."""
    states: list[dict[str, Any]] = await page.eval_on_selector_all(
        "video[data-participant]",
        "vs => vs.map(v => ({who: v.dataset.participant, width: v.videoWidth, time: v.currentTime}))",
    )
    return states


async def all_play(page: Page, count: int) -> set[str]:
    """``count`` remote videos, each showing a picture whose clock moves on; their participants."""
    first = await eventually(
        lambda: videos(page), lambda vs: len(vs) == count and all(v["width"] > 0 for v in vs), "videos"
    )
    start = {v["who"]: v["time"] for v in first}
    await eventually(
        lambda: videos(page), lambda vs: all(v["time"] > start.get(v["who"], 0) + 1.0 for v in vs), "clocks"
    )
    return set(start)


async def test_three_browsers_meet_in_a_room(live_server: LiveServer, browser: Browser) -> None:
    room = new_room(live_server, "Booth meeting")
    errors: list[str] = []
    base = live_server.url
    host = await room_page(browser, f"{base}/rooms/{room.id}?key={room.host_key}", errors, "host")
    guest = await room_page(browser, f"{base}/rooms/{room.id}?key={room.guest_key}", errors, "guest")
    other = await room_page(browser, f"{base}/rooms/{room.id}?key={room.guest_key}", errors, "other")
    # Each sees the two others: a <video data-participant> per person, playing their fake camera.
    seen = [await all_play(page, 2) for page in (host, guest, other)]
    assert len(set.union(*seen)) == 3
    assert (
        await host.locator("#guest-url").inner_text()
        == room_services.room_urls(live_server.app.state.platform.settings, room).guest_url
    )
    assert await guest.locator("#guest-url").count() == 0

    # A guest leaves: the others' tiles for them go away, and the rest still see each other.
    await guest.click("#leave-button")
    for page in (host, other):
        await eventually(page.locator("video[data-participant]").count, lambda n: n == 1, "tiles")
    await host.click("#end-button")
    for page in (host, other):
        await eventually(page.locator("#room-state").inner_text, lambda s: "ended" in s, "end")
    assert errors == []


async def test_the_rooms_page_opens_lists_and_ends_rooms(app: Starlette) -> None:
    await make_account(app, "seller@example.com", "exhibitor", name="Seller")
    await make_account(app, "rival@example.com", "exhibitor", name="Rival")
    await make_account(app, "buyer@example.com", "visitor", name="Buyer")
    for exhibitor in ("seller@example.com", "rival@example.com"):  # each staffs a booth of the expo
        await give_booth(app.state.platform.db, exhibitor, "main")
    async with browser(app, "buyer@example.com") as buyer:
        assert (await buyer.get("/rooms")).status_code == 403
    async with browser(app, "seller@example.com") as seller:
        assert "You have no rooms yet." in (await seller.get("/rooms")).text
        empty = await post_form(seller, "/rooms", "/rooms", {"title": "   "})
        assert empty.status_code == 422 and "A room title has 1 to 200 characters." in empty.text
        opened = await post_form(seller, "/rooms", "/rooms", {"title": "Price talks <script>"})
        assert opened.status_code == 303
        page = (await seller.get("/rooms")).text
        assert "Price talks &lt;script&gt;" in page and "<script>" not in page.split("</header>")[-1]
        async with app.state.platform.db.session() as session:
            room = (await session.exec(select(Room))).one()
        urls = room_services.room_urls(app.state.platform.settings, room)
        assert urls.guest_url in page and urls.host_url in page
    async with browser(app, "rival@example.com") as rival:
        assert "Price talks" not in (await rival.get("/rooms")).text  # not their room, nor their booth's
        refused = await post_form(rival, "/rooms", f"/rooms/{room.id}/end")
        assert refused.status_code == 403
    async with browser(app, "seller@example.com") as seller:
        ended = await post_form(seller, "/rooms", f"/rooms/{room.id}/end")
        assert ended.status_code == 303
        assert "The room has ended." in (await seller.get("/rooms")).text
    async with app.state.platform.db.session() as session:
        stored = await session.get(Room, room.id)
        assert stored is not None and stored.ended_at is not None


async def test_an_exhibitor_without_a_booth_opens_no_room_and_creates_no_expo(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "loner@example.com", "exhibitor")
    api = await signup_and_login(client, "loner2@example.com", "exhibitor")
    async with browser(app, "loner@example.com") as loner:
        page = await loner.get("/rooms")
        assert page.status_code == 200 and 'action="/rooms"' not in page.text
        refused = await post_form(loner, "/rooms", "/rooms", {"title": "Talks"})
        assert refused.status_code == 403
        assert (
            await post_form(loner, "/rooms", "/rooms", {"title": "Talks", "expo": "main"})
        ).status_code == 404
    response = await client.post("/api/rooms", json={"title": "Talks"}, headers=api)
    assert response.status_code == 403 and response.json()["error"]["code"] == "room.forbidden"
    assert "'expo'" in response.json()["error"]["message"]
    async with app.state.platform.db.session() as session:
        assert await find_expo(session, "main") is None  # the default expo was not made for them
        assert (await session.exec(select(Room))).all() == []


async def test_an_organizer_sees_and_ends_only_the_rooms_of_their_own_expo(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "a@example.com", "organizer")
    await make_account(app, "b@example.com", "organizer")
    db = app.state.platform.db
    await join_team(db, "a@example.com", "aexpo")
    await join_team(db, "b@example.com", "bexpo")
    login = {"password": "correct horse battery"}
    a = (await client.post("/api/auth/login", json={"email": "a@example.com", **login})).json()["token"]
    b = (await client.post("/api/auth/login", json={"email": "b@example.com", **login})).json()["token"]
    opened = await client.post(
        "/api/rooms", json={"title": "B's signing", "expo": "bexpo"}, headers={"Authorization": f"Bearer {b}"}
    )
    assert opened.status_code == 201, opened.text
    intruding = await client.post(
        "/api/rooms", json={"title": "A's", "expo": "bexpo"}, headers={"Authorization": f"Bearer {a}"}
    )
    assert intruding.status_code == 403 and intruding.json()["error"]["code"] == "room.forbidden"
    async with db.session() as session:
        bexpo = await find_expo(session, "bexpo")
        assert bexpo is not None
        cli_room = await room_services.create_room(session, expo=bexpo, title="Press room", owner=None)
    rooms = [await room_of(app, opened.json()["id"]), cli_room]
    secrets = [key for room in rooms for key in (room.host_key, room.guest_key)]

    async with browser(app, "a@example.com") as organizer_a:
        page = (await organizer_a.get("/rooms")).text
        assert not any(key in page for key in secrets) and "B&#39;s signing" not in page
        for room in rooms:
            assert (await post_form(organizer_a, "/rooms", f"/rooms/{room.id}/end")).status_code == 403
        # The form offers A's expo only.
        assert 'value="aexpo"' in page and 'value="bexpo"' not in page
    async with browser(app, "b@example.com") as organizer_b:
        page = (await organizer_b.get("/rooms")).text
        assert all(key in page for key in secrets)  # theirs, and the command line's in their expo
        assert (await post_form(organizer_b, "/rooms", f"/rooms/{cli_room.id}/end")).status_code == 303
    assert (await room_of(app, cli_room.id or 0)).ended_at is not None
    assert (await room_of(app, rooms[0].id or 0)).ended_at is None


async def room_of(app: Starlette, room_id: int) -> Room:
    async with app.state.platform.db.session() as session:
        return await room_services.get_room(session, room_id)


async def test_a_closing_pages_beacon_takes_its_participant_out(
    live_server: LiveServer, members: list[Member]
) -> None:
    room = new_room(live_server)
    plane = live_server.app.state.platform.get(RoomPlane)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        host = await join(http, room, room.host_key, members)
        guest = await join(http, room, room.guest_key, members, name="Ada")
        beacon = f"/api/rooms/{room.id}/participants/{guest.id}/leave"
        plain = {"Content-Type": "text/plain;charset=UTF-8"}
        wrong = await http.post(beacon, content=host.joined["secret"], headers=plain)  # someone else's secret
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "room.bad_secret"
        empty = await http.post(beacon, content=b"", headers=plain)
        assert empty.status_code == 401 and empty.json()["error"]["code"] == "room.secret_required"
        assert len(plane.participants(room.id or 0)) == 2
        left = await http.post(beacon, content=guest.joined["secret"], headers=plain)
        assert left.status_code == 204, left.text
        assert [p.id for p in plane.participants(room.id or 0)] == [host.id]
        again = await http.post(beacon, content=guest.joined["secret"], headers=plain)
        assert again.status_code == 404 and again.json()["error"]["code"] == "room.no_participant"


async def test_a_room_opens_in_a_real_expo_of_the_user_never_a_made_up_one(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "seller@example.com", "exhibitor", name="Seller")
    db = app.state.platform.db
    await give_booth(db, "seller@example.com", "spring")
    async with browser(app, "seller@example.com") as seller:
        # One expo where they may present: the room goes there, with or without naming it.
        assert (
            await post_form(seller, "/rooms", "/rooms", {"title": "Talks", "expo": ""})
        ).status_code == 303
        await give_booth(db, "seller@example.com", "autumn")
        page = (await seller.get("/rooms")).text
        assert "Choose an expo" in page
        # Two: they are asked which, and nothing is made.
        asked = await post_form(seller, "/rooms", "/rooms", {"title": "More talks", "expo": ""})
        assert asked.status_code == 422 and "Choose the expo to open the room in." in asked.text
        assert 'value="More talks"' in asked.text
    async with db.session() as session:
        assert await find_expo(session, "main") is None  # the default expo was never created
        rooms = (await session.exec(select(Room))).all()
        spring = await find_expo(session, "spring")
        assert spring is not None and [(r.title, r.expo_id) for r in rooms] == [("Talks", spring.id)]


async def test_a_participant_renames_themselves_and_the_others_hear_it(
    live_server: LiveServer, members: list[Member]
) -> None:
    room = new_room(live_server)
    ws_url = live_server.url.replace("http", "ws") + "/ws"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as http:
        host = await join(http, room, room.host_key, members)
        guest = await join(http, room, room.guest_key, members)
        name_url = f"{guest.url}/name"
        async with websockets.connect(ws_url, origin=live_server.url) as socket:  # type: ignore[arg-type]
            await socket.send(json.dumps({"type": "subscribe", "channel": host.joined["channel"]}))
            async with asyncio.timeout(10):
                assert json.loads(await socket.recv())["type"] == "subscribed"
            renamed = await http.put(name_url, json={"name": "  Ada <b>Buyer</b> "}, headers=guest.auth)
            assert renamed.status_code == 200, renamed.text
            assert renamed.json()["name"] == "Ada <b>Buyer</b>" and renamed.json()["named"] is True
            event = await next_event(socket)
            assert event["type"] == "renamed"
            assert (event["participant"]["id"], event["participant"]["name"]) == (
                guest.id,
                "Ada <b>Buyer</b>",
            )
        listed = await http.get(f"/api/rooms/{room.id}/participants", params={"key": room.host_key})
        assert {p["id"]: p["name"] for p in listed.json()["participants"]}[guest.id] == "Ada <b>Buyer</b>"

        # Blank, too long, someone else's secret: refused, and the name stays.
        for body, headers, status, code in [
            ({"name": "   "}, guest.auth, 422, "room.invalid_name"),
            ({"name": "x" * 61}, guest.auth, 422, "room.invalid_name"),
            ({}, guest.auth, 422, None),
            ({"name": "Mallory"}, host.auth, 401, "room.bad_secret"),
            ({"name": "Mallory"}, {}, 401, "room.secret_required"),
        ]:
            response = await http.put(name_url, json=body, headers=headers)
            assert response.status_code == status, (body, response.text)
            if code:
                assert response.json()["error"]["code"] == code
        listed = await http.get(f"/api/rooms/{room.id}/participants", params={"key": room.host_key})
        assert {p["id"]: p["name"] for p in listed.json()["participants"]}[guest.id] == "Ada <b>Buyer</b>"
