"""The consulting service: an investor asks the expo's bureau a question in a category (tax, land,
talent, licensing or other) and the bureau's team answers in a thread.

Who sees what (asked of :mod:`expo.permissions`): an investor reads and continues only their own
threads; the expo's team with :attr:`~expo.permissions.Perm.CHANGE_EXPO` (owners and organizers,
who run the promotion site) reads and answers every thread of the expo. Anyone else is told the
thread does not exist (404), so thread ids reveal nothing.

Every message is stored with the moment it was written, and a thread keeps the moment of its first
answer, which the dashboards read as response times. Each new message is e-mailed through the
outbox in the same transaction: the team hears of a question or a follow-up, the investor of an
answer, each in their own language.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, NotFound
from expo.expos.models import Expo
from expo.expos.team import members_with
from expo.mail.letters import Letters
from expo.permissions import (
    BUREAU,
    Standing,
    may_follow_investor_case,
    may_run_promotion,
    owns,
    require,
    standing,
)
from expo.promotion.models import ConsultingMessage, ConsultingThread
from expo.promotion.services import FormInvalid

CATEGORIES: dict[str, str] = {
    "tax": N_("Tax"),
    "land": N_("Land"),
    "talent": N_("Talent"),
    "licensing": N_("Licensing"),
    "other": N_("Other"),
}
MAX_SUBJECT = 200
MAX_BODY = 5000
INBOX_LIMIT = 500


@dataclass(frozen=True)
class Message:
    """A message as a thread shows it: who wrote it (``None`` once their account is gone)."""

    message: ConsultingMessage
    author: User | None


# Who may -------------------------------------------------------------------------------------------------


async def require_bureau(session: AsyncSession, expo: Expo, user: User | None) -> Standing:
    """``user``'s standing when they answer the expo's questions; else 401 or 403."""
    assert expo.id is not None
    st = await standing(session, user, expo.id)
    require(
        may_run_promotion(st), user, N_("Only this expo's team answers questions."), "consulting.forbidden"
    )
    return st


async def thread_of(session: AsyncSession, expo: Expo, thread_id: int, user: User) -> ConsultingThread:
    """The thread ``thread_id`` of the expo when ``user`` may read it, else :class:`NotFound`."""
    assert expo.id is not None
    thread = await session.get(ConsultingThread, thread_id)
    if (
        thread is None
        or thread.expo_id != expo.id
        or not may_follow_investor_case(await standing(session, user, expo.id), thread.investor_id)
    ):
        raise NotFound(N_("There is no such question."), code="consulting.unknown_thread")
    return thread


# Checking ------------------------------------------------------------------------------------------------


def _text(values: dict[str, str], name: str, limit: int, errors: dict[str, str], empty: str) -> str:
    value = values.get(name, "").strip()
    if len(value) > limit:
        errors[name] = N_("This is too long.")
    elif not value:
        errors[name] = empty
    return value


def check_question(values: dict[str, str]) -> tuple[str, str, str]:
    """(category, subject, body) of an "Ask a question" form; :class:`FormInvalid` per field."""
    errors: dict[str, str] = {}
    category = values.get("category", "").strip()
    if category not in CATEGORIES:
        errors["category"] = N_("Choose a category from the list.")
    subject = _text(values, "subject", MAX_SUBJECT, errors, N_("Say in a few words what it is about."))
    body = _text(values, "body", MAX_BODY, errors, N_("Write your question."))
    if errors:
        raise FormInvalid(errors)
    return category, subject, body


def check_reply(values: dict[str, str]) -> str:
    errors: dict[str, str] = {}
    body = _text(values, "body", MAX_BODY, errors, N_("Write your message."))
    if errors:
        raise FormInvalid(errors)
    return body


# Writing -------------------------------------------------------------------------------------------------


async def ask(
    session: AsyncSession, expo: Expo, investor: User, values: dict[str, str], letters: ConsultingLetters
) -> ConsultingThread:
    """Open a thread with the investor's question; the bureau is e-mailed in the same transaction."""
    category, subject, body = check_question(values)
    assert expo.id is not None and investor.id is not None
    now = utcnow()
    thread = ConsultingThread(
        expo_id=expo.id,
        investor_id=investor.id,
        category=category,
        subject=subject,
        created_at=now,
        last_message_at=now,
    )
    session.add(thread)
    await session.flush()
    assert thread.id is not None
    session.add(ConsultingMessage(thread_id=thread.id, author_id=investor.id, body=body, created_at=now))
    await letters.question_asked(session, expo, thread, investor, body)
    audit.record(
        session, "consulting.asked", actor_id=investor.id, target=f"expo:{expo.id}", thread=thread.id
    )
    await session.commit()
    return thread


