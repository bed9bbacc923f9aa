"""A project's circulation through the bureau's departments: the bureau gives a project to a
department with a task and a due date; the department accepts it, writes comments, hands it over
to another department or marks its step done. A project may be with several departments at once.

Each hand-over closes one step and opens the next (``from_step_id`` links them). Every step has a
``version``: a change names the version it was made from and is written only if that is still
the stored one, in one ``UPDATE``, so of two people handing the same step over at once one wins
and the other is answered 409 (``promotion.step_changed``). The bureau's assignment also counts
as a change of the project (its version, :func:`expo.promotion.projects.claim`).

Every step is written to the project's audit trail (:func:`expo.promotion.projects.history`) in
the same transaction, and the members of the department that receives a project are e-mailed
through the outbox. Who may do what is :mod:`expo.permissions`' answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, Conflict, Forbidden, NotFound
from expo.expos.models import Expo
from expo.permissions import (
    Standing,
    may_follow_investor_case,
    may_work_on_project,
    may_work_on_step,
    require,
    standing,
)
from expo.promotion import departments, projects
from expo.promotion.departments_letters import CirculationLetters
from expo.promotion.departments_views import OPEN, open_steps
from expo.promotion.models import (
    PromotionCirculation,
    PromotionCirculationNote,
    PromotionDepartment,
    PromotionProject,
)
from expo.promotion.services import FormInvalid, check_date

MAX_NOTE = 2000
MAX_STEPS = 50  # per project

# Who may -------------------------------------------------------------------------------------------------


def _unknown() -> NotFound:
    return NotFound(N_("This expo has no such project."), code="promotion.unknown_project")


async def _expo_project(session: AsyncSession, expo: Expo, project_id: int) -> PromotionProject:
    project = await session.get(PromotionProject, project_id)
    if project is None or project.expo_id != expo.id:
        raise _unknown()
    return project


async def readable_project(
    session: AsyncSession, expo: Expo, project_id: int, user: User | None
) -> PromotionProject:
    """The project when ``user`` may read its documents: its investor, or whoever works on it
    (:func:`workable_project`: the bureau and the departments it was circulated to)."""
    project = await _expo_project(session, expo, project_id)
    if may_follow_investor_case(await standing(session, user, expo.id or 0), project.investor_id):
        return project
    return (await workable_project(session, expo, project_id, user))[0]


async def workable_project(
    session: AsyncSession, expo: Expo, project_id: int, user: User | None
) -> tuple[PromotionProject, Standing, set[int]]:
    """The project when ``user`` works on it (the bureau, or a department it was circulated to),
    with their standing and departments. Its investor is told no (403); to anyone else it does
    not exist (404)."""
    assert expo.id is not None
    project = await _expo_project(session, expo, project_id)
    st = await standing(session, user, expo.id)
    mine = await departments.member_of(session, user, expo.id)
    reached = await _departments_of(session, project)
    if not may_work_on_project(st, with_my_department=bool(mine & reached)):
        if user is None or may_follow_investor_case(st, project.investor_id):
            message = N_("Only the bureau and its departments work on projects.")
            require(False, user, message, "promotion.forbidden")
        raise _unknown()
    return project, st, mine


async def workable_step(
    session: AsyncSession, expo: Expo, step_id: int, user: User | None
) -> tuple[PromotionCirculation, PromotionProject]:
    """The step when ``user`` may take it: a member of its department, or the bureau (403 for the
    project's other departments, 404 for whoever does not work on the project)."""
    step = await session.get(PromotionCirculation, step_id)
    if step is None:
        raise NotFound(N_("There is no such step."), code="promotion.unknown_step")
    project, st, mine = await workable_project(session, expo, step.project_id, user)
    if not may_work_on_step(st, in_its_department=step.department_id in mine):
        raise Forbidden(N_("This step is another department's."), code="promotion.step_forbidden")
    return step, project


async def _departments_of(session: AsyncSession, project: PromotionProject) -> set[int]:
    query = select(PromotionCirculation.department_id).where(PromotionCirculation.project_id == project.id)
    return set((await session.exec(query)).all())


# Checking ------------------------------------------------------------------------------------------------


def check_task(
    values: dict[str, str], choices: Sequence[PromotionDepartment], *, exclude: int | None = None
) -> tuple[int, str, date | None]:
    """(department id, task note, due date) of an assignment or hand-over form."""
    errors: dict[str, str] = {}
    raw = values.get("department_id", "").strip()
    wanted = {d.id for d in choices} - {exclude}
    department_id = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    if department_id not in wanted:
        errors["department_id"] = N_("Choose a department.")
    note = values.get("note", "").strip()
    if not note:
        errors["note"] = N_("Say what the department should do.")
    elif len(note) > MAX_NOTE:
        errors["note"] = N_("This is too long.")
    due = check_date(values, "due_date", errors)
    if errors:
        raise FormInvalid(errors)
    return department_id, note, due


def check_note(body: str) -> str:
    text = body.strip()
    if not text:
        raise FormInvalid({"body": N_("This is required.")})
    if len(text) > MAX_NOTE:
        raise FormInvalid({"body": N_("This is too long.")})
    return text


# Writing -------------------------------------------------------------------------------------------------


def _stale() -> Conflict:
    return Conflict(
        N_("Someone else changed this step meanwhile; here it is as it is now."),
        code="promotion.step_changed",
    )


async def _advance(
    session: AsyncSession, step: PromotionCirculation, version: int, status: str, allowed_from: Sequence[str]
) -> None:
    """Set the step's ``status`` if it is still at ``version`` and in ``allowed_from``; else 409."""
    if version != step.version:
        raise _stale()
    if step.status not in allowed_from:
        raise Conflict(N_("This step is closed."), code="promotion.step_closed")
    now = utcnow()
    closes = status not in OPEN
    result = await session.exec(
        update(PromotionCirculation)
        .where(
            col(PromotionCirculation.id) == step.id,
            col(PromotionCirculation.version) == version,
            col(PromotionCirculation.status).in_(allowed_from),
        )
        .values(status=status, version=version + 1, updated_at=now, closed_at=now if closes else None)
    )
    if result.rowcount != 1:
        await session.rollback()
        raise _stale()
    await session.refresh(step)


async def _check_room(session: AsyncSession, project: PromotionProject, department_id: int) -> None:
    """Refuse a step for a department the project is with already, or one step too many, before
    the caller commits anything."""
    assert project.id is not None
    taken = await open_steps(session, [project.id])
    if any(s.department_id == department_id for s, _ in taken.get(project.id, [])):
        raise FormInvalid({"department_id": N_("The project is with this department already.")})
    counted = select(func.count()).where(PromotionCirculation.project_id == project.id)
    if int((await session.exec(counted)).one()) >= MAX_STEPS:
        raise Conflict(N_("A project circulates at most 50 times."), code="promotion.too_many_steps")


async def _open_step(
    session: AsyncSession,
    project: PromotionProject,
    task: tuple[int, str, date | None],
    actor: User,
    from_step: PromotionCirculation | None = None,
) -> PromotionCirculation:
    department_id, note, due = task
    assert project.id is not None
    step = PromotionCirculation(
        project_id=project.id,
        department_id=department_id,
        from_step_id=from_step.id if from_step else None,
        note=note,
        due_date=due,
        assigned_by=actor.id,
    )
    session.add(step)
    await session.flush()
    return step


async def circulate(
    session: AsyncSession,
    expo: Expo,
    project: PromotionProject,
    values: dict[str, str],
    version: int,
    actor: User,
    letters: CirculationLetters,
) -> PromotionCirculation:
    """The bureau gives the project to a department with a task and a due date; the project's
    version must still be ``version``. The department's members are e-mailed."""
    task = check_task(values, await departments.departments(session, expo))
    await _check_room(session, project, task[0])
    await projects.claim(session, project, version)
    step = await _open_step(session, project, task, actor)
    department = await departments.department_of(session, expo, step.department_id)
    await _record(session, "circulated", project, step, actor, due=step.due_date)
    await letters.assigned(session, expo, project, step, department)
    await session.commit()
    return step


async def accept(
    session: AsyncSession, project: PromotionProject, step: PromotionCirculation, version: int, actor: User
) -> PromotionCirculation:
    """The department takes the project on."""
    await _advance(session, step, version, "accepted", ("assigned",))
    await _record(session, "accepted", project, step, actor)
    await session.commit()
    return step


async def comment(
    session: AsyncSession, project: PromotionProject, step: PromotionCirculation, body: str, actor: User
) -> PromotionCirculationNote:
    text = check_note(body)
    assert step.id is not None
    note = PromotionCirculationNote(step_id=step.id, author_id=actor.id, body=text)
    session.add(note)
    await session.flush()
    await _record(session, "step_commented", project, step, actor, note=note.id)
    await session.commit()
    return note


async def mark_done(
    session: AsyncSession, project: PromotionProject, step: PromotionCirculation, version: int, actor: User
) -> PromotionCirculation:
    """The department has done its part; the step closes."""
    await _advance(session, step, version, "done", OPEN)
    await _record(session, "step_done", project, step, actor)
    await session.commit()
    return step


async def hand_over(
    session: AsyncSession,
    expo: Expo,
    project: PromotionProject,
    step: PromotionCirculation,
    values: dict[str, str],
    version: int,
    actor: User,
    letters: CirculationLetters,
) -> PromotionCirculation:
    """Close the step and give the project to another department with a task; its members are
    e-mailed. Of two hand-overs of one step at once, the second is answered 409."""
    task = check_task(values, await departments.departments(session, expo), exclude=step.department_id)
    # The step first: of two hand-overs at once, the second is told the step changed (409), not
    # that the project is with that department already (it is, by the first one).
    await _advance(session, step, version, "handed_over", OPEN)
    await _check_room(session, project, task[0])
    following = await _open_step(session, project, task, actor, from_step=step)
    department = await departments.department_of(session, expo, following.department_id)
    await _record(
        session,
        "handed_over",
        project,
        step,
        actor,
        to_step=following.id,
        to=department.name,
        to_id=department.id,
    )
    await letters.assigned(session, expo, project, following, department, handed_over=True)
    await session.commit()
    return following


async def _record(
    session: AsyncSession,
    kind: str,
    project: PromotionProject,
    step: PromotionCirculation,
    actor: User,
    **detail: Any,
) -> None:
    department = await session.get(PromotionDepartment, step.department_id)
    audit.record(
        session,
        f"promotion.project_{kind}",
        actor_id=actor.id,
        target=projects.target(project),
        step=step.id,
        department=department.name if department else "",
        department_id=step.department_id,
        **detail,
    )
