"""A project's online meetings and signing ceremony, in-process on SQLite and PostgreSQL: the bureau
schedules a meeting (a room, the investor's invitation with its .ics and a reminder), moves and
cancels it; at the signing stage it opens a ceremony, both parties sign, and the project shows
signed with its certificate."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.accounts.models import User
from expo.db import utcnow
from expo.expos.models import Expo
from expo.ical import stamp
from expo.mail.models import OutboxMessage
from expo.promotion import projects
from expo.promotion.models import ProjectMeeting, PromotionProject
from expo.signing.models import SigningCeremony, SigningParty
from streaming.models import Room
from tests.booths.web import browser, make_account, post_form
from tests.promotion.conftest import seed_expos
from tests.promotion.test_projects import FILING
from tests.signing.conftest import make_pdf

BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
ZONE = "Asia/Shanghai"
BOARD = "/organizer/expos/city/projects"
ORG = "org@example.com"
INVESTOR = "visitor@example.com"

# A date and time as pages show them (a meeting's with its end), and the zone after it if any.
SHOWN_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?:\u2013\d\d:\d\d)?( UTC| \(\w+/\w+\))?"


async def filed_project(app: Starlette, stage: str = "filed") -> PromotionProject:
    """The investor's project with ``city`` (whose timezone is Shanghai), moved by its organizer
    along the pipeline to ``stage``."""
    await seed_expos(app)
    async with app.state.platform.db.session() as session:
        expo = (await session.exec(select(Expo).where(Expo.slug == "city"))).one()
        expo.timezone = ZONE
        session.add(expo)
        investor = (await session.exec(select(User).where(User.email == INVESTOR))).one()
        investor.name = "Vera Investor"
        session.add(investor)
        await session.commit()
        project = await projects.file_project(session, expo, FILING, investor)
        org = (await session.exec(select(User).where(User.email == ORG))).one()
        path = ["screening", "negotiating", "signing"]
        for next_stage in path[: path.index(stage) + 1] if stage in path else []:
            await projects.move(session, project, next_stage, project.version, org)
        return project


def local_start(days: int = 3, hour: int = 10) -> datetime:
    """A wall-clock time in Shanghai, ``days`` ahead (what the form's input sends, without zone)."""
    return (utcnow() + timedelta(days=days)).replace(
        hour=hour, minute=30, second=0, microsecond=0, tzinfo=None
    )


def meeting_form(start: datetime, **changes: str) -> dict[str, str]:
    form = {"title": "Site visit", "starts_at": start.isoformat(timespec="minutes"), "minutes": "60"}
    return {**form, "agenda": "Land parcel 7 and the tax incentives", **changes}


async def outbox(app: Starlette) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


def unfolded(ics: str) -> str:
    """The .ics with its long lines joined again (RFC 5545 folds them at 75 octets)."""
    return ics.replace("\r\n ", "")


def dtstart(ics: str) -> str:
    found = re.search(r"^DTSTART:(\S+)\r$", ics, re.MULTILINE)
    assert found, ics
    return found.group(1)


@BOTH
async def test_a_scheduled_meeting_opens_a_room_and_invites_the_investor_with_a_calendar_file(
    app: Starlette,
) -> None:
    project = await filed_project(app, "negotiating")
    start = local_start()
    page = f"{BOARD}/{project.id}"
    async with browser(app, ORG) as org:
        done = await post_form(org, page, f"{page}/meetings", meeting_form(start))
        assert done.status_code == 303, done.text
        bureau_page = (await org.get(page)).text
    async with app.state.platform.db.session() as session:
        (meeting,) = (await session.exec(select(ProjectMeeting))).all()
        room = await session.get(Room, meeting.room_id)
    assert room is not None and room.kind == "negotiation" and room.booth_id is None
    starts_utc = start.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
    assert meeting.starts_at == starts_utc and meeting.minutes == 60
    invitation, reminder = await outbox(app)
    assert invitation.to_address == INVESTOR and invitation.attachment_type == "text/calendar"
    assert dtstart(invitation.attachment) == stamp(starts_utc)
    assert room.guest_key in unfolded(invitation.attachment)
    assert room.host_key not in unfolded(invitation.attachment)
    assert f"{start:%Y-%m-%d} 10:30" in invitation.body
    assert reminder.next_attempt_at == starts_utc - timedelta(hours=1)
    assert room.host_key in bureau_page and "Site visit" in bureau_page
    async with browser(app, INVESTOR) as investor:
        mine = (await investor.get(f"/expos/city/invest/projects/{project.id}")).text
        assert f"/rooms/{room.id}?key={room.guest_key}" in mine and room.host_key not in mine
        ics = await investor.get(
            f"/expos/city/invest/projects/{project.id}/meetings/{meeting.id}/invitation.ics"
        )
        assert ics.status_code == 200 and dtstart(ics.text) == stamp(starts_utc)
        assert room.guest_key in unfolded(ics.text) and room.host_key not in unfolded(ics.text)
    await make_account(app, "stranger@example.com", "visitor")
    async with browser(app, "stranger@example.com") as stranger:
        theirs = await stranger.get(f"/expos/city/invest/projects/{project.id}")
        ics = await stranger.get(
            f"/expos/city/invest/projects/{project.id}/meetings/{meeting.id}/invitation.ics"
        )
        assert theirs.status_code == 403 and ics.status_code == 403
        assert room.guest_key not in theirs.text + ics.text


async def test_a_meeting_form_with_mistakes_shows_them_beside_the_fields_and_opens_nothing(
    app: Starlette,
) -> None:
    project = await filed_project(app, "screening")
    page = f"{BOARD}/{project.id}"
    past = local_start(days=-1)
    async with browser(app, ORG) as org:
        answer = await post_form(org, page, f"{page}/meetings", meeting_form(past, title="", minutes="7"))
    assert answer.status_code == 422
    for name in ("starts_at", "minutes", "title"):
        assert f'id="err-meeting-{name}"' in answer.text, name
    assert "Choose a time in the future." in answer.text
    assert "Land parcel 7" in answer.text  # what was typed stays
    async with app.state.platform.db.session() as session:
        assert (await session.exec(select(ProjectMeeting))).all() == []
        assert (await session.exec(select(Room))).all() == []
    assert await outbox(app) == []


async def test_a_moved_meeting_updates_the_calendar_and_a_cancelled_one_closes_its_room(
    app: Starlette,
) -> None:
    project = await filed_project(app, "negotiating")
    page = f"{BOARD}/{project.id}"
    async with browser(app, ORG) as org:
        await post_form(org, page, f"{page}/meetings", meeting_form(local_start()))
        async with app.state.platform.db.session() as session:
            (meeting,) = (await session.exec(select(ProjectMeeting))).all()
        (first_reminder,) = [m for m in await outbox(app) if not m.attachment]
        later = local_start(days=4, hour=15)
        moved = await post_form(
            org, page, f"{page}/meetings/{meeting.id}/move", meeting_form(later, minutes="90")
        )
        assert moved.status_code == 303, moved.text
        (second_reminder,) = [m for m in await outbox(app) if not m.attachment]
        starts_utc = later.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        assert second_reminder.next_attempt_at == starts_utc - timedelta(hours=1)
        assert second_reminder.id != first_reminder.id
        cancelled = await post_form(org, page, f"{page}/meetings/{meeting.id}/cancel")
        assert cancelled.status_code == 303, cancelled.text
        again = await post_form(org, page, f"{page}/meetings/{meeting.id}/cancel")
        assert again.status_code == 409
        history = (await org.get(page)).text
    assert "moved an online meeting" in history and "cancelled an online meeting" in history
    messages = await outbox(app)
    uid = re.search(r"^UID:(\S+)\r$", messages[0].attachment, re.MULTILINE)
    assert uid is not None
    _, moved_notice, cancel_notice = (m for m in messages if m.attachment)
    assert dtstart(moved_notice.attachment) == stamp(later.replace(tzinfo=ZoneInfo(ZONE)))
    assert f"UID:{uid.group(1)}" in moved_notice.attachment  # the calendar entry moves
    assert "METHOD:CANCEL" in cancel_notice.attachment and "cancelled" in cancel_notice.subject
    # No reminder is left waiting: the first went with the move, the second with the cancellation.
    assert [m for m in messages if not m.attachment] == []
    async with app.state.platform.db.session() as session:
        room = await session.get(Room, meeting.room_id)
        assert room is not None and room.ended_at is not None
    async with browser(app, INVESTOR) as investor:
        mine = (await investor.get(f"/expos/city/invest/projects/{project.id}")).text
    assert room.guest_key not in mine and "Cancelled" in mine


CEREMONY = {
    "party": "Shenzhen Investment Promotion Bureau",
    "signer_name": "Lin Bo",
    "email": "lin.bo@example.com",
    "investor_signer": "Vera Investor",
}


@BOTH
async def test_the_signing_ceremony_opens_only_at_the_signing_stage(app: Starlette) -> None:
    project = await filed_project(app, "negotiating")
    page = f"{BOARD}/{project.id}"
    async with browser(app, ORG) as org:
        early = await post_form(org, page, f"{page}/ceremony", CEREMONY)
        assert early.status_code == 409
        assert "A signing ceremony is opened when the project is at the signing stage." in early.text
        async with app.state.platform.db.session() as session:
            assert (await session.exec(select(Room))).all() == []
            stored = await session.get(PromotionProject, project.id)
            assert stored is not None
            org_user = (await session.exec(select(User).where(User.email == ORG))).one()
            await projects.move(session, stored, "signing", stored.version, org_user)
        bad = await post_form(org, page, f"{page}/ceremony", {**CEREMONY, "email": INVESTOR})
        assert bad.status_code == 422 and 'id="err-ceremony-email"' in bad.text
        opened = await post_form(org, page, f"{page}/ceremony", CEREMONY)
        assert opened.status_code == 303, opened.text
        twice = await post_form(org, page, f"{page}/ceremony", CEREMONY)
        assert twice.status_code == 409
    async with app.state.platform.db.session() as session:
        stored = await session.get(PromotionProject, project.id)
        assert stored is not None and stored.ceremony_id is not None
        ceremony = await session.get(SigningCeremony, stored.ceremony_id)
        parties = (await session.exec(select(SigningParty).order_by(col(SigningParty.id)))).all()
    assert ceremony is not None
    assert [(p.party, p.signer_name, p.email) for p in parties] == [
        (CEREMONY["party"], "Lin Bo", "lin.bo@example.com"),
        (FILING["company"], "Vera Investor", INVESTOR),
    ]
    notice = (await outbox(app))[-1]
    assert notice.to_address == INVESTOR and f"party={parties[1].key}" in notice.body
    assert parties[0].key not in notice.body


@BOTH
async def test_when_both_sign_the_project_is_signed_with_its_certificate_and_hash(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    project = await filed_project(app, "signing")
    page = f"{BOARD}/{project.id}"
    contract = make_pdf("Investment agreement: Nordlicht Batteries and the City of Shenzhen.")
    async with browser(app, ORG) as org:
        await post_form(org, page, f"{page}/ceremony", CEREMONY)
        async with app.state.platform.db.session() as session:
            stored = await session.get(PromotionProject, project.id)
            assert stored is not None and stored.ceremony_id is not None
            ceremony = await session.get(SigningCeremony, stored.ceremony_id)
            assert ceremony is not None
            room = await session.get(Room, ceremony.room_id)
            parties = (await session.exec(select(SigningParty).order_by(col(SigningParty.id)))).all()
        assert room is not None and room.kind == "signing_ceremony"
        setup = f"/rooms/{room.id}/signing"
        assert setup in (await org.get(page)).text
        files = {"file": ("Investment agreement.pdf", contract, "application/pdf")}
        uploaded = await post_form(org, setup, f"{setup}/documents", files=files)
        assert uploaded.status_code == 303, uploaded.text
        state = await client.get(f"/api/signing/rooms/{room.id}", params={"key": room.guest_key})
        document_id = state.json()["documents"][0]["id"]
        version_before = stored.version
        for party in parties:
            body = {"key": room.guest_key, "party": party.key, "document_id": document_id}
            signed = await client.post(
                f"/api/signing/rooms/{room.id}/signatures",
                json={**body, "name": party.signer_name, "consent": True},
            )
            assert signed.status_code == 201, signed.text
        assert signed.json()["complete"] is True
        bureau_page = (await org.get(page)).text
    async with app.state.platform.db.session() as session:
        stored = await session.get(PromotionProject, project.id)
        assert stored is not None
        changes = await projects.history(session, stored)
    assert stored.stage == "signed" and stored.version == version_before + 1
    last = changes[-1]
    assert last.action == "moved" and last.actor_id is None
    assert last.detail == {"from": "signing", "to": "signed", "ceremony": ceremony.id}
    digest = hashlib.sha256(contract).hexdigest()
    certificate = f"/signing/certificates/{ceremony.code}"
    assert 'data-stage="signed"' in bureau_page and "the signing ceremony was completed" in bureau_page
    assert certificate in bureau_page and digest in bureau_page
    async with browser(app, INVESTOR) as investor:
        mine = (await investor.get(f"/expos/city/invest/projects/{project.id}")).text
    assert 'data-stage="signed"' in mine and certificate in mine and digest in mine
    assert "Vera Investor" in mine and "Lin Bo" in mine
    # Every time on both pages names its zone: the history's UTC, the ceremony's the expo's (a
    # project filed and signed in the same minute showed 17:17 and 01:17 the next day, unlabelled).
    for shown in (bureau_page, mine):
        words = re.sub(r"<[^>]+>", "", shown)
        times = re.findall(SHOWN_TIME, words)
        assert times and all(times), times
    assert (await client.get(certificate)).status_code == 200
