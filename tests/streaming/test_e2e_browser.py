"""Live broadcasts end to end in a real Chromium: an exhibitor goes live from the Go-live page with
the fake camera and microphone (WHIP), a visitor watches in another browser profile (WHEP, then
native HLS), the audience figures count them once, and stopping ends the broadcast for everyone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from playwright.async_api import Browser, Page, expect

from streaming.audience import Audience
from streaming.hls import HlsRegistry
from streaming.plane import MediaPlane
from tests.conftest import LiveServer
from tests.streaming.test_chat import create_stream, login
from tests.streaming.test_watch_pages import sign_in

T = TypeVar("T")

DEADLINE = 30.0
"""Seconds a step may take on this (shared, 2-core) machine before the test fails."""


async def eventually(probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], what: str) -> T:
    """Poll ``probe`` until ``accept`` holds for its value; fail with the last value after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = await probe()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {DEADLINE} s")
        await asyncio.sleep(0.2)


async def stats(server: LiveServer, stream: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(f"/api/streams/{stream}/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def video_state(page: Page, selector: str) -> dict[str, float]:
    state: dict[str, float] = await page.eval_on_selector(
        selector,
        "v => ({time: v.currentTime, width: v.videoWidth, height: v.videoHeight, paused: v.paused ? 1 : 0})",
    )
    return state


async def assert_plays(page: Page, selector: str) -> dict[str, float]:
    """The <video> shows a picture and its clock moves forward by more than a second."""
    first = await eventually(
        lambda: video_state(page, selector), lambda s: s["width"] > 0 and s["time"] > 0, "video starts"
    )
    later = await eventually(
        lambda: video_state(page, selector), lambda s: s["time"] > first["time"] + 1.0, "video advances"
    )
    assert later["paused"] == 0
    return later


def refused(status: str, url: str) -> str:
    """What Chromium logs as a console error when a request gets an error status."""
    return f"Failed to load resource: the server responded with a status of {status} [{url}]"


def collect_errors(page: Page, errors: list[str], who: str) -> None:
    page.on(
        "console",
        lambda m: errors.append(f"{who}: {m.text} [{m.location.get('url')}]") if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: errors.append(f"{who}: uncaught: {error}"))


async def go_live_from_the_browser(server: LiveServer, page: Page) -> int:
    """An exhibitor signs in, opens the Go-live page of their stream and starts broadcasting."""
    await login(server, "owner@example.com", "exhibitor")
    stream = server.call(create_stream(server.app.state.platform.db, owner_email="owner@example.com"))
    # A dropped encoder keeps its stream live this long: in these tests only the Stop's DELETE ends it.
    server.app.state.platform.get(MediaPlane).reconnect_grace = 600.0
    await sign_in(page, server, "owner@example.com")
    await page.goto(f"{server.url}/streams/{stream}/live")
    await expect(page.locator("#stream-status")).to_have_text("Scheduled")
    await page.get_by_role("button", name="Start broadcasting").click()
    await expect(page.locator("#publish-state")).to_have_text("You are live.", timeout=DEADLINE * 1000)
    await expect(page.locator("#stream-status")).to_have_text("Live")
    await eventually(lambda: stats(server, stream), lambda s: s["status"] == "live", "stream status")
    return stream


def media_of(server: LiveServer, stream: int) -> dict[str, str]:
    """What the server receives from the publisher: codec per kind."""
    publisher = server.app.state.platform.get(MediaPlane).publishers[stream]
    return {p.kind: p.codec.name for p in publisher.publications if p.codec is not None}


async def test_go_live_in_the_browser_and_watch_it_over_webrtc(
    live_server: LiveServer, browser: Browser, page: Page, console_errors: list[str]
) -> None:
    stream = await go_live_from_the_browser(live_server, page)
    # Chromium's fake camera goes out as H.264 (golive prefers it): HLS and the recording need no
    # re-encode, so the packager runs.
    assert media_of(live_server, stream) == {"video": "H264", "audio": "opus"}
    platform = live_server.app.state.platform
    assert platform.get(HlsRegistry).get(stream) is not None

    # A visitor, signed out, in a browser profile of their own.
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    visitor = await context.new_page()
    visitor_errors: list[str] = []
    collect_errors(visitor, visitor_errors, "visitor")
    try:
        await visitor.goto(f"{live_server.url}/watch/{stream}")
        await expect(visitor.locator("#watch-status")).to_have_text("Live")
        state = await assert_plays(visitor, "#player")
        assert state["width"] > 0 and state["height"] > 0
        # It plays over WebRTC (a MediaStream), not the HLS fallback.
        assert await visitor.eval_on_selector("#player", "v => v.srcObject !== null && !v.src")
        await expect(visitor.locator("#player-state")).to_be_hidden()

        # Watched over WHEP and heartbeating from the page: one person, one view.
        audience: Audience = platform.get(Audience)
        sessions = list(platform.get(MediaPlane).viewers.values())
        assert len(sessions) == 1
        viewer = sessions[0].viewer

        async def paths() -> int:
            # Presence entries of this person: one per way they watch (the page and WHEP).
            return live_server.call(audience.bus.presence_count(audience._paths(stream, viewer)))

        await eventually(paths, lambda n: n == 2, "the visitor's paths (WHEP and the page)")
        figures = await stats(live_server, stream)
        assert figures["live_viewers"] == 1, figures
        assert figures["total_views"] == 1 and figures["unique_viewers"] == 1, figures
        await expect(visitor.locator("#viewer-count")).to_have_text("1", timeout=DEADLINE * 1000)

        # A second visitor comes, then closes the tab: the page's beacon and the player's DELETE
        # take them out at once, long before their heartbeats would lapse.
        other = await browser.new_context(locale="en-US")
        second = await other.new_page()
        collect_errors(second, visitor_errors, "second visitor")
        await second.goto(f"{live_server.url}/watch/{stream}")
        await assert_plays(second, "#player")
        await expect(visitor.locator("#viewer-count")).to_have_text("2", timeout=DEADLINE * 1000)
        await second.close(run_before_unload=True)
        closed = time.monotonic()
        await eventually(lambda: stats(live_server, stream), lambda s: s["live_viewers"] == 1, "tab closed")
        assert time.monotonic() - closed < audience.ttl / 2
        await expect(visitor.locator("#viewer-count")).to_have_text("1", timeout=DEADLINE * 1000)
        await other.close()

        # Stop on the Go-live page: the broadcast ends, and the watch page says so.
        await page.get_by_role("button", name="Stop").click()
        await expect(page.locator("#publish-state")).to_have_text("Broadcast stopped.")
        await expect(page.locator("#stream-status")).to_have_text("Ended", timeout=DEADLINE * 1000)
        await expect(visitor.locator("#watch-status")).to_have_text("Ended", timeout=DEADLINE * 1000)
        await expect(visitor.locator("#player-state")).to_have_text("The broadcast has ended.")
        await expect(visitor.locator("#viewers")).to_be_hidden()
        # Starting again waits for a reopen, which the page now offers (without a reload).
        await expect(page.get_by_role("button", name="Start broadcasting")).to_be_disabled()
        await expect(page.get_by_role("button", name="Reopen the broadcast")).to_be_visible()
        final = await stats(live_server, stream)
        assert final["status"] == "ended" and final["live_viewers"] == 0, final
        assert final["total_views"] == 2 and final["peak_viewers"] == 2, final
        assert platform.get(MediaPlane).viewers == {} and stream not in platform.get(MediaPlane).publishers
    finally:
        await context.close()
    assert console_errors == []
    assert visitor_errors == []


async def test_without_webrtc_playback_the_watch_page_plays_hls_in_chromiums_own_player(
    live_server: LiveServer, browser: Browser, page: Page, console_errors: list[str]
) -> None:
    stream = await go_live_from_the_browser(live_server, page)
    assert media_of(live_server, stream)["video"] == "H264"  # what HLS carries without re-encoding
    platform = live_server.app.state.platform

    # A visitor whose WHEP request is refused, as a server process without the publisher refuses
    # it (409 stream.not_live): the page falls back to the HLS playlist in the native player.
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    not_live = '{"error": {"code": "stream.not_live", "message": "This stream is not live."}}'
    await context.route(
        "**/api/streams/*/whep",
        lambda route: route.fulfill(status=409, content_type="application/json", body=not_live),
    )
    visitor = await context.new_page()
    visitor_errors: list[str] = []
    collect_errors(visitor, visitor_errors, "visitor")
    try:
        await visitor.goto(f"{live_server.url}/watch/{stream}")
        state = await assert_plays(visitor, "#player")
        assert state["width"] > 0
        source = await visitor.eval_on_selector("#player", "v => v.currentSrc")
        assert source == f"{live_server.url}/live/{stream}/index.m3u8"
        assert platform.get(MediaPlane).viewers == {}  # nothing over WebRTC

        # The native player polls its per-viewer media playlist; with the page's heartbeats that is
        # one person, one view.
        audience: Audience = platform.get(Audience)
        figures = await eventually(
            lambda: stats(live_server, stream), lambda s: s["total_views"] >= 1, "a view is counted"
        )

        async def ways() -> list[str]:
            members = []
            for key in live_server.call(audience.bus.presence_members(audience._people(stream))):
                members += live_server.call(audience.bus.presence_members(audience._paths(stream, key)))
            return sorted(members)

        await eventually(ways, lambda w: w == ["hls", "page"], "the visitor's ways of watching")
        figures = await stats(live_server, stream)
        assert figures["live_viewers"] == 1 and figures["total_views"] == 1, figures
        await expect(visitor.locator("#viewer-count")).to_have_text("1", timeout=DEADLINE * 1000)

        await page.get_by_role("button", name="Stop").click()
        await expect(visitor.locator("#watch-status")).to_have_text("Ended", timeout=DEADLINE * 1000)
        await expect(visitor.locator("#player-state")).to_have_text("The broadcast has ended.")
        # The player let go of the playlist: no source, nothing buffered.
        assert await visitor.eval_on_selector("#player", "v => !v.getAttribute('src') && v.readyState === 0")
    finally:
        await context.close()
    assert console_errors == []
    # Expected: the refused WHEP request(s), and the playlist asked for before the first segment
    # was cut (the page then tries again a moment later).
    whep = "visitor: " + refused("409 (Conflict)", f"{live_server.url}/api/streams/{stream}/whep")
    early = "visitor: " + refused("404 (Not Found)", f"{live_server.url}/live/{stream}/index.m3u8")
    assert whep in visitor_errors
    assert set(visitor_errors) <= {whep, early}, visitor_errors
