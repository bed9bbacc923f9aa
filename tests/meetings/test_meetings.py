"""Booth meetings: visitors request them, booth staff accept, decline or mark them held, requesters
cancel; races between deciders, overlapping acceptances, the rules on times, and the pages.

Every test runs on SQLite and on PostgreSQL: the race tests are about each store's locking.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from booths.models import Booth
from expo.accounts.models import User
from expo.audit import AuditEvent
from expo.config import Settings
from expo.expos.models import Expo
from expo.mail.models import OutboxMessage
from expo.meetings.models import Meeting
from streaming.room_services import RoomRole, admit
from tests.booths.web import add_owner, browser, floor_of, make_account, post_form
from tests.conftest import make_settings
from tests.dashboards.test_pages import bearer

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


async def setup(app: Starlette) -> Booth:
    """The floor's "Lumen Works" booth at an expo in Shanghai time, staffed by an owner and a
    colleague; two visitors and an outsider exhibitor."""
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    async with app.state.platform.db.session() as session:
        expo = await session.get(Expo, booth.expo_id)
        assert expo is not None
        expo.timezone = "Asia/Shanghai"
        session.add(expo)
        await session.commit()
    await add_owner(app, booth, await make_account(app, "owner@example.com", "exhibitor", name="Owner"))
    await add_owner(app, booth, await make_account(app, "colleague@example.com", "exhibitor", name="Col"))
    await make_account(app, "outsider@example.com", "exhibitor", name="Otto")
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    await make_account(app, "bob@example.com", "visitor", name="Bob")
    return booth


def wall_clock(days: int, hour: int, minute: int = 0) -> datetime:
    """A naive Shanghai wall-clock time ``days`` from now (what a datetime-local input sends)."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute)


def body(start: datetime, minutes: int = 30, message: str = "") -> dict[str, str]:
    return {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        "message": message,
    }


STAFF = ("owner@example.com", "colleague@example.com")


async def outbox(app: Starlette, *, staff: bool = False) -> list[OutboxMessage]:
    """The letters to requesters, oldest first (``staff``: those to the booth's staff instead)."""
    async with app.state.platform.db.session() as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        mails = list((await session.exec(query)).all())
    return [m for m in mails if (m.to_address in STAFF) == staff]


async def start_in_the_past(app: Starlette, meeting_id: int) -> None:
    """Let the clock pass the meeting's start: move its times back by ten days."""
    async with app.state.platform.db.session() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        await session.exec(
            update(Meeting)
            .where(col(Meeting.id) == meeting_id)
            .values(
                starts_at=meeting.starts_at - timedelta(days=10), ends_at=meeting.ends_at - timedelta(days=10)
            )
        )
        await session.commit()


async def test_request_accept_hold_with_the_requester_told(app: Starlette, client: httpx.AsyncClient) -> None:
    booth = await setup(app)
    ann, owner = await bearer(client, "ann@example.com"), await bearer(client, "owner@example.com")
    start = wall_clock(3, 10)
    asked = await client.post(
        f"/api/booths/{booth.id}/meetings", json=body(start, 45, "Bulk order <b>lamps</b>"), headers=ann
    )
    assert asked.status_code == 201, asked.text
    meeting = asked.json()
    # 10:00 in Shanghai is 02:00 UTC.
    assert meeting["status"] == "requested"
    assert datetime.fromisoformat(meeting["starts_at"]) == start.replace(tzinfo=SHANGHAI).astimezone(UTC)
    assert meeting["message"] == "Bulk order <b>lamps</b>"

    listed = await client.get(f"/api/booths/{booth.id}/meetings", headers=owner)
    assert [(m["id"], m["requester"]["email"]) for m in listed.json()["items"]] == [
        (meeting["id"], "ann@example.com")
    ]
    mine = await client.get("/api/me/meetings", headers=ann)
    assert [(m["id"], m["booth_name"]) for m in mine.json()["items"]] == [(meeting["id"], "Lumen Works")]

    early = await client.post(f"/api/meetings/{meeting['id']}/held", headers=owner)
    assert early.status_code == 409 and early.json()["error"]["code"] == "meeting.not_accepted"
    accepted = await client.post(f"/api/meetings/{meeting['id']}/accept", headers=owner)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    [mail] = await outbox(app)
    assert mail.to_address == "ann@example.com"
    assert mail.subject == "Your meeting with Lumen Works is confirmed"
    assert f"{start:%Y-%m-%d} 10:00-10:45 (Asia/Shanghai)" in mail.body

    not_yet = await client.post(f"/api/meetings/{meeting['id']}/held", headers=owner)
    assert not_yet.status_code == 409 and not_yet.json()["error"]["code"] == "meeting.not_started"
    await start_in_the_past(app, meeting["id"])
    held = await client.post(f"/api/meetings/{meeting['id']}/held", headers=owner)
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "held" and held.json()["held_at"]
    async with app.state.platform.db.session() as session:
        actions = (await session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id)))).all()
    assert [a for a in actions if a.startswith("meeting.")] == [
        "meeting.requested",
        "meeting.accepted",
        "meeting.held",
    ]


