"""In Chromium: the check-in desk checks a visitor in by the typed short code (over the JSON API,
without reloading) in green, says "already checked in" in amber the second time with when and by
whom, refuses a forged code in red, finds a visitor by name to check in with a click (asking first
when they are in already), and reads a badge held up to a camera that has no BarcodeDetector."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import segno
from PIL import Image
from playwright.async_api import Browser, Dialog, Page, async_playwright, expect

from expo.accounts import services as accounts
from expo.expos import services as expos
from expo.registration import badges, services
from expo.registration.mail import Mailer
from tests.booths.test_floor_browser import sign_in
from tests.booths.web import PASSWORD
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, browser, console_errors, page  # noqa: F401
from tests.conftest import LiveServer

GREEN = "rgb(223, 243, 230)"
AMBER = "rgb(255, 241, 214)"


async def _registered_visitor(server: LiveServer) -> tuple[str, str]:
    """An expo with its organizer and an approved visitor; returns her signed and short codes."""
    platform = server.app.state.platform
    async with platform.db.session() as session:
        organizer = await accounts.create_user(
            session, email="org@example.com", password=PASSWORD, role="organizer"
        )
        organizer.name = "Olga Organizer"
        ann = await accounts.create_user(session, email="ann@example.com", password=PASSWORD, role="visitor")
        ann.name = "Ann Lee"
        session.add_all([organizer, ann])
        await session.commit()
        expo = await expos.ensure_expo(session, "fair", "Spring Fair", created_by=organizer.id)
        registration = await services.register(
            session, expo, ann, {"company": "Lumen"}, consent=False, mailer=Mailer(platform.settings)
        )
    return badges.badge_payload(platform.secret, registration), badges.show_short_code(
        registration.short_code
    )


async def test_staff_check_a_visitor_in_by_short_code_then_see_the_repeat_in_amber(
    live_server: LiveServer,
    page: Page,  # noqa: F811  (the fixture imported above)
    console_errors: list[str],  # noqa: F811
) -> None:
    long_code, short_code = live_server.call(_registered_visitor(live_server))
    await sign_in(page, live_server, "org@example.com")
    await page.goto(live_server.url + "/organizer/expos/fair/check-in")
    outcome = page.locator("[data-checkin-result] .checkin-result")
    code = page.get_by_label("Badge code")
    check_in = page.get_by_role("button", name="Check in", exact=True)

    await code.fill(short_code.lower())
    await check_in.click()
    await expect(outcome).to_have_attribute("data-outcome", "checked_in")
    await expect(outcome).to_contain_text("Checked in")
    await expect(outcome).to_contain_text("Ann Lee · Lumen")
    await expect(outcome).to_have_css("background-color", GREEN)
    await expect(code).to_have_value("")
    assert page.url.endswith("/organizer/expos/fair/check-in")  # answered in place, no reload

    await code.fill(long_code)  # the long code of the QR code works as well
    await check_in.click()
    await expect(outcome).to_have_attribute("data-outcome", "already")
    await expect(outcome).to_contain_text("Already checked in")
    await expect(outcome).to_contain_text("by Olga Organizer")
    await expect(outcome).to_have_css("background-color", AMBER)

    await code.fill(long_code[:-3] + "abc")
    await check_in.click()
    await expect(outcome).to_have_attribute("data-outcome", "invalid")
    await expect(outcome).to_contain_text("This is not a badge code of this platform.")
    # The only console line is Chromium logging the refused code's 422; no CSP or script errors.
    assert all("422" in error for error in console_errors), console_errors


async def test_staff_find_a_visitor_by_name_and_check_them_in_with_a_click(
    live_server: LiveServer,
    page: Page,  # noqa: F811
    console_errors: list[str],  # noqa: F811
) -> None:
    live_server.call(_registered_visitor(live_server))
    await sign_in(page, live_server, "org@example.com")
    await page.goto(live_server.url + "/organizer/expos/fair/check-in")
    outcome = page.locator("[data-checkin-result] .checkin-result")
    results = page.locator("[data-desk-results] li")

    await page.get_by_label("Name, e-mail or company").fill("nn l")
    await expect(results).to_have_count(1)
    await expect(results).to_contain_text("Ann Lee")
    await expect(results).to_contain_text("Approved")
    await results.get_by_role("button", name="Check in").click()
    await expect(outcome).to_have_attribute("data-outcome", "checked_in")
    await expect(results).to_contain_text("In since")  # the list shows it at once

    # A second click asks first; dismissed, nothing is sent.
    asked: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await results.get_by_role("button", name="Check in").click()
    assert asked == ["Ann Lee is already checked in. Check in again?"]  # the click waits for the answer
    await expect(outcome).to_have_attribute("data-outcome", "checked_in")

    await page.get_by_label("Name, e-mail or company").fill("nobody here")
    await expect(results).to_have_text(["No registration matches."])
    assert console_errors == []


def _y4m(picture: Image.Image, path: Path, frames: int = 10) -> None:
    """``picture`` as a still Y4M video (I420), which Chromium's fake camera plays in a loop."""
    width, height = picture.size
    y, cb, cr = picture.convert("YCbCr").split()
    planes = (
        y.tobytes()
        + cb.resize((width // 2, height // 2)).tobytes()
        + cr.resize((width // 2, height // 2)).tobytes()
    )
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)


async def _camera_showing(text: str, tmp_path: Path) -> Path:
    """A still video of a badge's QR code held up to the camera."""
    frame = Image.new("RGB", (640, 480), (235, 235, 235))
    drawn = io.BytesIO()
    segno.make(text, error="m").save(drawn, kind="png", scale=5, border=4)
    frame.paste(Image.open(io.BytesIO(drawn.getvalue())).convert("RGB"), (100, 20))
    video = tmp_path / "badge.y4m"
    _y4m(frame, video)
    return video


async def test_a_badge_held_up_to_the_camera_is_read_by_the_server(
    live_server: LiveServer, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    long_code, _ = live_server.call(_registered_visitor(live_server))
    video = await _camera_showing(long_code, tmp_path)
    async with async_playwright() as playwright:
        instance: Browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
        )
        try:
            tab = await (await instance.new_context(locale="en-US")).new_page()
            assert not await tab.evaluate("'BarcodeDetector' in window")  # Chromium on Linux has none
            await sign_in(tab, live_server, "org@example.com")
            await tab.goto(live_server.url + "/organizer/expos/fair/check-in")
            await tab.get_by_role("button", name="Scan with the camera").click()
            outcome = tab.locator("[data-checkin-result] .checkin-result")
            await expect(outcome).to_have_attribute("data-outcome", "checked_in", timeout=15000)
            await expect(outcome).to_contain_text("Ann Lee · Lumen")
            await tab.get_by_role("button", name="Stop the camera").click()
            await expect(tab.get_by_role("button", name="Scan with the camera")).to_be_visible()
        finally:
            await instance.close()
