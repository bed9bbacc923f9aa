"""The promotion dashboard of an expo: its project pipeline per stage and sector, the time projects
spend in each stage, the overdue ones, the invitation funnel and the consulting service's response
times. For the expo's investment bureau (:func:`expo.promotion.projects.bureau_expo`: 404 for an
unknown expo, 403 for anyone off its bureau), as the pipeline itself is.

The figures are computed in the store (:mod:`.promotion_queries`) and put together here, once for
the page, its CSV exports and the API alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from expo.accounts.models import User
from expo.dashboards import promotion_queries as q
from expo.dashboards.promotion_figures import (
    Amount,
    ConsultingFigures,
    FunnelStep,
    PromotionFigures,
    SectorFigures,
    StageFigures,
)
from expo.db import Database, utcnow
from expo.expos.models import Expo
from expo.promotion import projects
from expo.promotion.consulting import CATEGORIES
from expo.promotion.invitations import Stage as InvitationStage
from expo.promotion.models import PromotionProject
from expo.promotion.reminders import expo_today

FUNNEL = tuple(s.value for s in InvitationStage)


def amounts(rows: Sequence[q.MoneyRow]) -> list[Amount]:
    """One sum per currency over ``rows``, the largest count of projects first, then by code."""
    sums: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        sums[row.currency] += row.amount
        counts[row.currency] += row.projects
    order = sorted(sums, key=lambda c: (-counts[c], c))
    return [Amount(currency=c, amount=sums[c]) for c in order]


def _by_group(rows: Sequence[q.MoneyRow]) -> dict[str, list[q.MoneyRow]]:
    grouped: dict[str, list[q.MoneyRow]] = defaultdict(list)
    for row in rows:
        grouped[row.group].append(row)
    return grouped


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def funnel_steps(counts: Sequence[int]) -> list[FunnelStep]:
    """The funnel's steps with their conversion rates (``None`` where nothing came before)."""
    return [
        FunnelStep(
            step=step,
            invitations=n,
            rate_from_previous=_rate(n, counts[i - 1]) if i else None,
            rate_from_sent=_rate(n, counts[0]) if i else None,
        )
        for i, (step, n) in enumerate(zip(FUNNEL, counts, strict=True))
    ]


def _consulting(category: str, counts: q.ThreadCounts | None, spread: q.Spread | None) -> ConsultingFigures:
    counts = counts or q.ThreadCounts(0, 0, 0)
    return ConsultingFigures(
        category=category,
        questions=counts.questions,
        waiting=counts.waiting,
        answered=counts.questions - counts.waiting,
        unanswered=counts.unanswered,
        median_first_response_seconds=spread.median if spread else None,
        p90_first_response_seconds=spread.p90 if spread else None,
    )


async def dashboard(
    db: Database, slug: str, user: User, now: datetime | None = None
) -> tuple[Expo, PromotionFigures]:
    """The expo and everything its promotion dashboard shows (404 unknown expo, 403 unless on its
    bureau), as of ``now``."""
    now = now or utcnow()
    async with db.session() as session:
        expo: Expo = await projects.bureau_expo(session, slug, user)
        assert expo.id is not None
        today = expo_today(expo, now)
        stage_rows = await q.money_by(session, expo.id, PromotionProject.stage, today)
        sector_rows = await q.money_by(session, expo.id, PromotionProject.sector, today)
        current = await q.time_in_current_stage(session, expo.id, now)
        stays = await q.completed_stays(session, expo.id)
        funnel = await q.funnel_counts(session, expo.id)
        threads = await q.thread_counts(session, expo.id)
        responses = await q.first_responses(session, expo.id, per_category=True)
        overall = await q.first_responses(session, expo.id, per_category=False)
    per_stage = _by_group(stage_rows)
    stages = []
    for stage in projects.STAGES:
        rows = per_stage.get(stage.key, [])
        here, left = current.get(stage.key), stays.get(stage.key)
        stages.append(
            StageFigures(
                stage=stage.key,
                projects=sum(r.projects for r in rows),
                amounts=amounts(rows),
                overdue=sum(r.overdue for r in rows),
                median_seconds_in_stage=here.median if here else None,
                p90_seconds_in_stage=here.p90 if here else None,
                stays=left.count if left else 0,
                average_seconds_per_stay=left.average if left else None,
            )
        )
    sectors = [
        SectorFigures(sector=name, projects=sum(r.projects for r in rows), amounts=amounts(rows))
        for name, rows in _by_group(sector_rows).items()
    ]
    sectors.sort(key=lambda s: (-s.projects, s.sector.casefold()))
    totals = q.ThreadCounts(
        sum(t.questions for t in threads.values()),
        sum(t.waiting for t in threads.values()),
        sum(t.unanswered for t in threads.values()),
    )
    return expo, PromotionFigures(
        slug=expo.slug,
        today=today,
        projects=sum(s.projects for s in stages),
        overdue=sum(s.overdue for s in stages),
        amounts=amounts(stage_rows),
        stages=stages,
        sectors=sectors,
        funnel=funnel_steps(funnel),
        consulting=[_consulting(c, threads.get(c), responses.get(c)) for c in CATEGORIES],
        consulting_total=_consulting("all", totals, overall.get(expo.id)),
    )