async def test_an_accepted_meeting_opens_a_video_room_that_cancelling_closes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    booth = await setup(app)
    ann, owner = await bearer(client, "ann@example.com"), await bearer(client, "owner@example.com")
    asked = await client.post(f"/api/booths/{booth.id}/meetings", json=body(wall_clock(2, 9)), headers=ann)
    meeting_id = asked.json()["id"]
    assert asked.json()["room_url"] is None  # nothing to join before the booth accepts

    accepted = await client.post(f"/api/meetings/{meeting_id}/accept", headers=owner)
    host_url = accepted.json()["room_url"]
    [guest_url] = [m["room_url"] for m in (await client.get("/api/me/meetings", headers=ann)).json()["items"]]
    [listed] = (await client.get(f"/api/booths/{booth.id}/meetings", headers=owner)).json()["items"]
    assert listed["room_url"] == host_url and host_url != guest_url
    # One room, the booth's: the staff's link makes them its host, the visitor's a guest.
    room_id = int(host_url.split("/")[2].split("?")[0])
    async with app.state.platform.db.session() as session:
        for url, role in ((host_url, RoomRole.HOST), (guest_url, RoomRole.GUEST)):
            room, given = await admit(session, room_id, url.split("key=")[1])
            assert given is role and room.booth_id == booth.id and "Lumen Works" in room.title
    [mail] = await outbox(app)
    assert app.state.platform.settings.url(guest_url) in mail.body
    page = await client.get(guest_url)
    assert page.status_code == 200 and 'data-role="guest"' in page.text

    cancelled = await client.post(f"/api/meetings/{meeting_id}/cancel", headers=ann)
    assert cancelled.status_code == 200 and cancelled.json()["room_url"] is None
    joined = await client.post(f"/api/rooms/{room_id}/participants", json={"key": guest_url.split("key=")[1]})
    assert joined.status_code == 409 and joined.json()["error"]["code"] == "room.ended"
    [listed] = (await client.get(f"/api/booths/{booth.id}/meetings", headers=owner)).json()["items"]
    assert listed["room_url"] is None


