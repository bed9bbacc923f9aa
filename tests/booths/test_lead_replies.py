"""What needs the exhibitor's attention, and answering leads: booth staff are e-mailed each new lead
(once each, in their language); the exhibitor's home counts the leads none of them opened yet and
the meeting requests to answer; staff reply from a lead's page, the reply is stored, e-mailed to
the visitor and shown in the thread on both sides; nobody else may reply.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from booths.models import Booth, Lead, LeadReply
from expo.config import Settings
from expo.db import utcnow
from expo.mail.models import OutboxMessage
from expo.meetings.models import Meeting
from streaming.models import Stream
from streaming.services import new_key
from tests.booths.web import add_owner, browser, floor_of, make_account, post_form
from tests.conftest import make_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


async def setup(app: Starlette) -> Booth:
    """ "Lumen Works" staffed by an owner (English) and a colleague who reads Chinese; a visitor and
    an exhibitor from elsewhere."""
    booth = (await floor_of(app)).booths["Lumen Works"]
    await add_owner(app, booth, await make_account(app, "owner@example.com", "exhibitor", name="Owner"))
    colleague = await make_account(app, "colleague@example.com", "exhibitor", name="Col")
    async with app.state.platform.db.session() as session:
        colleague.locale = "zh_Hans"
        session.add(colleague)
        await session.commit()
    await add_owner(app, booth, colleague)
    await make_account(app, "outsider@example.com", "exhibitor", name="Otto")
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    return booth


async def outbox(app: Starlette) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def leads_of(app: Starlette) -> list[Lead]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(Lead).order_by(col(Lead.id)))).all())


def attention(home: str, booth: Booth, what: str) -> str:
    """The text of one line of the booth's card on the exhibitor's home."""
    card = home.split(f'data-booth="{booth.id}"', 1)[1]
    found = re.search(rf'data-attention="{what}"[^>]*>(.*?)</li>', card, re.S)
    assert found, what
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


async def test_staff_hear_of_each_new_lead_and_the_home_counts_the_unopened(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    async with browser(app, "ann@example.com") as ann:
        await post_form(ann, page, f"{page}/inquiry", {"message": "Do you ship to Lisbon?"})
        await post_form(ann, page, f"{page}/card", {"share": ["name"]})
    first, second = await leads_of(app)
    mails = await outbox(app)
    assert sorted(m.to_address for m in mails) == sorted(2 * ["owner@example.com", "colleague@example.com"])
    english = [m for m in mails if m.to_address == "owner@example.com"]
    assert [m.subject for m in english] == [
        "New inquiry at Lumen Works from Ann Lee",
        "New business card at Lumen Works",
    ]
    assert "Do you ship to Lisbon?" in english[0].body
    assert f"http://testserver/booths/{booth.id}/leads/{first.id}" in english[0].body
    chinese = [m for m in mails if m.to_address == "colleague@example.com"]
    assert chinese[0].subject == "Lumen Works 收到 Ann Lee 的新询盘"

    async with browser(app, "owner@example.com") as owner:
        home = (await owner.get("/exhibitor")).text
        assert attention(home, booth, "leads") == "2 new leads"
        assert attention(home, booth, "meetings") == "No meeting requests to answer"
        assert f'href="/booths/{booth.id}/leads"' in home
        inbox = (await owner.get(f"/booths/{booth.id}/leads")).text
        assert inbox.count("data-unread") == 2
    async with browser(app, "org@example.com") as organizer:  # an organizer looking leaves them new
        assert (await organizer.get(f"/booths/{booth.id}/leads/{first.id}")).status_code == 200
    async with browser(app, "owner@example.com") as owner:
        assert attention((await owner.get("/exhibitor")).text, booth, "leads") == "2 new leads"
        assert (await owner.get(f"/booths/{booth.id}/leads/{first.id}")).status_code == 200
        assert attention((await owner.get("/exhibitor")).text, booth, "leads") == "1 new lead"
    async with browser(app, "colleague@example.com") as colleague:
        assert (await colleague.get(f"/booths/{booth.id}/leads/{second.id}")).status_code == 200
    async with browser(app, "owner@example.com") as owner:
        assert attention((await owner.get("/exhibitor")).text, booth, "leads") == "No new leads"
        assert "data-unread" not in (await owner.get(f"/booths/{booth.id}/leads")).text
    async with browser(app, "outsider@example.com") as outsider:
        home = (await outsider.get("/exhibitor")).text
        assert f'data-booth="{booth.id}"' not in home and "Lumen Works" not in home


async def test_a_reply_is_stored_emailed_and_shown_on_both_sides(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    async with browser(app, "ann@example.com") as ann:
        await post_form(ann, page, f"{page}/inquiry", {"message": "Samples?"})
    [lead] = await leads_of(app)
    lead_page = f"/booths/{booth.id}/leads/{lead.id}"
    reply_url = f"{lead_page}/reply"
    text = "<script>alert(1)</script> Yes:\n10 samples, 50% off"
    async with browser(app, "owner@example.com") as owner:
        empty = await post_form(owner, lead_page, reply_url, {"body": "   "})
        assert empty.status_code == 422 and "Write a reply to the visitor." in empty.text
        long = await post_form(owner, lead_page, reply_url, {"body": "x" * 5001})
        assert long.status_code == 422 and "A field is too long." in long.text
        assert "x" * 5001 in long.text  # what was typed is kept
        sent = await post_form(owner, lead_page, reply_url, {"body": text})
        assert sent.status_code == 303
        assert re.fullmatch(rf"{lead_page}#reply-\d+", sent.headers["location"])
        shown = (await owner.get(lead_page)).text
        assert "Your reply was sent to the visitor." in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Yes:\n10 samples, 50% off" in shown
        assert "<script>alert(1)" not in shown
        assert 'data-status="answered"' in shown  # a new lead becomes answered
    async with app.state.platform.db.session() as session:
        [stored] = (await session.exec(select(LeadReply))).all()
    [answered] = await leads_of(app)
    assert stored.lead_id == lead.id and stored.body == text and answered.status == "answered"
    to_ann = [m for m in await outbox(app) if m.to_address == "ann@example.com"]
    assert [m.subject for m in to_ann] == ["Lumen Works replied to your message"]
    assert text in to_ann[0].body and "http://testserver/my/messages" in to_ann[0].body
    assert "owner@example.com" not in to_ann[0].body
    async with browser(app, "ann@example.com") as ann:
        mine = (await ann.get("/my/messages")).text
        assert "Samples?" in mine and "1 reply" in mine
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Yes:" in mine and "<script>alert(1)" not in mine
        assert "/my/messages" in (await ann.get("/visitor")).text


async def test_only_the_booths_staff_and_organizers_reply(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    async with browser(app, "ann@example.com") as ann:
        await post_form(ann, page, f"{page}/inquiry", {"message": "Price list?"})
    [lead] = await leads_of(app)
    lead_page = f"/booths/{booth.id}/leads/{lead.id}"
    for who in ("ann@example.com", "outsider@example.com"):
        async with browser(app, who) as someone:
            assert (await someone.get(lead_page)).status_code == 403
            answer = await post_form(someone, "/my/messages", f"{lead_page}/reply", {"body": "Hi"})
            assert answer.status_code == 403
    async with browser(app, "owner@example.com") as owner:
        elsewhere = f"/booths/{booth.id + 1}/leads/{lead.id}"  # another booth's address for this lead
        assert (await owner.get(elsewhere)).status_code in (403, 404)
    async with browser(app, "org@example.com") as organizer:
        done = await post_form(organizer, lead_page, f"{lead_page}/reply", {"body": "From the organizers"})
        assert done.status_code == 303
    async with app.state.platform.db.session() as session:
        replies = (await session.exec(select(LeadReply))).all()
    assert [r.body for r in replies] == ["From the organizers"]
    assert (await leads_of(app))[0].opened_at is None  # still new to the booth's staff


async def test_the_home_counts_meeting_requests_to_answer_and_staff_are_told(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    start = (utcnow() + timedelta(days=3)).replace(tzinfo=None)
    async with browser(app, "ann@example.com") as ann:
        for days in (3, 4):
            when = (start + timedelta(days=days - 3)).strftime("%Y-%m-%dT%H:%M")
            sent = await post_form(
                ann, page, f"{page}/meetings", {"starts_at": when, "minutes": "30", "message": "Samples"}
            )
            assert sent.status_code == 303
    to_staff = [m for m in await outbox(app) if m.to_address != "ann@example.com"]
    assert sorted(m.to_address for m in to_staff) == sorted(
        2 * ["owner@example.com", "colleague@example.com"]
    )
    english = next(m for m in to_staff if m.to_address == "owner@example.com")
    assert english.subject == "Meeting request for Lumen Works from Ann Lee"
    assert (
        f"http://testserver/booths/{booth.id}/meetings#meeting-" in english.body and "Samples" in english.body
    )
    async with browser(app, "owner@example.com") as owner:
        home = (await owner.get("/exhibitor")).text
        assert attention(home, booth, "meetings") == "2 meeting requests to answer"
        async with app.state.platform.db.session() as session:
            first = (await session.exec(select(Meeting).order_by(col(Meeting.id)))).first()
        assert first is not None
        action = f"/booths/{booth.id}/meetings/{first.id}/decline"
        assert (
            await post_form(owner, f"/booths/{booth.id}/meetings", action, {"note": "x"})
        ).status_code == 303
        home = (await owner.get("/exhibitor")).text
        assert attention(home, booth, "meetings") == "1 meeting request to answer"
        assert attention(home, booth, "broadcast") == "No broadcast scheduled"
    async with app.state.platform.db.session() as session:
        expo_id = booth.expo_id
        soon = Stream(
            expo_id=expo_id,
            booth_id=booth.id,
            title="Lamp launch",
            key=new_key(),
            scheduled_start=start.replace(tzinfo=UTC),
        )
        session.add(soon)
        await session.commit()
        await session.refresh(soon)
    async with browser(app, "owner@example.com") as owner:
        home = (await owner.get("/exhibitor")).text
        assert attention(home, booth, "broadcast").startswith(
            f"Next broadcast: Lamp launch {start:%Y-%m-%d %H:%M}"
        )
        assert f'href="/streams/{soon.id}/live"' in home
        async with app.state.platform.db.session() as session:
            soon.status = "live"
            session.add(soon)
            await session.commit()
        home = (await owner.get("/exhibitor")).text
        assert attention(home, booth, "broadcast") == "LIVE Lamp launch"
