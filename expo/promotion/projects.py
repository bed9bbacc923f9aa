"""Project filing and the bureau's pipeline: an investor files a project with an expo's investment
bureau and follows its stage; the expo's team (:data:`expo.permissions.BUREAU`) moves it along the
pipeline, gives it an owner and a due date, and writes comments.

Stages and the moves between them are explicit (:data:`MOVES`): a move the rules do not list is
refused (422, ``promotion.move_not_allowed``). Every change of the bureau names the project's
``version`` it was made from and is written only if that is still the stored version, in one
``UPDATE``: of two organizers moving the same project at once, one wins and the other is answered
409 (``promotion.project_changed``). Every filing, move, assignment, comment and attachment is
written to the audit log (:mod:`expo.audit`) in the same transaction; a project's history is read
back from there.

Who may see a project is :mod:`expo.permissions`' answer: its investor and the expo's team.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.leads import safe_cell
from expo import audit
from expo.accounts.models import User
from expo.audit import AuditEvent
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo, ExpoMember
from expo.i18n import countries
from expo.permissions import BUREAU, Standing, may_follow_investor_case, require, standing
from expo.promotion import filing_questions, invitations
from expo.promotion.models import PromotionProject, PromotionProjectComment, PromotionProjectFile
from expo.promotion.services import FormInvalid, check_date
from expo.uploads import MediaKind, Stored

CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY", "GBP", "KRW", "SGD", "CHF", "AUD", "CAD")
MAX_AMOUNT = 10**15
MAX_AREA = 10**9  # square metres
MAX_JOBS = 10**7
MAX_DESCRIPTION = 5000
MAX_COMMENT = 5000
MAX_FILES = 10
MAX_PER_INVESTOR = 50  # projects one investor may file with one expo


@dataclass(frozen=True)
class Stage:
    """One column of the pipeline board."""

    key: str
    title: str


STAGES: tuple[Stage, ...] = (
    Stage("filed", N_("Filed")),
    Stage("screening", N_("Screening")),
    Stage("negotiating", N_("Negotiating")),
    Stage("signing", N_("Signing")),
    Stage("signed", N_("Signed")),
    Stage("landed", N_("Landed")),
    Stage("declined", N_("Declined")),
)
STAGE_KEYS = {s.key: s for s in STAGES}
# Forward one step, back one step while talks go on, decline until signed; a declined project
# may be screened again. Signed and landed projects stay.
MOVES: dict[str, tuple[str, ...]] = {
    "filed": ("screening", "declined"),
    "screening": ("negotiating", "declined"),
    "negotiating": ("signing", "screening", "declined"),
    "signing": ("signed", "negotiating", "declined"),
    "signed": ("landed",),
    "landed": (),
    "declined": ("screening",),
}
FILING_FIELDS = (
    "company",
    "sector",
    "country",
    "amount",
    "currency",
    "land_sqm",
    "office_sqm",
    "jobs",
    "timeline",
    "description",
)


def stage(key: str) -> Stage:
    return STAGE_KEYS.get(key) or STAGES[0]


def may_move(from_stage: str, to_stage: str) -> bool:
    return to_stage in MOVES.get(from_stage, ())


def target(project: PromotionProject) -> str:
    return f"project:{project.id}"


# Filing ----------------------------------------------------------------------------------------------------


def _whole(
    errors: dict[str, str], values: dict[str, str], name: str, limit: int, *, required: bool
) -> int | None:
    raw = values.get(name, "").strip().replace(",", "").replace(" ", "").replace("_", "")
    if not raw:
        if required:
            errors[name] = N_("This is required.")
        return None
    if not raw.isdigit() or int(raw) > limit:
        errors[name] = N_("Give a whole number, without decimals.")
        return None
    return int(raw)


def _text(errors: dict[str, str], values: dict[str, str], name: str, limit: int, *, required: bool) -> str:
    value = values.get(name, "").strip()
    if len(value) > limit:
        errors[name] = N_("This is too long.")
    elif required and not value:
        errors[name] = N_("This is required.")
    return value[:limit]


def check_filing(
    values: dict[str, str],
    asked: Sequence[dict[str, Any]] = (),
    answers: Mapping[str, str | Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The fields of a project from its form, with its ``answers`` to the bureau's own questions
    (``asked``, :mod:`expo.promotion.filing_questions`); :class:`FormInvalid` names every bad field."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {
        "company": _text(errors, values, "company", 200, required=True),
        "sector": _text(errors, values, "sector", 120, required=True),
        "timeline": _text(errors, values, "timeline", 200, required=True),
        "description": _text(errors, values, "description", MAX_DESCRIPTION, required=False),
    }
    country = values.get("country", "").strip().upper()
    if country not in countries():
        errors["country"] = N_("Choose a country.")
    currency = values.get("currency", "").strip().upper()
    if currency not in CURRENCIES:
        errors["currency"] = N_("Choose a currency.")
    amount = _whole(errors, values, "amount", MAX_AMOUNT, required=True)
    if amount == 0:
        errors["amount"] = N_("The investment is more than zero.")
    fields.update(
        country=country,
        currency=currency,
        amount=amount,
        land_sqm=_whole(errors, values, "land_sqm", MAX_AREA, required=False),
        office_sqm=_whole(errors, values, "office_sqm", MAX_AREA, required=False),
        jobs=_whole(errors, values, "jobs", MAX_JOBS, required=False) or 0,
    )
    kept = filing_questions.check(asked, answers or {}, errors)
    if kept:
        fields["answers"] = kept
    if errors:
        raise FormInvalid(errors)
    return fields


async def file_project(
    session: AsyncSession,
    expo: Expo,
    values: dict[str, str],
    investor: User,
    answers: Mapping[str, str | Sequence[str]] | None = None,
) -> PromotionProject:
    """``investor`` files a project with the expo's bureau; it starts at ``filed``."""
    fields = check_filing(values, await filing_questions.questions(session, expo), answers)
    assert expo.id is not None and investor.id is not None
    if len(await my_projects(session, expo, investor)) >= MAX_PER_INVESTOR:
        raise Conflict(
            N_("You have filed many projects with this expo; talk to the bureau first."),
            code="promotion.too_many_projects",
        )
    project = PromotionProject(expo_id=expo.id, investor_id=investor.id, **fields)
    session.add(project)
    await session.flush()
    audit.record(session, "promotion.project_filed", actor_id=investor.id, target=target(project), to="filed")
    # An investor who came through an invitation letter moves its funnel to "filed".
    await invitations.mark_invitation(session, expo.id, investor.id, "filed")
    await session.commit()
    return project


