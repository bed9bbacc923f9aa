"""Who may fetch HLS playlists and segments: public streams stay credential-free and cacheable,
registered-only streams bind every segment URI to the viewer, and a ban revokes both the playlist
and the segment tokens at once, in this process and (over the bus) in the others."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col

from expo.accounts import services as accounts
from expo.accounts.authcache import AuthCache
from expo.accounts.models import User
from expo.bus import Bus, connect_bus
from expo.db import Database
from expo.expos.services import ensure_expo
from expo.platform import Platform
from streaming import chat, services
from streaming.audience import Audience
from streaming.hls import HlsPackager, HlsRegistry
from streaming.hls_access import HlsGate, user_of
from streaming.models import SanctionKind, Visibility
from tests.conftest import LiveServer, create_schema, make_settings
from tests.streaming.synthetic import (
    FFPROBE,
    HEIGHT,
    WIDTH,
    feed,
    ffmpeg_missing,
    h264_packets,
    interleave,
    opus_packets,
)
from tests.streaming.teams import join_team

MEDIA = interleave(h264_packets(5), opus_packets(5))
PASSWORD = "correct horse battery"
URI = re.compile(r'(?:^|URI=")([0-9a-f]{8}-[0-9]+(?:\.[0-9]+)?\.ts[^"\n]*)', re.MULTILINE)


@dataclass
class World:
    """A live stream with packaged segments, its moderator and two signed-in visitors."""

    server: LiveServer
    stream: int
    packager: HlsPackager
    ann: dict[str, str]
    bob: dict[str, str]
    moderator: dict[str, str]
    ann_id: int

    @property
    def platform(self) -> Platform:
        platform: Platform = self.server.app.state.platform
        return platform

    @property
    def gate(self) -> HlsGate:
        return self.platform.get(HlsGate)


async def _setup(platform: Platform, visibility: Visibility) -> tuple[int, HlsPackager, int]:
    async with platform.db.session() as session:
        ann = await accounts.create_user(session, email="ann@example.com", password=PASSWORD)
        for email in ("bob@example.com", "mod@example.com"):
            await accounts.create_user(session, email=email, password=PASSWORD)
        expo = await ensure_expo(session, "demo", "Demo expo")
        stream = await services.create_stream(
            session, expo=expo, title="Keynote", owner=None, visibility=visibility
        )
        stream = await services.go_live(session, stream)
    await join_team(platform.db, "mod@example.com", "demo")
    assert stream.id is not None and ann.id is not None
    packager = await platform.get(HlsRegistry).open(stream.id)
    await feed(packager, MEDIA)
    return stream.id, packager, ann.id


def _login(server: LiveServer, email: str) -> dict[str, str]:
    answer = httpx.post(f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _world(live_server: LiveServer, visibility: Visibility) -> World:
    platform: Platform = live_server.app.state.platform
    stream, packager, ann_id = live_server.call(_setup(platform, visibility))
    ann, bob, moderator = (_login(live_server, f"{name}@example.com") for name in ("ann", "bob", "mod"))
    return World(live_server, stream, packager, ann, bob, moderator, ann_id)


@pytest.fixture
def private(live_server: LiveServer) -> Iterator[World]:
    yield _world(live_server, Visibility.REGISTERED)


@pytest.fixture
def public(live_server: LiveServer) -> Iterator[World]:
    yield _world(live_server, Visibility.PUBLIC)


def media_url(http: httpx.Client, world: World, headers: dict[str, str] | None = None) -> str:
    index = http.get(f"/live/{world.stream}/index.m3u8", headers=headers)
    assert index.status_code == 200, index.text
    return f"/live/{world.stream}/" + index.text.splitlines()[3]


def uris(playlist: str) -> list[str]:
    """Every segment and part URI of a media playlist (EXT-X-PART and the preload hint too)."""
    return URI.findall(playlist)


def segment_urls(http: httpx.Client, world: World, media: str) -> list[str]:
    playlist = http.get(media)
    assert playlist.status_code == 200, playlist.text
    return [f"/live/{world.stream}/{uri}" for uri in uris(playlist.text)]


def whole_segments(urls: list[str]) -> list[str]:
    return [u for u in urls if re.search(r"-[0-9]+\.ts", u)]


def parts(urls: list[str]) -> list[str]:
    return [u for u in urls if re.search(r"-[0-9]+\.[0-9]+\.ts", u)]


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"


# -- registered-only broadcasts ------------------------------------------------------------------


def test_a_registered_viewer_plays_through_segment_uris_bound_to_them(private: World) -> None:
    world = private
    with httpx.Client(base_url=world.server.url) as http:
        assert http.get(f"/live/{world.stream}/index.m3u8").status_code == 401  # signed out
        media = media_url(http, world, world.ann)
        playlist = http.get(media)
        assert playlist.status_code == 200
        assert playlist.headers["cache-control"] == "no-cache, private"
        listed = uris(playlist.text)
        # Segments, parts and the preload hint: every URI carries the viewer's token, and only it.
        assert whole_segments(listed) and parts(listed) and 'PRELOAD-HINT:TYPE=PART,URI="' in playlist.text
        tokens = {uri.split("?t=")[1] for uri in listed}
        assert len(tokens) == 1 and all(uri.count("?") == 1 for uri in listed)
        assert world.gate.segment_viewer(world.stream, tokens.pop()) == f"user:{world.ann_id}"
        assert ".ts\n" not in playlist.text and '.ts"' not in playlist.text

        urls = segment_urls(http, world, media)
        segment = http.get(whole_segments(urls)[0])
        assert segment.status_code == 200 and segment.content[0] == 0x47
        assert segment.headers["cache-control"] == "private, max-age=86400, immutable"
        assert segment.headers["access-control-allow-origin"] == "*"
        part = http.get(parts(urls)[0])
        assert part.status_code == 200 and part.headers["cache-control"].startswith("private")
        assert http.head(whole_segments(urls)[0]).status_code == 200

        bare = whole_segments(urls)[0].split("?")[0]
        viewer_token = media.split("?v=")[1]
        another_stream = world.gate.segment_token(world.stream + 1, f"user:{world.ann_id}")
        # Signed with the server's secret, but expired an hour ago: expiry is the gate's clock.
        past = HlsGate(
            world.platform.db, world.platform.bus, world.platform.secret, clock=lambda: time.time() - 3600
        )
        expired = past.segment_token(world.stream, f"user:{world.ann_id}")
        for url in [
            bare,  # no token
            f"{bare}?t=",
            f"{bare}?t=forged.token",
            f"{bare}?t={another_stream}",
            f"{bare}?t={expired}",
            f"{bare}?t={viewer_token}",  # the playlist's viewer token is not a segment token
            f"{bare}?t=%C3%A9.%C3%A9",
            parts(urls)[0].split("?")[0],
        ]:
            assert_refused(http.get(url))
        # A player that never had the playlist cannot even learn which segments exist.
        assert_refused(http.get(f"/live/{world.stream}/{world.packager.segment_name(99)}"))


def test_a_ban_stops_the_viewers_playlist_and_segment_tokens_at_once(private: World) -> None:
    world = private
    api = f"/api/streams/{world.stream}/sanctions"
    with httpx.Client(base_url=world.server.url) as http:
        ann_media, bob_media = media_url(http, world, world.ann), media_url(http, world, world.bob)
        ann_segments = segment_urls(http, world, ann_media)
        bob_segments = segment_urls(http, world, bob_media)
        assert http.get(ann_segments[0]).status_code == 200
        audience = world.platform.get(Audience)
        assert world.server.call(audience.live_viewers(world.stream)) == 2

        banned = http.post(api, json={"user_id": world.ann_id, "kind": "ban"}, headers=world.moderator)
        assert banned.status_code == 201, banned.text
        # The next poll and every segment URL she holds, tokens unexpired, are refused; Bob plays on.
        assert_refused(http.get(ann_media))
        for url in (ann_segments[0], ann_segments[-1]):
            assert_refused(http.get(url))
        assert http.get(bob_media).status_code == 200
        assert all(http.get(url).status_code == 200 for url in whole_segments(bob_segments))
        assert http.get(f"/live/{world.stream}/index.m3u8", headers=world.ann).status_code == 403

        # A mute is not a ban: she may watch (not write) once the ban is lifted.
        lifted = http.delete(f"{api}/{world.ann_id}", headers=world.moderator)
        assert lifted.status_code == 204, lifted.text
        muted = http.post(api, json={"user_id": world.ann_id, "kind": "mute"}, headers=world.moderator)
        assert muted.status_code == 201
        assert http.get(ann_media).status_code == 200
        assert http.get(ann_segments[0]).status_code == 200


def test_a_disabled_account_stops_playing(private: World) -> None:
    world = private

    async def disable() -> None:
        async with world.platform.db.session() as session:
            await session.exec(update(User).where(col(User.id) == world.ann_id).values(is_active=False))
            await session.commit()
        await world.platform.auth_cache.forget_user(world.ann_id)  # what the admin page does

    with httpx.Client(base_url=world.server.url) as http:
        media = media_url(http, world, world.ann)
        segment = whole_segments(segment_urls(http, world, media))[0]
        world.server.call(disable())
        # The account news reaches the gate through the bus, a moment later.
        deadline = time.monotonic() + 5
        while http.get(segment).status_code != 403:
            assert time.monotonic() < deadline, "the disabled account still fetches segments"
            time.sleep(0.02)
        assert_refused(http.get(media))


@pytest.mark.skipif(ffmpeg_missing, reason="Debian's ffmpeg is not installed")
def test_ffprobe_decodes_the_private_stream_through_the_tokened_uris(private: World) -> None:
    world = private
    with httpx.Client(base_url=world.server.url) as http:
        media = media_url(http, world, world.ann)
        # Its segments need their tokens: ffprobe decoding them proves it sent them.
        assert_refused(http.get(whole_segments(segment_urls(http, world, media))[0].split("?")[0]))
    # No cookie, no header: the player has the URL with the viewer token and follows the segment
    # URIs' query strings, as Safari, hls.js and VLC do.
    command = [FFPROBE, "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0"]
    out = subprocess.run([*command, world.server.url + media], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"aac", f"h264,{WIDTH},{HEIGHT}"}  # listed per program too
    refused = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", world.server.url + media.replace("?v=", "?v=x")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode != 0 and "403" in refused.stderr


# -- public broadcasts ---------------------------------------------------------------------------


def test_public_segments_stay_credential_free_and_cacheable(public: World) -> None:
    world = public
    api = f"/api/streams/{world.stream}"
    with httpx.Client(base_url=world.server.url) as http:
        anonymous = media_url(http, world)
        playlist = http.get(anonymous)
        # The shared text, untouched: a CDN may keep it a second and the segments for good.
        assert playlist.content == world.packager.playlist and "?t=" not in playlist.text
        assert playlist.headers["cache-control"] == "max-age=1"
        for uri in uris(playlist.text)[:3]:
            segment = http.get(f"/live/{world.stream}/{uri}")
            assert segment.status_code == 200, uri
            assert segment.headers["cache-control"] == "public, max-age=86400, immutable"

        # Banned signed-in viewers lose their playlist (and no longer count as audience); like
        # anyone they may still open the public stream signed out.
        ann_media = media_url(http, world, world.ann)
        banned = http.post(
            f"{api}/sanctions", json={"user_id": world.ann_id, "kind": "ban"}, headers=world.moderator
        )
        assert banned.status_code == 201
        assert_refused(http.get(ann_media))
        assert http.get(anonymous).status_code == 200

        # Made registered-only: anonymous playlists and token-less segments are refused at once.
        bare = f"/live/{world.stream}/{uris(playlist.text)[0]}"
        changed = http.patch(api, json={"visibility": "registered"}, headers=world.moderator)
        assert changed.status_code == 200, changed.text
        assert_refused(http.get(anonymous))
        assert_refused(http.get(bare))
        bob = segment_urls(http, world, media_url(http, world, world.bob))
        assert all("?t=" in url for url in bob) and http.get(bob[0]).status_code == 200


# -- the gate across processes -------------------------------------------------------------------


@pytest.fixture(params=["memory bus, SQLite", "Redis bus, PostgreSQL"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(store URL, bus URL): a memory bus on SQLite, or Redis on PostgreSQL."""
    if request.param.startswith("memory"):
        return make_settings(tmp_path).database, "memory://"
    return request.getfixturevalue("postgres_url"), request.getfixturevalue("redis_url")


