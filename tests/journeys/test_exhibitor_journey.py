"""An exhibitor's journey in Chromium, in English and in Chinese, only through the pages: apply for
a booth; once it is approved and a visitor has asked a question, see the new lead on the home page;
fill the booth in (tagline, description, a logo, a product priced "9,80"); schedule a broadcast, go
live from the browser's camera with a visitor watching, stop, reopen and go live again; then open
the lead, reply, and see the home page's new-lead count gone."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from PIL import Image
from playwright.async_api import Browser, Page, expect

from booths import leads
from booths.models import Booth, BoothStatus
from booths.services import set_booth_status
from expo.accounts.models import User
from expo.db import utcnow
from expo.expos.services import ensure_expo
from streaming.plane import MediaPlane
from tests.booths.web import PASSWORD, make_account
from tests.conftest import LiveServer
from tests.journeys.conftest import Reader, new_tab
from tests.streaming.teams import find_user

SLUG = "lighting-fair"
EXPO_TITLE = "Spring Lighting Fair"
EXHIBITOR, ORGANIZER, VISITOR = "mei@example.com", "olga@example.com", "vera@example.com"
BOOTH = "Lumen Works"
QUESTION = "Do you ship desk lamps to Lyon?"
TAGLINE, TAGLINE_ZH = "Light that works as hard as you do", "和您一样勤奋的灯光"


async def seed(server: LiveServer) -> None:
    """An organizer's expo taking applications, an exhibitor without a booth yet, a visitor."""
    organizer = await make_account(server.app, ORGANIZER, "organizer", "Olga Organizer")
    await make_account(server.app, EXHIBITOR, "exhibitor", "Mei Lin")
    await make_account(server.app, VISITOR, "visitor", "Vera Visitor")
    async with server.app.state.platform.db.session() as session:
        expo = await ensure_expo(session, SLUG, EXPO_TITLE, created_by=organizer.id)
        assert expo.applications_open


async def approve_and_ask(server: LiveServer, booth_id: int) -> None:
    """The organizer approves the application; then a visitor asks the booth a question."""
    async with server.app.state.platform.db.session() as session:
        booth = await session.get(Booth, booth_id)
        assert booth is not None
        organizer: User = await find_user(session, ORGANIZER)
        await set_booth_status(session, booth, BoothStatus.APPROVED, organizer)
        visitor = await find_user(session, VISITOR)
        await leads.send_inquiry(session, booth, visitor, QUESTION)


def a_logo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 120, 20)).save(buffer, "PNG")
    return buffer.getvalue()


async def sign_in(page: Page, server: LiveServer, reader: Reader, email: str) -> None:
    t = reader.t
    await page.goto(server.url + "/login")
    await page.get_by_label(t("E-mail")).fill(email)
    await page.get_by_label(t("Password")).fill(PASSWORD)
    await page.get_by_role("button", name=t("Log in"), exact=True).click()
    await flashed(page, t("Welcome back!"))


async def flashed(page: Page, message: str) -> None:
    """The page says ``message`` in its banner (beside the banner's Dismiss button)."""
    await expect(page.locator(".messages .message")).to_contain_text(message)


async def go_home(page: Page) -> None:
    await page.locator(".site-header .brand").click()
    await expect(page).to_have_url(re.compile(r"/exhibitor$"))


async def apply_for_a_booth(page: Page, reader: Reader) -> int:
    """From "My booth": the application, which opens the editor of the pending booth; its id."""
    t = reader.t
    await (
        page.get_by_role("navigation", name=t("Main navigation"))
        .get_by_role("link", name=t("My booth"))
        .click()
    )
    await expect(
        page.get_by_text(
            t("You are not on any booth's staff yet. Apply for a booth below, or ask a colleague to add you.")
        )
    ).to_be_visible()
    await page.get_by_label(t("Company or booth name at %(expo)s") % {"expo": EXPO_TITLE}).fill(BOOTH)
    await page.get_by_role("button", name=t("Apply"), exact=True).click()
    await expect(page).to_have_url(re.compile(r"/booths/\d+/edit$"))
    await flashed(page, t("Your application was sent. Fill in your booth while organizers review it."))
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{BOOTH} {t('Waiting for approval')}")
    match = re.search(r"/booths/(\d+)/edit$", page.url)
    assert match
    return int(match.group(1))