# Reading ---------------------------------------------------------------------------------------------------


async def bureau_expo(session: AsyncSession, slug: str, user: User | None) -> Expo:
    """The expo ``slug`` when ``user`` is on its team with :data:`BUREAU`."""
    return await expos.managed_expo(session, slug, user, BUREAU)


async def _project(session: AsyncSession, expo: Expo, project_id: int) -> PromotionProject:
    project = await session.get(PromotionProject, project_id)
    if project is None or project.expo_id != expo.id:
        raise NotFound(N_("This expo has no such project."), code="promotion.unknown_project")
    return project


async def visible_project(
    session: AsyncSession, expo: Expo, project_id: int, user: User | None
) -> tuple[PromotionProject, Standing]:
    """A project its investor or the bureau reads, with the reader's standing; 401/403 for others."""
    project = await _project(session, expo, project_id)
    st = await standing(session, user, expo.id or 0)
    require(
        may_follow_investor_case(st, project.investor_id),
        user,
        N_("This project is not yours."),
        "promotion.project_forbidden",
    )
    return project, st


async def managed_project(session: AsyncSession, expo: Expo, project_id: int) -> PromotionProject:
    """A project of an expo the caller was checked to run (:func:`bureau_expo`)."""
    return await _project(session, expo, project_id)


async def my_projects(session: AsyncSession, expo: Expo, user: User) -> list[PromotionProject]:
    query = select(PromotionProject).where(
        PromotionProject.expo_id == expo.id, PromotionProject.investor_id == user.id
    )
    return list((await session.exec(query.order_by(col(PromotionProject.id).desc()))).all())


async def projects(session: AsyncSession, expo: Expo, stage_key: str | None = None) -> list[PromotionProject]:
    """The expo's projects, those due soonest first, then the oldest."""
    query = select(PromotionProject).where(PromotionProject.expo_id == expo.id)
    if stage_key is not None:
        query = query.where(PromotionProject.stage == stage_key)
    order = (
        col(PromotionProject.due_date).is_(None),
        col(PromotionProject.due_date),
        col(PromotionProject.id),
    )
    return list((await session.exec(query.order_by(*order))).all())


def board(found: Sequence[PromotionProject]) -> dict[str, list[PromotionProject]]:
    """The projects in columns, one per stage, in :data:`STAGES` order."""
    columns: dict[str, list[PromotionProject]] = {s.key: [] for s in STAGES}
    for project in found:
        columns.setdefault(project.stage, []).append(project)
    return columns


