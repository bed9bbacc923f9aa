"""In Chromium: a visitor on the home page sees the "Live now" card's viewer count follow the
audience without a reload, clicks the card and lands on the watch page of that broadcast."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import Browser, Page, expect

from expo.db import utcnow
from streaming.audience import Audience
from streaming.models import Stream, StreamStatus, ViewVia
from tests.booths.conftest import seed_floor
from tests.browser.conftest import browser, console_errors, page  # noqa: F401  (fixtures)
from tests.conftest import LiveServer


async def _live_broadcast(server: LiveServer) -> int:
    db = server.app.state.platform.db
    floor = await seed_floor(db)
    async with db.session() as session:
        assert floor.expo.id is not None
        stream = Stream(
            expo_id=floor.expo.id,
            booth_id=floor.booths["Lumen Works"].id,
            title="Lamp factory tour",
            key=secrets.token_urlsafe(32),
            status=StreamStatus.LIVE.value,
            started_at=utcnow(),
        )
        session.add(stream)
        await session.commit()
        assert stream.id is not None
        return stream.id


async def test_a_visitor_goes_from_live_now_on_the_home_page_to_the_broadcast(
    live_server: LiveServer,
    browser: Browser,  # noqa: F811  (the fixture imported above)
    page: Page,  # noqa: F811
) -> None:
    stream_id = live_server.call(_live_broadcast(live_server))
    await page.goto(live_server.url + "/")
    strip = page.get_by_role("region", name="Live now and coming up")
    await expect(strip.get_by_role("heading", name="Live now")).to_be_visible()
    card = strip.get_by_role("link", name=re.compile("Lamp factory tour"))
    await expect(card).to_contain_text("LIVE")
    await expect(card).to_contain_text("0 watching")
    # Someone starts watching elsewhere: the card follows the broadcast's channel and counts them.
    await expect(page.locator("[data-live-stream][data-following]")).to_have_count(1)
    audience = live_server.app.state.platform.get(Audience)
    live_server.call(audience.watch(stream_id, "anon:elsewhere", ViewVia.HLS))
    await expect(card).to_contain_text("1 watching")
    await card.click()
    await expect(page).to_have_url(re.compile(rf"/watch/{stream_id}$"))
    await expect(page.get_by_role("heading", name="Lamp factory tour")).to_be_visible()
