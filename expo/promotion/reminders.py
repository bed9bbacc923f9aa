"""Overdue steps of the project pipeline and the reminders about them.

A project is **overdue** when its due date has passed (before today, in the expo's time zone) while
it is still in an open stage (:data:`OPEN_STAGES`: every stage but landed and declined, where the
pipeline ends). The board flags such projects and the promotion dashboard counts them.

:class:`OverdueReminders` is a component the platform starts: every ``interval`` seconds it looks
for overdue projects not yet reminded of their due date and queues one letter through the outbox
to the project's owner, or, when it has none (or the owner's account is gone), to the expo's
bureau. Each reminder is claimed with a conditional ``UPDATE`` of ``reminded_due_date`` in the
transaction that queues the letter, so of several server processes sweeping at once exactly one
reminds, and a project is reminded once per due date: giving it a new due date re-arms it.

A step of a project's circulation (:mod:`expo.promotion.departments_circulation`) is overdue in the
same way: its due date passed while it is open (assigned or accepted). The same sweep reminds the
department's members of it, each in their language, once per due date, claimed the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.config import Settings
from expo.db import Database, utcnow
from expo.errors import N_
from expo.expos.models import Expo
from expo.expos.team import members_with
from expo.mail.letters import Letters
from expo.periodic import Periodic
from expo.permissions import BUREAU
from expo.promotion import departments_views, projects
from expo.promotion.departments_letters import CirculationLetters
from expo.promotion.models import PromotionCirculation, PromotionProject

FINAL_STAGES = ("landed", "declined")
OPEN_STAGES = tuple(s.key for s in projects.STAGES if s.key not in FINAL_STAGES)
# The earliest time zone is UTC+14: no expo's "today" is later than the UTC date this far ahead.
_AHEAD = timedelta(hours=14)
BATCH = 200  # projects looked at per pass; the next pass takes the rest


def expo_today(expo: Expo, now: datetime | None = None) -> date:
    """Today's date in the expo's time zone."""
    return (now or utcnow()).astimezone(expo.zone).date()


def is_overdue(project: PromotionProject, today: date) -> bool:
    """Due before ``today`` and still in an open stage."""
    return project.due_date is not None and project.due_date < today and project.stage in OPEN_STAGES


class ReminderLetters(Letters):
    """The reminder about an overdue project, in its recipient's language."""

    async def overdue(
        self, session: AsyncSession, expo: Expo, project: PromotionProject, recipient: User
    ) -> None:
        assert project.due_date is not None
        subject = N_("Overdue: %(company)s was due on %(due)s")
        body = N_(
            "Hello %(name)s,\n\nthe project of %(company)s at %(expo)s was due on %(due)s and is still "
            "at the stage %(stage)s.\n\nMove it on, or give it a new due date:\n%(url)s\n"
        )
        await self.send(
            session,
            recipient,
            expo,
            subject,
            body,
            company=project.company,
            due=project.due_date.isoformat(),
            stage=self.text(recipient.locale, projects.stage(project.stage).title),
            url=self.settings.url(f"/organizer/expos/{expo.slug}/projects/{project.id}"),
        )


async def _recipients(session: AsyncSession, project: PromotionProject) -> list[User]:
    """The project's owner while their account is active, else the expo's bureau."""
    if project.owner_id is not None:
        owner = await session.get(User, project.owner_id)
        if owner is not None and owner.is_active:
            return [owner]
    return await members_with(session, project.expo_id, BUREAU)


# A project and a circulation step are reminded alike: the same columns, their own open states.
Reminded = type[PromotionProject] | type[PromotionCirculation]
Candidate = tuple[int | None, int, date | None]  # (id, expo id, due date) of a project or step
Remind = Callable[[AsyncSession, Expo, int], Awaitable[None]]  # queue the letters of one row


def _open(model: Reminded) -> ColumnElement[bool]:
    if model is PromotionProject:
        return col(PromotionProject.stage).in_(OPEN_STAGES)
    return col(PromotionCirculation.status).in_(departments_views.OPEN)