async def test_the_booth_calls_off_an_accepted_meeting_and_the_visitor_is_told_why(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    booth = await setup(app)
    ann, owner = await bearer(client, "ann@example.com"), await bearer(client, "owner@example.com")
    colleague, bob = await bearer(client, "colleague@example.com"), await bearer(client, "bob@example.com")
    outsider = await bearer(client, "outsider@example.com")
    start = wall_clock(4, 14)
    asked = await client.post(f"/api/booths/{booth.id}/meetings", json=body(start), headers=ann)
    meeting_id = asked.json()["id"]
    # A request is declined, not called off; strangers do not even see it.
    early = await client.post(f"/api/meetings/{meeting_id}/cancel", headers=owner)
    assert early.status_code == 409 and early.json()["error"]["code"] == "meeting.not_accepted"
    for stranger in (bob, outsider):
        hidden = await client.post(f"/api/meetings/{meeting_id}/cancel", headers=stranger)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "meeting.unknown"
    accepted = await client.post(f"/api/meetings/{meeting_id}/accept", headers=owner)
    room_id = int(accepted.json()["room_url"].split("/")[2].split("?")[0])
    [mine] = (await client.get("/api/me/meetings", headers=ann)).json()["items"]
    guest_key = mine["room_url"].split("key=")[1]

    called_off = await client.post(f"/api/meetings/{meeting_id}/cancel", headers=colleague)
    assert called_off.status_code == 200, called_off.text
    assert called_off.json()["status"] == "cancelled" and called_off.json()["room_url"] is None
    [mine] = (await client.get("/api/me/meetings", headers=ann)).json()["items"]
    assert mine["status"] == "cancelled"
    joined = await client.post(f"/api/rooms/{room_id}/participants", json={"key": guest_key})
    assert joined.status_code == 409 and joined.json()["error"]["code"] == "room.ended"
    _confirmed, told = await outbox(app)
    assert told.to_address == "ann@example.com"
    assert told.subject == "Your meeting with Lumen Works was cancelled"
    assert f"{start:%Y-%m-%d} 14:00-14:30 (Asia/Shanghai)" in told.body
    again = await client.post(f"/api/meetings/{meeting_id}/cancel", headers=owner)
    assert again.status_code == 409 and again.json()["error"]["code"] == "meeting.closed"
    assert len(await outbox(app)) == 2
    async with app.state.platform.db.session() as session:
        query = select(User.email).join(AuditEvent, col(AuditEvent.actor_id) == User.id)
        actors = (await session.exec(query.where(AuditEvent.action == "meeting.cancelled"))).all()
    assert actors == ["colleague@example.com"]


async def test_overlapping_acceptance_is_refused_and_decline_carries_the_note(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    booth = await setup(app)
    ann, bob = await bearer(client, "ann@example.com"), await bearer(client, "bob@example.com")
    owner = await bearer(client, "owner@example.com")
    url = f"/api/booths/{booth.id}/meetings"
    first = (await client.post(url, json=body(wall_clock(2, 14), 60), headers=ann)).json()
    second = (await client.post(url, json=body(wall_clock(2, 14, 30), 30), headers=bob)).json()
    after = (await client.post(url, json=body(wall_clock(2, 15), 30), headers=bob)).json()
    assert (await client.post(f"/api/meetings/{first['id']}/accept", headers=owner)).status_code == 200
    clash = await client.post(f"/api/meetings/{second['id']}/accept", headers=owner)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "meeting.overlap"
    # Back-to-back is not an overlap.
    assert (await client.post(f"/api/meetings/{after['id']}/accept", headers=owner)).status_code == 200
    declined = await client.post(
        f"/api/meetings/{second['id']}/decline", json={"note": "Fully booked, try Friday"}, headers=owner
    )
    assert declined.status_code == 200 and declined.json()["staff_note"] == "Fully booked, try Friday"
    mails = await outbox(app)
    assert [m.to_address for m in mails] == ["ann@example.com", "bob@example.com", "bob@example.com"]
    assert mails[-1].subject == "Your meeting request to Lumen Works was declined"
    assert "Fully booked, try Friday" in mails[-1].body
    again = await client.post(f"/api/meetings/{second['id']}/accept", headers=owner)
    assert again.status_code == 409 and again.json()["error"]["code"] == "meeting.already_decided"


async def test_two_staff_deciding_at_once_one_wins(app: Starlette, client: httpx.AsyncClient) -> None:
    booth = await setup(app)
    ann, bob = await bearer(client, "ann@example.com"), await bearer(client, "bob@example.com")
    owner, colleague = (
        await bearer(client, "owner@example.com"),
        await bearer(client, "colleague@example.com"),
    )
    url = f"/api/booths/{booth.id}/meetings"
    for round_ in range(3):
        meeting = (await client.post(url, json=body(wall_clock(4 + round_, 9)), headers=ann)).json()
        answers = await asyncio.gather(
            client.post(f"/api/meetings/{meeting['id']}/accept", headers=owner),
            client.post(f"/api/meetings/{meeting['id']}/decline", json={"note": "no"}, headers=colleague),
        )
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 200).json()["status"]
        stored = (await client.get("/api/me/meetings", headers=ann)).json()["items"][0]
        assert stored["status"] == winner
    # One e-mail per decision, none for the losers.
    assert len(await outbox(app)) == 3

    # Two overlapping requests (ann may hold 3 open meetings by now: others ask) accepted at once
    # by two people: only one is booked.
    await make_account(app, "cy@example.com", "visitor", name="Cy")
    cy = await bearer(client, "cy@example.com")
    one = (await client.post(url, json=body(wall_clock(9, 11), 60), headers=bob)).json()
    two = (await client.post(url, json=body(wall_clock(9, 11, 30), 60), headers=cy)).json()
    answers = await asyncio.gather(
        client.post(f"/api/meetings/{one['id']}/accept", headers=owner),
        client.post(f"/api/meetings/{two['id']}/accept", headers=colleague),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    listed = (await client.get(url, headers=owner)).json()["items"]
    assert sorted(m["status"] for m in listed if m["id"] in (one["id"], two["id"])) == [
        "accepted",
        "requested",
    ]


async def test_rules_on_times_booths_and_open_requests(app: Starlette, client: httpx.AsyncClient) -> None:
    booth = await setup(app)
    ann, owner = await bearer(client, "ann@example.com"), await bearer(client, "owner@example.com")
    url = f"/api/booths/{booth.id}/meetings"

    async def code(payload: dict[str, str], headers: dict[str, str] = ann) -> tuple[int, str]:
        response = await client.post(url, json=payload, headers=headers)
        return response.status_code, response.json().get("error", {}).get("code", "")

    yesterday = wall_clock(-1, 10)
    assert await code(body(yesterday)) == (422, "meeting.in_past")
    assert await code(body(wall_clock(2, 10), 10)) == (422, "meeting.bad_length")
    assert await code(body(wall_clock(2, 10), 121)) == (422, "meeting.bad_length")
    assert (await code(body(wall_clock(2, 10), 30, "x" * 2001)))[0] == 422
    assert await code(body(wall_clock(2, 10)), await bearer(client, "owner@example.com")) == (
        403,
        "meeting.own_booth",
    )
    unauthenticated = await client.post(url, json=body(wall_clock(2, 10)))
    assert unauthenticated.status_code == 401
    for hour in (9, 10, 11):
        assert (await code(body(wall_clock(2, hour))))[0] == 201
    assert await code(body(wall_clock(2, 12))) == (409, "meeting.too_many")
    # Cancelling one makes room again; a cancelled meeting cannot be cancelled twice.
    first = (await client.get("/api/me/meetings", headers=ann)).json()["items"][-1]["id"]
    assert (await client.post(f"/api/meetings/{first}/cancel", headers=ann)).json()["status"] == "cancelled"
    twice = await client.post(f"/api/meetings/{first}/cancel", headers=ann)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "meeting.closed"
    late = await client.post(f"/api/meetings/{first}/accept", headers=owner)
    assert late.status_code == 409
    assert (await code(body(wall_clock(2, 12))))[0] == 201
    async with app.state.platform.db.session() as session:
        count = len((await session.exec(select(Meeting))).all())
    assert count == 4  # nothing of the refused requests was stored

    # Staff only: another exhibitor and the visitor are refused; others' meetings are not found.
    outsider, bob = await bearer(client, "outsider@example.com"), await bearer(client, "bob@example.com")
    second = (await client.get("/api/me/meetings", headers=ann)).json()["items"][0]["id"]
    refused = await client.post(f"/api/meetings/{second}/accept", headers=outsider)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "meeting.not_staff"
    assert (await client.get(url, headers=ann)).status_code == 403
    assert (await client.post(f"/api/meetings/{second}/cancel", headers=bob)).status_code == 404
    assert (await client.post("/api/meetings/999999/accept", headers=owner)).status_code == 404

    # A pending booth takes no requests (and its visitors cannot even see it).
    async with app.state.platform.db.session() as session:
        stored = await session.get(Booth, booth.id)
        assert stored is not None
        stored.status = "pending"
        session.add(stored)
        await session.commit()
    assert (await code(body(wall_clock(2, 16)), bob))[0] == 404


async def test_pages_request_decide_and_cancel(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    start = wall_clock(5, 16, 30)
    async with browser(app, "ann@example.com") as ann:
        shown = await ann.get(page)
        assert "Request a meeting" in shown.text and "Starts (Asia/Shanghai)" in shown.text
        past = await post_form(
            ann, page, f"{page}/meetings", {"starts_at": "2020-01-01T10:00", "minutes": "30", "message": "Hi"}
        )
        assert past.status_code == 422 and "Choose a time in the future." in past.text
        assert 'id="meeting-error"' in past.text
        sent = await post_form(
            ann,
            page,
            f"{page}/meetings",
            {"starts_at": start.strftime("%Y-%m-%dT%H:%M"), "minutes": "60", "message": "Samples <please>"},
        )
        assert sent.status_code == 303 and sent.headers["location"] == "/my/meetings"
        mine = await ann.get("/my/meetings")
        assert "Your meeting request was sent to the booth." in mine.text
        assert f"{start:%Y-%m-%d} 16:30\u201317:30" in mine.text and "Waiting for the booth" in mine.text
        assert "Samples &lt;please&gt;" in mine.text
        assert (await ann.get(f"/booths/{booth.id}/meetings")).status_code == 403
    async with app.state.platform.db.session() as session:
        meeting = (await session.exec(select(Meeting))).one()
    async with browser(app, "owner@example.com") as owner:
        inbox = await owner.get(f"/booths/{booth.id}/meetings")
        assert inbox.status_code == 200 and "Ann Lee" in inbox.text and "16:30\u201317:30" in inbox.text
        assert "Request a meeting" not in (await owner.get(page)).text  # not with one's own booth
        action = f"/booths/{booth.id}/meetings/{meeting.id}"
        accepted = await post_form(
            owner, f"/booths/{booth.id}/meetings", f"{action}/accept", {"note": "Hall A"}
        )
        assert accepted.status_code == 303
        accepted_page = (await owner.get(accepted.headers["location"])).text
        assert "The meeting was accepted." in accepted_page
        assert "Join the video meeting" in accepted_page and "data-room-link" in accepted_page
        again = await post_form(owner, f"/booths/{booth.id}/meetings", f"{action}/decline", {"note": ""})
        assert again.status_code == 409 and "This meeting was already answered or cancelled." in again.text
        assert (await post_form(owner, f"/booths/{booth.id}/meetings", f"{action}/bogus")).status_code == 404
        await start_in_the_past(app, meeting.id or 0)
        inbox = await owner.get(f"/booths/{booth.id}/meetings")
        assert "Mark as held" in inbox.text
        host_link = re.search(r'data-room-link href="([^"]+)"', inbox.text)
        assert host_link is not None
    async with browser(app, "ann@example.com") as ann:
        guest_link = re.search(r'data-room-link href="([^"]+)"', (await ann.get("/my/meetings")).text)
        assert guest_link is not None and guest_link.group(1) != host_link.group(1)
    async with browser(app, "owner@example.com") as owner:
        held = await post_form(owner, f"/booths/{booth.id}/meetings", f"{action}/held")
        assert held.status_code == 303
    async with browser(app, "ann@example.com") as ann:
        mine = await ann.get("/my/meetings")
        assert "Held" in mine.text and "Hall A" in mine.text and "Cancel the meeting" not in mine.text
        later = wall_clock(6, 9)
        await post_form(
            ann, page, f"{page}/meetings", {"starts_at": later.strftime("%Y-%m-%dT%H:%M"), "minutes": "15"}
        )
        async with app.state.platform.db.session() as session:
            newest = (await session.exec(select(Meeting).order_by(col(Meeting.id).desc()))).first()
        assert newest is not None
        cancelled = await post_form(ann, "/my/meetings", f"/my/meetings/{newest.id}/cancel")
        assert cancelled.status_code == 303
        assert "The meeting was cancelled." in (await ann.get("/my/meetings")).text
    async with browser(app) as anonymous:
        assert "Log in to request a meeting" in (await anonymous.get(page)).text


async def test_the_inbox_page_calls_off_an_accepted_meeting_with_a_note(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    booth = await setup(app)
    ann, owner = await bearer(client, "ann@example.com"), await bearer(client, "owner@example.com")
    asked = await client.post(f"/api/booths/{booth.id}/meetings", json=body(wall_clock(3, 11)), headers=ann)
    meeting_id = asked.json()["id"]
    inbox = f"/booths/{booth.id}/meetings"
    async with browser(app, "owner@example.com") as staff:
        assert "Call off this meeting" not in (await staff.get(inbox)).text  # a request: accept or decline
        await client.post(f"/api/meetings/{meeting_id}/accept", headers=owner)
        assert "Call off this meeting" in (await staff.get(inbox)).text
        action = f"{inbox}/{meeting_id}/cancel"
        done = await post_form(staff, inbox, action, {"note": "Our engineer is ill <sorry>"})
        assert done.status_code == 303
        shown = (await staff.get(done.headers["location"])).text
        assert "The meeting was cancelled; the visitor has been told." in shown
        assert 'data-status="cancelled"' in shown and "Our engineer is ill &lt;sorry&gt;" in shown
        assert "Call off this meeting" not in shown and "Join the video meeting" not in shown
        twice = await post_form(staff, inbox, action, {"note": ""})
        assert twice.status_code == 409 and "This meeting can no longer be cancelled." in twice.text
    async with browser(app, "ann@example.com") as visitor:
        mine = (await visitor.get("/my/meetings")).text
        assert "Cancelled" in mine and "Our engineer is ill &lt;sorry&gt;" in mine
    [_, told] = await outbox(app)
    assert "Our engineer is ill <sorry>" in told.body
