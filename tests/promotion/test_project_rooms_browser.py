"""A project meets and signs, in real Chromium: the bureau's organizer schedules an online meeting
from the project's page (the investor, reading in Chinese, sees it with their link), moves the
project to the signing stage, opens the ceremony and uploads the contract; the organizer signs
from the signing room, the investor from their signing link, and both project pages show the
project signed with its certificate and the contract's SHA-256.

With ``EXPO_TEST_SHOTS=DIR`` the project pages are also photographed at 1280 and 390 px, in English
and Chinese (``DIR/project_rooms_*.png``)."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from expo.db import utcnow
from tests.conftest import LiveServer
from tests.promotion.test_project_rooms import INVESTOR, ORG, filed_project
from tests.promotion.test_projects_browser import signed_in
from tests.signing.conftest import make_pdf

DEADLINE_MS = 30_000
SHOTS = os.environ.get("EXPO_TEST_SHOTS", "")


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"project_rooms_{name}.png"), full_page=True)


async def sign(page: Page, name: str) -> None:
    form = page.locator(".signing-form")
    await form.locator('input[name="name"]').fill(name)
    await form.locator('input[name="consent"]').check()
    await form.locator('button[type="submit"]').click()


async def test_the_bureau_meets_the_investor_and_both_sign_the_project(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    project = live_server.call(filed_project(live_server.app, "negotiating"))
    base = live_server.url
    errors: list[str] = []
    bureau_url = f"{base}/organizer/expos/city/projects/{project.id}"
    investor_url = f"{base}/expos/city/invest/projects/{project.id}"

    org_context, org = await signed_in(browser, base, ORG, "en-US")
    org.on("pageerror", lambda error: errors.append(str(error)))
    await org.goto(bureau_url)
    start = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT10:30")
    await org.fill("#meeting-starts_at", start)
    await org.select_option("#meeting-minutes", "90")
    await org.fill("#meeting-title", "Site visit")
    await org.fill("#meeting-agenda", "Land parcel 7")
    await org.get_by_role("button", name="Schedule the meeting").click()
    await expect(org.locator(".message").first).to_contain_text(
        "The meeting was scheduled", timeout=DEADLINE_MS
    )
    meeting = org.locator(".project-meeting")
    await expect(meeting).to_contain_text(f"{start.replace('T', ' ')}\u201312:00")
    await expect(meeting.get_by_role("link", name="Open the room as host")).to_be_visible()
    await shot(org, "bureau_en_1280")

    investor_context, investor = await signed_in(browser, base, INVESTOR, "zh-CN")
    investor.on("pageerror", lambda error: errors.append(str(error)))
    await investor.goto(investor_url)
    join = investor.locator(".project-meeting").get_by_role("link", name="加入会议")
    await expect(join).to_have_attribute("href", re.compile(r"^/rooms/\d+\?key="))
    await expect(investor.locator(".project-meeting")).to_contain_text("Site visit")
    await shot(investor, "investor_zh_1280")

    # The signing stage: the ceremony, with the organizer as the bureau's signatory.
    await org.select_option("#stage", "signing")
    await org.get_by_role("button", name="Move", exact=True).click()
    await expect(org.locator(".project-status .project-stage")).to_have_text("Signing", timeout=DEADLINE_MS)
    await org.fill("#ceremony-signer_name", "Olga Org")
    await expect(org.locator("#ceremony-investor_signer")).to_have_value("Vera Investor")
    await org.get_by_role("button", name="Open the signing ceremony").click()
    await expect(org.locator(".message").first).to_contain_text(
        "The signing ceremony is open", timeout=DEADLINE_MS
    )
    await shot(org, "ceremony_open_en_1280")
    await org.get_by_role("link", name="Upload the contract and see the parties").click()
    contract = make_pdf("Investment agreement: Nordlicht Batteries and the City of Shenzhen.")
    path = tmp_path / "Investment agreement.pdf"
    path.write_bytes(contract)
    await org.locator('form[action$="/documents"] input[type="file"]').set_input_files(str(path))
    await org.locator('form[action$="/documents"] button[type="submit"]').click()
    await expect(org.locator("body")).to_contain_text(
        hashlib.sha256(contract).hexdigest(), timeout=DEADLINE_MS
    )

    await org.goto(bureau_url)
    await org.get_by_role("link", name="Open the signing room as host").click()
    await expect(org.locator("#signing-panel")).to_have_attribute("data-state", "open", timeout=DEADLINE_MS)
    await sign(org, "Olga Org")
    await expect(org.locator(".signing-done")).to_be_visible(timeout=DEADLINE_MS)

    await investor.goto(investor_url)
    await investor.get_by_role("link", name="阅读并签署合同").click()
    await expect(investor.locator("#signing-panel")).to_have_attribute(
        "data-state", "open", timeout=DEADLINE_MS
    )
    await sign(investor, "vera investor")
    await expect(investor.locator("#ceremony-moment")).to_be_visible(timeout=DEADLINE_MS)

    digest = hashlib.sha256(contract).hexdigest()
    for page, url, signed in ((org, bureau_url, "Signed"), (investor, investor_url, "已签署")):
        await page.goto(url)
        await expect(page.locator(".project-status .project-stage")).to_have_text(signed)
        await expect(page.locator("[data-sha256]")).to_have_text(digest)
        await expect(page.locator("a[data-certificate]")).to_have_attribute(
            "href", re.compile(r"^/signing/certificates/")
        )
    await shot(org, "bureau_signed_en_1280")
    await shot(investor, "investor_signed_zh_1280")
    await investor.locator("a[data-certificate]").click()
    await expect(investor.locator("body")).to_contain_text(digest, timeout=DEADLINE_MS)
    # On a phone the project pages fit the screen: no sideways scrolling.
    for page, url, name in (
        (org, bureau_url, "bureau_signed_en_390"),
        (investor, investor_url, "investor_signed_zh_390"),
    ):
        await page.set_viewport_size({"width": 390, "height": 800})
        await page.goto(url)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390, url
        await shot(page, name)
    if SHOTS:  # the other language of each side, for the eye
        for email, url, locale in ((ORG, bureau_url, "zh-CN"), (INVESTOR, investor_url, "en-US")):
            context, page = await signed_in(browser, base, email, locale)
            for width in (1280, 390):
                await page.set_viewport_size({"width": width, "height": 900})
                await page.goto(url)
                await shot(page, f"{'bureau' if email == ORG else 'investor'}_{locale}_{width}")
            await context.close()
    await investor_context.close()
    await org_context.close()
    assert errors == []
