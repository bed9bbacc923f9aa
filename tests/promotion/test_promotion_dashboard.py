"""The promotion dashboard, on SQLite and PostgreSQL: its figures match a pipeline, a funnel and a
consulting inbox built here with times relative to now (currencies never added together); its CSV
exports list the same; only the expo's bureau reads it; the overdue sweep reminds each project's
owner once per due date, never about a landed or declined project, and the board flags it."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import httpx
import pytest
from sqlmodel import col, or_, select
from starlette.applications import Starlette

from expo.accounts.models import User
from expo.audit import AuditEvent
from expo.db import utcnow
from expo.expos.models import ExpoMember
from expo.expos.services import find_expo
from expo.mail.models import OutboxMessage
from expo.permissions import TeamRole
from expo.promotion.models import (
    ConsultingThread,
    PromotionInvitation,
    PromotionProject,
)
from expo.promotion.reminders import OverdueReminders, is_overdue
from tests.booths.web import browser, make_account
from tests.promotion.conftest import seed_expos
from tests.promotion.test_projects import bearer

BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
DASHBOARD = "/organizer/expos/city/dashboard/promotion"
API = "/api/expos/city/dashboard/promotion"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Filed:
    """A project of the world: where it is, and its moves as (days ago, from, to)."""

    company: str
    sector: str
    amount: int
    currency: str
    filed_days_ago: float
    moves: tuple[tuple[float, str, str], ...] = ()
    due_in_days: int | None = None


PIPELINE = (
    Filed("Nordlicht", "Energy", 100, "EUR", 10, ((6, "filed", "screening"),), due_in_days=-2),
    Filed("Sunrise", "Energy", 500, "CNY", 5, ((4, "filed", "screening"),)),
    Filed("=Helix", "Biotech", 70, "USD", 1, (), due_in_days=3),
    Filed(
        "Lumen",
        "Biotech",
        30,
        "EUR",
        20,
        (
            (18, "filed", "screening"),
            (15, "screening", "negotiating"),
            (12, "negotiating", "signing"),
            (10, "signing", "signed"),
            (2, "signed", "landed"),
        ),
        due_in_days=-5,
    ),
    Filed("Tidal", "Energy", 250, "CNY", 3, ((1, "filed", "declined"),), due_in_days=-1),
)


async def build_world(app: Starlette, now: datetime) -> dict[str, int]:
    """``city``'s pipeline (:data:`PIPELINE`), five invitations (3 opened, 2 registered, 1 filed),
    three questions, and one project of ``zone`` that must count nowhere in ``city``."""
    await seed_expos(app)
    async with app.state.platform.db.session() as s:
        city, zone = await find_expo(s, "city"), await find_expo(s, "zone")
        investor = (await s.exec(select(User).where(User.email == "visitor@example.com"))).one()
        org = (await s.exec(select(User).where(User.email == "org@example.com"))).one()
        assert city is not None and zone is not None and city.id and zone.id and investor.id and org.id
        ids: dict[str, int] = {}
        for f in PIPELINE:
            stage = f.moves[-1][2] if f.moves else "filed"
            due = now.date() + timedelta(days=f.due_in_days) if f.due_in_days is not None else None
            project = PromotionProject(
                expo_id=city.id,
                investor_id=investor.id,
                company=f.company,
                sector=f.sector,
                country="DE",
                amount=f.amount,
                currency=f.currency,
                stage=stage,
                owner_id=org.id,
                due_date=due,
                created_at=now - f.filed_days_ago * DAY,
            )
            s.add(project)
            await s.flush()
            assert project.id is not None
            ids[f.company] = project.id
            history = [(f.filed_days_ago, "promotion.project_filed", {"to": "filed"})]
            history += [(ago, "promotion.project_moved", {"from": a, "to": b}) for ago, a, b in f.moves]
            for ago, action, detail in history:
                s.add(
                    AuditEvent(
                        action=action,
                        target=f"project:{project.id}",
                        detail=json.dumps(detail, sort_keys=True),
                        created_at=now - ago * DAY,
                    )
                )
            await s.flush()
        s.add(
            PromotionProject(
                expo_id=zone.id,
                investor_id=investor.id,
                company="Elsewhere",
                sector="Energy",
                country="FR",
                amount=9,
                currency="EUR",
            )
        )
        reached = [(True, True, True), (True, True, False), (True, False, False), (False,) * 3, (False,) * 3]
        for i, (opened, registered, filed) in enumerate(reached):
            s.add(
                PromotionInvitation(
                    expo_id=city.id,
                    email=f"inv{i}@example.com",
                    name=f"Investor {i}",
                    sent_at=now - 9 * DAY,
                    opened_at=now - 8 * DAY if opened else None,
                    registered_at=now - 7 * DAY if registered else None,
                    filed_at=now - 6 * DAY if filed else None,
                )
            )
        questions = [
            ("tax", 10, 8, True),  # answered after 2 hours
            ("tax", 5, 4, False),  # answered after 1 hour, then the investor wrote again
            ("land", 2, None, False),  # waiting, never answered
        ]
        for category, asked, answered, team_last in questions:
            s.add(
                ConsultingThread(
                    expo_id=city.id,
                    investor_id=investor.id,
                    category=category,
                    subject="Q",
                    answered=team_last,
                    created_at=now - asked * HOUR,
                    first_answered_at=now - answered * HOUR if answered is not None else None,
                    last_message_at=now,
                )
            )
        await s.commit()
    return ids


def _by(items: list[dict[str, object]], key: str) -> dict[object, dict[str, object]]:
    return {item[key]: item for item in items}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@BOTH
async def test_the_figures_match_the_pipeline_funnel_and_inbox(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    now = utcnow()
    await build_world(app, now)
    answer = await client.get(API, headers=await bearer(client, "org@example.com"))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["projects"] == 5 and got["overdue"] == 1  # landed and declined ones are never overdue
    # One sum per currency, never one total: EUR 100 + 30, CNY 500 + 250, USD 70.
    assert got["amounts"] == [
        {"currency": "CNY", "amount": 750},
        {"currency": "EUR", "amount": 130},
        {"currency": "USD", "amount": 70},
    ]
    stages = _by(got["stages"], "stage")
    assert [s["stage"] for s in got["stages"]] == [
        "filed", "screening", "negotiating", "signing", "signed", "landed", "declined",
    ]  # fmt: skip
    screening = stages["screening"]
    assert screening["projects"] == 2 and screening["overdue"] == 1
    assert screening["amounts"] == [{"currency": "CNY", "amount": 500}, {"currency": "EUR", "amount": 100}]
    # In screening for 6 and 4 days: nearest-rank median 4 days, 90th percentile 6 days.
    assert screening["median_seconds_in_stage"] == pytest.approx(4 * 86400, abs=60)
    assert screening["p90_seconds_in_stage"] == pytest.approx(6 * 86400, abs=60)
    assert stages["filed"]["median_seconds_in_stage"] == pytest.approx(86400, abs=60)
    assert stages["negotiating"]["projects"] == 0 and stages["negotiating"]["median_seconds_in_stage"] is None
    # Stays that ended: filed for 4, 1, 2 and 2 days; Lumen's 3 days in screening and 8 signed.
    assert stages["filed"]["stays"] == 4
    assert stages["filed"]["average_seconds_per_stay"] == pytest.approx(2.25 * 86400, abs=60)
    assert stages["screening"]["average_seconds_per_stay"] == pytest.approx(3 * 86400, abs=60)
    assert stages["signed"]["average_seconds_per_stay"] == pytest.approx(8 * 86400, abs=60)
    assert stages["landed"]["stays"] == 0 and stages["landed"]["average_seconds_per_stay"] is None
    sectors = got["sectors"]
    assert [s["sector"] for s in sectors] == ["Energy", "Biotech"]
    assert sectors[0]["amounts"] == [{"currency": "CNY", "amount": 750}, {"currency": "EUR", "amount": 100}]
    assert sectors[1]["amounts"] == [{"currency": "EUR", "amount": 30}, {"currency": "USD", "amount": 70}]
    funnel = _by(got["funnel"], "step")
    assert [funnel[s]["invitations"] for s in ("sent", "opened", "registered", "filed")] == [5, 3, 2, 1]
    assert funnel["opened"]["rate_from_previous"] == pytest.approx(0.6)
    assert funnel["registered"]["rate_from_previous"] == pytest.approx(2 / 3)
    assert funnel["filed"]["rate_from_sent"] == pytest.approx(0.2)
    assert funnel["sent"]["rate_from_previous"] is None
    tax = _by(got["consulting"], "category")["tax"]
    assert (tax["questions"], tax["waiting"], tax["answered"], tax["unanswered"]) == (2, 1, 1, 0)
    assert tax["median_first_response_seconds"] == pytest.approx(3600, abs=5)
    assert tax["p90_first_response_seconds"] == pytest.approx(7200, abs=5)
    total = got["consulting_total"]
    assert (total["questions"], total["waiting"], total["unanswered"]) == (3, 2, 1)
    assert total["median_first_response_seconds"] == pytest.approx(3600, abs=5)
    land = _by(got["consulting"], "category")["land"]
    assert land["waiting"] == 1 and land["median_first_response_seconds"] is None


@BOTH
async def test_the_page_and_its_csv_files_show_the_same_figures(app: Starlette) -> None:
    now = utcnow()
    await build_world(app, now)
    async with browser(app, "org@example.com") as org:
        page = await org.get(DASHBOARD, headers={"Accept-Language": "en"})
        assert page.status_code == 200, page.text
        html = page.text
        assert 'data-figure="overdue">1<' in html and 'data-figure="projects">5<' in html
        assert 'data-total="CNY">750 CNY<' in html and 'data-total="EUR">130 EUR<' in html
        assert html.count('class="chart chart-bars"') >= 4  # stages, days in stage, sectors, funnel...
        assert "=Helix" not in html  # companies are not on the dashboard, sectors are
        for table in ("stages", "sectors", "funnel", "consulting"):
            assert f'href="{DASHBOARD}/{table}.csv"' in html
        chinese = await org.get(DASHBOARD, headers={"Accept-Language": "zh-CN"})
        assert "招商看板" in chinese.text and "筛选" in chinese.text
        stages = {r["stage"]: r for r in _csv((await org.get(f"{DASHBOARD}/stages.csv")).text)}
        assert stages["screening"]["projects"] == "2" and stages["screening"]["overdue"] == "1"
        # One column per currency: never a total across currencies.
        assert (stages["screening"]["amount_CNY"], stages["screening"]["amount_EUR"]) == ("500", "100")
        assert stages["screening"]["amount_USD"] == "0" and "amount" not in stages["screening"]
        assert abs(int(stages["screening"]["median_seconds_in_stage"]) - 4 * 86400) <= 60
        assert (
            stages["landed"]["median_seconds_in_stage"] != ""
            and stages["negotiating"]["p90_seconds_in_stage"] == ""
        )
        sectors = _csv((await org.get(f"{DASHBOARD}/sectors.csv")).text)
        assert [(r["sector"], r["projects"], r["amount_CNY"]) for r in sectors] == [
            ("Energy", "3", "750"),
            ("Biotech", "2", "0"),
        ]
        funnel = _csv((await org.get(f"{DASHBOARD}/funnel.csv")).text)
        assert [(r["step"], r["invitations"], r["rate_from_previous"]) for r in funnel] == [
            ("sent", "5", ""),
            ("opened", "3", "0.6"),
            ("registered", "2", "0.6667"),
            ("filed", "1", "0.5"),
        ]
        answer = await org.get(f"{DASHBOARD}/consulting.csv")
        assert answer.headers["content-type"].startswith("text/csv")
        assert 'filename="city-promotion-consulting.csv"' in answer.headers["content-disposition"]
        consulting = {r["category"]: r for r in _csv(answer.text)}
        assert consulting["tax"]["median_first_response_seconds"] == "3600"
        assert consulting["all"]["questions"] == "3" and consulting["all"]["waiting"] == "2"
        assert (await org.get(f"{DASHBOARD}/everything.csv")).status_code == 404
        # Linked from the pipeline board and the expo's dashboard.
        for page_url in ("/organizer/expos/city/projects", "/organizer/expos/city/dashboard"):
            assert f'href="{DASHBOARD}"' in (await org.get(page_url)).text, page_url


async def test_a_sector_named_like_a_formula_is_exported_as_text(app: Starlette) -> None:
    now = utcnow()
    await build_world(app, now)
    async with app.state.platform.db.session() as s:
        project = (await s.exec(select(PromotionProject).where(PromotionProject.company == "Sunrise"))).one()
        project.sector = '=HYPERLINK("http://evil.example","x")'
        s.add(project)
        await s.commit()
    async with browser(app, "org@example.com") as org:
        rows = _csv((await org.get(f"{DASHBOARD}/sectors.csv")).text)
    assert '\'=HYPERLINK("http://evil.example","x")' in [r["sector"] for r in rows]


async def test_only_the_expos_bureau_reads_its_promotion_dashboard(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await build_world(app, utcnow())
    async with browser(app, "other@example.com") as rival:  # runs another expo
        assert (await rival.get(DASHBOARD)).status_code == 403
        assert (await rival.get(f"{DASHBOARD}/stages.csv")).status_code == 403
        assert (await rival.get("/organizer/expos/nowhere/dashboard/promotion")).status_code == 404
    async with browser(app, "visitor@example.com") as investor:
        assert (await investor.get(DASHBOARD)).status_code == 403
        assert (await investor.get(f"{DASHBOARD}/funnel.csv")).status_code == 403
    async with browser(app) as anonymous:
        signed_out = await anonymous.get(DASHBOARD)
        assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")
    refused = await client.get(API, headers=await bearer(client, "visitor@example.com"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "expo.forbidden"
    assert (await client.get(API, headers=await bearer(client, "other@example.com"))).status_code == 403
    assert (await client.get(API)).status_code == 401
    document = (await client.get("/api/openapi.json")).json()
    assert "/api/expos/{slug}/dashboard/promotion" in document["paths"]


async def _reminders(app: Starlette) -> list[OutboxMessage]:
    """The outbox's overdue reminders (in English or Chinese), oldest first."""
    async with app.state.platform.db.session() as s:
        query = select(OutboxMessage).where(
            or_(col(OutboxMessage.subject).contains("Overdue"), col(OutboxMessage.subject).contains("逾期"))
        )
        return list((await s.exec(query.order_by(col(OutboxMessage.id)))).all())