async def add_message(
    session: AsyncSession,
    expo: Expo,
    thread: ConsultingThread,
    author: User,
    values: dict[str, str],
    letters: ConsultingLetters,
) -> ConsultingMessage:
    """Add a message to a thread the author may read: the bureau's answer (the investor is told,
    and the first one stamps ``first_answered_at``) or the investor's follow-up (the team is told)."""
    body = check_reply(values)
    assert expo.id is not None and thread.id is not None
    st = await standing(session, author, expo.id)
    # The investor speaks for themself in their own thread, even if they are on the team too.
    from_team = not owns(st, thread.investor_id) and may_run_promotion(st)
    now = utcnow()
    message = ConsultingMessage(
        thread_id=thread.id, author_id=author.id, from_team=from_team, body=body, created_at=now
    )
    session.add(message)
    thread.last_message_at = now
    thread.answered = from_team
    if from_team and thread.first_answered_at is None:
        thread.first_answered_at = now
    session.add(thread)
    await session.flush()
    investor = await session.get(User, thread.investor_id)
    if from_team:
        if investor is not None and investor.is_active:
            await letters.answered(session, expo, thread, investor, body)
    elif investor is not None:
        await letters.question_asked(session, expo, thread, investor, body, follow_up=True)
    audit.record(
        session, "consulting.replied", actor_id=author.id, target=f"expo:{expo.id}", thread=thread.id
    )
    await session.commit()
    return message


# Reading -------------------------------------------------------------------------------------------------


async def my_threads(session: AsyncSession, expo: Expo, investor: User) -> list[ConsultingThread]:
    """The investor's own threads in the expo, the most recently active first."""
    query = (
        select(ConsultingThread)
        .where(ConsultingThread.expo_id == expo.id, ConsultingThread.investor_id == investor.id)
        .order_by(col(ConsultingThread.last_message_at).desc(), col(ConsultingThread.id).desc())
    )
    return list((await session.exec(query.limit(INBOX_LIMIT))).all())


async def inbox(
    session: AsyncSession, expo: Expo, *, waiting_only: bool = False
) -> list[tuple[ConsultingThread, User | None]]:
    """Every thread of the expo with its investor, those waiting for an answer first."""
    query = (
        select(ConsultingThread, User)
        .join(User, col(User.id) == col(ConsultingThread.investor_id), isouter=True)
        .where(ConsultingThread.expo_id == expo.id)
    )
    if waiting_only:
        query = query.where(col(ConsultingThread.answered).is_(False))
    query = query.order_by(
        col(ConsultingThread.answered), col(ConsultingThread.last_message_at).desc(), col(ConsultingThread.id)
    )
    return [(thread, user) for thread, user in (await session.exec(query.limit(INBOX_LIMIT))).all()]


async def messages(session: AsyncSession, thread: ConsultingThread) -> list[Message]:
    """The thread's messages, oldest first, with their authors."""
    query = (
        select(ConsultingMessage, User)
        .join(User, col(User.id) == col(ConsultingMessage.author_id), isouter=True)
        .where(ConsultingMessage.thread_id == thread.id)
        .order_by(col(ConsultingMessage.created_at), col(ConsultingMessage.id))
    )
    return [Message(m, u) for m, u in (await session.exec(query)).all()]


async def waiting_count(session: AsyncSession, expo: Expo) -> int:
    """How many of the expo's threads wait for the bureau's answer."""
    query = select(func.count()).where(
        ConsultingThread.expo_id == expo.id, col(ConsultingThread.answered).is_(False)
    )
    return int((await session.exec(query)).one())


# Letters -------------------------------------------------------------------------------------------------


class ConsultingLetters(Letters):
    """The e-mails of the consulting service, in each recipient's language."""

    async def question_asked(
        self,
        session: AsyncSession,
        expo: Expo,
        thread: ConsultingThread,
        investor: User,
        body: str,
        *,
        follow_up: bool = False,
    ) -> None:
        """Tell the bureau's team that an investor asked (or wrote again in) a thread."""
        assert expo.id is not None
        subject = (
            N_("Follow-up from %(investor)s: %(topic)s")
            if follow_up
            else N_("New question from %(investor)s: %(topic)s")
        )
        text = N_(
            "Hello %(name)s,\n\n%(investor)s wrote to the bureau of %(expo)s about %(topic)s:\n\n"
            "%(question)s\n\nRead and answer it:\n%(url)s\n"
        )
        url = self.settings.url(f"/organizer/expos/{expo.slug}/consulting/{thread.id}")
        for member in await members_with(session, expo.id, BUREAU):
            if member.id == investor.id:
                continue
            await self.send(
                session,
                member,
                expo,
                subject,
                text,
                investor=investor.name or investor.email,
                topic=thread.subject,
                question=body,
                url=url,
            )

    async def answered(
        self, session: AsyncSession, expo: Expo, thread: ConsultingThread, investor: User, body: str
    ) -> None:
        """Send the bureau's answer to the investor who asked."""
        subject = N_("The bureau of %(expo)s answered: %(topic)s")
        text = N_(
            "Hello %(name)s,\n\nthe bureau of %(expo)s answered your question about %(topic)s:\n\n"
            "%(answer)s\n\nYour questions:\n%(url)s\n"
        )
        url = self.settings.url(f"/expos/{expo.slug}/invest/consulting/questions/{thread.id}")
        await self.send(session, investor, expo, subject, text, topic=thread.subject, answer=body, url=url)
