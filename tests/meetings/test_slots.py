"""Meeting slots: booth staff publish availability, visitors book a place; the last place of a slot
goes to exactly one of several visitors asking at once; the booking carries an .ics invitation
and a reminder in the outbox; slots with bookings cannot vanish; who may do what; the pages.

Every test runs on SQLite and on PostgreSQL: the race is about each store's locking.
"""

from __future__ import annotations

import asyncio
import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.applications import Starlette

from booths.models import Booth
from expo.accounts import services as accounts
from expo.accounts.models import TokenKind
from expo.config import Settings
from expo.mail.models import OutboxMessage
from expo.mail.outbox import claim, to_email
from expo.meetings.models import Meeting
from tests.booths.web import add_owner, browser, make_account, post_form
from tests.conftest import make_settings
from tests.dashboards.test_pages import bearer
from tests.meetings.test_meetings import SHANGHAI, setup, wall_clock


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


def window(
    days: int, start: str = "09:00", end: str = "10:00", minutes: int = 30, capacity: int = 1
) -> dict[str, object]:
    day = wall_clock(days, 0).date().isoformat()
    return {"day": day, "start": start, "end": end, "slot_minutes": minutes, "capacity": capacity}


async def publish(client: httpx.AsyncClient, booth: Booth, headers: dict[str, str], **kwargs: Any) -> dict:
    response = await client.post(
        f"/api/booths/{booth.id}/availability", json=window(**kwargs), headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def mails_to(app: Starlette, address: str) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        query = (
            select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(col(OutboxMessage.id))
        )
        return list((await session.exec(query)).all())


def utc(days: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time ``days`` from now, in UTC."""
    return wall_clock(days, hour, minute).replace(tzinfo=SHANGHAI).astimezone(UTC)


async def test_publish_book_and_a_full_slot_is_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    booth = await setup(app)
    owner, ann = await bearer(client, "owner@example.com"), await bearer(client, "ann@example.com")
    bob = await bearer(client, "bob@example.com")
    published = await publish(client, booth, owner, days=3)
    # 09:00-10:00 in Shanghai, 30-minute slots: 01:00 and 01:30 UTC.
    assert [datetime.fromisoformat(s["starts_at"]) for s in published["slots"]] == [utc(3, 9), utc(3, 9, 30)]

    free = (await client.get(f"/api/booths/{booth.id}/slots")).json()  # public, like the booth page
    assert free["timezone"] == "Asia/Shanghai" and [s["free"] for s in free["items"]] == [1, 1]
    booked = await client.post(
        f"/api/booths/{booth.id}/slots",
        json={"starts_at": wall_clock(3, 9).isoformat(), "message": "Lamps for 40 hotels"},
        headers=ann,
    )
    assert booked.status_code == 201, booked.text
    meeting = booked.json()
    # Booked slots need no answer: the meeting is accepted, its room open, its calendar file ready.
    assert meeting["status"] == "accepted" and meeting["window_id"] == published["id"]
    assert meeting["room_url"].startswith("/rooms/") and meeting["invitation_url"]
    assert datetime.fromisoformat(meeting["ends_at"]) == utc(3, 9, 30)

    full = await client.post(
        f"/api/booths/{booth.id}/slots", json={"starts_at": wall_clock(3, 9).isoformat()}, headers=bob
    )
    assert full.status_code == 409 and full.json()["error"]["code"] == "slot.full"
    free = (await client.get(f"/api/booths/{booth.id}/slots")).json()["items"]
    assert [datetime.fromisoformat(s["starts_at"]) for s in free] == [utc(3, 9, 30)]
    [listed] = (await client.get(f"/api/booths/{booth.id}/meetings", headers=owner)).json()["items"]
    assert listed["requester"]["email"] == "ann@example.com" and listed["room_url"] != meeting["room_url"]

    # A time off the grid, or outside every window, is not a slot.
    for off in (wall_clock(3, 9, 10), wall_clock(3, 11)):
        wrong = await client.post(
            f"/api/booths/{booth.id}/slots", json={"starts_at": off.isoformat()}, headers=bob
        )
        assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "slot.unknown"

    # Cancelling frees the place (and withdraws the reminder): bob gets it.
    cancelled = await client.post(f"/api/meetings/{meeting['id']}/cancel", headers=ann)
    assert cancelled.status_code == 200
    again = await client.post(
        f"/api/booths/{booth.id}/slots", json={"starts_at": utc(3, 9).isoformat()}, headers=bob
    )
    assert again.status_code == 201, again.text
    assert [m.subject for m in await mails_to(app, "ann@example.com")] == [
        "Your meeting with Lumen Works is booked"
    ]
    staff = [m.subject for m in await mails_to(app, "owner@example.com")]
    assert staff == ["Ann Lee booked a meeting with Lumen Works", "Bob booked a meeting with Lumen Works"]


async def test_the_last_place_goes_to_exactly_one_of_many_at_once(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    booth = await setup(app)
    owner = await bearer(client, "owner@example.com")
    await publish(client, booth, owner, days=2, capacity=2)
    start = {"starts_at": wall_clock(2, 9).isoformat()}
    url = f"/api/booths/{booth.id}/slots"
    assert (
        await client.post(url, json=start, headers=await bearer(client, "ann@example.com"))
    ).status_code == 201
    headers = []
    for i in range(4):  # tokens issued directly: four password logins would only slow the test
        visitor = await make_account(app, f"v{i}@example.com", "visitor")
        async with app.state.platform.db.session() as session:
            token, _ = await accounts.issue_token(session, visitor, TokenKind.API, name="race")
        headers.append({"Authorization": f"Bearer {token}"})
    for round_ in range(2):
        answers = await asyncio.gather(*(client.post(url, json=start, headers=h) for h in headers))
        codes = sorted(a.status_code for a in answers)
        assert codes == ([201] + [409] * 3 if round_ == 0 else [409] * 4), [a.text for a in answers]
        refused = {a.json()["error"]["code"] for a in answers if a.status_code == 409}
        assert refused == ({"slot.full"} if round_ == 0 else {"slot.full", "slot.already_booked"})
    async with app.state.platform.db.session() as session:
        places = (
            await session.exec(select(Meeting.slot_place).where(col(Meeting.slot_place).is_not(None)))
        ).all()
        assert sorted(places) == [1, 2]
        # The store itself refuses a second holder of a place, whatever the code above it does.
        taken = (await session.exec(select(Meeting).where(Meeting.slot_place == 2))).one()
        twin = Meeting(
            booth_id=taken.booth_id,
            expo_id=taken.expo_id,
            requester_id=taken.requester_id,
            status="accepted",
            starts_at=taken.starts_at,
            ends_at=taken.ends_at,
            window_id=taken.window_id,
            slot_place=2,
        )
        session.add(twin)
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_invitation_and_reminder(app: Starlette, client: httpx.AsyncClient) -> None:
    booth = await setup(app)
    owner, ann = await bearer(client, "owner@example.com"), await bearer(client, "ann@example.com")
    await publish(client, booth, owner, days=4, start="14:00", end="15:00", minutes=45, capacity=3)
    booked = await client.post(
        f"/api/booths/{booth.id}/slots",
        json={"starts_at": wall_clock(4, 14).isoformat(), "message": "Samples; price list, please"},
        headers=ann,
    )
    meeting = booked.json()
    confirmation, reminder = await mails_to(app, "ann@example.com")
    assert f"{wall_clock(4, 14):%Y-%m-%d} 14:00-14:45 (Asia/Shanghai)" in confirmation.body
    # The reminder waits in the outbox until an hour before the start.
    assert reminder.subject == "Reminder: your meeting with Lumen Works starts soon"
    assert reminder.next_attempt_at == utc(4, 14) - timedelta(hours=1) and reminder.status == "queued"
    # The outbox's sender claims the confirmation and the staff's letters now, the reminder only when due.
    async with app.state.platform.db.session() as session:
        now, claimed = datetime.now(UTC), []
        while (message := await claim(session, now)) is not None:
            claimed.append(message.id)
        assert confirmation.id in claimed and reminder.id not in claimed

    # The confirmation carries the .ics as a text/calendar attachment with the guest's room link.
    sent = email.message_from_bytes(bytes(to_email(confirmation, "expo@example.com")), policy=policy.default)
    [part] = list(sent.iter_attachments())  # type: ignore[attr-defined]
    assert (
        part.get_content_type() == "text/calendar" and part.get_filename() == f"meeting-{meeting['id']}.ics"
    )
    ics = part.get_content()
    guest_key = meeting["room_url"].split("key=")[1]
    unfolded = ics.replace("\r\n ", "")
    host = urlsplit(app.state.platform.settings.public_url).hostname
    assert f"UID:meeting-{meeting['id']}@{host}" in unfolded
    assert (
        f"DTSTART:{utc(4, 14):%Y%m%dT%H%M%SZ}" in unfolded
        and f"DTEND:{utc(4, 14, 45):%Y%m%dT%H%M%SZ}" in unfolded
    )
    assert "SUMMARY:Meeting with Lumen Works" in unfolded and f"key={guest_key}" in unfolded
    assert "Samples\\; price list\\, please" in unfolded
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))

    # The download: the requester's copy has the guest link, the staff's the host link.
    mine = await client.get(meeting["invitation_url"], headers=ann)
    assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/calendar")
    assert f"key={guest_key}" in mine.text.replace("\r\n ", "")
    theirs = (await client.get(meeting["invitation_url"], headers=owner)).text.replace("\r\n ", "")
    [host] = [
        m["room_url"]
        for m in (await client.get(f"/api/booths/{booth.id}/meetings", headers=owner)).json()["items"]
    ]
    assert f"key={host.split('key=')[1]}" in theirs and guest_key not in theirs and "Ann Lee" in theirs
    bob_headers = await bearer(client, "bob@example.com")
    bob = await client.get(meeting["invitation_url"], headers=bob_headers)
    assert bob.status_code == 403 and bob.json()["error"]["code"] == "meeting.not_staff"

    # Cancelling withdraws the reminder that has not gone out; the .ics now cancels the event.
    await client.post(f"/api/meetings/{meeting['id']}/cancel", headers=ann)
    assert [m.subject for m in await mails_to(app, "ann@example.com")] == [confirmation.subject]
    assert "METHOD:CANCEL" in (await client.get(meeting["invitation_url"], headers=ann)).text
    # Bob takes the slot; his reminder is the one the sender claims once it is due.
    start = {"starts_at": wall_clock(4, 14).isoformat()}
    assert (
        await client.post(f"/api/booths/{booth.id}/slots", json=start, headers=bob_headers)
    ).status_code == 201
    [_, bobs_reminder] = await mails_to(app, "bob@example.com")
    async with app.state.platform.db.session() as session:
        claimed = []
        while (message := await claim(session, bobs_reminder.next_attempt_at)) is not None:
            claimed.append(message.id)
        assert bobs_reminder.id in claimed


async def test_slots_with_bookings_cannot_vanish(app: Starlette, client: httpx.AsyncClient) -> None:
    booth = await setup(app)
    owner, ann = await bearer(client, "owner@example.com"), await bearer(client, "ann@example.com")
    bob = await bearer(client, "bob@example.com")
    published = await publish(client, booth, owner, days=5, end="11:00", capacity=2)
    url = f"/api/availability/{published['id']}"
    for who in (ann, bob):
        ok = await client.post(
            f"/api/booths/{booth.id}/slots", json={"starts_at": wall_clock(5, 10).isoformat()}, headers=who
        )
        assert ok.status_code == 201
    # Dropping the booked 10:00 slot, or leaving it one place for two meetings: refused, the slot named.
    for change in (window(5, end="10:00", capacity=2), window(5, end="11:00", capacity=1)):
        refused = await client.put(url, json=change, headers=owner)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "slot.booked"
        assert error["details"]["slots"] == [f"{wall_clock(5, 10):%Y-%m-%d} 10:00"]
    removed = await client.delete(url, headers=owner)
    assert removed.status_code == 409 and removed.json()["error"]["code"] == "slot.booked"
    # A change that keeps the booked slot (with room for its two meetings) is fine.
    kept = await client.put(url, json=window(5, start="09:30", end="12:00", capacity=3), headers=owner)
    assert kept.status_code == 200, kept.text
    assert [s["free"] for s in kept.json()["slots"]] == [3, 1, 3, 3, 3]
    # Once both meetings are cancelled (Ann withdraws hers, the staff call off Bob's), the window can go.
    for meeting in (await client.get(f"/api/booths/{booth.id}/meetings", headers=owner)).json()["items"]:
        who = ann if meeting["requester"]["email"] == "ann@example.com" else owner
        cancelled = await client.post(f"/api/meetings/{meeting['id']}/cancel", headers=who)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    assert (await client.delete(url, headers=owner)).status_code == 204
    assert (await client.get(f"/api/booths/{booth.id}/slots")).json()["items"] == []


async def test_rules_and_who_may_do_what(app: Starlette, client: httpx.AsyncClient) -> None:
    booth = await setup(app)
    async with app.state.platform.db.session() as session:
        other = (await session.exec(select(Booth).where(Booth.name == "Silk Road Weavers"))).one()
    await add_owner(app, other, await make_account(app, "weaver@example.com", "exhibitor", name="Wei"))
    owner, ann = await bearer(client, "owner@example.com"), await bearer(client, "ann@example.com")
    weaver = await bearer(client, "weaver@example.com")
    url = f"/api/booths/{booth.id}/availability"

    async def error(response: httpx.Response) -> tuple[int, str, str]:
        body = response.json()["error"]
        return response.status_code, body["code"], body.get("details", {}).get("field", "")

    # A visitor cannot publish; another booth's staff neither, nor read this booth's bookings.
    assert await error(await client.post(url, json=window(3), headers=ann)) == (403, "meeting.not_staff", "")
    assert (await client.post(url, json=window(3), headers=weaver)).status_code == 403
    assert (await client.post(url, json=window(3))).status_code == 401
    published = await publish(client, booth, owner, days=3)
    assert (await client.get(url, headers=weaver)).status_code == 403
    assert (await client.get(f"/api/booths/{booth.id}/meetings", headers=weaver)).status_code == 403
    assert (
        await client.put(f"/api/availability/{published['id']}", json=window(3), headers=weaver)
    ).status_code == 403
    assert (await client.delete(f"/api/availability/{published['id']}", headers=ann)).status_code == 403

    # Rules on windows: each names its field.
    bad = [
        (window(3, minutes=25), "slot_minutes"),
        (window(3, capacity=0), "capacity"),
        (window(3, capacity=21), "capacity"),
        (window(4, start="10:00", end="10:15"), "end"),
        (window(-2), "day"),
        (window(3, start="09:30", end="11:00"), "start"),  # overlaps the published window
    ]
    for payload, field in bad:
        status, code, named = await error(await client.post(url, json=payload, headers=owner))
        assert (status, named) == (422, field), code
    # Staff do not book their own booth's slots; visitors need to sign in.
    start = {"starts_at": wall_clock(3, 9).isoformat()}
    own = await client.post(f"/api/booths/{booth.id}/slots", json=start, headers=owner)
    assert own.status_code == 403 and own.json()["error"]["code"] == "meeting.own_booth"
    assert (await client.post(f"/api/booths/{booth.id}/slots", json=start)).status_code == 401
    assert (await client.post(f"/api/booths/{booth.id}/slots", json=start, headers=ann)).status_code == 201
    twice = await client.post(
        f"/api/booths/{booth.id}/slots", json={"starts_at": wall_clock(3, 9, 30).isoformat()}, headers=ann
    )
    assert twice.status_code == 201  # another slot is fine; the same one again is not
    again = await client.post(f"/api/booths/{booth.id}/slots", json=start, headers=ann)
    assert again.status_code == 409 and again.json()["error"]["code"] in ("slot.full", "slot.already_booked")


async def test_pages_publish_pick_and_book(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/booths/{booth.id}/availability"
    day = wall_clock(6, 0).date().isoformat()
    async with browser(app, "owner@example.com") as owner:
        empty = await owner.get(page)
        assert empty.status_code == 200 and "No availability published yet" in empty.text
        form = {"day": day, "start": "16:00", "end": "15:00", "slot_minutes": "30", "capacity": "2"}
        wrong = await post_form(owner, page, page, form)
        assert wrong.status_code == 422 and 'id="end-0-error"' in wrong.text
        assert (
            "The end must leave room for at least one slot." in wrong.text and 'value="16:00"' in wrong.text
        )
        done = await post_form(owner, page, page, {**form, "end": "17:00"})
        assert done.status_code == 303
        shown = (await owner.get(page)).text
        assert "The availability was published." in shown and "16:00\u201317:00" in shown
        assert shown.count('data-slot="') == 2 and "0 of 2 booked" in shown
    async with browser(app, "ann@example.com") as ann:
        booth_page = f"/expos/fair/booths/{booth.id}"
        shown = await ann.get(booth_page)
        assert "Book a meeting" in shown.text and f'data-slots="/api/booths/{booth.id}/slots"' in shown.text
        start = f"{day}T16:30"
        booked = await post_form(
            ann, booth_page, f"{booth_page}/slots", {"starts_at": start, "message": "Hi"}
        )
        assert booked.status_code == 303 and booked.headers["location"] == "/my/meetings"
        mine = (await ann.get("/my/meetings")).text
        assert "Your meeting is booked." in mine and f"{day} 16:30\u201317:00" in mine
        link = re.search(r'data-invitation href="([^"]+)"', mine)
        assert link is not None
        calendar = await ann.get(link.group(1))
        assert calendar.status_code == 200 and "BEGIN:VEVENT" in calendar.text
        wrong = await post_form(ann, booth_page, f"{booth_page}/slots", {"starts_at": f"{day}T16:10"})
        assert wrong.status_code == 422 and 'id="slot-error"' in wrong.text
        assert "The booth offers no slot at this time." in wrong.text
    async with browser(app, "owner@example.com") as owner:
        shown = (await owner.get(page)).text
        assert "1 of 2 booked" in shown
        [window_id] = re.findall(r'data-window="(\d+)"', shown)
        refused = await post_form(owner, page, f"{page}/{window_id}/delete")
        assert refused.status_code == 409 and "Slots with booked meetings cannot be removed." in refused.text
        assert f"{day} 16:30" in refused.text
        inbox = (await owner.get(f"/booths/{booth.id}/meetings")).text
        assert "Booked slot" in inbox and "data-invitation" in inbox and "Ann Lee" in inbox
