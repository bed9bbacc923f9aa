"""The bureau's own questions on the project filing form, in-process on SQLite and PostgreSQL: the
organizer adds them (labels and options in English and Chinese), investors answer them after the
fixed fields (a missing required answer is refused beside its question, nothing stored), the
answers show on both project pages and in the CSV, and another expo's organizer cannot touch them."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.audit import AuditEvent
from expo.promotion.models import PromotionProject
from tests.booths.web import browser, post_form
from tests.promotion.conftest import seed_expos
from tests.promotion.test_projects import API_FILING, EN, FILING, ZH, bearer

BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
EDITOR = "/organizer/expos/city/invest/filing-questions"
NEW = "/expos/city/invest/projects/new"
FILE = "/expos/city/invest/projects"
# A required choice ("Sector" would be a fixed field's name too: its answer is "answers.sector")
# and an optional text question.
STAGE_QUESTION = {
    "new_label": "Sector",
    "new_kind": "select",
    "new_required": "on",
    "new_options": "Manufacturing\nServices\nResearch",
    "new_label_zh_Hans": "行业",
    "new_options_zh_Hans": "制造业\n服务业\n研发",
}
PARTNER_QUESTION = {"new_label": "Local partner", "new_kind": "text", "new_label_zh_Hans": "本地合作伙伴"}


async def add_questions(org: httpx.AsyncClient) -> None:
    for question in (STAGE_QUESTION, PARTNER_QUESTION):
        page = await org.get(EDITOR)
        kept = {  # what the page shows of the questions already there, sent back as it is
            name: value
            for name, value in _inputs(page.text).items()
            if name.startswith("c_") and not name.endswith("_remove")
        }
        saved = await post_form(org, EDITOR, EDITOR, {**kept, **question})
        assert saved.status_code == 303, saved.text


def _inputs(html: str) -> dict[str, str]:
    """The text inputs', checked boxes', selects' and textareas' values of a page, by name (enough
    for the builder's rows: one value each)."""
    out: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        out[name] = value
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" checked', html):
        out[name] = "on"
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        out[name] = body
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        if chosen:
            out[name] = chosen.group(1)
    return out


@BOTH
async def test_the_bureaus_questions_are_asked_checked_stored_and_shown(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        site = await org.get("/organizer/expos/city/invest", headers=EN)
        assert f'href="{EDITOR}"' in site.text
        assert f'href="{EDITOR}"' in (await org.get("/organizer/expos/city/projects")).text
        await add_questions(org)
        editor = await org.get(EDITOR, headers=EN)
        assert 'value="Sector"' in editor.text and 'value="行业"' in editor.text
        assert 'value="Local partner"' in editor.text
        # A choice question without options is refused beside the new question, as typed.
        refused = await post_form(
            org, EDITOR, EDITOR, {**_inputs(editor.text), "new_label": "Zone", "new_kind": "select"}
        )
        assert refused.status_code == 422
        assert 'id="err-question-new"' in refused.text and 'value="Zone"' in refused.text
    async with app.state.platform.db.session() as session:
        saved = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "promotion.filing_questions_saved")
            )
        ).all()
        assert [json.loads(e.detail)["added"] for e in saved] == [["sector"], ["local_partner"]]

    async with browser(app, "visitor@example.com") as investor:
        chinese = await investor.get(NEW, headers=ZH)
        assert "行业" in chinese.text and "制造业" in chinese.text and "本地合作伙伴" in chinese.text
        # Without the required answer: 422, the error beside that question, the rest kept.
        missing = await post_form(investor, NEW, FILE, {**FILING, "answers.local_partner": "Shenzhen Metro"})
        assert missing.status_code == 422
        assert 'id="err-answers-sector"' in missing.text and "This question is required." in missing.text
        assert 'value="Shenzhen Metro"' in missing.text and 'value="Energy storage"' in missing.text
        async with app.state.platform.db.session() as session:
            assert (await session.exec(select(PromotionProject))).all() == []
        # A choice that is not on the list is refused too.
        wrong = await post_form(investor, NEW, FILE, {**FILING, "answers.sector": "Mining"})
        assert wrong.status_code == 422 and "Choose from the list." in wrong.text

        filed = await post_form(
            investor,
            NEW,
            FILE,
            {**FILING, "answers.sector": "Research", "answers.local_partner": "Shenzhen Metro"},
        )
        assert filed.status_code == 303, filed.text
        page_url = filed.headers["location"]
        mine = await investor.get(page_url, headers=ZH)
        assert "行业" in mine.text and "研发" in mine.text and "Shenzhen Metro" in mine.text
    project_id = int(page_url.rsplit("/", 1)[1])
    async with app.state.platform.db.session() as session:
        project = await session.get(PromotionProject, project_id)
        assert project is not None
        assert project.answers == {"sector": "Research", "local_partner": "Shenzhen Metro"}

    async with browser(app, "org@example.com") as org:
        detail = await org.get(f"/organizer/expos/city/projects/{project_id}", headers=EN)
        assert '<dt data-question="sector">Sector</dt><dd>Research</dd>' in detail.text
        assert "Shenzhen Metro" in detail.text
        exported = await org.get("/organizer/expos/city/projects.csv")
        header, row = list(csv.reader(io.StringIO(exported.text)))
        assert header[-2:] == ["Sector", "Local partner"]
        assert row[-2:] == ["Research", "Shenzhen Metro"]


