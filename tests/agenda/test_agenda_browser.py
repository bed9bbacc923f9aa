"""The agenda in real Chromium: times laid out in the expo's timezone gain the viewer's own time
(from localtime.js, under the page's CSP), and a visitor registers by clicking the button."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from expo.accounts import services as accounts
from expo.expos import services as expos
from tests.agenda.conftest import make_program
from tests.booths.web import PASSWORD
from tests.browser.conftest import browser, console_errors  # noqa: F401  (fixtures)
from tests.conftest import LiveServer


async def _seed(server: LiveServer) -> int:
    db = server.app.state.platform.db
    async with db.session() as s:
        await accounts.create_user(s, email="ann@example.com", password=PASSWORD, role="visitor")
        expo = await expos.ensure_expo(s, "fair", "Fair", timezone="Asia/Shanghai")
    return await make_program(db, expo, capacity=10, title="Opening keynote")


async def test_times_show_the_viewers_own_time_and_a_click_registers(
    live_server: LiveServer,
    browser: Browser,  # noqa: F811  (the fixture imported above)
    console_errors: list[str],  # noqa: F811
) -> None:
    pid = live_server.call(_seed(live_server))
    page_url = f"{live_server.url}/expos/fair/agenda/{pid}"

    berlin = await browser.new_context(locale="en-US", timezone_id="Europe/Berlin")
    tab = await berlin.new_page()
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    await tab.goto(f"{live_server.url}/login?next=/expos/fair/agenda/{pid}")
    await tab.fill("input[name=email]", "ann@example.com")
    await tab.fill("input[name=password]", PASSWORD)
    await tab.click("form[action='/login'] button[type=submit]")
    await tab.wait_for_url(page_url)
    await expect(tab.locator(".local-time").first).to_contain_text("your time")
    await tab.click("text=Register")
    await expect(tab.locator(".seat-status")).to_contain_text("Your seat is confirmed.")
    await berlin.close()

    shanghai = await browser.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    tab = await shanghai.new_page()
    await tab.goto(f"{live_server.url}/expos/fair/agenda")
    await expect(tab.locator("text=Opening keynote")).to_be_visible()
    assert await tab.locator(".local-time").count() == 0  # same timezone: nothing to add
    await shanghai.close()
    assert console_errors == []
