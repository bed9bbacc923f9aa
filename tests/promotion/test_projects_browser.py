"""Project filing in real Chromium: an investor reading in Chinese files a project from the
promotion site (a mistake first, shown beside its field), the organizer moves it to screening on
the pipeline board, and the investor sees the new status under "My projects"."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.booths.web import PASSWORD
from tests.conftest import LiveServer
from tests.promotion.conftest import seed_expos

DEADLINE_MS = 15_000


async def signed_in(browser: Browser, base: str, email: str, locale: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/login")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', PASSWORD)
    await page.locator('form[action="/login"] button[type="submit"]').click()
    await page.wait_for_url(lambda url: "/login" not in url, timeout=DEADLINE_MS)
    return context, page


async def test_an_investor_files_in_chinese_and_sees_the_bureau_move_it(
    live_server: LiveServer, browser: Browser
) -> None:
    live_server.call(seed_expos(live_server.app))
    base = live_server.url
    errors: list[str] = []

    investor_context, investor = await signed_in(browser, base, "visitor@example.com", "zh-CN")
    investor.on("pageerror", lambda error: errors.append(str(error)))
    await investor.goto(f"{base}/expos/city/invest/project-filing")
    await investor.get_by_role("link", name="项目备案").first.click()
    await expect(investor.get_by_role("heading", level=1)).to_have_text("项目备案")
    await investor.fill("#company", "北极光电池有限公司")
    await investor.fill("#sector", "储能")
    await investor.select_option("#country", "DE")
    await investor.fill("#amount", "1.5亿")  # not a whole number: refused beside the field
    await investor.select_option("#currency", "EUR")
    await investor.fill("#jobs", "650")
    await investor.fill("#timeline", "2027 年建设、2028 年投产")
    await investor.get_by_role("button", name="提交项目").click()
    await expect(investor.locator("#err-amount")).to_contain_text("请填写整数", timeout=DEADLINE_MS)
    await expect(investor.locator("#company")).to_have_value("北极光电池有限公司")
    await investor.fill("#amount", "150000000")
    await investor.get_by_role("button", name="提交项目").click()
    await expect(investor.locator(".message").first).to_contain_text("您的项目已提交", timeout=DEADLINE_MS)
    await expect(investor.locator(".project-status .project-stage")).to_have_text("已提交")

    org_context, org = await signed_in(browser, base, "org@example.com", "en-US")
    org.on("pageerror", lambda error: errors.append(str(error)))
    await org.goto(f"{base}/organizer/expos/city")
    await org.get_by_role("link", name="Project pipeline").click()
    card = org.locator("#stage-filed .project-card", has_text="北极光电池有限公司")
    await expect(card).to_contain_text("150,000,000 EUR", timeout=DEADLINE_MS)
    await card.locator("select[name=stage]").select_option("screening")
    await card.get_by_role("button", name="Move").click()
    await expect(org.locator(".message").first).to_contain_text("The project was moved.", timeout=DEADLINE_MS)
    await expect(org.locator("#stage-screening .project-card")).to_contain_text("北极光电池有限公司")
    await expect(org.locator("#stage-filed .project-card")).to_have_count(0)

    await investor.goto(f"{base}/expos/city/invest/projects")
    row = investor.locator("tr", has_text="北极光电池有限公司")
    await expect(row.locator(".project-stage")).to_have_text("筛选中", timeout=DEADLINE_MS)
    await row.get_by_role("link").click()
    await expect(investor.locator(".project-history li")).to_have_count(2)
    await expect(investor.locator(".project-status .project-stage")).to_have_text("筛选中")
    # On a phone the pages fit the screen: no sideways scrolling.
    for url in ("/expos/city/invest/projects/new", "/expos/city/invest/projects"):
        await investor.set_viewport_size({"width": 390, "height": 800})
        await investor.goto(base + url)
        assert await investor.evaluate("document.documentElement.scrollWidth") <= 390, url
    await org.set_viewport_size({"width": 390, "height": 800})
    await org.goto(f"{base}/organizer/expos/city/projects")
    assert await org.evaluate("document.documentElement.scrollWidth") <= 390
    await investor_context.close()
    await org_context.close()
    assert errors == []