async def fill_in_the_booth(page: Page, reader: Reader) -> None:
    """Tagline and description in the expo's two languages, then the logo; the booth page shows
    them to this reader."""
    t = reader.t
    english, chinese = (
        page.locator("#profile fieldset").nth(0),
        page.locator('#profile fieldset[lang="zh-Hans"]'),
    )
    await english.get_by_label(t("Tagline")).fill(TAGLINE)
    await english.get_by_label(t("Description")).fill("Desk and floor lamps, made in Ningbo since 1998.")
    await chinese.get_by_label(t("Tagline")).fill(TAGLINE_ZH)
    await chinese.get_by_label(t("Description")).fill("1998年起宁波制造的台灯和落地灯。")
    await page.locator("#profile").get_by_role("button", name=t("Save"), exact=True).click()
    await flashed(page, t("The booth was saved."))
    await expect(english.get_by_label(t("Tagline"))).to_have_value(TAGLINE)
    await expect(chinese.get_by_label(t("Tagline"))).to_have_value(TAGLINE_ZH)

    media = page.locator("#media")
    await media.get_by_label(t("Use as")).select_option(label=t("Logo"))
    await media.get_by_label(t("File"), exact=True).set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": a_logo()}
    )
    await media.get_by_role("button", name=t("Upload"), exact=True).click()
    await flashed(page, t("The file was uploaded."))
    await expect(page.locator(".media-current figure", has_text=t("Logo")).locator("img")).to_be_visible()

    await page.get_by_role("link", name=t("View the booth page")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(BOOTH)
    await expect(page.get_by_text(TAGLINE_ZH if reader.chinese else TAGLINE)).to_be_visible()
    logo = page.get_by_role("img", name=t("Logo of %(name)s") % {"name": BOOTH})
    await expect(logo).to_be_visible()
    # The picture really loads: the browser decoded the stored thumbnail.
    await expect(logo).not_to_have_js_property("naturalWidth", 0)
    await page.go_back()


async def add_a_product(page: Page, reader: Reader) -> None:
    """A product whose price is typed with a decimal comma, shown in the reader's money format."""
    t = reader.t
    await (
        page.get_by_role("navigation", name=t("Booth editor")).get_by_role("link", name=t("Products")).click()
    )
    await expect(page.get_by_text(t("No products yet."))).to_be_visible()
    form = page.locator("#new-product")
    await form.locator("fieldset").first.get_by_label(t("Name")).fill("Desk lamp X200")
    await form.get_by_label(t("Lowest price")).fill("9,80")
    await form.get_by_label(t("Currency")).fill("CNY")
    await form.get_by_role("button", name=t("Add product")).click()
    await flashed(page, t("The product was added. Add pictures of it below."))
    await expect(page.get_by_label(t("Lowest price"))).to_have_value("9.80")
    await page.get_by_role("link", name=t("All products")).click()
    row = page.locator("tbody tr", has_text="Desk lamp X200")
    # Renminbi as each reader writes it: "¥" in China, "CN¥" where "¥" could be the yen.
    await expect(row.locator("td").nth(1)).to_have_text("¥9.80" if reader.chinese else "CN¥9.80")


async def schedule_a_broadcast(page: Page, reader: Reader) -> None:
    """An hour from now (the expo keeps UTC), presented by the booth; lands on its go-live page."""
    t = reader.t
    await (
        page.get_by_role("navigation", name=t("Main navigation"))
        .get_by_role("link", name=t("Go live"))
        .click()
    )
    await expect(page.get_by_role("heading", name=t("New broadcast"))).to_be_visible()
    form = page.locator("#new-broadcast")
    await form.locator(".row-form").first.get_by_label(t("Title")).fill("Lamp factory tour")
    await expect(form.get_by_label(t("Expo"), exact=True)).to_have_value(SLUG)
    await form.get_by_label(t("Presented by")).select_option(label=BOOTH)
    start = utcnow().replace(second=0, microsecond=0) + timedelta(hours=1)
    await form.locator("#b-starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_role("button", name=t("Schedule the broadcast")).click()
    await expect(page).to_have_url(re.compile(r"/streams/\d+/live$"))
    await flashed(page, t("The broadcast is scheduled. Go live from here, or from OBS."))
    await expect(page.locator("#stream-status")).to_have_text(t("Scheduled"))


async def go_live(page: Page, reader: Reader) -> None:
    t = reader.t
    await page.get_by_role("button", name=t("Start broadcasting")).click()
    await expect(page.locator("#publish-state")).to_have_text(t("You are live."))
    await expect(page.locator("#stream-status")).to_have_text(t("Live"))


async def a_visitor_watches(
    presenter: Page, browser: Browser, server: LiveServer, reader: Reader, errors: list[str]
) -> None:
    """Someone opens the watch page (signed out): the presenter's page counts them."""
    await expect(presenter.locator("#viewer-count")).to_have_text("0")
    stream = presenter.url.rsplit("/", 2)[1]
    context, watcher = await new_tab(browser, reader, errors, "viewer")
    try:
        await watcher.goto(f"{server.url}/watch/{stream}")
        await expect(watcher.locator("#watch-status")).to_have_text(reader.t("Live"))
        await expect(presenter.locator("#viewer-count")).to_have_text("1")
    finally:
        await context.close()


async def stop_and_resume(page: Page, reader: Reader) -> None:
    """Stop, reopen the ended broadcast and go live again, all without a reload."""
    t = reader.t
    await page.get_by_role("button", name=t("Stop"), exact=True).click()
    await expect(page.locator("#publish-state")).to_have_text(t("Broadcast stopped."))
    await expect(page.locator("#stream-status")).to_have_text(t("Ended"))
    await expect(page.get_by_role("button", name=t("Start broadcasting"))).to_be_disabled()
    await page.get_by_role("button", name=t("Reopen the broadcast")).click()
    await expect(page.locator("#stream-status")).to_have_text(t("Scheduled"))
    await expect(page.locator("#publish-state")).to_have_text(
        t("The broadcast is open again: start broadcasting when you are ready.")
    )
    await go_live(page, reader)
    await page.get_by_role("button", name=t("Stop"), exact=True).click()
    await expect(page.locator("#stream-status")).to_have_text(t("Ended"))


async def answer_the_lead(page: Page, reader: Reader) -> None:
    """From the home's new-lead count to the lead, whose thread then shows the reply."""
    t = reader.t
    await page.locator('[data-attention="leads"]').get_by_role("link", name=t("1 new lead")).click()
    lead = page.locator("li.lead")
    await expect(lead).to_have_count(1)
    await expect(lead.locator("[data-unread]")).to_have_text(t("Unread"))
    await expect(lead.locator(".lead-message")).to_have_text(QUESTION)
    await lead.get_by_role("link", name=f"{t('Inquiry')} · Vera Visitor").click()
    thread = page.get_by_role("list", name=t("Conversation"))
    await expect(thread.locator(".from-visitor .thread-body")).to_have_text(QUESTION)
    await page.get_by_label(t("Your reply")).fill("Yes: to Lyon in five days, insured.")
    await page.get_by_role("button", name=t("Send reply")).click()
    await flashed(page, t("Your reply was sent to the visitor."))
    await expect(thread.locator(".from-booth .thread-body")).to_have_text(
        "Yes: to Lyon in five days, insured."
    )
    await expect(page.locator(".lead-head [data-status]")).to_have_text(t("Answered"))


async def test_an_exhibitor_fills_a_booth_goes_live_and_answers_a_lead(
    live_server: LiveServer, browser: Browser, reader: Reader, console_errors: list[str]
) -> None:
    t = reader.t
    errors = console_errors
    live_server.call(seed(live_server))
    # A dropped connection keeps a broadcast live this long: here only Stop ends it.
    live_server.app.state.platform.get(MediaPlane).reconnect_grace = 600.0
    context, page = await new_tab(browser, reader, errors, "exhibitor")
    try:
        await sign_in(page, live_server, reader, EXHIBITOR)
        await expect(page).to_have_url(re.compile(r"/exhibitor$"))
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            t("Welcome, %(name)s") % {"name": "Mei Lin"}
        )
        booth = await apply_for_a_booth(page, reader)

        live_server.call(approve_and_ask(live_server, booth))
        await go_home(page)
        card = page.locator(f'[data-booth="{booth}"]')
        await expect(card.get_by_role("heading")).to_have_text(BOOTH)
        await expect(card.locator('[data-attention="leads"]')).to_have_text(t("1 new lead"))
        await expect(card.locator('[data-attention="broadcast"]')).to_have_text(t("No broadcast scheduled"))

        await card.get_by_role("link", name=BOOTH).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(BOOTH)  # approved: no badge
        await fill_in_the_booth(page, reader)
        await add_a_product(page, reader)

        await schedule_a_broadcast(page, reader)
        await go_live(page, reader)
        await a_visitor_watches(page, browser, live_server, reader, errors)
        await stop_and_resume(page, reader)

        await go_home(page)
        await answer_the_lead(page, reader)
        await go_home(page)
        await expect(page.locator(f'[data-booth="{booth}"] [data-attention="leads"]')).to_have_text(
            t("No new leads")
        )
    finally:
        await context.close()
    assert console_errors == []
