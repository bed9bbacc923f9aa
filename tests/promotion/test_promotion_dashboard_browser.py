"""The promotion dashboard in Chromium, at a laptop's 1280 px and a phone's 390 px, in English and
Chinese: the figures of a pipeline are on the page, nothing pokes out of a card or scrolls the page
sideways, every bar label is drawn whole, and the pipeline board flags the overdue project.

With ``EXPO_TEST_SHOTS=DIR`` the pages are photographed (``DIR/promotion_dashboard_*.png``)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, expect

from expo.db import utcnow
from tests.conftest import LiveServer
from tests.dashboards.test_layout_browser import FIND_OVERFLOW
from tests.promotion.test_browser import DEADLINE_MS, SHOTS
from tests.promotion.test_projects_browser import signed_in
from tests.promotion.test_promotion_dashboard import DASHBOARD, build_world


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        path = Path(SHOTS) / f"promotion_dashboard_{name}.png"
        await page.screenshot(path=str(path), full_page=True, animations="disabled")


async def test_the_dashboard_fits_a_laptop_and_a_phone_in_both_languages(
    live_server: LiveServer, browser: Browser
) -> None:
    ids = live_server.call(build_world(live_server.app, utcnow()))
    base = live_server.url
    errors: list[str] = []
    expected = {"en-US": ("Promotion dashboard", "Screening"), "zh-CN": ("招商看板", "筛选中")}
    for locale, (heading, stage) in expected.items():
        context, page = await signed_in(browser, base, "org@example.com", locale)
        page.on("pageerror", lambda error: errors.append(str(error)))
        for width in (1280, 390):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.goto(base + DASHBOARD)
            await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            await expect(page.locator('[data-figure="overdue"]')).to_have_text("1")
            row = page.locator('#stage-table tr[data-stage="screening"]')
            await expect(row.locator("th")).to_have_text(stage)
            await expect(row.locator('[data-field="amounts"]')).to_have_text("500 CNY100 EUR")
            await expect(
                page.locator("#funnel-table [data-step='opened'] [data-field='rate_from_previous']")
            ).to_have_text("60%")
            assert await page.locator("svg.chart-bars").count() == 5
            await shot(page, f"{locale[:2]}_{width}")
            assert await page.evaluate(FIND_OVERFLOW) == [], (locale, width)
            await page.goto(f"{base}/organizer/expos/city/projects")
            card = page.locator(f"#project-{ids['Nordlicht']}")
            await expect(card.locator("[data-overdue]")).to_be_visible(timeout=DEADLINE_MS)
            assert await page.locator("[data-overdue]").count() == 1
            await shot(page, f"board_{locale[:2]}_{width}")
        await context.close()
    assert errors == []
