"""The promotion site in real Chromium: the organizer writes the letter in English and Chinese and
uploads the poster through the editor's forms, then visitors read it at 1280 and 390 px wide in
English and Chinese, without the page scrolling sideways.

With ``EXPO_TEST_SHOTS=DIR`` the pages are photographed (``DIR/promo_*.png``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.booths.web import PASSWORD
from tests.conftest import LiveServer
from tests.promotion.conftest import MP4, SITE, VTT_EN, VTT_ZH, make_png, seed_expos

SHOTS = os.environ.get("EXPO_TEST_SHOTS", "")
FFMPEG = shutil.which("ffmpeg")


def make_film() -> bytes:
    """A one-second WebM film (FFmpeg's test card), or an MP4 header that only the poster covers
    where FFmpeg is missing: the page shows the poster either way."""
    if FFMPEG is None:
        return MP4
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=320x180:rate=10", "-t", "1"]
    command = [FFMPEG, "-v", "error", *lavfi, "-c:v", "libvpx", "-b:v", "100k", "-f", "webm", "-"]
    return subprocess.run(command, check=True, capture_output=True, timeout=30).stdout


DEADLINE_MS = 15_000


async def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(
            path=str(Path(SHOTS) / f"promo_{name}.png"), full_page=True, animations="disabled"
        )


async def test_the_organizer_writes_the_site_and_visitors_read_it(
    live_server: LiveServer, browser: Browser
) -> None:
    live_server.call(seed_expos(live_server.app))
    base = live_server.url
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    org = await context.new_page()
    await org.goto(f"{base}/login")
    await org.fill('input[name="email"]', "org@example.com")
    await org.fill('input[name="password"]', PASSWORD)
    await org.locator('form[action="/login"] button[type="submit"]').click()
    await org.wait_for_url(lambda url: "/login" not in url, timeout=DEADLINE_MS)

    await org.goto(base + SITE)
    await org.fill("#letter_date", (date.today() - timedelta(days=3)).isoformat())
    await org.fill("#letter_title", "Dear investors")
    await org.fill(
        "#letter_body",
        "Shenzhen welcomes you.\n\nOur bureau serves every project from first visit to opening.",
    )
    await org.fill("#letter_signatory", "Bureau of Commerce")
    await org.fill("#letter_title_zh_Hans", "致投资者的一封信")
    await org.fill("#letter_body_zh_Hans", "深圳欢迎您。\n\n商务局全程服务每一个项目。")
    await org.fill("#letter_signatory_zh_Hans", "深圳市商务局")
    await org.get_by_role("button", name="Save the letter").click()
    await expect(org.locator(".message").first).to_contain_text("The letter was saved.", timeout=DEADLINE_MS)
    for slot, name, data in [
        ("poster", "poster.png", make_png("#1f6f78", (1280, 720))),
        ("film", "film.webm", make_film()),
        ("subtitles_en", "en.vtt", VTT_EN.encode()),
        ("subtitles_zh_Hans", "zh.vtt", VTT_ZH.encode()),
    ]:
        await org.set_input_files(
            f'form:has(input[value="{slot}"]) input[type="file"]',
            files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}],
        )
        # Each upload answers with the editor again: wait for that page, not the previous one's message.
        async with org.expect_navigation(timeout=DEADLINE_MS):
            await org.locator(f'form:has(input[value="{slot}"]) button[type="submit"]').click()
        await expect(org.locator(".message").first).to_contain_text("The file was uploaded.")
    await expect(org.locator(".promo-files")).not_to_contain_text("none")
    await shot(org, "editor_site_en_1280")
    await org.goto(base + SITE + "/city")
    await org.fill("#new-heading", "A market of 17 million")
    await org.fill("#new-body", "Consumers, suppliers and the world's fourth busiest port.")
    await org.fill("#new-figure_value", "3.6 trillion")
    await org.fill("#new-figure_label", "GDP, yuan")
    await org.fill("#new-heading_zh_Hans", "一千七百万人的市场")
    await org.fill("#new-figure_label_zh_Hans", "地区生产总值")
    await org.get_by_role("button", name="Add the section").click()
    await expect(org.locator(".message").first).to_contain_text("The section was added.", timeout=DEADLINE_MS)
    await shot(org, "editor_module_en_1280")
    await context.close()

    errors: list[str] = []
    for locale, lang, heading in [("en-US", "en", "Dear investors"), ("zh-CN", "zh", "致投资者的一封信")]:
        for width in (1280, 390):
            visitor = await browser.new_context(locale=locale, viewport={"width": width, "height": 900})
            page = await visitor.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{base}/expos/city/invest")
            await expect(page.locator("#letter-title")).to_have_text(heading)
            assert await page.locator("video").get_attribute("poster") is not None
            await expect(page.locator("video track")).to_have_count(2)
            await page.wait_for_function(
                "document.querySelector('video').readyState >= 1", timeout=DEADLINE_MS
            )
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            await shot(page, f"site_{lang}_{width}")
            await page.goto(f"{base}/expos/city/invest/city")
            expected = "A market of 17 million" if lang == "en" else "一千七百万人的市场"
            await expect(page.locator(".promo-section h2")).to_have_text(expected)
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            await shot(page, f"module_{lang}_{width}")
            await visitor.close()
    assert errors == []