@BOTH
async def test_the_api_files_answers_and_names_the_question_at_fault(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        await add_questions(org)
    headers = await bearer(client, "visitor@example.com")
    refused = await client.post(
        "/api/expos/city/projects",
        json={**API_FILING, "currency": "XYZ", "answers": {"local_partner": "Metro"}},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"] == {
        "currency": "Choose a currency.",
        "answers.sector": "This question is required.",
    }
    filed = await client.post(
        "/api/expos/city/projects",
        json={**API_FILING, "answers": {"sector": "Services", "formula": "=1+1"}},
        headers=headers,
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["answers"] == {"sector": "Services"}  # answers to no question are not kept
    spec = (await client.get("/api/openapi.json")).json()
    schema = spec["components"]["schemas"]["ProjectIn"]["properties"]["answers"]
    assert "answers.<key>" in schema["description"]
    # A formula typed as an answer reaches the spreadsheet as text.
    async with browser(app, "org@example.com") as org:
        keep = _inputs((await org.get(EDITOR)).text)
        await post_form(org, EDITOR, EDITOR, {**keep, "c_sector_required": ""})
    answered = await client.post(
        "/api/expos/city/projects",
        json={**API_FILING, "company": "Formula Ltd", "answers": {"local_partner": "=HYPERLINK(1)"}},
        headers=headers,
    )
    assert answered.status_code == 201, answered.text
    org_headers = await bearer(client, "org@example.com")
    exported = await client.get("/api/expos/city/projects.csv", headers=org_headers)
    assert "'=HYPERLINK(1)" in exported.text


async def test_another_expos_organizer_cannot_see_or_change_the_questions(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        await add_questions(org)
    async with browser(app, "other@example.com") as other:
        assert (await other.get(EDITOR)).status_code == 403
        changed = await post_form(other, "/organizer/expos/zone/invest/filing-questions", EDITOR, {})
        assert changed.status_code == 403
    async with browser(app, "visitor@example.com") as visitor:
        assert (await visitor.get(EDITOR)).status_code == 403
    async with browser(app) as anon:
        assert (await anon.get("/organizer/expos/nowhere/invest/filing-questions")).status_code in (303, 404)
    async with app.state.platform.db.session() as session:
        saved = await session.exec(
            select(AuditEvent).where(col(AuditEvent.action) == "promotion.filing_questions_saved")
        )
        assert len(saved.all()) == 2  # the organizer's two; nothing from the others