async def _set(app: Starlette, project_id: int, **changes: object) -> None:
    async with app.state.platform.db.session() as s:
        project = await s.get(PromotionProject, project_id)
        assert project is not None
        for name, value in changes.items():
            setattr(project, name, value)
        s.add(project)
        await s.commit()


async def _organizer(app: Starlette, email: str, locale: str = "en") -> int:
    """A new organizer on ``city``'s team (its bureau), reading in ``locale``."""
    member = await make_account(app, email, "organizer", email.split("@")[0].title())
    async with app.state.platform.db.session() as s:
        city = await find_expo(s, "city")
        stored = await s.get(User, member.id)
        assert city is not None and city.id is not None and stored is not None and stored.id is not None
        s.add(ExpoMember(expo_id=city.id, user_id=stored.id, role=TeamRole.ORGANIZER.value))
        stored.locale = locale
        s.add(stored)
        await s.commit()
        user_id: int = stored.id
    return user_id


@BOTH
async def test_the_owner_is_reminded_once_per_overdue_due_date(app: Starlette) -> None:
    now = utcnow()
    ids = await build_world(app, now)
    await _set(app, ids["Nordlicht"], owner_id=await _organizer(app, "li@example.com"))
    sweep = OverdueReminders(app.state.platform.db, app.state.platform.settings)
    # Nordlicht is overdue in screening; Lumen (landed) and Tidal (declined) are past due but done.
    assert await sweep.run_once(now) == 1
    sent = await _reminders(app)
    assert [m.to_address for m in sent] == ["li@example.com"]  # its owner, not the whole bureau
    assert "Nordlicht" in sent[0].subject and "Screening" in sent[0].body
    assert f"/organizer/expos/city/projects/{ids['Nordlicht']}" in sent[0].body
    assert await sweep.run_once(now) == 0  # the same due date: not again
    assert await sweep.run_once(now + 3 * DAY) == 0
    # A new due date re-arms it once it passes; with no owner, the bureau's organizers hear of it.
    await _set(app, ids["Nordlicht"], due_date=now.date() + DAY, owner_id=None)
    assert await sweep.run_once(now) == 0  # not due yet
    assert await sweep.run_once(now + 2 * DAY) == 1
    assert sorted(m.to_address for m in (await _reminders(app))[1:]) == ["li@example.com", "org@example.com"]
    # Helix is due in 3 days: declined meanwhile, it is never reminded.
    await _set(app, ids["=Helix"], stage="declined")
    assert await sweep.run_once(now + 5 * DAY) == 0
    assert len(await _reminders(app)) == 3


