"""The promotion dashboard's questions, each answered by an aggregate query in the store.

Counts and sums are ``GROUP BY`` queries; medians and 90th percentiles are nearest-rank, ranked
with window functions (``ROW_NUMBER`` and ``COUNT`` over each group) and picked with a
``GROUP BY``, so no row is read into Python and the same SQL runs on SQLite and PostgreSQL. Only
two expressions differ between the stores (:func:`expo.db.seconds_between`, :func:`json_text`).

Time in a stage comes from the projects' history in the audit log (:func:`expo.promotion.projects
.history`): a project entered its current stage at its last filing or move event, and each move
ends a stay in the stage it names as ``from``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.sqltypes import UTCDateTime

from expo.audit import AuditEvent
from expo.db import seconds_between
from expo.promotion.models import ConsultingThread, PromotionInvitation, PromotionProject
from expo.promotion.reminders import OPEN_STAGES

Column = ColumnElement[Any]
FILED, MOVED = "promotion.project_filed", "promotion.project_moved"


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def json_text(dialect: str, column: Any, key: str) -> Column:
    """The text value at ``key`` of a JSON document stored as text."""
    if dialect == "postgresql":
        text: Column = sa.cast(column, postgresql.JSON)[key].astext
        return text
    return sa.func.json_extract(column, f"$.{key}")


@dataclass(frozen=True)
class Spread:
    """How many values a group has, their average, median and 90th percentile."""

    count: int
    average: float | None
    median: float | None
    p90: float | None


async def spreads(session: AsyncSession, values: Subquery) -> dict[Any, Spread]:
    """Per ``grp`` of ``values`` (a subquery of ``grp`` and ``value`` columns), its :class:`Spread`.

    Nearest rank: the p-th percentile of n sorted values is the one at rank ceil(p * n / 100),
    i.e. the largest value whose rank r has 100 * r <= p * n + 99 (integers only, on both stores).
    """
    rank = sa.func.row_number().over(partition_by=values.c.grp, order_by=values.c.value)
    size = sa.func.count().over(partition_by=values.c.grp)
    ranked = select(values.c.grp, values.c.value, rank.label("r"), size.label("n")).subquery()

    def percentile(p: int) -> Column:
        return sa.func.max(sa.case((100 * ranked.c.r <= p * ranked.c.n + 99, ranked.c.value)))

    query = sa.select(
        ranked.c.grp, sa.func.count(), sa.func.avg(ranked.c.value), percentile(50), percentile(90)
    ).group_by(ranked.c.grp)
    rows = await _rows(session, query)
    return {grp: Spread(int(n), _float(avg), _float(p50), _float(p90)) for grp, n, avg, p50, p90 in rows}


async def _rows(session: AsyncSession, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of a query of more columns than ``session.exec`` is typed for, in its transaction."""
    return [tuple(row) for row in (await (await session.connection()).execute(query)).all()]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# Projects ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoneyRow:
    """Projects of one group (a stage or a sector) in one currency."""

    group: str
    currency: str
    projects: int
    amount: int
    overdue: int


def _overdue(today: date) -> Column:
    return sa.and_(col(PromotionProject.due_date) < today, col(PromotionProject.stage).in_(OPEN_STAGES))


async def money_by(session: AsyncSession, expo_id: int, group: Any, today: date) -> list[MoneyRow]:
    """Projects, their planned investment and the overdue ones per ``group`` column and currency."""
    query = (
        sa.select(
            group,
            col(PromotionProject.currency),
            sa.func.count(),
            sa.func.sum(PromotionProject.amount),
            sa.func.count().filter(_overdue(today)),
        )
        .where(col(PromotionProject.expo_id) == expo_id)
        .group_by(group, col(PromotionProject.currency))
    )
    rows = await _rows(session, query)
    return [MoneyRow(str(g), str(c), int(n), int(total or 0), int(late)) for g, c, n, total, late in rows]


def _project_target() -> Column:
    """``"project:{id}"``: the audit log's target of a project's events."""
    return sa.literal("project:") + sa.cast(PromotionProject.id, sa.String)