async def team_members(session: AsyncSession, expo: Expo) -> list[User]:
    """Whom a project may be given to: the expo's team, by name."""
    query = (
        select(User)
        .join(ExpoMember, col(ExpoMember.user_id) == col(User.id))
        .where(ExpoMember.expo_id == expo.id, col(User.is_active).is_(True))
        .order_by(col(User.name), col(User.id))
    )
    return list((await session.exec(query)).all())


async def users_by_id(session: AsyncSession, ids: set[int | None]) -> dict[int, User]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    found = await session.exec(select(User).where(col(User.id).in_(wanted)))
    return {u.id: u for u in found.all() if u.id is not None}


async def files(session: AsyncSession, project: PromotionProject) -> list[PromotionProjectFile]:
    query = select(PromotionProjectFile).where(PromotionProjectFile.project_id == project.id)
    return list((await session.exec(query.order_by(col(PromotionProjectFile.id)))).all())


class OfProject(Protocol):
    project_id: int


Part = TypeVar("Part", bound=OfProject)


async def part_of(
    session: AsyncSession, model: type[Part], project: PromotionProject, item_id: int, missing: NotFound
) -> Part:
    """The ``model`` row ``item_id`` when it belongs to ``project``; else ``missing`` (404): an id
    of another project's file or meeting is no way into it."""
    found = await session.get(model, item_id)
    if found is None or found.project_id != project.id:
        raise missing
    return found


async def file_of(session: AsyncSession, project: PromotionProject, file_id: int) -> PromotionProjectFile:
    missing = NotFound(N_("This project has no such file."), code="promotion.unknown_file")
    return await part_of(session, PromotionProjectFile, project, file_id, missing)


async def comments(session: AsyncSession, project: PromotionProject) -> list[PromotionProjectComment]:
    query = select(PromotionProjectComment).where(PromotionProjectComment.project_id == project.id)
    return list((await session.exec(query.order_by(col(PromotionProjectComment.id)))).all())


@dataclass(frozen=True)
class Change:
    """One line of a project's history, read from the audit log."""

    at: datetime
    # filed, moved, assigned, commented, attached; a department's steps (departments_circulation):
    # circulated, accepted, handed_over, step_done, step_commented
    action: str
    actor_id: int | None
    detail: dict[str, Any]


async def history(
    session: AsyncSession, project: PromotionProject, *, moves_only: bool = False
) -> list[Change]:
    """Every audited change of the project, oldest first (its investor reads only the moves)."""
    query = select(AuditEvent).where(AuditEvent.target == target(project))
    if moves_only:
        query = query.where(
            col(AuditEvent.action).in_(["promotion.project_filed", "promotion.project_moved"])
        )
    events = (await session.exec(query.order_by(col(AuditEvent.id)))).all()
    return [
        Change(e.created_at, e.action.removeprefix("promotion.project_"), e.actor_id, json.loads(e.detail))
        for e in events
    ]


# The bureau's changes --------------------------------------------------------------------------------------


def _stale() -> Conflict:
    return Conflict(
        N_("Someone else changed this project meanwhile; here it is as it is now."),
        code="promotion.project_changed",
    )


