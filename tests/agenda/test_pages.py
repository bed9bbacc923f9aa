"""The agenda's pages in-process: the organizer builds the timetable through the editor, visitors
browse it by day and by track, register and cancel with CSRF-protected forms, see their agenda and
its private calendar feed (and replace a leaked one); the organizer marks attendance and exports it
as CSV. Who edits the agenda is the team role in the expo, never the account type."""

from __future__ import annotations

import csv
import io
import re

import httpx
from starlette.applications import Starlette

from expo.expos import services as expos
from expo.expos.models import Expo
from expo.expos.team import add_member
from expo.permissions import TeamRole
from tests.booths.web import browser, csrf_of, make_account, post_form


async def _expo(app: Starlette, organizer_id: int | None, slug: str = "fair") -> Expo:

    async with app.state.platform.db.session() as s:
        return await expos.ensure_expo(s, slug, "Fair", timezone="Asia/Shanghai", created_by=organizer_id)


PROGRAM_FORM = {
    "title": "Opening keynote",
    "description": "Where the fair is heading.",
    "speakers": 'Li Wei | CEO | Acme\n=HYPERLINK("x") | Hacker',
    "track": "Main",
    "stage": "Stage A",
    "starts_at": "2030-04-15T09:00",
    "ends_at": "2030-04-15T10:00",
    "capacity": "1",
}


async def _program_via_editor(app: Starlette, org: httpx.AsyncClient, **changes: str) -> int:
    page = "/organizer/expos/fair/agenda"
    response = await post_form(org, page, page, {**PROGRAM_FORM, **changes})
    assert response.status_code == 303, response.text
    match = re.search(r"/agenda/(\d+)$", response.headers["location"])
    assert match
    return int(match.group(1))


async def test_organizer_builds_the_agenda_visitors_register_and_cancel(app: Starlette) -> None:
    organizer = await make_account(app, "org@example.com", "organizer")
    await make_account(app, "ann@example.com", "visitor", name="Ann")
    await make_account(app, "bob@example.com", "visitor", name="Bob")
    await _expo(app, organizer.id)
    async with (
        browser(app, "org@example.com") as org,
        browser(app, "ann@example.com") as ann,
        browser(app, "bob@example.com") as bob,
    ):
        pid = await _program_via_editor(app, org)
        await _program_via_editor(
            app,
            org,
            title="Panel",
            track="Trade",
            starts_at="2030-04-16T14:00",
            ends_at="2030-04-16T15:00",
            capacity="",
        )

        day = await ann.get("/expos/fair/agenda?day=2030-04-15")
        assert day.status_code == 200
        assert "Opening keynote" in day.text and "Panel" not in day.text
        assert 'datetime="2030-04-15T01:00:00Z"' in day.text and ">09:00</time>" in day.text
        assert "Seats left: 1" in day.text
        tracks = await ann.get("/expos/fair/agenda?day=2030-04-16&view=track")
        assert "<h2>Trade</h2>" in tracks.text and "Panel" in tracks.text

        page = f"/expos/fair/agenda/{pid}"
        program = await ann.get(page)
        assert "Li Wei" in program.text and "Stage A" in program.text and f"{page}.ics" in program.text
        r = await ann.post(f"{page}/register", data={"csrf_token": "forged"})
        assert r.status_code == 403
        r = await post_form(ann, page, f"{page}/register")
        assert r.status_code == 303
        assert "Your seat is confirmed." in (await ann.get(page)).text
        await post_form(bob, page, f"{page}/register")
        assert "You are number 1 on the waiting list." in (await bob.get(page)).text

        mine = await ann.get("/my/agenda")
        assert "Opening keynote" in mine.text
        feed = re.search(r'value="http://testserver(/agenda/feed/[^"]+\.ics)"', mine.text)
        assert feed
        anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        async with anonymous:
            calendar = await anonymous.get(feed.group(1))
            assert calendar.status_code == 200 and calendar.headers["content-type"].startswith(
                "text/calendar"
            )
            assert "SUMMARY:Opening keynote" in calendar.text and calendar.text.count("BEGIN:VEVENT") == 1
            tampered = feed.group(1).replace(".ics", "x.ics")
            assert (await anonymous.get(tampered)).status_code == 404
            single = await anonymous.get(f"{page}.ics")
            assert "DTSTART:20300415T010000Z" in single.text

        # Ann cancels: Bob, first in line, gets the seat.
        await post_form(ann, page, f"{page}/cancel")
        assert "Your seat is confirmed." in (await bob.get(page)).text
        assert "Opening keynote" not in (await ann.get("/my/agenda")).text

        # The organizer marks Bob as attended and exports the list.
        editor = await org.get(f"/organizer/expos/fair/agenda/{pid}")
        assert "bob@example.com" in editor.text and "ann@example.com" in editor.text
        bob_id = re.search(r'data-user="(\d+)"><td>Bob', editor.text)
        assert bob_id
        r = await org.post(
            f"/organizer/expos/fair/agenda/{pid}/attendees/{bob_id.group(1)}",
            data={"csrf_token": csrf_of(editor.text), "action": "attended"},
        )
        assert r.status_code == 303
        export = await org.get(f"/organizer/expos/fair/agenda/{pid}/attendance.csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [(r["email"], r["status"]) for r in rows] == [
            ("bob@example.com", "confirmed"),
            ("ann@example.com", "cancelled"),
        ]
        assert rows[0]["attended_at"] and rows[0]["promoted_at"]


