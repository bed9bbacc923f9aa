"""A visitor's journey in Chromium, in English and in Chinese: signs up, registers for the expo,
finds a broadcast under "Live now", watches it (a real aiortc encoder publishes it over WHIP),
chats, then walks into the booth's open video room ("Meet us now") and sees the exhibitor, who
entered it from their rooms page in another browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from expo.expos.models import Expo
from streaming import room_services, services
from streaming.plane import MediaPlane
from tests.booths.conftest import seed_floor
from tests.booths.web import PASSWORD, add_owner, make_account
from tests.conftest import LiveServer
from tests.journeys.conftest import TIMEOUT, Reader, flashed, new_tab, sign_in
from tests.streaming.test_whip_whep import Publisher, publish

BROADCAST, BROADCAST_ZH = "Lamp factory tour", "灯具工厂参观"
ROOM, ROOM_ZH = "Talk to Lumen Works", "与 Lumen Works 面谈"
EXHIBITOR = "ed@example.com"


@dataclass
class Stage:
    stream_id: int
    key: str
    room_id: int


async def _stage(server: LiveServer) -> Stage:
    """The floor's expo; at "Lumen Works" (staffed by an exhibitor) a public broadcast and a room
    opened to walk-in visitors, each with its Chinese title."""
    app = server.app
    floor = await seed_floor(app.state.platform.db)
    booth = floor.booths["Lumen Works"]
    await add_owner(app, booth, await make_account(app, EXHIBITOR, "exhibitor", "Ed Exhibitor"))
    async with app.state.platform.db.session() as session:
        expo = await session.get(Expo, floor.expo.id)
        assert expo is not None and "zh_Hans" in expo.language_list
        stream = await services.create_stream(
            session,
            expo=expo,
            title=BROADCAST,
            owner=None,
            booth_id=booth.id,
            translations={"zh_Hans": {"title": BROADCAST_ZH}},
        )
        room = await room_services.create_room(
            session, expo=expo, title=ROOM, owner=None, booth_id=booth.id, title_zh=ROOM_ZH
        )
        room.walk_in = True
        session.add(room)
        await session.commit()
        assert stream.id is not None and room.id is not None
        return Stage(stream.id, stream.key, room.id)


@pytest.fixture
async def stage(live_server: LiveServer) -> AsyncIterator[Stage]:
    """The stage, with the broadcast live from an aiortc encoder for the whole test."""
    staged = live_server.call(_stage(live_server))
    # A dropped encoder keeps its stream live this long: only the end of the test ends it.
    live_server.app.state.platform.get(MediaPlane).reconnect_grace = 600.0
    publisher: Publisher | None = None
    async with httpx.AsyncClient(base_url=live_server.url, timeout=TIMEOUT / 1000) as http:
        try:
            publisher = await publish(http, staged.stream_id, staged.key)
            assert publisher.response.status_code == 201, publisher.response.text
            yield staged
        finally:
            if publisher is not None:
                if publisher.location:
                    await http.delete(publisher.location, headers={"Authorization": f"Bearer {staged.key}"})
                await publisher.pc.close()


async def plays(page: Page, selector: str) -> None:
    """The <video> has a picture and its clock moves on by more than a second."""
    ready = f"""() => {{
        const v = document.querySelector({selector!r});
        return v !== null && v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0;
    }}"""
    await page.wait_for_function(ready, timeout=TIMEOUT)
    started = await page.eval_on_selector(selector, "v => v.currentTime")
    moved = f"() => document.querySelector({selector!r}).currentTime > {started} + 1"
    await page.wait_for_function(moved, timeout=TIMEOUT)


async def sign_up(page: Page, server: LiveServer, reader: Reader) -> None:
    t = reader.t
    await page.goto(server.url + "/signup")
    await expect(page.get_by_role("heading", name=t("Create your account"), level=1)).to_be_visible()
    await page.locator("#name").fill("Vera Visitor")
    await page.get_by_label(t("E-mail")).fill("vera@example.com")
    await page.locator("#password").fill(PASSWORD)
    await expect(page.get_by_role("radio", name=t("Visitor"))).to_be_checked()
    await page.get_by_role("button", name=t("Sign up"), exact=True).click()
    await flashed(page, t("Your account is ready. Welcome!"))
    await expect(page).to_have_url(re.compile(r"/visitor$"))
    welcome = t("Welcome, %(name)s") % {"name": "Vera Visitor"}
    await expect(page.get_by_role("heading", level=1)).to_have_text(welcome)


async def register(page: Page, reader: Reader) -> None:
    """From the visitor's home to the expo's floor, and its registration form."""
    t = reader.t
    await page.locator("#floor").get_by_role("link", name="Fair").click()
    await page.get_by_role("link", name=t("Register to visit")).click()
    heading = t("Register for %(expo)s") % {"expo": "Fair"}
    await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    await page.get_by_role("button", name=t("Register"), exact=True).click()
    await flashed(page, t("You are registered. Your badge is ready."))
    await expect(page.get_by_role("link", name=t("See your badge"))).to_be_visible()


async def watch_and_chat(page: Page, reader: Reader, stage: Stage) -> None:
    """Home, "Live now", the broadcast: it plays, and a chat message shows up under the name."""
    t = reader.t
    title = BROADCAST_ZH if reader.chinese else BROADCAST
    await page.get_by_role("link", name="Expo", exact=True).click()  # the site's home: /visitor
    strip = page.get_by_role("region", name=t("Live now and coming up"))
    await expect(strip.get_by_role("heading", name=t("Live now"))).to_be_visible()
    card = strip.get_by_role("link", name=re.compile(re.escape(title)))
    await expect(card).to_contain_text(t("LIVE"))
    await card.click()
    await expect(page).to_have_url(re.compile(rf"/watch/{stage.stream_id}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await expect(page.locator("#watch-status")).to_have_text(t("Live"))
    await plays(page, "#player")

    await page.get_by_label(t("Message")).fill("Hello from the fair!")
    await page.get_by_role("button", name=t("Send"), exact=True).click()
    said = page.locator("#chat-list .chat-item").filter(has_text="Hello from the fair!")
    await expect(said.locator(".chat-author")).to_have_text("Vera Visitor")
    await expect(page.locator("#chat-empty")).to_be_hidden()


async def exhibitor_enters_the_room(
    browser: Browser, server: LiveServer, reader: Reader, errors: list[str]
) -> Page:
    """The booth's exhibitor, in their own browser, enters the room from their rooms page."""
    t = reader.t
    _, page = await new_tab(browser, reader, errors, "exhibitor")
    await sign_in(page, server, reader, EXHIBITOR)
    await (
        page.get_by_role("navigation", name=t("Main navigation")).get_by_role("link", name=t("Rooms")).click()
    )
    title = ROOM_ZH if reader.chinese else ROOM
    room = page.locator("li[data-room]").filter(has_text=title)
    await room.get_by_role("link", name=t("Enter as host")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    return page


async def test_a_visitor_signs_up_registers_watches_chats_and_meets_a_booth(
    live_server: LiveServer, browser: Browser, reader: Reader, stage: Stage, console_errors: list[str]
) -> None:
    t = reader.t
    room_title = ROOM_ZH if reader.chinese else ROOM
    context, page = await new_tab(browser, reader, console_errors, "visitor")
    try:
        await sign_up(page, live_server, reader)
        await register(page, reader)
        await watch_and_chat(page, reader, stage)

        # To the booth that presents the broadcast, and into its open room.
        await page.get_by_role("link", name=t("Visit the booth")).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Lumen Works")
        showcase = page.get_by_role("region", name=t("Live at this booth"))
        await expect(showcase).to_contain_text(t("Video room open: %(title)s") % {"title": room_title})
        await showcase.get_by_role("link", name=t("Meet us now")).click()
        await expect(page).to_have_url(re.compile(rf"/rooms/{stage.room_id}\?key="))
        await expect(page.get_by_role("heading", level=1)).to_have_text(room_title)

        exhibitor = await exhibitor_enters_the_room(browser, live_server, reader, console_errors)
        try:
            # Each sees the other: one remote tile, playing the other's camera.
            for who in (page, exhibitor):
                await expect(who.locator("video[data-participant]")).to_have_count(1)
                await plays(who, "video[data-participant]")
                await expect(who.locator("#room-state")).to_have_text(t("In the room."))
        finally:
            await exhibitor.context.close()
    finally:
        await context.close()
    assert console_errors == []
