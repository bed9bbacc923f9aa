"""In Chromium: the organizer's dashboard shows its charts and follows a viewer and a check-in live,
without a reload; the exhibitor's page follows its broadcast's viewer count."""

from __future__ import annotations

import os
import secrets

from playwright.async_api import Browser, Page, expect

from expo import events
from expo.db import utcnow
from expo.registration.models import Registration, RegistrationStatus
from streaming.audience import Audience
from streaming.models import ViewVia
from tests.booths.test_floor_browser import sign_in
from tests.browser.conftest import browser, console_errors, page  # noqa: F401  (fixtures)
from tests.conftest import LiveServer
from tests.dashboards.conftest import Show, seed_show


async def check_in(server: LiveServer, show: Show) -> None:
    platform = server.app.state.platform
    assert show.expo.id is not None and show.visitor.id is not None
    async with platform.db.session() as session:
        session.add(
            Registration(
                expo_id=show.expo.id,
                user_id=show.visitor.id,
                status=RegistrationStatus.APPROVED.value,
                badge_code=secrets.token_urlsafe(16),
                checked_in_at=utcnow(),
            )
        )
        await session.commit()
    await events.figures_changed(platform.bus, show.expo.id)


async def test_organizer_dashboard_updates_live(
    live_server: LiveServer,
    browser: Browser,  # noqa: F811
    page: Page,  # noqa: F811
    console_errors: list[str],  # noqa: F811
) -> None:
    show = live_server.call(seed_show(live_server.app))
    audience = live_server.app.state.platform.get(Audience)
    assert show.keynote.id is not None
    live_server.call(audience.watch(show.keynote.id, "user:500", ViewVia.PAGE))
    live_server.call(audience.sample())
    await sign_in(page, live_server, "org@example.com")
    await page.goto(live_server.url + "/organizer/expos/show/dashboard")
    watching = page.locator('[data-figure="live_viewers"]')
    await expect(watching).to_have_text("1")
    await expect(page.locator("#live[data-subscribed=true]")).to_have_count(1)
    # The curve of the keynote and the booth rankings are drawn, labelled for screen readers.
    await expect(page.get_by_role("img", name="Viewers per minute: Opening keynote")).to_be_visible()
    await expect(page.get_by_role("img", name="Booths by visits")).to_be_visible()

    live_server.call(audience.watch(show.keynote.id, "user:501", ViewVia.WHEP))
    await expect(watching).to_have_text("2")
    row = page.locator(f'#live-broadcasts tr[data-broadcast="{show.keynote.id}"] td')
    await expect(row).to_have_text("2")
    table = page.locator(
        f'#broadcast-table tr[data-broadcast="{show.keynote.id}"] [data-field="live_viewers"]'
    )
    await expect(table).to_have_text("2")

    live_server.call(check_in(live_server, show))
    await expect(page.locator('[data-figure="check_ins_today"]')).to_have_text("1")
    await expect(page.locator('[data-figure="check_ins_total"]')).to_have_text("1")
    shots = os.environ.get("EXPO_SCREENSHOTS")
    if shots:
        await page.screenshot(path=f"{shots}/dashboard.png", full_page=True)
    assert console_errors == []


async def test_exhibitor_dashboard_follows_its_broadcast(
    live_server: LiveServer,
    browser: Browser,  # noqa: F811
    page: Page,  # noqa: F811
    console_errors: list[str],  # noqa: F811
) -> None:
    show = live_server.call(seed_show(live_server.app))
    audience = live_server.app.state.platform.get(Audience)
    assert show.demo.id is not None
    await sign_in(page, live_server, "exhibitor@example.com")
    await page.goto(live_server.url + "/my/dashboard")
    cell = page.locator(f'[data-stream-live="{show.demo.id}"]')
    await expect(cell).to_have_text("0")
    await expect(page.locator(f'[data-stream-live="{show.demo.id}"][data-subscribed=true]')).to_have_count(1)
    for viewer in ("user:600", "user:601"):
        live_server.call(audience.watch(show.demo.id, viewer, ViewVia.PAGE))
    await expect(cell).to_have_text("2")
    assert console_errors == []
