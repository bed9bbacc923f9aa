"""In Chromium: the organizer's check-in desk checks a visitor in by the typed badge code (over the
JSON API, without reloading), says so again the second time, and refuses a forged code."""

from __future__ import annotations

from playwright.async_api import Page, expect

from expo.accounts import services as accounts
from expo.expos import services as expos
from expo.registration import badges, services
from expo.registration.mail import Mailer
from tests.booths.test_floor_browser import sign_in
from tests.booths.web import PASSWORD
from tests.browser.conftest import browser, console_errors, page  # noqa: F401  (fixtures)
from tests.conftest import LiveServer


async def _registered_visitor(server: LiveServer) -> str:
    """An expo with its organizer and an approved visitor; returns the visitor's badge code."""
    platform = server.app.state.platform
    async with platform.db.session() as session:
        organizer = await accounts.create_user(
            session, email="org@example.com", password=PASSWORD, role="organizer"
        )
        ann = await accounts.create_user(session, email="ann@example.com", password=PASSWORD, role="visitor")
        ann.name = "Ann Lee"
        session.add(ann)
        await session.commit()
        expo = await expos.ensure_expo(session, "fair", "Spring Fair", created_by=organizer.id)
        registration = await services.register(
            session, expo, ann, {"company": "Lumen"}, consent=False, mailer=Mailer(platform.settings)
        )
    return badges.badge_payload(platform.secret, registration)


async def test_staff_check_a_visitor_in_by_typing_the_badge_code(
    live_server: LiveServer,
    page: Page,  # noqa: F811  (the fixture imported above)
    console_errors: list[str],  # noqa: F811
) -> None:
    code = live_server.call(_registered_visitor(live_server))
    await sign_in(page, live_server, "org@example.com")
    await page.goto(live_server.url + "/organizer/expos/fair/check-in")
    result = page.locator("[data-checkin-result]")

    await page.get_by_label("Badge code").fill(code)
    await page.get_by_role("button", name="Check in", exact=True).click()
    await expect(result).to_have_text("Checked in: Ann Lee · Lumen")
    # Headless Chromium has no BarcodeDetector: the desk says so and shows no camera button.
    await expect(page.get_by_role("button", name="Scan with the camera")).to_be_hidden()
    await expect(page.get_by_label("Badge code")).to_have_value("")
    assert page.url.endswith("/organizer/expos/fair/check-in")  # answered in place, no reload

    await page.get_by_label("Badge code").fill(code)
    await page.get_by_role("button", name="Check in", exact=True).click()
    await expect(result).to_contain_text("Already checked in at")
    await expect(result).to_contain_text("Ann Lee · Lumen")

    await page.get_by_label("Badge code").fill(code[:-3] + "abc")
    await page.get_by_role("button", name="Check in", exact=True).click()
    await expect(result).to_have_text("This is not a badge code of this platform.")
    # The only console line is Chromium logging the refused code's 422; no CSP or script errors.
    assert all("422" in error for error in console_errors), console_errors
