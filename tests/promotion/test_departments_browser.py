"""A project's circulation in real Chromium: the organizer adds two departments with a member each
and sends a filed project to the first; its member, reading in Chinese, finds it under "My
department's projects", comments and hands it over; the second department's member marks its step
done, and the organizer's board and project page show where it went.

With ``EXPO_TEST_SHOTS=DIR`` the pages are also photographed at 1280 and 390 px, in English and
Chinese (``DIR/departments_*.png``)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Browser, Page, expect
from starlette.applications import Starlette

from tests.booths.web import make_account
from tests.conftest import LiveServer
from tests.promotion.conftest import seed_expos
from tests.promotion.test_departments import file
from tests.promotion.test_projects_browser import DEADLINE_MS, signed_in

SHOTS = os.environ.get("EXPO_TEST_SHOTS", "")


async def stage(app: Starlette) -> int:
    await seed_expos(app)
    await make_account(app, "land@example.com", "visitor", name="林规划")
    await make_account(app, "tax@example.com", "visitor", name="Tao Tax")
    return await file(app, "Nordlicht Batteries GmbH")


async def shot(page: Page, name: str) -> None:
    """Photograph the page at 1280 and 390 px (kept when ``EXPO_TEST_SHOTS`` names a directory);
    on a phone nothing scrolls sideways."""
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(Path(SHOTS) / f"departments_{name}_{width}.png"), full_page=True)
        assert await page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def add_department(org: Page, name: str, name_zh: str, member: str) -> None:
    await org.fill("#name", name)
    await org.fill("#name_zh", name_zh)
    await org.get_by_role("button", name="Add the department").click()
    await expect(org.get_by_role("heading", level=1)).to_have_text(name, timeout=DEADLINE_MS)
    await org.fill("#email", member)
    await org.get_by_role("button", name="Add the member").click()
    await expect(org.locator("#members")).to_contain_text(member, timeout=DEADLINE_MS)


async def test_a_project_goes_round_the_departments(live_server: LiveServer, browser: Browser) -> None:
    project_id = live_server.call(stage(live_server.app))
    base = live_server.url
    errors: list[str] = []

    org_context, org = await signed_in(browser, base, "org@example.com", "en-US")
    org.on("pageerror", lambda error: errors.append(str(error)))
    await org.goto(f"{base}/organizer/expos/city/projects")
    await org.locator(".department-filter").get_by_role("link", name="Departments").click()
    await org.get_by_role("button", name="Add the department").click()  # empty: told beside the field
    await expect(org.locator("#err-name")).to_contain_text("This is required.", timeout=DEADLINE_MS)
    await add_department(org, "Land planning", "规划局", "land@example.com")
    await shot(org, "department_en")
    await org.goto(f"{base}/organizer/expos/city/departments")
    await add_department(org, "Tax bureau", "税务局", "tax@example.com")
    await org.goto(f"{base}/organizer/expos/city/departments")
    await shot(org, "list_en")

    await org.goto(f"{base}/organizer/expos/city/projects/{project_id}")
    await org.get_by_role("link", name="Circulation: send, follow and comment").click()
    await org.select_option("#send-department_id", label="Land planning")
    await org.get_by_role("button", name="Send", exact=True).click()  # no task yet: told beside it
    await expect(org.locator("#err-send-note")).to_be_visible(timeout=DEADLINE_MS)
    await org.fill("#send-note", "Find a 8 ha plot in Pingshan.")
    await org.fill("#send-due_date", "2030-01-15")
    await org.get_by_role("button", name="Send", exact=True).click()
    await expect(org.locator(".message").first).to_contain_text("sent to the department", timeout=DEADLINE_MS)
    await org.goto(f"{base}/organizer/expos/city/projects")
    card = org.locator(f"#project-{project_id}")
    await expect(card.locator(".department-chip")).to_have_text("Land planning")
    await shot(org, "board_chips_en")

    land_context, land = await signed_in(browser, base, "land@example.com", "zh-CN")
    land.on("pageerror", lambda error: errors.append(str(error)))
    await land.goto(f"{base}/my/departments")
    await expect(land.get_by_role("heading", level=1)).to_have_text("本部门的项目")
    await shot(land, "mine_zh")
    await land.goto(f"{base}/account")  # the header leads a member to their desk
    await expect(land.locator('.site-nav a[href="/my/departments"]')).to_have_text("本部门的项目")
    await shot(land, "account_zh")
    await land.locator('.site-nav a[href="/my/departments"]').click()
    await land.get_by_role("link", name="Nordlicht Batteries GmbH").click()
    step = land.locator(".circulation-step").first
    await expect(step).to_contain_text("Find a 8 ha plot in Pingshan.", timeout=DEADLINE_MS)
    await step.get_by_role("button", name="受理").click()
    await expect(land.locator(".message").first).to_contain_text("您已受理该项目", timeout=DEADLINE_MS)
    await land.locator(".circulation-step textarea[name=body]").first.fill("坪山 12 号地块符合要求。")
    await land.locator(".step-comment").first.get_by_role("button").click()
    await expect(land.locator(".circulation-step .thread-body").first).to_contain_text("12 号地块")
    await shot(land, "project_zh")
    await land.locator(".step-form summary").first.click()
    handover = land.locator(".step-form form").first
    await handover.locator("select[name=department_id]").select_option(label="税务局")
    await handover.locator("textarea[name=note]").fill("请确认税收优惠。")
    await handover.get_by_role("button", name="转交", exact=True).click()
    await expect(land.locator(".message").first).to_contain_text("项目已转交", timeout=DEADLINE_MS)
    await expect(land.locator(".circulation-step .step-status").first).to_have_text("已转交")

    tax_context, tax = await signed_in(browser, base, "tax@example.com", "en-US")
    tax.on("pageerror", lambda error: errors.append(str(error)))
    await tax.goto(f"{base}/my/departments")
    await shot(tax, "mine_en")
    await tax.get_by_role("link", name="Nordlicht Batteries GmbH").click()
    tax_step = tax.locator(".circulation-step", has_text="请确认税收优惠。")
    await tax_step.get_by_role("button", name="Mark our step done").click()
    await expect(tax.locator(".message").first).to_contain_text("marked done", timeout=DEADLINE_MS)
    await expect(tax_step.locator(".step-status")).to_have_text("Done")
    await shot(tax, "project_en")

    await org.goto(f"{base}/organizer/expos/city/projects/{project_id}")
    history = org.locator(".project-history")
    for line in (
        "sent it to Land planning, due 2030-01-15",
        "took it on for Land planning",
        "handed it over from Land planning to Tax bureau",
        "marked the step of Tax bureau done",
    ):
        await expect(history).to_contain_text(line)
    await shot(org, "detail_en")
    await org.goto(f"{base}/organizer/expos/city/projects")
    await expect(org.locator(f"#project-{project_id} .department-chip")).to_have_count(0)
    await shot(org, "board_en")
    # The organizer switches to Chinese: the chips, the filter and the departments read in Chinese.
    await org.locator('.lang-switch button[value="zh_Hans"]').click()
    await expect(org.locator(".department-filter label")).to_have_text("所在部门", timeout=DEADLINE_MS)
    await org.select_option("#department-filter", label="规划局")
    await org.get_by_role("button", name="显示").click()
    await expect(org.locator(".message")).to_contain_text("目前在规划局办理的项目", timeout=DEADLINE_MS)
    await expect(org.locator(".project-card")).to_have_count(0)  # the project is with Tax, done now
    await shot(org, "board_zh")
    await org.goto(f"{base}/organizer/expos/city/departments")
    await expect(org.locator(".department-list")).to_contain_text("税务局")
    await shot(org, "list_zh")
    await org.goto(f"{base}/organizer/expos/city/projects/{project_id}")
    await expect(history).to_contain_text("从规划局转交给税务局")  # names in the reader's language
    await shot(org, "detail_zh")
    for context in (org_context, land_context, tax_context):
        await context.close()
    assert errors == []
