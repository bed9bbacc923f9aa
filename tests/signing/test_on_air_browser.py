"""A signing ceremony on air, in real Chromium: the host, signed in, puts the ceremony room on air
from the room page (into the ceremony's own broadcast, suggested), the two parties join and sign
with their fake cameras, and a third page watching the broadcast plays the room's video and sees
the moment. Off air ends the broadcast for that viewer.

The host control is photographed at 1280 and 390 px, in English and Chinese, into
``EXPO_TEST_SHOTS`` (``on_air_*.png``) when it is set."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.browser.shots import SHOTS, shot
from tests.conftest import LiveServer
from tests.signing.test_ceremony_browser import DEADLINE_MS, open_page, sign, stage
from tests.streaming.test_e2e_browser import assert_plays


async def signed_in_host(
    browser: Browser, server: LiveServer, url: str, errors: list[str], **kw: object
) -> Page:
    """The host's room page, signed in as the ceremony's organizer."""
    page = await open_page(browser, f"{server.url}/login", errors, **kw)  # type: ignore[arg-type]
    await page.fill('input[name="email"]', "host@example.com")
    await page.fill('input[name="password"]', "correct horse battery")
    await page.locator('form[action="/login"] button[type="submit"]').click()
    await page.wait_for_url(lambda address: "/login" not in address)
    await page.goto(url)
    return page


async def test_a_ceremony_on_air_is_watched_with_its_moment(
    live_server: LiveServer, browser: Browser
) -> None:
    staged = live_server.call(stage(live_server))
    base = live_server.url
    errors: list[str] = []
    host_url = f"{base}/rooms/{staged.room_id}?key={staged.host_key}"
    host = await signed_in_host(browser, live_server, host_url, errors)

    # The host control offers the ceremony's broadcast first; going on air makes it live.
    control = host.locator("#room-on-air")
    await expect(host.locator("#on-air-stream")).to_have_value(str(staged.stream_id), timeout=DEADLINE_MS)
    await shot(host, "on_air_off_en_1280", showing="#room-on-air")
    await host.get_by_role("button", name="Go on air").click()
    await expect(control).to_have_attribute("data-state", "on", timeout=DEADLINE_MS)
    await expect(host.locator("#on-air-watch")).to_have_attribute("href", f"/watch/{staged.stream_id}")

    room_url = f"{base}/rooms/{staged.room_id}?key={staged.guest_key}"
    zhang = await open_page(browser, f"{room_url}&party={staged.parties['张伟']}", errors, locale="zh-CN")
    mary = await open_page(browser, f"{room_url}&party={staged.parties['Mary Chan']}", errors, width=390)
    for party in (zhang, mary):
        await expect(party.locator("#signing-panel")).to_have_attribute(
            "data-state", "open", timeout=DEADLINE_MS
        )

    # A third page watches the broadcast: the room's picture plays there, forwarded.
    viewer = await open_page(browser, f"{base}/watch/{staged.stream_id}", errors)
    await expect(viewer.locator("#watch")).to_have_attribute(
        "data-channel", "subscribed", timeout=DEADLINE_MS
    )  # it hears the moment from now on
    await assert_plays(viewer, "#player")

    # The host puts Zhang on air by name (the list follows who is in the room).
    feed = host.locator("#on-air-feed")
    await expect(feed.locator("option")).to_have_count(4, timeout=DEADLINE_MS)  # auto, host, two parties
    await shot(host, "on_air_on_en_1280", showing="#room-on-air")

    await sign(zhang, "张伟")
    await expect(zhang.locator(".signing-done")).to_be_visible(timeout=DEADLINE_MS)
    await sign(mary, "mary chan")
    await expect(viewer.locator("#ceremony-moment")).to_be_visible(timeout=DEADLINE_MS)
    await assert_plays(viewer, "#player")  # still playing through the moment

    # Off air: the broadcast ends for its viewer, and the room goes on.
    await expect(host.locator("#ceremony-moment")).to_be_visible(timeout=DEADLINE_MS)
    await host.locator("#ceremony-close").click()  # the host closes the moment's banner first
    await host.get_by_role("button", name="Off air").click()
    await expect(control).to_have_attribute("data-state", "off", timeout=DEADLINE_MS)
    await expect(viewer.locator("#player-state")).to_have_text(
        "The broadcast has ended.", timeout=DEADLINE_MS
    )
    await expect(zhang.locator("video[data-participant]")).to_have_count(2)

    if SHOTS:
        for locale, width in (("en-US", 390), ("zh-CN", 1280), ("zh-CN", 390)):
            page = await signed_in_host(browser, live_server, host_url, errors, locale=locale, width=width)
            await expect(page.locator("#room-on-air")).to_have_attribute("data-state", "off")
            await expect(page.locator("#on-air-stream option")).not_to_have_count(0)
            await shot(page, f"on_air_off_{locale[:2]}_{width}", showing="#room-on-air")
    assert [e for e in errors if "status of 409" not in e] == [], errors
