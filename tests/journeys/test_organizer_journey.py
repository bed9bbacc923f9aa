"""An organizer's journey in Chromium, in English and in Chinese, only through the pages: from an
empty platform to an expo with its Chinese title, a hall and a category (one renamed), a
registration form with a question in Chinese, a scheduled broadcast and the expo's dashboard, whose
registration count goes up, without a reload, when a visitor registers in another browser."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, expect

from expo.db import utcnow
from tests.booths.web import make_account
from tests.conftest import LiveServer
from tests.journeys.conftest import Reader, flashed, new_tab, sign_in

SLUG = "lighting-fair"
TITLE, TITLE_ZH = "Spring Lighting Fair", "春季灯具展"
TIMEZONE = "Asia/Shanghai"
QUESTION, QUESTION_ZH = "Which products interest you?", "您对哪些产品感兴趣？"  # noqa: RUF001 (Chinese punctuation)


async def create_the_expo(page: Page, reader: Reader) -> None:
    t = reader.t
    await (
        page.get_by_role("navigation", name=t("Main navigation")).get_by_role("link", name=t("Expos")).click()
    )
    await expect(page.get_by_role("heading", name=t("Expos"), level=1)).to_be_visible()
    new = page.locator("#new-expo")
    await expect(new.get_by_role("heading", name=t("Create an expo"))).to_be_visible()
    starts = utcnow().date() + timedelta(days=30)
    await new.locator("#e-title").fill(TITLE)
    await new.get_by_label(t("Address")).fill(SLUG)
    await new.get_by_label(t("Starts on")).fill(starts.isoformat())
    await new.get_by_label(t("Ends on")).fill((starts + timedelta(days=2)).isoformat())
    await new.get_by_label(t("Time zone")).select_option(TIMEZONE)
    await new.get_by_role("button", name=t("Create expo")).click()
    await expect(page).to_have_url(re.compile(rf"/organizer/expos/{SLUG}$"))
    await flashed(page, t("The expo was created. Add its halls and categories."))
    # No Chinese title yet: Chinese readers see the title as typed.
    await expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)


async def set_the_chinese_title(page: Page, reader: Reader) -> str:
    """On the settings page; returns the title as this reader now sees it."""
    t = reader.t
    await page.locator(".page-head").get_by_role("link", name=t("Settings")).click()
    await expect(page.get_by_role("heading", name=t("Expo settings"), level=1)).to_be_visible()
    await expect(page.locator("#e-title")).to_have_value(TITLE)
    await expect(page.get_by_label(t("Time zone"))).to_have_value(TIMEZONE)
    await page.locator("#e-title-zh_Hans").fill(TITLE_ZH)
    await page.get_by_role("button", name=t("Save"), exact=True).click()
    await flashed(page, t("The expo's settings were saved."))
    await expect(page.locator("#e-title-zh_Hans")).to_have_value(TITLE_ZH)
    seen = TITLE_ZH if reader.chinese else TITLE
    await page.locator(".page-head").get_by_role("link", name=seen).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(seen)
    return seen


async def lay_out_the_floor(page: Page, reader: Reader) -> None:
    """A hall and a category, each with its Chinese name; then the hall is renamed."""
    t = reader.t
    chinese = t("In %(language)s") % {"language": "简体中文"}
    halls, categories = page.locator("#halls"), page.locator("#categories")
    await expect(halls.get_by_role("heading", name=t("Halls"))).to_be_visible()
    await halls.get_by_label(t("New hall")).fill("Hall A")
    await halls.locator("#h-name-zh_Hans").fill("A 馆")
    await halls.get_by_role("button", name=t("Add"), exact=True).click()
    await flashed(page, t("The hall was added."))
    await expect(halls.locator("li[data-hall] strong")).to_have_text(["A 馆" if reader.chinese else "Hall A"])

    await expect(categories.get_by_role("heading", name=t("Categories"))).to_be_visible()
    await categories.get_by_label(t("New category")).fill("Lamps")
    await categories.locator("#c-name-zh_Hans").fill("灯具")
    await categories.get_by_role("button", name=t("Add"), exact=True).click()
    await flashed(page, t("The category was added."))
    await expect(categories.locator("li[data-category] strong")).to_have_text(
        ["灯具" if reader.chinese else "Lamps"]
    )

    hall = halls.locator("li[data-hall]")
    await hall.get_by_text(t("Rename or delete")).click()
    await hall.get_by_label(t("Name"), exact=True).fill("Main hall")
    await hall.get_by_label(chinese).fill("主馆")
    await hall.get_by_role("button", name=t("Save"), exact=True).click()
    await flashed(page, t("The hall was renamed."))
    await expect(halls.locator("li[data-hall] strong")).to_have_text(
        ["主馆" if reader.chinese else "Main hall"]
    )


async def build_the_registration_form(page: Page, reader: Reader) -> None:
    """One question of their own, with its Chinese wording."""
    t = reader.t
    await page.locator(".page-head").get_by_role("link", name=t("Registration form")).click()
    await expect(page.get_by_role("heading", name=t("Registration form"), level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name=t("Add a question"))).to_be_visible()
    await page.locator("#l-new").fill(QUESTION)
    await page.locator("#l-new-zh_Hans").fill(QUESTION_ZH)
    await page.get_by_role("button", name=t("Save the form")).click()
    await flashed(page, t("The registration form was saved."))
    # The question is saved: listed with both wordings, and the "add a question" row is empty again.
    await expect(page.locator("input[name^='c_'][name$='_label']")).to_have_value(QUESTION)
    await expect(page.locator("input[name^='c_'][name$='_label_zh_Hans']")).to_have_value(QUESTION_ZH)
    await expect(page.locator("#l-new")).to_have_value("")


async def schedule_a_broadcast(page: Page, reader: Reader) -> None:
    """Tomorrow at this hour in the expo's timezone, for an hour."""
    t = reader.t
    await (
        page.get_by_role("navigation", name=t("Main navigation"))
        .get_by_role("link", name=t("Broadcasts"))
        .click()
    )
    await expect(page.get_by_role("heading", name=t("Broadcasts"), level=1)).to_be_visible()
    await expect(page.get_by_text(t("You have no broadcasts yet."))).to_be_visible()
    start = datetime.now(ZoneInfo(TIMEZONE)).replace(second=0, microsecond=0) + timedelta(days=1)
    form = page.locator("#new-broadcast")
    await form.locator("#b-title").fill("Opening keynote")
    await form.locator("#b-title-zh_Hans").fill("开幕主题演讲")
    await expect(form.get_by_label(t("Expo"), exact=True)).to_have_value(SLUG)
    await form.locator("#b-starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await form.locator("#b-ends").fill((start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    await form.get_by_role("button", name=t("Schedule the broadcast")).click()
    await expect(page).to_have_url(re.compile(r"/streams/\d+/live$"))
    await flashed(page, t("The broadcast is scheduled. Go live from here, or from OBS."))
    title = "开幕主题演讲" if reader.chinese else "Opening keynote"
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"{t('Go live')}: {title}")
    await (
        page.get_by_role("navigation", name=t("Main navigation"))
        .get_by_role("link", name=t("Broadcasts"))
        .click()
    )
    row = page.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").first).to_have_text(
        "开幕主题演讲" if reader.chinese else "Opening keynote"
    )
    await expect(row.locator(".stream-status")).to_have_text(t("Scheduled"))