async def time_in_current_stage(session: AsyncSession, expo_id: int, now: datetime) -> dict[str, Spread]:
    """Per stage, how long its projects have been in it so far: since their last filing or move."""
    moment = sa.bindparam("now", now, type_=UTCDateTime())
    entered = sa.func.coalesce(sa.func.max(AuditEvent.created_at), PromotionProject.created_at)
    values = (
        select(
            col(PromotionProject.stage).label("grp"),
            seconds_between(session, entered, moment).label("value"),
        )
        .select_from(PromotionProject)
        .outerjoin(
            AuditEvent,
            sa.and_(col(AuditEvent.target) == _project_target(), col(AuditEvent.action).in_([FILED, MOVED])),
        )
        .where(PromotionProject.expo_id == expo_id)
        .group_by(col(PromotionProject.id), col(PromotionProject.stage), col(PromotionProject.created_at))
        .subquery()
    )
    return {str(k): v for k, v in (await spreads(session, values)).items()}


async def completed_stays(session: AsyncSession, expo_id: int) -> dict[str, Spread]:
    """Per stage, the stays that ended with a move out of it: from the event that put the project
    there (the one before the move) to the move."""
    dialect = _dialect(session)
    events = (
        select(
            AuditEvent.action,
            AuditEvent.created_at,
            json_text(dialect, AuditEvent.detail, "from").label("left"),
            sa.func.lag(AuditEvent.created_at)
            .over(partition_by=AuditEvent.target, order_by=col(AuditEvent.id))
            .label("entered"),
        )
        .join(PromotionProject, col(AuditEvent.target) == _project_target())
        .where(PromotionProject.expo_id == expo_id, col(AuditEvent.action).in_([FILED, MOVED]))
        .subquery()
    )
    values = (
        select(
            events.c.left.label("grp"),
            seconds_between(session, events.c.entered, events.c.created_at).label("value"),
        )
        .where(events.c.action == MOVED, events.c.entered.is_not(None))
        .subquery()
    )
    return {str(k): v for k, v in (await spreads(session, values)).items()}


# Invitations and consulting ------------------------------------------------------------------------------


async def funnel_counts(session: AsyncSession, expo_id: int) -> tuple[int, int, int, int]:
    """Invitations sent, opened, registered and filed (each moment is set for the earlier ones too)."""
    query = select(
        sa.func.count(),
        sa.func.count(col(PromotionInvitation.opened_at)),
        sa.func.count(col(PromotionInvitation.registered_at)),
        sa.func.count(col(PromotionInvitation.filed_at)),
    ).where(PromotionInvitation.expo_id == expo_id)
    sent, opened, registered, filed = (await session.exec(query)).one()
    return int(sent), int(opened), int(registered), int(filed)


@dataclass(frozen=True)
class ThreadCounts:
    questions: int
    waiting: int
    unanswered: int


async def thread_counts(session: AsyncSession, expo_id: int) -> dict[str, ThreadCounts]:
    """Per category: questions, those waiting for the bureau, those it never answered."""
    query = (
        select(
            ConsultingThread.category,
            sa.func.count(),
            sa.func.count().filter(col(ConsultingThread.answered).is_(False)),
            sa.func.count().filter(col(ConsultingThread.first_answered_at).is_(None)),
        )
        .where(ConsultingThread.expo_id == expo_id)
        .group_by(col(ConsultingThread.category))
    )
    rows = (await session.exec(query)).all()
    return {str(c): ThreadCounts(int(n), int(waiting), int(never)) for c, n, waiting, never in rows}


async def first_responses(session: AsyncSession, expo_id: int, *, per_category: bool) -> dict[Any, Spread]:
    """Time from question to the bureau's first answer, per category or for the whole expo."""
    group = ConsultingThread.category if per_category else ConsultingThread.expo_id
    values = (
        select(
            col(group).label("grp"),
            seconds_between(session, ConsultingThread.created_at, ConsultingThread.first_answered_at).label(
                "value"
            ),
        )
        .where(ConsultingThread.expo_id == expo_id, col(ConsultingThread.first_answered_at).is_not(None))
        .subquery()
    )
    return await spreads(session, values)