async def test_csv_export_is_safe_to_open_in_a_spreadsheet(app: Starlette) -> None:
    organizer = await make_account(app, "org@example.com", "organizer")
    await make_account(app, "evil@example.com", "visitor", name="=cmd|'/C calc'!A0")
    await _expo(app, organizer.id)
    async with browser(app, "org@example.com") as org, browser(app, "evil@example.com") as evil:
        pid = await _program_via_editor(app, org)
        page = f"/expos/fair/agenda/{pid}"
        await post_form(evil, page, f"{page}/register")
        export = await org.get(f"/organizer/expos/fair/agenda/{pid}/attendance.csv")
    assert "'=cmd" in export.text and ",=cmd" not in export.text


async def test_editor_refuses_bad_programs_and_other_organizers(app: Starlette) -> None:
    organizer = await make_account(app, "org@example.com", "organizer")
    rival = await make_account(app, "rival@example.com", "organizer")
    await make_account(app, "v@example.com", "visitor")
    await _expo(app, organizer.id)
    await _expo(app, rival.id, "rival-fair")  # the rival organizes an expo of their own
    async with browser(app, "org@example.com") as org:
        page = "/organizer/expos/fair/agenda"
        r = await post_form(org, page, page, {**PROGRAM_FORM, "ends_at": "2030-04-15T08:00"})
        assert r.status_code == 422 and "A program must end after it starts." in r.text
        assert "Opening keynote" in r.text  # the form keeps what was typed
        pid = await _program_via_editor(app, org)
    async with browser(app, "rival@example.com") as rival_browser:
        assert (await rival_browser.get("/organizer/expos/rival-fair/agenda")).status_code == 200
        assert (await rival_browser.get(page)).status_code == 403
        assert (await rival_browser.get(f"{page}/{pid}")).status_code == 403
        assert (await rival_browser.get(f"{page}/{pid}/attendance.csv")).status_code == 403
        assert (await post_form(rival_browser, "/my/agenda", page, PROGRAM_FORM)).status_code == 403
        edit = await post_form(
            rival_browser, "/my/agenda", f"{page}/{pid}", {**PROGRAM_FORM, "title": "Mine"}
        )
        assert edit.status_code == 403
        assert (await post_form(rival_browser, "/my/agenda", f"{page}/{pid}/delete")).status_code == 403
        assert "Edit and see attendees" not in (await rival_browser.get(f"/expos/fair/agenda/{pid}")).text
    async with browser(app, "v@example.com") as visitor:
        assert (await visitor.get(page)).status_code == 403
    async with browser(app) as anonymous:
        r = await anonymous.get(f"/expos/fair/agenda/{pid}")
        assert "Log in to register" in r.text
        assert (await anonymous.get("/my/agenda")).status_code in (302, 303)
    async with browser(app, "org@example.com") as org:
        assert "Opening keynote" in (await org.get(f"{page}/{pid}")).text  # nothing was changed