async def open_the_dashboard(page: Page, reader: Reader) -> None:
    t = reader.t
    await (
        page.get_by_role("navigation", name=t("Main navigation")).get_by_role("link", name=t("Expos")).click()
    )
    await page.locator(f'[data-expo="{SLUG}"]').get_by_role("link", name=t("Dashboard")).click()
    await expect(page).to_have_url(re.compile(rf"/organizer/expos/{SLUG}/dashboard$"))
    await expect(page.get_by_role("heading", name=t("Dashboard"), level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name=t("Right now"))).to_be_visible()
    await expect(page.get_by_text(t("Nobody has registered yet."))).to_be_visible()
    await expect(page.locator('[data-figure="registrations"]')).to_have_text("0")
    # The figures follow the expo's channel from now on.
    await expect(page.locator("#live[data-subscribed=true]")).to_have_count(1)


async def a_visitor_registers(
    browser: Browser, server: LiveServer, reader: Reader, errors: list[str]
) -> None:
    """Another person, in their own browser, answers the organizer's question in their language."""
    t = reader.t
    server.call(make_account(server.app, "vera@example.com", "visitor", "Vera Visitor"))
    context, page = await new_tab(browser, reader, errors, "visitor")
    try:
        await sign_in(page, server, reader, "vera@example.com")
        await page.goto(f"{server.url}/expos/{SLUG}/register")
        seen = TITLE_ZH if reader.chinese else TITLE
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            t("Register for %(expo)s") % {"expo": seen}
        )
        question = QUESTION_ZH if reader.chinese else QUESTION
        await page.get_by_label(question).fill("LED lamps")
        await page.get_by_role("button", name=t("Register"), exact=True).click()
        await flashed(page, t("You are registered. Your badge is ready."))
    finally:
        await context.close()


async def test_an_organizer_sets_up_an_expo_from_nothing_to_a_live_dashboard(
    live_server: LiveServer, browser: Browser, reader: Reader, console_errors: list[str]
) -> None:
    errors = console_errors
    live_server.call(make_account(live_server.app, "olga@example.com", "organizer", "Olga Organizer"))
    context, page = await new_tab(browser, reader, errors, "organizer")
    try:
        await sign_in(page, live_server, reader, "olga@example.com")
        await expect(page).to_have_url(re.compile(r"/organizer$"))
        await create_the_expo(page, reader)
        await set_the_chinese_title(page, reader)
        await lay_out_the_floor(page, reader)
        await build_the_registration_form(page, reader)
        await schedule_a_broadcast(page, reader)
        await open_the_dashboard(page, reader)

        await a_visitor_registers(browser, live_server, reader, errors)
        # The organizer's open dashboard counts them, without a reload.
        await expect(page.locator('[data-figure="registrations"]')).to_have_text("1")
        await expect(page.locator('[data-figure="registrations"] + .label')).to_have_text(
            reader.t("Registrations")
        )
    finally:
        await context.close()
    assert console_errors == []
