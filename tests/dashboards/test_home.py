"""The organizer's home: each expo of the reader's team with what needs attention and the links to
it, by what the reader may do there."""

from __future__ import annotations

from starlette.applications import Starlette

from booths import services as floor
from booths.services import BoothFields
from expo.expos.team import add_member
from expo.mail.models import OutboxMessage, OutboxStatus
from expo.permissions import TeamRole
from tests.booths.web import browser, make_account
from tests.dashboards.conftest import seed_show


async def test_the_home_shows_what_needs_doing_in_each_expo(app: Starlette) -> None:
    show = await seed_show(app)
    volunteer = await make_account(app, "desk@example.com", "visitor", "Dora")
    async with app.state.platform.db.session() as s:
        await floor.create_booth(s, show.expo, BoothFields(name="Applicant lamps"), show.exhibitor)
        s.add(
            OutboxMessage(
                to_address="a@example.com",
                subject="Your badge",
                body="...",
                status=OutboxStatus.FAILED.value,
                expo_id=show.expo.id,
            )
        )
        await s.commit()
        await add_member(s, show.expo, volunteer, TeamRole.CHECKIN, actor=None)

    async with browser(app, "org@example.com") as b:
        page = await b.get("/organizer")
    assert page.status_code == 200
    card = page.text.split('id="expo-show"', 1)[1].split("</article>", 1)[0]
    assert '<dd data-figure="pending_booths">1</dd>' in card
    assert '<dd data-figure="failing_messages">1</dd>' in card
    assert '<dd data-figure="live_broadcasts">2</dd>' in card
    assert 'href="/organizer/expos/show#applications">Approve booths (1)' in card
    assert (
        'href="/organizer/expos/show/dashboard"' in card and 'href="/organizer/expos/show/check-in"' in card
    )
    assert f'href="/organizer/outbox?expo={show.expo.id}&amp;status=failed"' in card
    assert 'id="expo-other"' not in page.text  # the rival's expo
    assert "/organizer/users" not in page.text  # not an administrator

    # A check-in volunteer on a visitor account is sent to their own home, but the organizer's home
    # is for organizer accounts; the rival organizer sees only their own expo.
    async with browser(app, "rival@example.com") as b:
        page = await b.get("/organizer")
    assert 'id="expo-other"' in page.text and 'id="expo-show"' not in page.text
    async with browser(app, "desk@example.com") as b:
        assert (await b.get("/organizer")).status_code == 403
