"""The presenter's go-live page and the rooms as their users see them, in a real Chromium with a
fake camera and microphone: the live viewer count and the chat beside the preview, stop and
reopen without a reload; a rehearsal that visitors do not see until Go live; a guest who joins a
room at once and names themselves meanwhile; a room tile that goes away when its tab closes."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from streaming.plane import MediaPlane
from streaming.room_services import RoomRole
from streaming.rooms import RoomPlane
from tests.conftest import LiveServer
from tests.streaming.test_chat import create_stream, login
from tests.streaming.test_e2e_browser import (
    DEADLINE,
    assert_plays,
    collect_errors,
    eventually,
    go_live_from_the_browser,
    stats,
)
from tests.streaming.test_rooms import new_room
from tests.streaming.test_watch_pages import sign_in

WAIT = DEADLINE * 1000
"""Playwright timeouts are in milliseconds."""


async def test_the_go_live_page_counts_viewers_shows_the_chat_and_stops_and_reopens(
    live_server: LiveServer, browser: Browser, page: Page, console_errors: list[str]
) -> None:
    stream = await go_live_from_the_browser(live_server, page)
    await expect(page.locator("#viewers")).to_be_visible()
    await expect(page.locator("#viewer-count")).to_have_text("0")

    await login(live_server, "ann@example.com")
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    visitor = await context.new_page()
    visitor_errors: list[str] = []
    collect_errors(visitor, visitor_errors, "visitor")
    try:
        await sign_in(visitor, live_server, "ann@example.com")
        await visitor.goto(f"{live_server.url}/watch/{stream}")
        await assert_plays(visitor, "#player")
        # The presenter sees the viewer arrive, from the same figures as the watch page.
        await expect(page.locator("#viewer-count")).to_have_text("1", timeout=WAIT)

        # A visitor's message appears beside the preview, with the managers' moderation.
        await visitor.get_by_placeholder("Say something…").fill("Is the X200 waterproof?")
        await visitor.get_by_role("button", name="Send").click()
        said = page.locator("#chat-list .chat-item", has_text="Is the X200 waterproof?")
        await expect(said).to_be_visible(timeout=WAIT)
        await said.get_by_role("button", name="Delete").click()
        await expect(visitor.locator("#chat-list .chat-item")).to_have_count(0, timeout=WAIT)
        await expect(page.locator("#chat-list .chat-item")).to_have_count(0)

        # Stop, then reopen, on the same page: the buttons follow the status without a reload.
        await page.get_by_role("button", name="Stop").click()
        await expect(page.locator("#stream-status")).to_have_text("Ended", timeout=WAIT)
        await expect(page.get_by_role("button", name="Start broadcasting")).to_be_disabled()
        await expect(page.locator("#viewers")).to_be_hidden()
        await page.get_by_role("button", name="Reopen the broadcast").click()
        await expect(page.locator("#stream-status")).to_have_text("Scheduled", timeout=WAIT)
        await expect(page.get_by_role("button", name="Reopen the broadcast")).to_be_hidden()
        await page.get_by_role("button", name="Start broadcasting").click()
        await expect(page.locator("#stream-status")).to_have_text("Live", timeout=WAIT)
        await expect(visitor.locator("#watch-status")).to_have_text("Live", timeout=WAIT)
        # The visitor's page plays the reopened broadcast (stopping while its player is still
        # connecting would have it refused, as it should be, with errors in its console).
        await assert_plays(visitor, "#player")
        await page.get_by_role("button", name="Stop").click()
        await expect(page.locator("#stream-status")).to_have_text("Ended", timeout=WAIT)
        await expect(visitor.locator("#watch-status")).to_have_text("Ended", timeout=WAIT)
    finally:
        await context.close()
    assert console_errors == [], console_errors
    assert visitor_errors == [], visitor_errors


async def room_page(browser: Browser, url: str, errors: list[str], who: str) -> Page:
    context = await browser.new_context(locale="en-US", viewport={"width": 1000, "height": 700})
    page = await context.new_page()
    collect_errors(page, errors, who)
    await page.goto(url)
    return page


async def test_a_guest_joins_at_once_names_themselves_and_their_tile_goes_when_their_tab_closes(
    live_server: LiveServer, browser: Browser
) -> None:
    room = new_room(live_server, "Price talks")
    errors: list[str] = []
    base = live_server.url
    host = await room_page(browser, f"{base}/rooms/{room.id}?key={room.host_key}", errors, "host")
    await expect(host.locator("#name-form")).to_have_count(0)  # the host's link names them
    guest_url = f"{base}/rooms/{room.id}?key={room.guest_key}"
    guest = await room_page(browser, guest_url, errors, "guest")

    # The guest, signed out, is in the room without a click, numbered by arrival.
    tiles = host.locator("figure.room-tile", has=host.locator("video[data-participant]"))
    await expect(tiles).to_have_count(1, timeout=WAIT)
    await expect(tiles.locator("figcaption")).to_have_text("Guest 2")
    await expect(guest.locator("video[data-participant]")).to_have_count(1, timeout=WAIT)
    # Both play with sound in this browser: nobody is offered "Play sound".
    await expect(host.locator("#unmute-audio")).to_be_hidden()

    # Meanwhile they type their name: the host's tile says it at once, as text, not HTML.
    await guest.get_by_label("Your name").fill("  Ada <b>Buyer</b> ")
    await guest.get_by_role("button", name="Save").click()
    await expect(guest.locator("#name-state")).to_have_text("Saved: the others see you as Ada <b>Buyer</b>.")
    await expect(tiles.locator("figcaption")).to_have_text("Ada <b>Buyer</b>", timeout=WAIT)

    # The browser remembers it: the guest's next room page joins under that name.
    again = await guest.context.new_page()
    collect_errors(again, errors, "guest again")
    await again.goto(guest_url)
    await expect(tiles.locator("figcaption", has_text="Ada <b>Buyer</b>")).to_have_count(2, timeout=WAIT)
    await expect(again.get_by_label("Your name")).to_have_value("Ada <b>Buyer</b>")
    # The host sees the new tab's camera too (closing it while it is still connecting would have
    # its sending refused, as it should be, with a 404 in its console).
    await eventually(
        lambda: host.evaluate(
            "() => [...document.querySelectorAll('video[data-participant]')].filter(v => v.videoWidth).length"
        ),
        lambda playing: playing == 2,
        "the host's pictures of the guest's two tabs",
    )

    # The guest's tabs close without a word from their user: the host's tiles for them go.
    await guest.context.close()
    await expect(host.locator("video[data-participant]")).to_have_count(0, timeout=WAIT)
    await expect(host.locator("#room-state")).to_have_text("Waiting for others to join.")
    people = live_server.app.state.platform.get(RoomPlane).participants(room.id or 0)
    assert [p.role for p in people] == [RoomRole.HOST]
    # The host's page may ask for (or hang up) the media of a guest tab at the moment it closes:
    # the server has forgotten that guest, answers 404, and the page shrugs; Chromium logs the 404.
    left = [e for e in errors if "status of 404" in e and "/subscriptions/" in e]
    assert [e for e in errors if e not in left] == [], errors


async def test_a_rehearsal_shows_the_presenter_a_preview_and_visitors_nothing_until_go_live(
    live_server: LiveServer, browser: Browser, page: Page, console_errors: list[str]
) -> None:
    await login(live_server, "owner@example.com", "exhibitor")
    platform = live_server.app.state.platform
    stream = live_server.call(create_stream(platform.db, owner_email="owner@example.com"))
    platform.get(MediaPlane).reconnect_grace = 600.0  # only the Stop's DELETE ends it
    await sign_in(page, live_server, "owner@example.com")
    await page.goto(f"{live_server.url}/streams/{stream}/live")
    await page.get_by_role("button", name="Rehearse").click()
    await expect(page.locator("#publish-state")).to_have_text(
        "Rehearsing: viewers do not see this yet. Press Go live now when you are ready.", timeout=WAIT
    )
    await assert_plays(page, "#preview")
    await expect(page.locator("#stream-status")).to_have_text("Scheduled")
    assert (await stats(live_server, stream))["status"] == "scheduled"

    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    visitor = await context.new_page()
    visitor_errors: list[str] = []
    collect_errors(visitor, visitor_errors, "visitor")
    try:
        # A visitor sees only that it has not started, while the presenter rehearses.
        await visitor.goto(f"{live_server.url}/watch/{stream}")
        await expect(visitor.locator("#watch-status")).to_have_text("Scheduled")
        await expect(visitor.get_by_text("The broadcast has not started yet.")).to_be_visible()

        # Go live: the same connection, now public; the visitor's page plays without a reload.
        await page.get_by_role("button", name="Go live now").click()
        await expect(page.locator("#stream-status")).to_have_text("Live", timeout=WAIT)
        await expect(page.locator("#publish-state")).to_have_text("You are live.")
        await expect(page.get_by_role("button", name="Go live now")).to_be_hidden()
        await expect(page.get_by_role("button", name="Rehearse")).to_be_hidden()
        await expect(visitor.locator("#watch-status")).to_have_text("Live", timeout=WAIT)
        await assert_plays(visitor, "#player")
        await expect(page.locator("#viewer-count")).to_have_text("1", timeout=WAIT)

        await page.get_by_role("button", name="Stop").click()
        await expect(page.locator("#stream-status")).to_have_text("Ended", timeout=WAIT)
        await expect(visitor.locator("#watch-status")).to_have_text("Ended", timeout=WAIT)
    finally:
        await context.close()
    assert console_errors == [], console_errors
    assert visitor_errors == [], visitor_errors