def _not_reminded(model: Reminded) -> ColumnElement[bool]:
    return or_(col(model.reminded_due_date).is_(None), col(model.reminded_due_date) != col(model.due_date))


async def _candidates(db: Database, model: Reminded, now: datetime) -> list[Candidate]:
    """Open rows whose due date may have passed somewhere and that were not reminded of it."""
    query = select(col(model.id), PromotionProject.expo_id, col(model.due_date))
    if model is PromotionCirculation:  # a step of a project that landed or was declined is moot
        query = query.join(
            PromotionProject, col(PromotionProject.id) == col(PromotionCirculation.project_id)
        ).where(_open(PromotionProject))
    query = query.where(_open(model), col(model.due_date) < (now + _AHEAD).date(), _not_reminded(model))
    async with db.session() as session:
        found = await session.exec(query.order_by(col(model.due_date), col(model.id)).limit(BATCH))
        return list(found.all())


async def _claim(session: AsyncSession, model: Reminded, item_id: int, due: date) -> bool:
    """Mark the row reminded of ``due`` if it still is open with that date and nobody did."""
    claimed = await session.exec(
        update(model)
        .where(col(model.id) == item_id, col(model.due_date) == due, _open(model), _not_reminded(model))
        .values(reminded_due_date=due)
    )
    return claimed.rowcount == 1


async def _sweep(db: Database, now: datetime, model: Reminded, remind: Remind) -> int:
    """Remind each candidate whose due date has passed in its expo's time zone, each in its own
    short transaction: ``remind`` queues its letters once :func:`_claim` has won it."""
    reminded = 0
    for item_id, expo_id, due in await _candidates(db, model, now):
        if item_id is None or due is None:
            continue
        async with db.session() as session:
            expo = await session.get(Expo, expo_id)
            if expo is None or due >= expo_today(expo, now) or not await _claim(session, model, item_id, due):
                continue
            await remind(session, expo, item_id)
            await session.commit()
            reminded += 1
    return reminded


async def remind_overdue(db: Database, letters: ReminderLetters, now: datetime | None = None) -> int:
    """Queue a reminder for each overdue project not yet reminded of its due date (to its owner,
    else the bureau); how many were reminded."""

    async def remind(session: AsyncSession, expo: Expo, project_id: int) -> None:
        project = await session.get(PromotionProject, project_id, populate_existing=True)
        assert project is not None
        for recipient in await _recipients(session, project):
            await letters.overdue(session, expo, project, recipient)

    return await _sweep(db, now or utcnow(), PromotionProject, remind)


async def remind_overdue_steps(db: Database, letters: CirculationLetters, now: datetime | None = None) -> int:
    """Queue a reminder to the department's members for each open circulation step past its due
    date and not yet reminded of it; how many steps were reminded."""

    async def remind(session: AsyncSession, expo: Expo, step_id: int) -> None:
        step = await session.get(PromotionCirculation, step_id, populate_existing=True)
        assert step is not None
        project = await session.get(PromotionProject, step.project_id)
        assert project is not None
        await letters.overdue(session, expo, project, step)

    return await _sweep(db, now or utcnow(), PromotionCirculation, remind)


class OverdueReminders(Periodic):
    """Sends the overdue reminders of the pipeline and of the departments' steps while the platform
    runs: every ``interval`` seconds, the first pass after a full interval (a process starting sends
    nothing at once)."""

    def __init__(self, db: Database, settings: Settings, interval: float = 300.0) -> None:
        super().__init__("promotion-reminders", interval, at_once=False)
        self.db = db
        self.letters = ReminderLetters(settings)
        self.step_letters = CirculationLetters(settings)

    async def run_once(self, now: datetime | None = None) -> int:
        """How many projects and steps were reminded."""
        projects_reminded = await remind_overdue(self.db, self.letters, now)
        return projects_reminded + await remind_overdue_steps(self.db, self.step_letters, now)
