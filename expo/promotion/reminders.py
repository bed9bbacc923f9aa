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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.config import Settings
from expo.db import Database, utcnow
from expo.errors import N_
from expo.expos.models import Expo
from expo.expos.team import members_with
from expo.mail.letters import Letters
from expo.permissions import BUREAU
from expo.promotion import projects
from expo.promotion.models import PromotionProject

log = logging.getLogger("expo.promotion.reminders")

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


async def _claim(session: AsyncSession, project_id: int, due: date) -> bool:
    """Mark the project reminded of ``due`` if it still is overdue with that date and nobody did."""
    claimed = await session.exec(
        update(PromotionProject)
        .where(
            col(PromotionProject.id) == project_id,
            col(PromotionProject.due_date) == due,
            col(PromotionProject.stage).in_(OPEN_STAGES),
            or_(
                col(PromotionProject.reminded_due_date).is_(None),
                col(PromotionProject.reminded_due_date) != due,
            ),
        )
        .values(reminded_due_date=due)
    )
    return claimed.rowcount == 1


async def remind_overdue(db: Database, letters: ReminderLetters, now: datetime | None = None) -> int:
    """Queue a reminder for each overdue project not yet reminded of its due date; how many were
    reminded. Each project in its own short transaction (claim and letter together)."""
    now = now or utcnow()
    async with db.session() as session:
        found = await session.exec(
            select(col(PromotionProject.id), PromotionProject.expo_id, col(PromotionProject.due_date))
            .where(
                col(PromotionProject.stage).in_(OPEN_STAGES),
                col(PromotionProject.due_date) < (now + _AHEAD).date(),
                or_(
                    col(PromotionProject.reminded_due_date).is_(None),
                    col(PromotionProject.reminded_due_date) != col(PromotionProject.due_date),
                ),
            )
            .order_by(col(PromotionProject.due_date), col(PromotionProject.id))
            .limit(BATCH)
        )
        candidates = list(found.all())
    reminded = 0
    for project_id, expo_id, due in candidates:
        if project_id is None or due is None:
            continue
        async with db.session() as session:
            expo = await session.get(Expo, expo_id)
            if expo is None or due >= expo_today(expo, now) or not await _claim(session, project_id, due):
                continue
            project = await session.get(PromotionProject, project_id, populate_existing=True)
            assert project is not None
            for recipient in await _recipients(session, project):
                await letters.overdue(session, expo, project, recipient)
            await session.commit()
            reminded += 1
    return reminded


class OverdueReminders:
    """Sends the pipeline's overdue reminders while the platform runs; :meth:`start` and
    :meth:`stop` own its task, which runs :func:`remind_overdue` every ``interval`` seconds."""

    def __init__(self, db: Database, settings: Settings, interval: float = 300.0) -> None:
        self.db = db
        self.letters = ReminderLetters(settings)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def run_once(self, now: datetime | None = None) -> int:
        return await remind_overdue(self.db, self.letters, now)

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="promotion-reminders")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        # Each pass after a full interval, the first too: a process starting sends nothing at once.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return
            try:
                await self.run_once()
            except Exception:  # a store hiccup must not end the reminders for the life of the process
                log.exception("overdue reminder pass failed")
