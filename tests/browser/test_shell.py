"""The page shell in a real browser: sign up, role page, language switch, log out, no CSP errors."""

from __future__ import annotations

import os
import re

from playwright.async_api import Page, expect

from tests.conftest import LiveServer

# Set to a directory to keep screenshots while working on the layout (never committed).
SCREENSHOTS = os.environ.get("EXPO_TEST_SCREENSHOTS")


async def test_sign_up_switch_language_and_log_out(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    await page.goto(live_server.url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Trade shows that run in the browser")
    # The stylesheet applied (a CSP block would leave the browser's default serif font).
    assert "system-ui" in await page.evaluate("getComputedStyle(document.body).fontFamily")

    await page.get_by_role("navigation").get_by_role("link", name="Sign up").click()
    await page.get_by_label("Your name").fill("Ann Lee")
    await page.get_by_label("E-mail").fill("ann@example.com")
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("radio", name=re.compile("^Exhibitor")).check()
    await page.get_by_role("button", name="Sign up").click()

    await expect(page).to_have_url(live_server.url + "/exhibitor")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Ann Lee")
    navigation = page.get_by_role("navigation", name="Main navigation")
    links = ["My booth", "Go live", "Leads", "Rooms", "Dashboard"]
    await expect(navigation.get_by_role("link")).to_have_text(links)
    # app.js (an ES module) ran: the flash message got its dismiss button, and it works.
    welcome = page.locator(".message", has_text="Your account is ready. Welcome!")
    await welcome.get_by_role("button", name="Dismiss").click()
    await expect(welcome).to_be_hidden()
    if SCREENSHOTS:
        await page.screenshot(path=os.path.join(SCREENSHOTS, "exhibitor.png"), full_page=True)

    await page.get_by_role("button", name="简体中文").click()
    await expect(page).to_have_url(live_server.url + "/exhibitor")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    navigation = page.get_by_role("navigation", name="主导航")
    links = ["我的展位", "直播间", "销售线索", "会议室", "控制台"]
    await expect(navigation.get_by_role("link")).to_have_text(links)
    await expect(page.get_by_role("heading", level=1)).to_have_text("欢迎，Ann Lee")  # noqa: RUF001
    if SCREENSHOTS:
        await page.screenshot(path=os.path.join(SCREENSHOTS, "exhibitor-zh.png"), full_page=True)

    await page.get_by_role("button", name="退出登录").click()
    await expect(page).to_have_url(live_server.url + "/")
    await expect(page.get_by_text("您已退出登录。")).to_be_visible()
    navigation = page.get_by_role("navigation", name="主导航")
    await expect(navigation.get_by_role("link")).to_have_text(["登录", "注册"])

    # Signed out, the role page sends the browser to the login form (still in Chinese).
    await page.goto(live_server.url + "/exhibitor")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fexhibitor$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录")

    assert console_errors == []
