"""Project filing and the bureau's pipeline, in-process on SQLite and PostgreSQL: filing is checked
field by field; the pipeline allows only its listed moves; of two organizers moving one project at
once one wins and the other gets 409; investors see only their own projects; the CSV export."""

from __future__ import annotations

import asyncio
import csv
import io

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from expo.db import utcnow
from expo.errors import Conflict, Invalid
from expo.expos.services import find_expo
from expo.promotion import projects
from expo.promotion.models import PromotionInvitation, PromotionProject
from expo.promotion.services import FormInvalid
from tests.booths.web import PASSWORD, browser, make_account, post_form
from tests.promotion.conftest import seed_expos

BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
FILING = {
    "company": "Nordlicht Batteries GmbH",
    "sector": "Energy storage",
    "country": "DE",
    "amount": "120,000,000",
    "currency": "EUR",
    "land_sqm": "80000",
    "office_sqm": "1200",
    "jobs": "650",
    "timeline": "Building in 2027, production in 2028",
    "description": "A cell factory for home batteries.",
}
API_FILING = {**FILING, "amount": 120_000_000, "land_sqm": 80000, "office_sqm": 1200, "jobs": 650}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def bearer(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    answer = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


async def file_by_api(
    client: httpx.AsyncClient, headers: dict[str, str], **changes: object
) -> dict[str, object]:
    answer = await client.post("/api/expos/city/projects", json={**API_FILING, **changes}, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@BOTH
async def test_a_filing_form_with_mistakes_shows_each_beside_its_field(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    async with browser(app, "visitor@example.com") as investor:
        bad = {**FILING, "company": "", "country": "XX", "amount": "12.5", "currency": "DOGE", "jobs": "many"}
        answer = await post_form(
            investor, "/expos/city/invest/projects/new", "/expos/city/invest/projects", bad
        )
        assert answer.status_code == 422
        for field in ("company", "country", "amount", "currency", "jobs"):
            assert f'id="err-{field}"' in answer.text, field
        assert "Give a whole number, without decimals." in answer.text
        assert 'value="Energy storage"' in answer.text  # what was typed stays
        assert (await investor.get("/expos/city/invest/projects")).text.count('id="project-') == 0
        chinese = await post_form(
            investor, "/expos/city/invest/projects/new", "/expos/city/invest/projects", bad, headers=ZH
        )
        assert "此项为必填项" in chinese.text or "必填" in chinese.text
    headers = await bearer(client, "visitor@example.com")
    refused = await client.post(
        "/api/expos/city/projects", json={**API_FILING, "amount": 0, "currency": "XYZ"}, headers=headers
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {
        "amount": "The investment is more than zero.",
        "currency": "Choose a currency.",
    }
    anon = await client.post("/api/expos/city/projects", json=API_FILING)
    assert anon.status_code == 401
    async with app.state.platform.db.session() as session:
        assert (await session.exec(select(PromotionProject))).all() == []


@BOTH
async def test_the_investor_files_and_follows_the_bureaus_moves(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    async with browser(app, "visitor@example.com") as investor:
        module = await investor.get("/expos/city/invest/project-filing", headers=EN)
        assert 'href="/expos/city/invest/projects/new"' in module.text
        filed = await post_form(
            investor, "/expos/city/invest/projects/new", "/expos/city/invest/projects", FILING
        )
        assert filed.status_code == 303, filed.text
        page_url = filed.headers["location"]
        page = await investor.get(page_url, headers=EN)
        assert "Nordlicht Batteries GmbH" in page.text and "120,000,000 EUR" in page.text
        assert 'data-stage="filed"' in page.text and "Germany" in page.text
    project_id = int(page_url.rsplit("/", 1)[1])
    org = await bearer(client, "org@example.com")
    moved = await client.post(
        f"/api/expos/city/projects/{project_id}/move",
        json={"stage": "screening", "version": 1},
        headers=org,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "screening" and moved.json()["version"] == 2
    assert moved.json()["allowed_moves"] == ["negotiating", "declined"]
    async with browser(app, "visitor@example.com") as investor:
        mine = await investor.get("/expos/city/invest/projects", headers=ZH)
        assert "筛选" in mine.text and 'data-stage="screening"' in mine.text
        detail = await investor.get(page_url, headers=EN)
        assert detail.text.count('data-stage="screening"') >= 2  # the status and the progress line


@BOTH
async def test_the_pipeline_allows_only_its_moves(app: Starlette, client: httpx.AsyncClient) -> None:
    await seed_expos(app)
    investor = await bearer(client, "visitor@example.com")
    org = await bearer(client, "org@example.com")
    project = await file_by_api(client, investor)
    url = f"/api/expos/city/projects/{project['id']}/move"
    skipped = await client.post(url, json={"stage": "signed", "version": 1}, headers=org)
    assert skipped.status_code == 422
    assert skipped.json()["error"]["code"] == "promotion.move_not_allowed"
    version = 1
    for stage in ("screening", "negotiating", "screening", "negotiating", "signing", "signed", "landed"):
        answer = await client.post(url, json={"stage": stage, "version": version}, headers=org)
        assert answer.status_code == 200, (stage, answer.text)
        version = answer.json()["version"]
    assert answer.json()["allowed_moves"] == []
    stuck = await client.post(url, json={"stage": "declined", "version": version}, headers=org)
    assert stuck.status_code == 422
    unknown = await client.post(url, json={"stage": "won", "version": version}, headers=org)
    assert unknown.status_code == 422
    # A declined project may be screened again, never signed straight away.
    other = await file_by_api(client, investor, company="Second GmbH")
    other_url = f"/api/expos/city/projects/{other['id']}/move"
    assert (
        await client.post(other_url, json={"stage": "declined", "version": 1}, headers=org)
    ).status_code == 200
    refused = await client.post(other_url, json={"stage": "signing", "version": 2}, headers=org)
    assert refused.status_code == 422
    assert (
        await client.post(other_url, json={"stage": "screening", "version": 2}, headers=org)
    ).status_code == 200
    history = (await client.get(f"/api/expos/city/projects/{other['id']}", headers=org)).json()["history"]
    assert [(h["action"], h["detail"].get("to")) for h in history] == [
        ("filed", "filed"),
        ("moved", "declined"),
        ("moved", "screening"),
    ]
    assert projects.may_move("filed", "screening") and not projects.may_move("landed", "filed")


@BOTH
async def test_two_organizers_moving_at_once_one_wins_the_other_gets_409(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    investor = await bearer(client, "visitor@example.com")
    org = await bearer(client, "org@example.com")
    project = await file_by_api(client, investor)
    url = f"/api/expos/city/projects/{project['id']}/move"
    # Both read version 1; the first to write wins, the second is told and nothing of it is kept.
    first = await client.post(url, json={"stage": "screening", "version": 1}, headers=org)
    second = await client.post(url, json={"stage": "declined", "version": 1}, headers=org)
    assert first.status_code == 200 and second.status_code == 409
    assert second.json()["error"]["code"] == "promotion.project_changed"
    now = (await client.get(f"/api/expos/city/projects/{project['id']}", headers=org)).json()
    assert now["stage"] == "screening" and now["version"] == 2
    # Truly at once: two sessions that both loaded the project before either wrote.
    db = app.state.platform.db
    async with db.session() as s1, db.session() as s2:
        expo = await find_expo(s1, "city")
        assert expo is not None
        p1 = await projects.managed_project(s1, expo, int(str(project["id"])))
        p2 = await projects.managed_project(s2, expo, int(str(project["id"])))
        org_user = await make_account(app, "second-org@example.com", "organizer")
        results = await asyncio.gather(
            projects.move(s1, p1, "negotiating", 2, org_user),
            projects.move(s2, p2, "declined", 2, org_user),
            return_exceptions=True,
        )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "PromotionProject"]
    async with db.session() as session:
        stored = await session.get(PromotionProject, int(str(project["id"])))
        assert stored is not None and stored.version == 3
        assert stored.stage == next(r.stage for r in results if isinstance(r, PromotionProject))
    assert any(isinstance(r, Conflict) for r in results)


@BOTH
async def test_investors_see_only_their_own_projects(app: Starlette, client: httpx.AsyncClient) -> None:
    await seed_expos(app)
    await make_account(app, "rival@example.com", "visitor")
    investor = await bearer(client, "visitor@example.com")
    rival = await bearer(client, "rival@example.com")
    other_org = await bearer(client, "other@example.com")
    org = await bearer(client, "org@example.com")
    project = await file_by_api(client, investor)
    url = f"/api/expos/city/projects/{project['id']}"
    assert (await client.get(url, headers=rival)).status_code == 403
    assert (await client.get(url, headers=other_org)).status_code == 403
    assert (await client.get("/api/expos/city/projects/mine", headers=rival)).json()["total"] == 0
    assert (await client.get("/api/expos/city/projects", headers=investor)).status_code == 403
    assert (await client.get("/api/expos/city/projects", headers=other_org)).status_code == 403
    move = {"stage": "screening", "version": 1}
    assert (await client.post(url + "/move", json=move, headers=investor)).status_code == 403
    assert (await client.post(url + "/comments", json={"body": "hi"}, headers=investor)).status_code == 403
    note = await client.post(url + "/comments", json={"body": "Call them Monday."}, headers=org)
    assert note.status_code == 201
    own = (await client.get(url, headers=investor)).json()
    assert own["comments"] is None and own["allowed_moves"] == []
    assert "Call them Monday." not in (await client.get(url, headers=investor)).text
    assert (await client.get(url, headers=org)).json()["comments"][0]["body"] == "Call them Monday."
    assert (await client.get("/api/expos/city/projects/mine", headers=investor)).json()["total"] == 1
    async with browser(app, "rival@example.com") as stranger:
        assert (await stranger.get(f"/expos/city/invest/projects/{project['id']}")).status_code == 403
        assert "Nordlicht" not in (await stranger.get("/expos/city/invest/projects")).text
        assert (await stranger.get("/organizer/expos/city/projects")).status_code == 403
    async with browser(app) as anon:
        assert (await anon.get("/expos/city/invest/projects")).headers["location"].startswith("/login")


@BOTH
async def test_the_board_assigns_comments_and_exports(app: Starlette, client: httpx.AsyncClient) -> None:
    await seed_expos(app)
    investor = await bearer(client, "visitor@example.com")
    project = await file_by_api(client, investor, company='=HYPERLINK("http://x")')
    pid = project["id"]
    board = "/organizer/expos/city/projects"
    async with browser(app, "org@example.com") as org:
        page = await org.get(board, headers=EN)
        assert page.status_code == 200 and f'id="project-{pid}"' in page.text
        assert 'href="/organizer/expos/city/projects"' in (await org.get("/organizer/expos/city")).text
        moved = await post_form(
            org, board, f"{board}/{pid}/move", {"stage": "screening", "version": "1", "back": "board"}
        )
        assert moved.status_code == 303
        stale = await post_form(
            org, board, f"{board}/{pid}/move", {"stage": "declined", "version": "1", "back": "board"}
        )
        assert stale.status_code == 409 and "Someone else changed this project meanwhile" in stale.text
        detail = f"{board}/{pid}"
        bad = await post_form(
            org, detail, f"{detail}/assign", {"owner_id": "999", "due_date": "soon", "version": "2"}
        )
        assert bad.status_code == 422
        assert 'id="err-owner_id"' in bad.text and 'id="err-due_date"' in bad.text
        async with app.state.platform.db.session() as session:
            expo = await find_expo(session, "city")
            assert expo is not None
            owner_id = (await projects.team_members(session, expo))[0].id
        saved = await post_form(
            org,
            detail,
            f"{detail}/assign",
            {"owner_id": str(owner_id), "due_date": "2030-05-01", "version": "2"},
        )
        assert saved.status_code == 303, saved.text
        empty = await post_form(org, detail, f"{detail}/comments", {"body": "  "})
        assert empty.status_code == 422 and 'id="err-comment-body"' in empty.text
        assert (
            await post_form(org, detail, f"{detail}/comments", {"body": "Site visit booked."})
        ).status_code == 303
        shown = await org.get(detail, headers=EN)
        assert "Site visit booked." in shown.text and "2030-05-01" in shown.text
        assert (
            "filed the project" in shown.text and "moved it" in shown.text and "added a comment" in shown.text
        )
        exported = await org.get(board + ".csv")
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0][:3] == ["id", "filed_at", "stage"]
        assert rows[1][2] == "screening" and rows[1][3].startswith("'=")  # a formula shown as text
        assert rows[1][-1] == "2030-05-01"
    api_csv = await client.get(
        "/api/expos/city/projects.csv", headers=await bearer(client, "org@example.com")
    )
    assert api_csv.status_code == 200 and "Energy storage" in api_csv.text
    other = await client.get(
        "/api/expos/city/projects.csv", headers=await bearer(client, "other@example.com")
    )
    assert other.status_code == 403


async def test_pdf_attachments_reach_the_investor_and_the_bureau_only(app: Starlette) -> None:
    await seed_expos(app)
    await make_account(app, "rival@example.com", "visitor")
    async with browser(app, "visitor@example.com") as investor:
        filed = await post_form(
            investor, "/expos/city/invest/projects/new", "/expos/city/invest/projects", FILING
        )
        page = filed.headers["location"]
        files = {"file": ("plan.pdf", PDF, "application/pdf")}
        sent = await post_form(investor, page, page + "/files", {"slot": "attachment"}, files=files)
        assert sent.status_code == 303, sent.text
        shown = await investor.get(page)
        assert "plan.pdf" in shown.text
        link = f"{page}/files/1"
        got = await investor.get(link)
        assert got.status_code == 200 and got.content == PDF and "no-store" in got.headers["cache-control"]
        png = {"file": ("plan.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "application/pdf")}
        refused = await post_form(investor, page, page + "/files", {"slot": "attachment"}, files=png)
        assert refused.status_code in (415, 422) and 'id="upload-error"' in refused.text
    async with browser(app, "org@example.com") as org:
        assert (await org.get(link)).status_code == 200
    async with browser(app, "rival@example.com") as rival:
        assert (await rival.get(link)).status_code == 404  # neither theirs nor worked on: no such file
        stranger_upload = await post_form(rival, "/expos/city/invest/projects", page + "/files", files=files)
        assert stranger_upload.status_code == 403


def test_filing_checks_every_field_at_once() -> None:
    with pytest.raises(FormInvalid) as caught:
        projects.check_filing({"amount": "-3", "land_sqm": "1e9"})
    assert set(caught.value.errors) == {
        "company",
        "sector",
        "timeline",
        "country",
        "currency",
        "amount",
        "land_sqm",
    }
    fields = projects.check_filing(FILING)
    assert fields["amount"] == 120_000_000 and fields["jobs"] == 650 and fields["country"] == "DE"
    assert issubclass(FormInvalid, Invalid)


async def test_filing_moves_the_investors_invitation_to_filed(app: Starlette) -> None:
    await seed_expos(app)
    investor = await make_account(app, "invited@example.com", "visitor")
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "city")
        assert expo is not None and expo.id is not None
        now = utcnow()
        letter = PromotionInvitation(
            expo_id=expo.id,
            email=investor.email,
            name="Ann",
            user_id=investor.id,
            opened_at=now,
            registered_at=now,
        )
        session.add(letter)
        await session.commit()
        letter_id = letter.id
    async with browser(app, "invited@example.com") as client:
        filed = await post_form(
            client, "/expos/city/invest/projects/new", "/expos/city/invest/projects", FILING
        )
        assert filed.status_code == 303
    async with app.state.platform.db.session() as session:
        stored = await session.get(PromotionInvitation, letter_id)
        assert stored is not None and stored.filed_at is not None
