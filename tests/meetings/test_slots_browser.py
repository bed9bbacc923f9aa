"""Meeting slots in real Chromium: a visitor in Berlin sees the booth's free slots in the expo's
time and their own (slots.js, under the page's CSP), picks one and books it."""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, BrowserContext, expect

from booths.models import Booth
from expo.accounts import services as accounts
from expo.accounts.models import User
from expo.expos.models import Expo
from expo.meetings import slots
from tests.booths.conftest import seed_floor
from tests.booths.web import PASSWORD, add_owner
from tests.browser.conftest import browser, console_errors  # noqa: F401  (fixtures)
from tests.conftest import LiveServer

# Set to a directory to keep screenshots of the pages at phone and desktop widths, in both languages.
SCREENSHOTS = os.environ.get("EXPO_TEST_SCREENSHOTS")
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _seed(server: LiveServer) -> tuple[int, str]:
    """Lumen Works at an expo in Shanghai time, with two-place slots 10:00-12:00 in three days."""
    app = server.app
    floor = await seed_floor(app.state.platform.db)
    booth = floor.booths["Lumen Works"]
    async with app.state.platform.db.session() as s:
        expo = await s.get(Expo, booth.expo_id)
        assert expo is not None
        expo.timezone = "Asia/Shanghai"
        s.add(expo)
        await s.commit()
        await accounts.create_user(s, email="ann@example.com", password=PASSWORD, role="visitor", name="Ann")
        owner = await accounts.create_user(s, email="owner@example.com", password=PASSWORD, role="exhibitor")
    await add_owner(app, booth, owner)
    day = datetime.now(SHANGHAI).date() + timedelta(days=3)
    async with app.state.platform.db.session() as s:
        stored, staff = await s.get(Booth, booth.id), await s.get(User, owner.id)
        assert stored is not None and staff is not None
        await slots.publish(s, stored, staff, slots.WindowFields(day, time(10), time(12), 30, 2))
    return booth.id or 0, day.isoformat()


async def _signed_in(chromium: Browser, server: LiveServer, email: str, **options: object) -> BrowserContext:
    context = await chromium.new_context(**options)  # type: ignore[arg-type]
    tab = await context.new_page()
    await tab.goto(f"{server.url}/login")
    await tab.fill("input[name=email]", email)
    await tab.fill("input[name=password]", PASSWORD)
    await tab.click("form[action='/login'] button[type=submit]")
    await tab.wait_for_load_state()
    await tab.close()
    return context


async def test_a_visitor_books_a_slot_from_the_booth_page(
    live_server: LiveServer,
    browser: Browser,  # noqa: F811  (the fixture imported above)
    console_errors: list[str],  # noqa: F811
) -> None:
    booth_id, day = live_server.call(_seed(live_server))
    booth_url = f"{live_server.url}/expos/fair/booths/{booth_id}"
    berlin = await _signed_in(
        browser, live_server, "ann@example.com", locale="en-US", timezone_id="Europe/Berlin"
    )
    tab = await berlin.new_page()
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    await tab.goto(booth_url)
    picker = tab.locator("#slots")
    # Four slots in the expo's time, each with the visitor's own (Berlin is 6 or 7 hours behind).
    await expect(picker.locator(".slot-option")).to_have_count(4)
    option = picker.locator(".slot-option", has_text="10:30–11:00")  # noqa: RUF001
    await expect(option).to_contain_text("your time")
    await expect(option).to_contain_text("2 places left")
    await option.click()
    await picker.get_by_label("What would you like to discuss?").fill("Lanterns for a hotel chain")
    await picker.get_by_role("button", name="Book this slot").click()
    await tab.wait_for_url(f"{live_server.url}/my/meetings")
    await expect(tab.get_by_text("Your meeting is booked.")).to_be_visible()
    await expect(tab.locator("[data-room-link]")).to_have_text("Join the video meeting")
    await expect(tab.locator("main")).to_contain_text(f"{day} 10:30–11:00")  # noqa: RUF001
    await berlin.close()

    if SCREENSHOTS:
        await _screenshots(browser, live_server, booth_url, booth_id)
    assert console_errors == []


async def _screenshots(chromium: Browser, server: LiveServer, booth_url: str, booth_id: int) -> None:
    """The slot picker and the staff's availability page at 1280 and 390 px, in English and Chinese."""
    assert SCREENSHOTS
    for lang, locale in (("en", "en-US"), ("zh", "zh-CN")):
        for width in (1280, 390):
            viewport = {"width": width, "height": 900}
            for email, url, name in (
                ("ann@example.com", booth_url, "picker"),
                ("owner@example.com", f"{server.url}/booths/{booth_id}/availability", "availability"),
            ):
                context = await _signed_in(
                    chromium, server, email, locale=locale, viewport=viewport, timezone_id="Europe/Berlin"
                )
                tab = await context.new_page()
                await tab.goto(url)
                if name == "picker":
                    await expect(tab.locator(".slot-option")).to_have_count(4)
                    target = tab.locator("#slots")
                else:
                    target = tab.locator("main")
                path = os.path.join(SCREENSHOTS, f"slots_{name}_{lang}_{width}.png")
                await target.screenshot(path=path)
                await context.close()