@pytest.fixture
async def two_gates(deployment: tuple[str, str]) -> AsyncIterator[tuple[HlsGate, HlsGate]]:
    """Two gates as two processes have them: one store, one bus (one memory bus shared, or one
    Redis namespace reached over two connections)."""
    store, bus_url = deployment
    if bus_url == "memory://":
        shared = connect_bus(bus_url)
        buses: list[Bus] = [shared, shared]
    else:
        namespace = f"test-{secrets.token_hex(6)}:"
        buses = [connect_bus(bus_url, namespace=namespace) for _ in range(2)]
    await create_schema(store)
    db = Database(store)
    for bus in {id(b): b for b in buses}.values():
        await bus.connect()
    gates = (HlsGate(db, buses[0], "s" * 40), HlsGate(db, buses[1], "s" * 40))
    for gate in gates:
        await gate.start()
    try:
        yield gates
    finally:
        for gate in gates:
            await gate.stop()
        for bus in {id(b): b for b in buses}.values():
            await bus.close()
        await db.dispose()


async def until_refused(gate: HlsGate, stream: int, viewer: str) -> None:
    async with asyncio.timeout(5):
        while await gate.allows(await gate.rules(stream), viewer):
            await asyncio.sleep(0.01)


async def test_a_ban_in_one_process_revokes_in_the_other(two_gates: tuple[HlsGate, HlsGate]) -> None:
    one, two = two_gates
    db = one.db
    async with db.session() as session:
        ann = await accounts.create_user(session, email="ann@example.com", password=PASSWORD)
        mod = await accounts.create_user(session, email="mod@example.com", password=PASSWORD, role="admin")
        expo = await ensure_expo(session, "demo", "Demo expo")
        stream = await services.create_stream(
            session, expo=expo, title="Keynote", owner=None, visibility=Visibility.REGISTERED
        )
    assert stream.id is not None and ann.id is not None
    viewer = f"user:{ann.id}"
    for gate in (one, two):
        rules = await gate.rules(stream.id)
        assert not rules.public and await gate.allows(rules, viewer)
        assert not await gate.allows(rules, "anon:someone")
    assert two.segment_viewer(stream.id, one.segment_token(stream.id, viewer)) == viewer

    async with db.session() as session:
        await chat.sanction(session, stream, mod, user_id=ann.id, kind=SanctionKind.BAN, minutes=None)
    # Remembered: without news, the other process would still say yes until its rules lapse.
    assert await two.allows(await two.rules(stream.id), viewer)
    await one.forget_stream(stream.id)
    assert not await one.allows(await one.rules(stream.id), viewer)  # here, at once
    await until_refused(two, stream.id, viewer)  # there, as soon as the bus delivers

    # An account disabled anywhere (the core's auth.forget message) stops a registered viewer.
    async with db.session() as session:
        bob = await accounts.create_user(session, email="bob@example.com", password=PASSWORD)
    assert bob.id is not None
    assert await two.allows(await two.rules(stream.id), f"user:{bob.id}")
    async with db.session() as session:
        await session.exec(update(User).where(col(User.id) == bob.id).values(is_active=False))
        await session.commit()
    await AuthCache(one.bus).forget_user(bob.id)
    await until_refused(two, stream.id, f"user:{bob.id}")


def test_viewer_ids_name_users_only_when_they_are_users() -> None:
    assert user_of("user:42") == 42
    assert [user_of(v) for v in ("anon:42", "user:", "user:4x", "user:" + "9" * 30, "42")] == [None] * 5
