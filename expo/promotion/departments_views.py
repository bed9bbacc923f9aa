"""What pages and the API show of a project's circulation through the bureau's departments (the
changes are :mod:`expo.promotion.departments_circulation`): a project's steps with their comments,
the departments each project is with now (the pipeline board's chips and filter), and the steps
assigned to a member's departments, the overdue ones first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_
from expo.expos.models import Expo
from expo.promotion import departments
from expo.promotion.models import (
    PromotionCirculation,
    PromotionCirculationNote,
    PromotionDepartment,
    PromotionProject,
)

STATUSES: dict[str, str] = {
    "assigned": N_("Assigned"),
    "accepted": N_("Accepted"),
    "handed_over": N_("Handed over"),
    "done": N_("Done"),
}
OPEN = ("assigned", "accepted")


@dataclass(frozen=True)
class Step:
    """A step as pages show it: its department and its comments with their authors."""

    step: PromotionCirculation
    department: PromotionDepartment
    notes: list[tuple[PromotionCirculationNote, User | None]]
    came_from: PromotionDepartment | None = None  # the department that handed it over

    @property
    def open(self) -> bool:
        return self.step.status in OPEN

    @property
    def overdue(self) -> bool:
        return is_overdue(self.step)


def is_overdue(step: PromotionCirculation, today: date | None = None) -> bool:
    due = step.due_date
    return step.status in OPEN and due is not None and due < (today or utcnow().date())


# Reading -------------------------------------------------------------------------------------------------


async def steps(session: AsyncSession, project: PromotionProject) -> list[Step]:
    """The project's steps, oldest first, each with its department and comments."""
    query = (
        select(PromotionCirculation, PromotionDepartment)
        .join(PromotionDepartment, col(PromotionDepartment.id) == col(PromotionCirculation.department_id))
        .where(PromotionCirculation.project_id == project.id)
        .order_by(col(PromotionCirculation.id))
    )
    rows = (await session.exec(query)).all()
    notes_query = (
        select(PromotionCirculationNote, User)
        .join(User, col(User.id) == col(PromotionCirculationNote.author_id), isouter=True)
        .where(col(PromotionCirculationNote.step_id).in_([s.id for s, _ in rows]))
        .order_by(col(PromotionCirculationNote.id))
    )
    notes: dict[int, list[tuple[PromotionCirculationNote, User | None]]] = {}
    for note, author in (await session.exec(notes_query)).all():
        notes.setdefault(note.step_id, []).append((note, author))
    department_of = {s.id: d for s, d in rows}
    return [Step(s, d, notes.get(s.id or 0, []), department_of.get(s.from_step_id)) for s, d in rows]


async def open_steps(
    session: AsyncSession, project_ids: Sequence[int | None]
) -> dict[int, list[tuple[PromotionCirculation, PromotionDepartment]]]:
    """The departments each project is with now (the board's chips)."""
    query = (
        select(PromotionCirculation, PromotionDepartment)
        .join(PromotionDepartment, col(PromotionDepartment.id) == col(PromotionCirculation.department_id))
        .where(
            col(PromotionCirculation.project_id).in_([i for i in project_ids if i is not None]),
            col(PromotionCirculation.status).in_(OPEN),
        )
        .order_by(col(PromotionDepartment.name), col(PromotionCirculation.id))
    )
    found: dict[int, list[tuple[PromotionCirculation, PromotionDepartment]]] = {}
    for step, department in (await session.exec(query)).all():
        found.setdefault(step.project_id, []).append((step, department))
    return found


@dataclass(frozen=True)
class Assigned:
    """A step on "My department's projects": with its project, department and expo."""

    step: PromotionCirculation
    project: PromotionProject
    department: PromotionDepartment
    expo: Expo

    @property
    def overdue(self) -> bool:
        return is_overdue(self.step)


async def assigned_to(session: AsyncSession, user: User, limit: int = 200) -> list[Assigned]:
    """The steps of ``user``'s departments: the open ones first, overdue and due soonest first,
    then the closed ones, most recent first."""
    mine = await departments.member_of(session, user)
    if not mine:
        return []
    query = (
        select(PromotionCirculation, PromotionProject, PromotionDepartment, Expo)
        .join(PromotionProject, col(PromotionProject.id) == col(PromotionCirculation.project_id))
        .join(PromotionDepartment, col(PromotionDepartment.id) == col(PromotionCirculation.department_id))
        .join(Expo, col(Expo.id) == col(PromotionProject.expo_id))
        .where(col(PromotionCirculation.department_id).in_(mine))
        .order_by(col(PromotionCirculation.updated_at).desc(), col(PromotionCirculation.id).desc())
        .limit(limit)
    )
    found = [Assigned(*row) for row in (await session.exec(query)).all()]
    return sorted(found, key=_urgency)


def _urgency(a: Assigned) -> tuple[bool, bool, date]:
    """Open steps first, the earliest due first (so the overdue ones), undated last; the sort is
    stable, so closed steps keep their order, the most recent first."""
    if a.step.status not in OPEN:
        return (True, True, date.max)
    return (False, a.step.due_date is None, a.step.due_date or date.max)


async def projects_with(session: AsyncSession, department_id: int) -> set[int]:
    """Ids of the projects that are with the department now (the board's filter)."""
    query = select(PromotionCirculation.project_id).where(
        PromotionCirculation.department_id == department_id, col(PromotionCirculation.status).in_(OPEN)
    )
    return set((await session.exec(query)).all())


# The bureau's pipeline pages -----------------------------------------------------------------------------


async def board_context(
    session: AsyncSession, expo: Expo, found: list[PromotionProject], department: str
) -> tuple[list[PromotionProject], dict[str, Any]]:
    """The board's projects (only those with ``department`` now, an id from the query string, when
    it names one of the expo's departments) and what the board shows of their circulation: each
    card's department chips and the filter's choices."""
    choices = await departments.departments(session, expo)
    chosen = next((d for d in choices if str(d.id) == department), None)
    if chosen is not None and chosen.id is not None:
        with_it = await projects_with(session, chosen.id)
        found = [p for p in found if p.id in with_it]
    context = {
        "department_chips": await open_steps(session, [p.id for p in found]),
        "department_filter": choices,
        "department_chosen": chosen,
        "circulation_today": utcnow().date(),
    }
    return found, context


async def detail_context(session: AsyncSession, expo: Expo, project: PromotionProject) -> dict[str, Any]:
    """What the bureau's page of a project shows of its circulation: its steps, and the expo's
    departments by id (the history names them in the reader's language)."""
    return {
        "circulation": await steps(session, project),
        "step_statuses": STATUSES,
        "circulation_today": utcnow().date(),
        "departments_by_id": {d.id: d for d in await departments.departments(session, expo)},
    }
