"""In Chromium, at a laptop's 1280 px and a phone's 390 px: the organizer's dashboard (with a program,
broadcasts and registrations) and the organizer's home fit their cards. Nothing pokes out of a card,
a table wider than its card scrolls inside a wrapper, every bar label is drawn whole inside its
chart, and on the laptop the broadcast and session tables show every column without scrolling."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page

from booths import services as floor
from booths.services import BoothFields
from expo.agenda.models import Program, ProgramRegistration
from expo.db import utcnow
from expo.registration.models import Registration, RegistrationStatus
from streaming import services as streams
from streaming.audience import Audience
from streaming.models import ViewVia
from tests.booths.test_floor_browser import sign_in
from tests.browser.conftest import browser, console_errors, page  # noqa: F401  (fixtures)
from tests.conftest import LiveServer
from tests.dashboards.conftest import Show, seed_show

LONG = "Shenzhen Brightwave Consumer Electronics International Trading Company Limited"

# Every problem a reader would see as cut or overflowing content, as text (an empty list: none).
FIND_OVERFLOW = """() => {
  const problems = [];
  const main = document.querySelector("main");
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
  }
  const name = (el) => el.id || el.className || el.tagName;
  for (const card of main.querySelectorAll(".card, section, .chart-figure, .chart-pair, .chart-stack")) {
    if (card.scrollWidth > card.clientWidth + 1) {
      problems.push(`${name(card)} overflows: ${card.scrollWidth} > ${card.clientWidth}`);
    }
  }
  for (const table of main.querySelectorAll("table")) {
    const card = table.parentElement.closest(".card, section");
    if (table.offsetWidth <= card.clientWidth + 1) continue;
    const wrap = table.closest(".table-wrap");
    if (!wrap || !["auto", "scroll"].includes(getComputedStyle(wrap).overflowX)) {
      problems.push(`table ${name(table)} is wider than ${name(card)} and does not scroll`);
    } else if (wrap.getBoundingClientRect().right > card.getBoundingClientRect().right + 1) {
      problems.push(`the scrolling ${name(table)} pokes out of ${name(card)}`);
    }
  }
  for (const svg of main.querySelectorAll("svg.chart")) {
    if (svg.closest(".table-wrap")) continue;  // scrolls with its table
    const box = svg.getBoundingClientRect();
    const card = svg.closest(".card, section").getBoundingClientRect();
    if (box.width > 0 && (box.left < card.left - 1 || box.right > card.right + 1)) {
      problems.push(`chart ${svg.querySelector("title").textContent} pokes out of its card`);
    }
  }
  for (const label of main.querySelectorAll("svg.chart-bars .chart-label")) {
    const box = label.getBBox();
    const view = label.ownerSVGElement.viewBox.baseVal;
    if (box.x < -0.5 || box.x + box.width > view.width + 0.5) {
      problems.push(`bar label cut: ${label.textContent}`);
    }
  }
  return problems;
}"""

WHOLE_TABLE = """(id) => {
  const table = document.getElementById(id);
  const wrap = table.closest(".table-wrap");
  return table.offsetWidth <= wrap.clientWidth + 1;
}"""


async def add_program_and_registrations(server: LiveServer, show: Show) -> None:
    """A session with seats taken, two registrations (one checked in) and a third broadcast."""
    db = server.app.state.platform.db
    assert show.expo.id is not None and show.visitor.id is not None and show.organizer.id is not None
    start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    async with db.session() as s:
        await floor.create_booth(s, show.expo, BoothFields(name=LONG), show.organizer)
        await streams.create_stream(
            s, expo=show.expo, title=f"Product launch by {LONG}", owner=show.organizer
        )
        program = Program(
            expo_id=show.expo.id,
            title=f"Workshop: importing LED lighting, with {LONG}",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            capacity=30,
        )
        s.add(program)
        for user, checked in ((show.visitor, True), (show.exhibitor, False)):
            assert user.id is not None
            s.add(
                Registration(
                    expo_id=show.expo.id,
                    user_id=user.id,
                    status=RegistrationStatus.APPROVED.value,
                    badge_code=secrets.token_urlsafe(16),
                    checked_in_at=utcnow() if checked else None,
                )
            )
        await s.flush()
        assert program.id is not None
        s.add(ProgramRegistration(program_id=program.id, user_id=show.visitor.id))
        await s.commit()


@pytest.mark.parametrize("width", [1280, 390])
async def test_dashboard_and_organizer_home_fit_their_cards(
    width: int,
    live_server: LiveServer,
    browser: Browser,  # noqa: F811
    page: Page,  # noqa: F811
    console_errors: list[str],  # noqa: F811
) -> None:
    show = live_server.call(seed_show(live_server.app))
    live_server.call(add_program_and_registrations(live_server, show))
    audience = live_server.app.state.platform.get(Audience)
    assert show.keynote.id is not None
    live_server.call(audience.watch(show.keynote.id, "user:500", ViewVia.PAGE))
    live_server.call(audience.sample())
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, live_server, "org@example.com")
    shots = os.environ.get("EXPO_SCREENSHOTS")

    await page.goto(live_server.url + "/organizer/expos/show/dashboard")
    await page.locator("#session-table").wait_for()
    assert await page.locator("svg.chart-bars").count() >= 5  # four booth rankings and the sessions
    assert await page.evaluate(FIND_OVERFLOW) == []
    if width >= 1280:
        for table in ("broadcast-table", "session-table", "booth-table"):
            assert await page.evaluate(WHOLE_TABLE, table), f"{table} needs scrolling at {width} px"
    if shots:
        await page.screenshot(path=f"{shots}/dashboard-{width}.png", full_page=True)

    await page.goto(live_server.url + "/organizer")
    card = page.locator("#expo-show")
    assert await card.locator('[data-figure="registrations"]').inner_text() == "2"
    assert await card.locator('[data-figure="checked_in"]').inner_text() == "1"
    assert await card.locator('[data-figure="live_broadcasts"]').inner_text() == "2"
    assert await card.get_by_role("link", name="Open the dashboard").count() == 1
    assert await page.evaluate(FIND_OVERFLOW) == []
    if shots:
        await page.screenshot(path=f"{shots}/organizer-{width}.png", full_page=True)
    assert console_errors == []