async def test_the_team_role_decides_who_edits_the_agenda(app: Starlette) -> None:
    organizer = await make_account(app, "org@example.com", "organizer")
    expo = await _expo(app, organizer.id)
    async with app.state.platform.db.session() as s:
        for email, role in (
            ("planner@example.com", TeamRole.ORGANIZER),
            ("desk@example.com", TeamRole.CHECKIN),
        ):
            # Visitor accounts both: what they may do here is their team role.
            member = await make_account(app, email, "visitor")
            await add_member(s, expo, member, role, actor=None)
    page = "/organizer/expos/fair/agenda"
    async with browser(app, "planner@example.com") as planner:
        pid = await _program_via_editor(app, planner)
        assert "Opening keynote" in (await planner.get(f"{page}/{pid}")).text
        assert "Edit and see attendees" in (await planner.get(f"/expos/fair/agenda/{pid}")).text
    async with browser(app, "desk@example.com") as desk:
        assert (await desk.get(page)).status_code == 403
        assert (await desk.get(f"{page}/{pid}")).status_code == 403
        assert (await desk.get(f"{page}/{pid}/attendance.csv")).status_code == 403
        assert "Edit and see attendees" not in (await desk.get(f"/expos/fair/agenda/{pid}")).text


def _feed_in(html: str) -> str:
    feed = re.search(r'value="http://testserver(/agenda/feed/[^"]+\.ics)"', html)
    assert feed
    return feed.group(1)


async def _feed_url(client: httpx.AsyncClient) -> str:
    mine = await client.get("/my/agenda")
    assert mine.status_code == 200
    return _feed_in(mine.text)


async def test_a_leaked_calendar_link_is_revoked_by_making_a_new_one(app: Starlette) -> None:
    organizer = await make_account(app, "org@example.com", "organizer")
    await make_account(app, "ann@example.com", "visitor", name="Ann")
    await make_account(app, "bob@example.com", "visitor", name="Bob")
    await _expo(app, organizer.id)
    async with (
        browser(app, "org@example.com") as org,
        browser(app, "ann@example.com") as ann,
        browser(app, "bob@example.com") as bob,
        browser(app) as anonymous,
    ):
        pid = await _program_via_editor(app, org)
        await post_form(ann, f"/expos/fair/agenda/{pid}", f"/expos/fair/agenda/{pid}/register")
        old = await _feed_url(ann)
        assert await _feed_url(ann) == old  # the link stays the same until its owner replaces it
        assert old != await _feed_url(bob)  # and each person is shown only their own
        assert "SUMMARY:Opening keynote" in (await anonymous.get(old)).text

        forged = await ann.post("/my/agenda/feed/reset", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        assert (await anonymous.get(old)).status_code == 200
        reset = await post_form(ann, "/my/agenda", "/my/agenda/feed/reset")
        assert reset.status_code == 303
        after = await ann.get("/my/agenda")
        assert "Your calendar link was replaced." in after.text
        new = _feed_in(after.text)
        assert new != old
        assert (await anonymous.get(old)).status_code == 404
        calendar = await anonymous.get(new)
        assert calendar.status_code == 200 and "SUMMARY:Opening keynote" in calendar.text
        signed_out = await post_form(anonymous, "/login", "/my/agenda/feed/reset")
        assert signed_out.status_code in (302, 303) and "/login" in signed_out.headers["location"]
        assert (await anonymous.get(new)).status_code == 200


async def test_floor_and_organizer_pages_link_the_agenda(app: Starlette) -> None:
    organizer = await make_account(app, "org@example.com", "organizer")
    await _expo(app, organizer.id)
    async with browser(app, "org@example.com") as org:
        assert 'href="/organizer/expos/fair/agenda"' in (await org.get("/organizer/expos/fair")).text
        assert 'href="/expos/fair/agenda"' in (await org.get("/expos/fair")).text
        assert "No programs are scheduled yet." in (await org.get("/expos/fair/agenda")).text