async def test_the_board_flags_overdue_projects_only(app: Starlette) -> None:
    ids = await build_world(app, utcnow())
    async with browser(app, "org@example.com") as org:
        board = (await org.get("/organizer/expos/city/projects", headers={"Accept-Language": "en"})).text
    for company, overdue in (("Nordlicht", True), ("Sunrise", False), ("=Helix", False), ("Lumen", False)):
        card = board.split(f'id="project-{ids[company]}"', 1)[0].rsplit("<article", 1)[1]
        assert ("project-overdue" in card) is overdue, company
    assert board.count("data-overdue") == 1


async def test_a_reminder_reaches_the_owner_in_their_language(app: Starlette) -> None:
    now = utcnow()
    ids = await build_world(app, now)
    await _set(app, ids["Nordlicht"], owner_id=await _organizer(app, "li@example.com", "zh_Hans"))
    sweep = OverdueReminders(app.state.platform.db, app.state.platform.settings)
    assert await sweep.run_once(now) == 1
    (letter,) = await _reminders(app)
    assert letter.to_address == "li@example.com"
    assert "逾期" in letter.subject and "筛选" in letter.body


def test_overdue_means_due_before_today_in_an_open_stage() -> None:
    today = date(2026, 10, 15)
    project = PromotionProject(
        expo_id=1, investor_id=1, company="c", sector="s", country="DE", amount=1, currency="EUR"
    )
    assert not is_overdue(project, today)  # no due date
    project.due_date = today
    assert not is_overdue(project, today)  # due today is not late yet
    project.due_date = today - DAY
    assert is_overdue(project, today)
    for stage in ("landed", "declined"):
        project.stage = stage
        assert not is_overdue(project, today)
