"""The bureau's own filing questions in real Chromium: the organizer adds a required choice with
its Chinese label and options from the site editor; an investor reading Chinese files a project,
is told beside the question that it needs an answer, answers it and finds the answer on the
project's page. The editor and the form fit a phone's width in both languages."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.shots import shot
from tests.conftest import LiveServer
from tests.promotion.conftest import seed_expos
from tests.promotion.test_projects_browser import DEADLINE_MS, signed_in

EDITOR = "/organizer/expos/city/invest/filing-questions"
NEW = "/expos/city/invest/projects/new"


async def test_the_organizer_adds_a_question_and_an_investor_answers_it_in_chinese(
    live_server: LiveServer, browser: Browser
) -> None:
    live_server.call(seed_expos(live_server.app))
    base = live_server.url
    errors: list[str] = []

    org_context, org = await signed_in(browser, base, "org@example.com", "en-US")
    org.on("pageerror", lambda error: errors.append(str(error)))
    await org.goto(f"{base}/organizer/expos/city/invest")
    await org.get_by_role("link", name="Filing questions").click()
    await expect(org.get_by_role("heading", level=1)).to_have_text("Filing questions")
    await org.fill("#l-new", "Industrial park")
    await org.select_option("#k-new", "select")
    await org.locator('input[name="new_required"]').check()
    await org.fill("#o-new", "Qianhai\nNanshan\nLonggang")
    await org.fill("#l-new-zh_Hans", "产业园区")
    await org.fill("#o-new-zh_Hans", "前海\n南山\n龙岗")
    await org.get_by_role("button", name="Save the questions").click()
    await expect(org.locator(".message").first).to_contain_text("saved", timeout=DEADLINE_MS)
    await expect(org.locator("#l-industrial_park")).to_have_value("Industrial park")
    await org.fill("#l-new", "Local partner")
    await org.get_by_role("button", name="Save the questions").click()
    await expect(org.locator("#l-local_partner")).to_have_value("Local partner", timeout=DEADLINE_MS)

    investor_context, investor = await signed_in(browser, base, "visitor@example.com", "zh-CN")
    investor.on("pageerror", lambda error: errors.append(str(error)))
    await investor.goto(base + NEW)
    await investor.fill("#company", "北极光电池有限公司")
    await investor.fill("#sector", "储能")
    await investor.select_option("#country", "DE")
    await investor.fill("#amount", "150000000")
    await investor.select_option("#currency", "EUR")
    await investor.fill("#timeline", "2027 年建设")
    await investor.fill("#q-answers-local_partner", "深圳地铁")
    await investor.get_by_role("button", name="提交项目").click()
    await expect(investor.locator("#err-answers-industrial_park")).to_be_visible(timeout=DEADLINE_MS)
    await expect(investor.locator("#q-answers-local_partner")).to_have_value("深圳地铁")
    await expect(investor.get_by_label("产业园区")).to_be_visible()
    await shot(investor, "c3/form_error_zh_1280", showing="#err-answers-industrial_park")
    await investor.select_option("#q-answers-industrial_park", label="南山")
    await investor.get_by_role("button", name="提交项目").click()
    await expect(investor.locator(".message").first).to_contain_text("您的项目已提交", timeout=DEADLINE_MS)
    answer = investor.locator('dt[data-question="industrial_park"] + dd')
    await expect(answer).to_have_text("南山")
    await shot(investor, "c3/project_zh_1280", showing='dt[data-question="industrial_park"]')

    await investor_context.close()
    await org_context.close()

    # Both pages in both languages and at both widths; on a phone nothing scrolls sideways.
    for locale, heading in (("en-US", "Filing questions"), ("zh-CN", "申报问题")):
        context, page = await signed_in(browser, base, "org@example.com", locale)
        page.on("pageerror", lambda error: errors.append(str(error)))
        for width in (1280, 390):
            await page.set_viewport_size({"width": width, "height": 900})
            for url, name in ((EDITOR, "editor"), (NEW, "form")):
                await page.goto(base + url)
                if name == "editor":
                    await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
                assert await page.evaluate("document.documentElement.scrollWidth") <= width, (url, width)
                await shot(page, f"c3/{name}_{locale[:2]}_{width}")
        await context.close()
    assert errors == []
