"""In Chromium: a visitor searches the floor, opens a booth and sends an inquiry; the exhibitor sees
it counted on their home, opens it, replies and files it; the visitor reads the reply."""

from __future__ import annotations

import os
import re

from playwright.async_api import Browser, Page, expect

from tests.booths.conftest import seed_floor
from tests.booths.web import PASSWORD
from tests.browser.conftest import browser, console_errors, page  # noqa: F401  (fixtures)
from tests.conftest import LiveServer


async def _accounts(server: LiveServer) -> None:
    from booths.models import BoothStaff
    from expo.accounts import services as accounts
    from expo.permissions import BoothRole

    db = server.app.state.platform.db
    floor = await seed_floor(db)
    async with db.session() as session:
        ann = await accounts.create_user(session, email="ann@example.com", password=PASSWORD, role="visitor")
        ann.name = "Ann Lee"
        session.add(ann)
        owner = await accounts.create_user(
            session, email="owner@example.com", password=PASSWORD, role="exhibitor"
        )
        booth_id = floor.booths["Lumen Works"].id
        assert booth_id is not None and owner.id is not None
        session.add(BoothStaff(booth_id=booth_id, user_id=owner.id, role=BoothRole.OWNER.value))
        await session.commit()


async def sign_in(tab: Page, server: LiveServer, email: str) -> None:
    await tab.goto(server.url + "/login")
    await tab.get_by_label("E-mail").fill(email)
    await tab.get_by_label("Password").fill(PASSWORD)
    await tab.get_by_role("button", name="Log in").click()
    await expect(tab).not_to_have_url(re.compile(r"/login"))


async def test_visitor_inquiry_reaches_the_exhibitors_inbox(
    live_server: LiveServer,
    browser: Browser,  # noqa: F811  (the fixture imported above)
    page: Page,  # noqa: F811
    console_errors: list[str],  # noqa: F811
) -> None:
    live_server.call(_accounts(live_server))
    await sign_in(page, live_server, "ann@example.com")
    await page.get_by_role("link", name="Expo floor").click()
    await page.get_by_role("link", name="Fair").click()
    await expect(page.get_by_role("heading", name="Booths: 3")).to_be_visible()
    shots = os.environ.get("EXPO_SCREENSHOTS")  # a directory, to look at the pages while developing
    if shots:
        await page.screenshot(path=f"{shots}/floor.png", full_page=True)

    await page.get_by_label("Search booths and products").fill("lumen")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("heading", name=re.compile("Results for “lumen”"))).to_be_visible()
    await page.locator(".search-results").get_by_role("link", name="Lumen Works").click()
    await expect(page.get_by_role("heading", level=1, name="Lumen Works")).to_be_visible()
    await expect(page.get_by_role("link", name="LED desk lamp")).to_be_visible()
    if shots:
        await page.screenshot(path=f"{shots}/booth.png", full_page=True)

    await page.get_by_label("Your message").fill("Can you ship 500 lamps to Lisbon by May?")
    await page.get_by_role("button", name="Send message").click()
    await expect(page.get_by_text("Your message was sent to the exhibitor.")).to_be_visible()

    exhibitor = await browser.new_context(locale="en-US")
    try:
        tab = await exhibitor.new_page()
        await sign_in(tab, live_server, "owner@example.com")
        await expect(tab).to_have_url(re.compile(r"/exhibitor$"))
        booth = tab.locator(".attention", has_text="Lumen Works")
        await expect(booth.locator("[data-attention=leads]")).to_have_text("1 new lead")
        await booth.get_by_role("link", name="1 new lead").click()
        await expect(tab).to_have_url(re.compile(r"/booths/\d+/leads$"))
        lead = tab.locator(".lead").first
        await expect(lead).to_contain_text("Can you ship 500 lamps to Lisbon by May?")
        await expect(lead).to_contain_text("Ann Lee")
        await expect(lead).to_contain_text("ann@example.com")
        await expect(lead).to_contain_text("Unread")
        await lead.get_by_role("link", name="Read and reply").click()
        await expect(tab).to_have_url(re.compile(r"/booths/\d+/leads/\d+$"))
        await tab.get_by_label("Your reply").fill("Yes: 500 lamps by May 2.\nA quote follows.")
        await tab.get_by_role("button", name="Send reply").click()
        await expect(tab.get_by_text("Your reply was sent to the visitor.")).to_be_visible()
        reply = tab.locator(".thread-item.from-booth")
        await expect(reply).to_contain_text("Yes: 500 lamps by May 2.")
        await expect(tab.get_by_label("Status", exact=True)).to_have_value("answered")
        await tab.get_by_label("Notes", exact=True).fill("Sent a quote")
        await tab.get_by_role("button", name="Save").click()
        await expect(tab.get_by_text("The lead was updated.")).to_be_visible()
        await expect(tab.get_by_label("Notes", exact=True)).to_have_value("Sent a quote")
        if shots:
            await tab.screenshot(path=f"{shots}/lead.png", full_page=True)
        await tab.get_by_role("link", name="Expo").first.click()
        home = tab.locator(".attention", has_text="Lumen Works")
        await expect(home.locator("[data-attention=leads]")).to_have_text("No new leads")
    finally:
        await exhibitor.close()
    await page.goto(live_server.url + "/my/messages")
    await expect(page.locator(".thread-item.from-booth")).to_contain_text("Yes: 500 lamps by May 2.")
    assert console_errors == []
