"""The bureau's departments and a project's circulation through them, in-process on SQLite and
PostgreSQL: the bureau defines departments and their members (mistakes beside the fields); a
project is sent to a department, which takes it on, comments, hands it over and closes its step,
each move in the project's history and each arrival e-mailed; department members see only the
projects sent to them; of two hand-overs of one step at once one wins and the other gets 409."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import Conflict
from expo.expos.services import find_expo
from expo.mail.models import OutboxMessage
from expo.promotion import departments, departments_circulation, departments_views, projects
from expo.promotion.demo import seed_promotion
from expo.promotion.departments_letters import CirculationLetters
from expo.promotion.reminders import OverdueReminders
from expo.promotion.services import FormInvalid
from tests.booths.web import browser, make_account, post_form
from tests.promotion.conftest import seed_expos
from tests.promotion.test_projects import FILING, PDF, bearer

BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
DEPARTMENTS = "/organizer/expos/city/departments"


@dataclass
class Circulating:
    """``city`` with two departments, Land planning (land@) and Tax bureau (tax@), and a project."""

    land: int
    tax: int
    project: int
    org: dict[str, str]  # bearer headers
    land_member: dict[str, str]
    tax_member: dict[str, str]


async def file(app: Starlette, company: str = FILING["company"]) -> int:
    """A project visitor@example.com filed with ``city``, at ``filed`` (version 1)."""
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "city")
        investor = (await session.exec(select(User).where(User.email == "visitor@example.com"))).one()
        assert expo is not None
        project = await projects.file_project(session, expo, {**FILING, "company": company}, investor)
    assert project.id is not None
    return project.id


async def circulating(app: Starlette, client: httpx.AsyncClient) -> Circulating:
    await seed_expos(app)
    await make_account(app, "land@example.com", "visitor", name="Lin Land")
    await make_account(app, "tax@example.com", "visitor", name="Tao Tax")
    org = await bearer(client, "org@example.com")
    ids = []
    for name, zh, member in (("Land planning", "规划局", "land"), ("Tax bureau", "税务局", "tax")):
        made = await client.post(
            "/api/expos/city/departments", json={"name": name, "name_zh": zh}, headers=org
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
        added = await client.post(
            f"/api/expos/city/departments/{ids[-1]}/members",
            json={"email": f"{member}@example.com"},
            headers=org,
        )
        assert added.status_code == 200, added.text
        assert [m["email"] for m in added.json()["members"]] == [f"{member}@example.com"]
    return Circulating(
        ids[0],
        ids[1],
        await file(app),
        org,
        await bearer(client, "land@example.com"),
        await bearer(client, "tax@example.com"),
    )


async def send(client: httpx.AsyncClient, world: Circulating, **changes: object) -> httpx.Response:
    task = {"department_id": world.land, "note": "Check the plot in Pingshan.", "version": 1, **changes}
    return await client.post(
        f"/api/expos/city/projects/{world.project}/circulation", json=task, headers=world.org
    )


async def letters_to(app: Starlette, address: str) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.to_address == address)
        return list((await session.exec(query.order_by(col(OutboxMessage.id)))).all())


@BOTH
async def test_the_bureau_defines_departments_and_their_members(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    await make_account(app, "land@example.com", "visitor", name="Lin Land")
    async with browser(app, "org@example.com") as org:
        empty = await post_form(
            org, DEPARTMENTS, DEPARTMENTS, {"name": "", "name_zh": "规" * 121}, headers=EN
        )
        assert empty.status_code == 422
        assert 'id="err-name"' in empty.text and 'id="err-name_zh"' in empty.text
        made = await post_form(org, DEPARTMENTS, DEPARTMENTS, {"name": "Land planning", "name_zh": "规划局"})
        assert made.status_code == 303
        page = made.headers["location"]
        again = await post_form(org, DEPARTMENTS, DEPARTMENTS, {"name": "Land planning"}, headers=EN)
        assert again.status_code == 422 and "The expo has a department of this name already." in again.text
        assert 'value="Land planning"' in again.text  # what was typed stays
        unknown = await post_form(org, page, page + "/members", {"email": "nobody@example.com"}, headers=EN)
        assert unknown.status_code == 422 and 'id="err-email"' in unknown.text
        assert "No account uses this address" in unknown.text
        added = await post_form(org, page, page + "/members", {"email": "LAND@example.com"})
        assert added.status_code == 303
        shown = await org.get(page, headers=EN)
        assert "Lin Land" in shown.text and "land@example.com" in shown.text
        assert "规划局" in (await org.get(DEPARTMENTS, headers=ZH)).text
        twice = await post_form(org, page, page + "/members", {"email": "land@example.com"}, headers=EN)
        assert twice.status_code == 422 and "in the department already" in twice.text
    listed = await client.get("/api/expos/city/departments", headers=await bearer(client, "org@example.com"))
    assert [(d["name"], d["name_zh"], len(d["members"])) for d in listed.json()["items"]] == [
        ("Land planning", "规划局", 1)
    ]
    other = await client.get("/api/expos/city/departments", headers=await bearer(client, "other@example.com"))
    assert other.status_code == 403
    async with browser(app, "org@example.com") as org:
        user_id = listed.json()["items"][0]["members"][0]["id"]
        removed = await post_form(org, page, f"{page}/members/{user_id}/remove")
        assert removed.status_code == 303
        assert "Lin Land" not in (await org.get(page)).text


@BOTH
async def test_a_project_circulates_from_department_to_department(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await circulating(app, client)
    stale = await send(client, world, version=7)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "promotion.project_changed"
    bad = await send(client, world, department_id=999999, note=" ", due_date="soon")
    assert bad.status_code == 422 and set(bad.json()["error"]["details"]) == {
        "department_id",
        "note",
        "due_date",
    }
    due = (utcnow() + timedelta(days=5)).date().isoformat()
    sent = await send(client, world, due_date=due)
    assert sent.status_code == 200, sent.text
    step = sent.json()["items"][0]
    assert (step["status"], step["due_date"], step["department"]) == ("assigned", due, "Land planning")
    again = await send(client, world, version=2)
    assert again.status_code == 422 and "department_id" in again.json()["error"]["details"]
    # The department hears of it, in its member's language, with the way to the project.
    (letter,) = await letters_to(app, "land@example.com")
    assert "Land planning" in letter.subject and "Check the plot in Pingshan." in letter.body
    assert f"/expos/city/departments/projects/{world.project}" in letter.body

    mine = await client.get("/api/me/department-steps", headers=world.land_member)
    assert [a["company"] for a in mine.json()["items"]] == ["Nordlicht Batteries GmbH"]
    step_url = f"/api/expos/city/circulation/{step['id']}"
    accepted = await client.post(step_url + "/accept", json={"version": 1}, headers=world.land_member)
    assert accepted.status_code == 200 and accepted.json()["items"][0]["status"] == "accepted"
    noted = await client.post(
        step_url + "/comments", json={"body": "Plot 12 fits."}, headers=world.land_member
    )
    assert noted.json()["items"][0]["notes"][0]["body"] == "Plot 12 fits."
    # Tax cannot take Land's step, nor see the project before it reaches them.
    refused = await client.post(step_url + "/done", json={"version": 2}, headers=world.tax_member)
    assert refused.status_code == 404
    handed = await client.post(
        step_url + "/handover",
        json={"department_id": world.tax, "note": "Confirm the tax holiday.", "version": 2},
        headers=world.land_member,
    )
    assert handed.status_code == 200, handed.text
    first, second = handed.json()["items"]
    assert (first["status"], second["status"], second["from_step_id"]) == (
        "handed_over",
        "assigned",
        first["id"],
    )
    (tax_letter,) = await letters_to(app, "tax@example.com")
    assert "handed over to Tax bureau" in tax_letter.subject
    closed = await client.post(step_url + "/done", json={"version": 3}, headers=world.land_member)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "promotion.step_closed"
    other_step = f"/api/expos/city/circulation/{second['id']}"
    land_on_tax = await client.post(other_step + "/done", json={"version": 1}, headers=world.land_member)
    assert land_on_tax.status_code == 403  # Land still reads the project, but this step is Tax's
    done = await client.post(other_step + "/done", json={"version": 1}, headers=world.tax_member)
    assert done.status_code == 200 and done.json()["items"][1]["status"] == "done"

    # Every step is in the project's history on the bureau's page, with who did it.
    async with browser(app, "org@example.com") as org:
        page = (await org.get(f"/organizer/expos/city/projects/{world.project}", headers=EN)).text
        for line in (
            "sent it to Land planning, due " + due,
            "took it on for Land planning",
            "commented for Land planning",
            "handed it over from Land planning to Tax bureau",
            "marked the step of Tax bureau done",
        ):
            assert line in page, line
        assert page.count("Lin Land") >= 3 and "Tao Tax" in page


@BOTH
async def test_the_board_shows_and_filters_by_department(app: Starlette, client: httpx.AsyncClient) -> None:
    world = await circulating(app, client)
    other = await file(app, "Harbour Cold Chain")
    yesterday = (utcnow() - timedelta(days=1)).date().isoformat()
    assert (await send(client, world, due_date=yesterday)).status_code == 200
    async with browser(app, "org@example.com") as org:
        board = (await org.get("/organizer/expos/city/projects", headers=EN)).text
        card = board.split(f'id="project-{world.project}"')[1].split("</article>")[0]
        assert "Land planning · overdue" in " ".join(card.split())
        assert f'id="project-{other}"' in board
        only_land = (
            await org.get(f"/organizer/expos/city/projects?department={world.land}", headers=EN)
        ).text
        assert f'id="project-{world.project}"' in only_land and f'id="project-{other}"' not in only_land
        only_tax = (await org.get(f"/organizer/expos/city/projects?department={world.tax}", headers=EN)).text
        assert 'class="card project-card"' not in only_tax
        nonsense = await org.get("/organizer/expos/city/projects?department=abc", headers=EN)
        assert nonsense.status_code == 200 and f'id="project-{other}"' in nonsense.text


@BOTH
async def test_department_members_see_only_the_projects_sent_to_them(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await circulating(app, client)
    other = await file(app, "Harbour Cold Chain")
    assert (await send(client, world)).status_code == 200
    desk = f"/expos/city/departments/projects/{world.project}"
    async with browser(app, "land@example.com") as land:
        assert (await land.get(desk)).status_code == 200
        assert (await land.get(f"/expos/city/departments/projects/{other}")).status_code == 404
        assert (await land.get(f"/expos/city/invest/projects/{world.project}")).status_code == 403
        assert (await land.get("/organizer/expos/city/projects")).status_code == 403
        mine = (await land.get("/my/departments", headers=EN)).text
        assert "Nordlicht Batteries GmbH" in mine and "Harbour Cold Chain" not in mine
        refused = await post_form(
            land, desk, desk + "/circulate", {"department_id": str(world.tax), "note": "x", "version": "2"}
        )
        assert refused.status_code == 403  # only the bureau sends projects
    async with browser(app, "tax@example.com") as tax:
        assert (await tax.get(desk)).status_code == 404
    async with browser(app, "visitor@example.com") as investor:
        assert (await investor.get(desk)).status_code == 403  # their own project: they know it exists
        assert (await investor.get("/my/departments")).status_code == 403
        assert (
            "Land planning" not in (await investor.get(f"/expos/city/invest/projects/{world.project}")).text
        )
    async with browser(app, "other@example.com") as stranger:
        assert (await stranger.get(desk)).status_code == 404
    api = f"/api/expos/city/projects/{world.project}/circulation"
    assert (await client.get(api, headers=world.tax_member)).status_code == 404
    assert (await client.get(api, headers=await bearer(client, "other@example.com"))).status_code == 404
    assert (await client.get(api, headers=await bearer(client, "visitor@example.com"))).status_code == 403
    assert (await client.get(api)).status_code == 401
    # Taken out of the department, the member sees nothing of it any more.
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "city")
        assert expo is not None
        land_department = await departments.department_of(session, expo, world.land)
        org_user = await make_account(app, "boss@example.com", "organizer")
        member_id = (await departments.members(session, world.land))[0].id
        assert member_id is not None
        await departments.remove_member(session, expo, land_department, member_id, org_user)
    assert (await client.get(api, headers=world.land_member)).status_code == 404


@BOTH
async def test_the_desk_forms_show_mistakes_beside_their_fields(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await circulating(app, client)
    step = (await send(client, world)).json()["items"][0]
    desk = f"/expos/city/departments/projects/{world.project}"
    async with browser(app, "land@example.com") as land:
        bad = await post_form(
            land,
            desk,
            f"/expos/city/departments/steps/{step['id']}/handover",
            {"department_id": str(world.land), "note": "", "due_date": "31/12", "version": "1"},
            headers=EN,
        )
        assert bad.status_code == 422
        prefix = f"h{step['id']}-"
        for field in ("department_id", "note", "due_date"):
            assert f'id="err-{prefix}{field}"' in bad.text, field
        empty = await post_form(
            land, desk, f"/expos/city/departments/steps/{step['id']}/comments", {"body": " "}
        )
        assert empty.status_code == 422 and f'id="err-c{step["id"]}-body"' in empty.text
        accepted = await post_form(
            land, desk, f"/expos/city/departments/steps/{step['id']}/accept", {"version": "1"}
        )
        assert accepted.status_code == 303
        stale = await post_form(
            land, desk, f"/expos/city/departments/steps/{step['id']}/done", {"version": "1"}, headers=EN
        )
        assert stale.status_code == 409 and "Someone else changed this step meanwhile" in stale.text
    async with browser(app, "org@example.com") as org:
        wrong = await post_form(
            org, desk, desk + "/circulate", {"department_id": "", "note": "", "version": "2"}, headers=ZH
        )
        assert wrong.status_code == 422 and 'id="err-send-department_id"' in wrong.text
        assert "请选择" in wrong.text or "部门" in wrong.text


@BOTH
async def test_two_hand_overs_of_one_step_at_once_one_wins(app: Starlette, client: httpx.AsyncClient) -> None:
    world = await circulating(app, client)
    step_id = (await send(client, world)).json()["items"][0]["id"]
    db = app.state.platform.db
    letters = CirculationLetters(app.state.platform.settings)
    # Two sessions (two members of Land) load the step before either writes; both hand it to Tax.
    async with db.session() as s1, db.session() as s2:
        handing = []
        for session in (s1, s2):
            expo = await find_expo(session, "city")
            member = (await session.exec(select(User).where(User.email == "land@example.com"))).one()
            assert expo is not None
            step, project = await departments_circulation.workable_step(session, expo, step_id, member)
            task = {"department_id": str(world.tax), "note": "Tax holiday?"}
            handing.append(
                departments_circulation.hand_over(session, expo, project, step, task, 1, member, letters)
            )
        results = await asyncio.gather(*handing, return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "PromotionCirculation"]
    assert any(isinstance(r, Conflict) and r.code == "promotion.step_changed" for r in results)
    steps = (
        await client.get(f"/api/expos/city/projects/{world.project}/circulation", headers=world.org)
    ).json()
    assert [s["status"] for s in steps["items"]] == ["handed_over", "assigned"]  # one hand-over, not two
    assert len(await letters_to(app, "tax@example.com")) == 1


async def test_my_departments_put_the_overdue_first(app: Starlette, client: httpx.AsyncClient) -> None:
    world = await circulating(app, client)
    later = await file(app, "Later Ltd")
    undated = await file(app, "Undated Ltd")
    today = utcnow().date()
    assert (await send(client, world, due_date=(today + timedelta(days=9)).isoformat())).status_code == 200
    for project, due in ((later, today - timedelta(days=2)), (undated, None)):
        task = {
            "department_id": world.land,
            "note": "Look",
            "version": 1,
            "due_date": due and due.isoformat(),
        }
        answer = await client.post(
            f"/api/expos/city/projects/{project}/circulation", json=task, headers=world.org
        )
        assert answer.status_code == 200, answer.text
    mine = (await client.get("/api/me/department-steps", headers=world.land_member)).json()["items"]
    assert [(a["company"], a["overdue"]) for a in mine] == [
        ("Later Ltd", True),
        ("Nordlicht Batteries GmbH", False),
        ("Undated Ltd", False),
    ]
    async with browser(app, "land@example.com") as land:
        page = (await land.get("/my/departments", headers=EN)).text
        assert page.index("Later Ltd") < page.index("Nordlicht") < page.index("Undated Ltd")
        assert page.count('class="card assigned overdue"') == 1


def test_a_task_names_a_department_what_to_do_and_a_real_date() -> None:
    land = departments_circulation.PromotionDepartment(id=3, expo_id=1, name="Land planning")
    with pytest.raises(FormInvalid) as refused:
        departments_circulation.check_task(
            {"department_id": "3", "note": "", "due_date": "2026-02-30"}, [land]
        )
    assert set(refused.value.errors) == {"note", "due_date"}
    with pytest.raises(FormInvalid) as own:
        departments_circulation.check_task({"department_id": "3", "note": "Go"}, [land], exclude=3)
    assert set(own.value.errors) == {"department_id"}  # a hand-over goes to another department
    assert departments_circulation.check_task({"department_id": "3", "note": " Go "}, [land]) == (
        3,
        "Go",
        None,
    )


@BOTH
async def test_an_overdue_step_reminds_its_department_once_in_their_language(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await circulating(app, client)
    async with app.state.platform.db.session() as session:
        tax = (await session.exec(select(User).where(User.email == "tax@example.com"))).one()
        tax.locale = "zh_Hans"
        session.add(tax)
        await session.commit()
    now = utcnow()
    due = (now + timedelta(days=2)).date().isoformat()
    assert (await send(client, world, due_date=due)).status_code == 200
    sweep = OverdueReminders(app.state.platform.db, app.state.platform.settings)
    assert await sweep.run_once(now) == 0  # not due yet
    assert await sweep.run_once(now + timedelta(days=4)) == 1
    _, reminder = await letters_to(app, "land@example.com")
    assert "Overdue" in reminder.subject and "Land planning" in reminder.subject and due in reminder.subject
    assert "Check the plot in Pingshan." in reminder.body
    assert f"/expos/city/departments/projects/{world.project}" in reminder.body
    assert await sweep.run_once(now + timedelta(days=5)) == 0  # once per due date
    # Handed over to Tax with its own due date: the closed step is never reminded again; the new
    # one reminds Tax's member, in Chinese.
    step_id = (await client.get("/api/me/department-steps", headers=world.land_member)).json()["items"][0]
    handed = await client.post(
        f"/api/expos/city/circulation/{step_id['id']}/handover",
        json={"department_id": world.tax, "note": "Confirm the tax holiday.", "version": 1, "due_date": due},
        headers=world.land_member,
    )
    assert handed.status_code == 200, handed.text
    assert await sweep.run_once(now + timedelta(days=6)) == 1
    assert len(await letters_to(app, "land@example.com")) == 2
    (_, tax_reminder) = await letters_to(app, "tax@example.com")
    assert "逾期" in tax_reminder.subject and "税务局" in tax_reminder.subject
    assert "Confirm the tax holiday." in tax_reminder.body


async def test_members_download_the_documents_of_a_project_sent_to_them(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await circulating(app, client)
    page = f"/expos/city/invest/projects/{world.project}"
    async with browser(app, "visitor@example.com") as investor:
        files = {"file": ("plan.pdf", PDF, "application/pdf")}
        assert (await post_form(investor, page, page + "/files", files=files)).status_code == 303
    link = f"{page}/files/1"
    async with browser(app, "land@example.com") as land:
        assert (await land.get(link)).status_code == 404  # not sent to Land planning yet
        assert (await send(client, world)).status_code == 200
        desk = (await land.get(f"/expos/city/departments/projects/{world.project}", headers=EN)).text
        assert f'href="{link}"' in desk and "plan.pdf" in desk
        got = await land.get(link)
        assert got.status_code == 200 and got.content == PDF
    async with browser(app, "tax@example.com") as tax:
        assert (await tax.get(link)).status_code == 404


async def test_the_header_leads_department_members_to_their_desk(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await circulating(app, client)
    assert (await send(client, world)).status_code == 200
    link = 'href="/my/departments"'
    async with browser(app, "land@example.com") as land:
        assert link in (await land.get("/account", headers=EN)).text
        assert "本部门的项目</a>" in (await land.get("/account", headers=ZH)).text
        desk = (await land.get("/my/departments", headers=EN)).text
        assert '<a href="/my/departments" aria-current="page">' in desk
    async with browser(app, "visitor@example.com") as investor:
        assert link not in (await investor.get("/account", headers=EN)).text
    async with browser(app, "org@example.com") as org:
        assert link not in (await org.get("/organizer/expos/city/projects", headers=EN)).text
        tax = f"{DEPARTMENTS}/{world.tax}"
        assert (await post_form(org, tax, tax + "/members", {"email": "org@example.com"})).status_code == 303
        assert link in (await org.get("/organizer/expos/city/projects", headers=EN)).text


async def test_the_demo_sends_its_project_to_a_department_once(app: Starlette) -> None:
    await seed_expos(app)
    settings = app.state.platform.settings
    for _ in range(2):
        async with app.state.platform.db.session() as session:
            expo = await find_expo(session, "city")
            org = (await session.exec(select(User).where(User.email == "org@example.com"))).one()
            visitor = (await session.exec(select(User).where(User.email == "visitor@example.com"))).one()
            assert expo is not None
            await seed_promotion(session, expo, org, visitor, settings)
    async with browser(app, "org@example.com") as org_browser:
        listed = (await org_browser.get(DEPARTMENTS, headers=ZH)).text
        assert "规划局" in listed and "税务局" in listed
        mine = (await org_browser.get("/my/departments", headers=EN)).text
        assert "Brightwave Europe GmbH" in mine and "Check the two plots" in mine
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "city")
        assert expo is not None
        [project] = await projects.projects(session, expo)
        steps = await departments_views.steps(session, project)
    assert [(s.department.name, s.step.status) for s in steps] == [("Land planning", "assigned")]
    assert steps[0].step.due_date == (utcnow() + timedelta(days=7)).astimezone(expo.zone).date()