async def _write(
    session: AsyncSession, project: PromotionProject, version: int, changes: dict[str, Any]
) -> None:
    """Apply ``changes`` if the stored project is still at ``version``; else 409, nothing written."""
    if version != project.version:
        raise _stale()
    result = await session.exec(
        update(PromotionProject)
        .where(col(PromotionProject.id) == project.id, col(PromotionProject.version) == version)
        .values(**changes, version=version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        await session.rollback()
        raise _stale()
    await session.refresh(project)


async def claim(session: AsyncSession, project: PromotionProject, version: int) -> None:
    """Count a change kept in another table (a department's step) as a change of the project: its
    version grows, or 409 when it is no longer ``version``. The caller records and commits."""
    await _write(session, project, version, {})


async def move(
    session: AsyncSession, project: PromotionProject, to_stage: str, version: int, actor: User
) -> PromotionProject:
    """Move the project to ``to_stage`` when :data:`MOVES` allows it from where it is."""
    if to_stage not in STAGE_KEYS:
        raise FormInvalid({"stage": N_("Choose a stage.")})
    if version == project.version and not may_move(project.stage, to_stage):
        raise Invalid(
            N_("A project cannot move from this stage to that one."),
            code="promotion.move_not_allowed",
            details={"from": project.stage, "to": to_stage, "allowed": list(MOVES[project.stage])},
        )
    from_stage = project.stage
    await _write(session, project, version, {"stage": to_stage})
    audit.record(
        session,
        "promotion.project_moved",
        actor_id=actor.id,
        target=target(project),
        to=to_stage,
        **{"from": from_stage},
    )
    await session.commit()
    return project


def check_assignment(values: dict[str, str], members: Sequence[User]) -> tuple[int | None, date | None]:
    """The owner (a team member's id, or none) and due date of an assignment form."""
    errors: dict[str, str] = {}
    owner_id: int | None = None
    raw_owner = values.get("owner_id", "").strip()
    if raw_owner:
        if not raw_owner.isdigit() or int(raw_owner) not in {m.id for m in members}:
            errors["owner_id"] = N_("Choose a member of the expo's team.")
        else:
            owner_id = int(raw_owner)
    due = check_date(values, "due_date", errors)
    if errors:
        raise FormInvalid(errors)
    return owner_id, due


async def assign(
    session: AsyncSession,
    expo: Expo,
    project: PromotionProject,
    values: dict[str, str],
    version: int,
    actor: User,
) -> PromotionProject:
    """Give the project an owner on the team and a due date (either may be empty)."""
    owner_id, due = check_assignment(values, await team_members(session, expo))
    await _write(session, project, version, {"owner_id": owner_id, "due_date": due})
    audit.record(
        session,
        "promotion.project_assigned",
        actor_id=actor.id,
        target=target(project),
        owner=owner_id,
        due=due,
    )
    await session.commit()
    return project


async def add_comment(
    session: AsyncSession, project: PromotionProject, body: str, actor: User
) -> PromotionProjectComment:
    text = body.strip()
    if not text:
        raise FormInvalid({"body": N_("This is required.")})
    if len(text) > MAX_COMMENT:
        raise FormInvalid({"body": N_("This is too long.")})
    assert project.id is not None
    comment = PromotionProjectComment(project_id=project.id, author_id=actor.id, body=text)
    session.add(comment)
    await session.flush()
    audit.record(
        session, "promotion.project_commented", actor_id=actor.id, target=target(project), comment=comment.id
    )
    await session.commit()
    return comment


async def attach(
    session: AsyncSession, project: PromotionProject, stored: Stored, filename: str, actor: User
) -> PromotionProjectFile:
    """Attach a stored PDF to the project (its investor or the bureau), at most :data:`MAX_FILES`."""
    if stored.kind is not MediaKind.BROCHURE:
        raise Invalid(N_("Attachments are PDF documents."), code="upload.not_a_pdf")
    if len(await files(session, project)) >= MAX_FILES:
        raise Conflict(N_("A project has at most 10 attachments."), code="promotion.too_many_files")
    assert project.id is not None
    attached = PromotionProjectFile(
        project_id=project.id, name=stored.name, filename=filename[:200], size=stored.size
    )
    session.add(attached)
    await session.flush()
    audit.record(
        session, "promotion.project_attached", actor_id=actor.id, target=target(project), file=attached.id
    )
    await session.commit()
    return attached


# Export ----------------------------------------------------------------------------------------------------

# The filing's fields as filed, but its long description.
CSV_FILED = tuple(name for name in FILING_FIELDS if name != "description")
CSV_COLUMNS = ("id", "filed_at", "stage", *CSV_FILED, "investor", "investor_email", "owner", "due_date")


async def export(session: AsyncSession, expo: Expo) -> str:
    """Every project of the expo as CSV (:func:`export_csv`), with its investor and owner."""
    found = await projects(session, expo)
    ids: set[int | None] = {p.owner_id for p in found}
    ids.update(p.investor_id for p in found)
    asked = await filing_questions.questions(session, expo)
    return export_csv(found, await users_by_id(session, ids), asked)


def export_csv(
    found: Sequence[PromotionProject], people: dict[int, User], asked: Sequence[dict[str, Any]] = ()
) -> str:
    """The projects as CSV (a header row, one row each, then a column per question of the bureau's
    own), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(cell) for cell in (*CSV_COLUMNS, *filing_questions.csv_header(asked))])
    for p in found:
        investor = people.get(p.investor_id)
        owner = people.get(p.owner_id) if p.owner_id is not None else None
        row: list[object] = [
            p.id,
            p.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            p.stage,
            *(getattr(p, name) for name in CSV_FILED),
            investor.name if investor else "",
            investor.email if investor else "",
            (owner.name or owner.email) if owner else "",
            p.due_date.isoformat() if p.due_date else "",
            *filing_questions.csv_cells(asked, p.answers),
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def filing_values(project: PromotionProject) -> dict[str, str]:
    return {
        name: "" if getattr(project, name) is None else str(getattr(project, name)) for name in FILING_FIELDS
    }
