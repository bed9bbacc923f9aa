"""Chat, Q&A, likes and moderation for a broadcast.

Everything is stored first and published afterwards on the stream's realtime channel
(:func:`streaming.services.channel`), so a page that reloads finds in the history what it saw
live. Events::

    {"kind": "chat", "id", "user": {"id", "name"}, "body", "created_at"}
    {"kind": "chat_deleted", "id"}
    {"kind": "question", "id", "user", "body", "votes", "answered", "created_at"}
    {"kind": "votes", "id", "votes"}
    {"kind": "question_answered", "id"}
    {"kind": "likes", "likes"}
    {"kind": "chat_settings", "slow_mode_seconds"}

Bodies are stored as the plain text people typed; escaping is the renderer's job (Jinja's
autoescape on the page, ``textContent`` in the browser), so nothing here rewrites them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.bus import Bus
from expo.db import utcnow
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound, RateLimited
from expo.permissions import may_moderate, require, standing
from expo.ratelimit import RateLimiter
from expo.realtime import publish_event
from streaming.access import can_manage
from streaming.models import (
    ChatMessage,
    MessageKind,
    QuestionVote,
    Sanction,
    SanctionKind,
    Stream,
)
from streaming.services import channel, require_watcher

MAX_BODY = 500
CHAT_LIMIT = (5, 10.0)
"""At most 5 chat lines or questions per user in 10 seconds, across every stream and process."""
LIKE_LIMIT = (10, 10.0)
MAX_SLOW_MODE_SECONDS = 3600
MAX_SANCTION_MINUTES = 60 * 24 * 365
HISTORY_LIMIT = 50
MAX_HISTORY_LIMIT = 200
MAX_QUESTIONS = 200


def clean_body(body: str) -> str:
    """The trimmed text, or :class:`Invalid` when it is empty or longer than :data:`MAX_BODY`."""
    text = body.strip()
    if not text:
        raise Invalid("Write something first.", code="chat.empty")
    if len(text) > MAX_BODY:
        raise Invalid(f"Messages are limited to {MAX_BODY} characters.", code="chat.too_long")
    return text


# -- who may see and who may write ------------------------------------------------------


async def active_sanctions(session: AsyncSession, stream_id: int, user_id: int) -> set[SanctionKind]:
    """The mutes and bans in force for this user in this stream."""
    now = utcnow()
    rows = await session.exec(
        select(Sanction.kind).where(
            Sanction.stream_id == stream_id,
            Sanction.user_id == user_id,
            or_(col(Sanction.until).is_(None), col(Sanction.until) > now),
        )
    )
    return {SanctionKind(kind) for kind in rows.all()}


async def bans_in_force(session: AsyncSession, stream_id: int) -> dict[int, datetime | None]:
    """Everyone banned from this stream now, with when their ban ends (``None``: until lifted).

    What :mod:`streaming.hls_access` remembers per stream, so that a playlist poll or a segment
    request does not ask the store whether its viewer was banned meanwhile."""
    now = utcnow()
    rows = await session.exec(
        select(Sanction.user_id, Sanction.until).where(
            Sanction.stream_id == stream_id,
            Sanction.kind == SanctionKind.BAN.value,
            or_(col(Sanction.until).is_(None), col(Sanction.until) > now),
        )
    )
    return dict(rows.all())


async def check_can_watch(session: AsyncSession, stream: Stream, user: User | None) -> None:
    """Registered-only streams need a signed-in user (401); a banned user may not watch (403)."""
    require_watcher(user, stream)
    if (
        user is not None
        and user.id is not None
        and stream.id is not None
        and SanctionKind.BAN in await active_sanctions(session, stream.id, user.id)
    ):
        raise Forbidden(N_("You are banned from this broadcast."), code="chat.banned")


async def check_can_write(session: AsyncSession, stream: Stream, user: User) -> None:
    """Refuse banned and muted users (403 ``chat.banned`` / ``chat.muted``)."""
    assert stream.id is not None and user.id is not None
    sanctions = await active_sanctions(session, stream.id, user.id)
    if SanctionKind.BAN in sanctions:
        raise Forbidden("You are banned from this broadcast.", code="chat.banned")
    if SanctionKind.MUTE in sanctions:
        raise Forbidden("You are muted in this chat.", code="chat.muted")


async def can_moderate(session: AsyncSession, user: User | None, stream: Stream) -> bool:
    """Whoever manages the stream, and the moderators of its expo's team
    (:func:`expo.permissions.may_moderate`)."""
    st = await standing(session, user, stream.expo_id)
    return may_moderate(st, manages=await can_manage(session, user, stream))


async def require_moderator(session: AsyncSession, user: User, stream: Stream) -> None:
    allowed = await can_moderate(session, user, stream)
    require(allowed, user, "Only the stream's managers and moderators moderate it.", "chat.not_moderator")


# -- events -------------------------------------------------------------------------------


def author(user_id: int | None, name: str | None) -> dict[str, Any]:
    return {"id": user_id, "name": name or "—"}


def message_event(message: ChatMessage, name: str | None) -> dict[str, Any]:
    """A message as the API and the channel show it."""
    event: dict[str, Any] = {
        "kind": message.kind,
        "id": message.id,
        "user": author(message.user_id, name),
        "body": message.body,
        "created_at": message.created_at.isoformat(),
    }
    if message.kind == MessageKind.QUESTION:
        event["votes"] = message.votes
        event["answered"] = message.answered
    return event


# -- chat and questions -------------------------------------------------------------------


async def _check_slow_mode(session: AsyncSession, stream: Stream, user: User) -> None:
    if stream.slow_mode_seconds <= 0 or await can_moderate(session, user, stream):
        return
    last = (
        await session.exec(
            select(ChatMessage.created_at)
            .where(
                ChatMessage.stream_id == stream.id,
                ChatMessage.user_id == user.id,
                ChatMessage.kind == MessageKind.CHAT.value,
            )
            .order_by(col(ChatMessage.id).desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return
    wait = stream.slow_mode_seconds - (utcnow() - last).total_seconds()
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise RateLimited(
            f"Slow mode: one message every {stream.slow_mode_seconds} s; wait {retry_after} s.",
            code="chat.slow_mode",
            retry_after=retry_after,
        )


async def post(
    session: AsyncSession, bus: Bus, stream: Stream, user: User, body: str, kind: MessageKind
) -> dict[str, Any]:
    """Store a chat line or a question and publish it; returns the event."""
    text = clean_body(body)
    await check_can_write(session, stream, user)
    if kind == MessageKind.CHAT:
        await _check_slow_mode(session, stream, user)
    # Counted last, so a refused (muted, too long) message does not use up the allowance.
    await RateLimiter(bus, "chat", *CHAT_LIMIT).hit(str(user.id))
    assert stream.id is not None
    message = ChatMessage(stream_id=stream.id, user_id=user.id, kind=kind.value, body=text)
    session.add(message)
    await session.commit()
    event = message_event(message, user.name)
    assert stream.id is not None
    await publish_event(bus, channel(stream.id), event)
    return event


@dataclass
class Page:
    items: list[dict[str, Any]]
    has_more: bool


async def history(session: AsyncSession, stream: Stream, *, before: int | None, limit: int) -> Page:
    """Chat lines (not deleted) older than message ``before``, oldest first."""
    query = (
        select(ChatMessage, User.name)
        .join(User, col(User.id) == col(ChatMessage.user_id), isouter=True)
        .where(
            ChatMessage.stream_id == stream.id,
            ChatMessage.kind == MessageKind.CHAT.value,
            col(ChatMessage.deleted_at).is_(None),
        )
        .order_by(col(ChatMessage.id).desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(col(ChatMessage.id) < before)
    rows = list((await session.exec(query)).all())
    items = [message_event(message, name) for message, name in rows[:limit]]
    items.reverse()
    return Page(items=items, has_more=len(rows) > limit)


async def questions(session: AsyncSession, stream: Stream, user: User | None) -> list[dict[str, Any]]:
    """Open and answered questions, most votes first; ``voted`` tells whether ``user`` voted."""
    rows = (
        await session.exec(
            select(ChatMessage, User.name)
            .join(User, col(User.id) == col(ChatMessage.user_id), isouter=True)
            .where(
                ChatMessage.stream_id == stream.id,
                ChatMessage.kind == MessageKind.QUESTION.value,
                col(ChatMessage.deleted_at).is_(None),
            )
            .order_by(col(ChatMessage.votes).desc(), col(ChatMessage.id))
            .limit(MAX_QUESTIONS)
        )
    ).all()
    voted: set[int] = set()
    if user is not None and rows:
        ids = [message.id for message, _ in rows]
        voted = set(
            (
                await session.exec(
                    select(QuestionVote.message_id).where(
                        QuestionVote.user_id == user.id, col(QuestionVote.message_id).in_(ids)
                    )
                )
            ).all()
        )
    return [{**message_event(message, name), "voted": message.id in voted} for message, name in rows]


async def _get_message(
    session: AsyncSession, stream: Stream, message_id: int, kind: MessageKind | None = None
) -> ChatMessage:
    message = await session.get(ChatMessage, message_id)
    if (
        message is None
        or message.stream_id != stream.id
        or message.deleted_at is not None
        or (kind is not None and message.kind != kind.value)
    ):
        raise NotFound("There is no such message in this stream.", code="chat.unknown_message")
    return message


async def delete_message(
    session: AsyncSession, bus: Bus, stream: Stream, moderator: User, message_id: int
) -> None:
    """Hide a chat line or question from everyone (kept, marked deleted, for the record)."""
    await require_moderator(session, moderator, stream)
    message = await _get_message(session, stream, message_id)
    message.deleted_at = utcnow()
    message.deleted_by = moderator.id
    session.add(message)
    audit.record(
        session, "chat.deleted", actor_id=moderator.id, target=f"message:{message_id}", stream=stream.id
    )
    await session.commit()
    assert stream.id is not None
    await publish_event(bus, channel(stream.id), {"kind": "chat_deleted", "id": message_id})


async def vote(session: AsyncSession, bus: Bus, stream: Stream, user: User, question_id: int) -> int:
    """Up-vote a question once; voting again changes nothing. Returns the vote count."""
    await check_can_write(session, stream, user)
    await _get_message(session, stream, question_id, MessageKind.QUESTION)
    # Read now: a lost race rolls the session back, which expires every object it holds.
    stream_id = stream.id
    assert stream_id is not None
    # Insert first: the unique (message, user) constraint decides between concurrent votes, and
    # only the winner's transaction adds one to the count.
    assert user.id is not None
    session.add(QuestionVote(message_id=question_id, user_id=user.id))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
    else:
        await session.exec(
            update(ChatMessage)
            .where(col(ChatMessage.id) == question_id)
            .values(votes=col(ChatMessage.votes) + 1)
        )
        await session.commit()
    votes = (await session.exec(select(ChatMessage.votes).where(ChatMessage.id == question_id))).one()
    await publish_event(bus, channel(stream_id), {"kind": "votes", "id": question_id, "votes": votes})
    return votes


async def mark_answered(
    session: AsyncSession, bus: Bus, stream: Stream, moderator: User, question_id: int
) -> None:
    await require_moderator(session, moderator, stream)
    question = await _get_message(session, stream, question_id, MessageKind.QUESTION)
    question.answered = True
    session.add(question)
    await session.commit()
    assert stream.id is not None
    await publish_event(bus, channel(stream.id), {"kind": "question_answered", "id": question_id})


async def like(session: AsyncSession, bus: Bus, stream: Stream, user: User) -> int:
    """Add one like (rate limited per user); returns the new total."""
    await check_can_watch(session, stream, user)
    await RateLimiter(bus, "like", *LIKE_LIMIT).hit(str(user.id))
    # One atomic statement: concurrent likes in any process never overwrite each other.
    result = await session.exec(
        update(Stream)
        .where(col(Stream.id) == stream.id)
        .values(likes=col(Stream.likes) + 1)
        .returning(col(Stream.likes))
    )
    likes = int(result.scalar_one())
    await session.commit()
    assert stream.id is not None
    await publish_event(bus, channel(stream.id), {"kind": "likes", "likes": likes})
    return likes


# -- moderation ---------------------------------------------------------------------------


async def sanction(
    session: AsyncSession,
    stream: Stream,
    moderator: User,
    *,
    user_id: int,
    kind: SanctionKind,
    minutes: int | None,
) -> Sanction:
    """Mute or ban a user in this stream, for ``minutes`` or until lifted; replaces a previous one."""
    await require_moderator(session, moderator, stream)
    target = await session.get(User, user_id)
    if target is None:
        raise NotFound("There is no such user.", code="user.unknown")
    if await can_moderate(session, target, stream):
        raise Forbidden("Moderators cannot be muted or banned.", code="chat.cannot_sanction_moderator")
    assert stream.id is not None
    until: datetime | None = utcnow() + timedelta(minutes=minutes) if minutes else None
    await session.exec(
        delete(Sanction).where(
            col(Sanction.stream_id) == stream.id,
            col(Sanction.user_id) == user_id,
            col(Sanction.kind) == kind.value,
        )
    )
    row = Sanction(
        stream_id=stream.id, user_id=user_id, kind=kind.value, until=until, created_by=moderator.id
    )
    session.add(row)
    audit.record(
        session,
        f"chat.{kind.value}",
        actor_id=moderator.id,
        target=f"user:{user_id}",
        stream=stream.id,
        until=until,
    )
    try:
        await session.commit()
    except IntegrityError:
        # Another moderator sanctioned the same user at the same moment; theirs stands.
        await session.rollback()
        raise Conflict(
            "This user was just sanctioned by someone else.", code="chat.sanction_conflict"
        ) from None
    return row


async def lift(
    session: AsyncSession, stream: Stream, moderator: User, *, user_id: int, kind: SanctionKind | None
) -> None:
    """Lift a user's mute, ban, or (``kind`` None) both."""
    await require_moderator(session, moderator, stream)
    statement = delete(Sanction).where(col(Sanction.stream_id) == stream.id, col(Sanction.user_id) == user_id)
    if kind is not None:
        statement = statement.where(col(Sanction.kind) == kind.value)
    await session.exec(statement)
    audit.record(
        session,
        "chat.sanction_lifted",
        actor_id=moderator.id,
        target=f"user:{user_id}",
        stream=stream.id,
        kind=kind.value if kind else "all",
    )
    await session.commit()


async def set_slow_mode(
    session: AsyncSession, bus: Bus, stream: Stream, moderator: User, seconds: int
) -> int:
    """One chat line per ``seconds`` per viewer (0 turns slow mode off); moderators are exempt."""
    await require_moderator(session, moderator, stream)
    if not 0 <= seconds <= MAX_SLOW_MODE_SECONDS:
        raise Invalid(f"Slow mode is 0 to {MAX_SLOW_MODE_SECONDS} seconds.", code="chat.invalid_slow_mode")
    stream.slow_mode_seconds = seconds
    session.add(stream)
    audit.record(
        session, "chat.slow_mode", actor_id=moderator.id, target=f"stream:{stream.id}", seconds=seconds
    )
    await session.commit()
    assert stream.id is not None
    await publish_event(bus, channel(stream.id), {"kind": "chat_settings", "slow_mode_seconds": seconds})
    return seconds
