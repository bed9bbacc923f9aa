"""Chat, Q&A, likes and moderation API of a broadcast, and who may listen on its channel.

Routes are thin: look the stream up, check who is asking, call :mod:`streaming.chat`.
Reading (history, questions) follows the stream's visibility; writing needs a signed-in user.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Literal

from pydantic import Field
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.routing import BaseRoute

from expo import realtime
from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.errors import ExpoError
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import Id
from expo.realtime import Realtime
from streaming import chat, services
from streaming.hls_access import HlsGate
from streaming.models import MessageKind, SanctionKind, Stream

_STREAM_CHANNEL = re.compile(r"^stream:([1-9][0-9]{0,17})$")
OPEN_TO_ALL_SECONDS = 5.0
"""How long this process remembers that anyone, signed in or not, may listen to a stream."""


def _open_to_all(conn: HTTPConnection) -> dict[int, float]:
    """This app's stream id -> monotonic deadline of "anyone may listen".

    When a broadcast starts, thousands of anonymous pages subscribe within seconds; remembering
    the answer spares each a store round trip. Turning a stream registered-only thus reaches new
    anonymous subscribers within :data:`OPEN_TO_ALL_SECONDS`.
    """
    state = conn.app.state
    known: dict[int, float] | None = getattr(state, "streams_open_to_all", None)
    if known is None:
        known = state.streams_open_to_all = {}
    return known


# -- the realtime channel ------------------------------------------------------------------


async def may_listen(user: User | None, channel: str) -> bool:
    """``stream:{id}``: anyone for a public stream, signed-in users for a registered-only one,
    never a banned user."""
    match = _STREAM_CHANNEL.match(channel)
    if match is None:
        return False
    stream_id = int(match.group(1))
    conn = realtime.current_connection()
    known = _open_to_all(conn)
    now = time.monotonic()
    if user is None and known.get(stream_id, 0.0) > now:
        return True
    async with platform(conn).db.session() as session:
        stream = await session.get(Stream, stream_id)
        if stream is None:
            return False
        try:
            await chat.check_can_watch(session, stream, user)
        except ExpoError:
            return False
    if services.can_watch(None, stream):
        if len(known) > 10_000:
            known.clear()
        known[stream_id] = now + OPEN_TO_ALL_SECONDS
    return True


def register_channels(pages: Realtime) -> None:
    """Let pages subscribe to ``stream:{id}`` (called by :func:`expo.app.create_app`)."""
    pages.allow_prefix("stream:", may_listen)


# -- bodies ------------------------------------------------------------------------------------


class MessageIn(Schema):
    body: str = Field(description=f"Plain text, 1 to {chat.MAX_BODY} characters after trimming.")


class Author(Schema):
    id: int | None
    name: str


class MessageOut(Schema):
    kind: Literal["chat", "question"]
    id: int
    user: Author
    body: str = Field(description="Plain text as typed: escape it when you display it.")
    created_at: datetime
    votes: int | None = None
    answered: bool | None = None
    voted: bool | None = Field(default=None, description="Questions: whether you up-voted it.")


class HistoryQuery(Schema):
    before: Id | None = Field(default=None, description="Only messages older than this id.")
    limit: int = Field(default=chat.HISTORY_LIMIT, ge=1, le=chat.MAX_HISTORY_LIMIT)


class HistoryOut(Schema):
    items: list[MessageOut] = Field(description="Oldest first.")
    has_more: bool


class QuestionsOut(Schema):
    items: list[MessageOut] = Field(description="Most votes first.")


class VotesOut(Schema):
    id: int
    votes: int


class LikesOut(Schema):
    likes: int


class SanctionIn(Schema):
    user_id: Id
    kind: Literal["mute", "ban"]
    minutes: int | None = Field(
        default=None, ge=1, le=chat.MAX_SANCTION_MINUTES, description="Empty: until lifted."
    )


class SanctionOut(Schema):
    user_id: int
    kind: Literal["mute", "ban"]
    until: datetime | None


class LiftQuery(Schema):
    kind: Literal["mute", "ban"] | None = Field(default=None, description="Empty: lift both.")


class ChatSettingsIn(Schema):
    slow_mode_seconds: int = Field(ge=0, le=chat.MAX_SLOW_MODE_SECONDS)


class ChatSettingsOut(Schema):
    slow_mode_seconds: int


# -- handlers -----------------------------------------------------------------------------------


async def _viewable(conn: HTTPConnection, session: AsyncSession, stream_id: int) -> Stream:
    stream = await services.get_stream(session, stream_id)
    await chat.check_can_watch(session, stream, await current_user(conn))
    return stream


async def post_chat(request: Request, body: MessageIn, user: User) -> MessageOut:
    """Send a chat line (rate limited; slow mode applies; muted and banned users are refused)."""
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        event = await chat.post(session, p.bus, stream, user, body.body, MessageKind.CHAT)
    return MessageOut.model_validate(event)


async def chat_history(request: Request, query: HistoryQuery) -> HistoryOut:
    """Chat history, page by page backwards with ``before``."""
    async with platform(request).db.session() as session:
        stream = await _viewable(request, session, path_int(request, "stream_id"))
        page = await chat.history(session, stream, before=query.before, limit=query.limit)
    return HistoryOut(items=[MessageOut.model_validate(m) for m in page.items], has_more=page.has_more)


async def delete_chat(request: Request, user: User) -> None:
    """Delete a chat line or question (moderators)."""
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        await chat.delete_message(session, p.bus, stream, user, path_int(request, "message_id"))


async def post_question(request: Request, body: MessageIn, user: User) -> MessageOut:
    """Ask a question in the Q&A."""
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        event = await chat.post(session, p.bus, stream, user, body.body, MessageKind.QUESTION)
    return MessageOut.model_validate(event)


async def list_questions(request: Request) -> QuestionsOut:
    """The Q&A, most up-voted first."""
    async with platform(request).db.session() as session:
        stream = await _viewable(request, session, path_int(request, "stream_id"))
        items = await chat.questions(session, stream, await current_user(request))
    return QuestionsOut(items=[MessageOut.model_validate(q) for q in items])


async def vote_question(request: Request, user: User) -> VotesOut:
    """Up-vote a question; once per person (voting again changes nothing)."""
    p = platform(request)
    question_id = path_int(request, "question_id")
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        votes = await chat.vote(session, p.bus, stream, user, question_id)
    return VotesOut(id=question_id, votes=votes)


async def answer_question(request: Request, user: User) -> None:
    """Mark a question answered (moderators)."""
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        await chat.mark_answered(session, p.bus, stream, user, path_int(request, "question_id"))


async def like(request: Request, user: User) -> LikesOut:
    """Like the broadcast (rate limited per person)."""
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        likes = await chat.like(session, p.bus, stream, user)
    return LikesOut(likes=likes)


async def add_sanction(request: Request, body: SanctionIn, user: User) -> SanctionOut:
    """Mute (may watch, not write) or ban (may neither) a user, for some minutes or until lifted."""
    async with platform(request).db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        row = await chat.sanction(
            session, stream, user, user_id=body.user_id, kind=SanctionKind(body.kind), minutes=body.minutes
        )
    await platform(request).get(HlsGate).forget_stream(row.stream_id)  # a ban ends HLS playback now
    return SanctionOut(user_id=row.user_id, kind=body.kind, until=row.until)


async def lift_sanction(request: Request, query: LiftQuery, user: User) -> None:
    """Lift a user's mute or ban (or both)."""
    async with platform(request).db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        kind = SanctionKind(query.kind) if query.kind else None
        await chat.lift(session, stream, user, user_id=path_int(request, "user_id"), kind=kind)
    await platform(request).get(HlsGate).forget_stream(path_int(request, "stream_id"))


async def chat_settings(request: Request, body: ChatSettingsIn, user: User) -> ChatSettingsOut:
    """Set slow mode: each viewer may send one chat line per so many seconds (0: off)."""
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        seconds = await chat.set_slow_mode(session, p.bus, stream, user, body.slow_mode_seconds)
    return ChatSettingsOut(slow_mode_seconds=seconds)


_S = "/api/streams/{stream_id:int}"
_TAGS = ["chat"]

ROUTES: list[BaseRoute] = [
    Endpoint(f"{_S}/chat", chat_history, query=HistoryQuery, response=HistoryOut, tags=_TAGS),
    Endpoint(
        f"{_S}/chat",
        post_chat,
        method="POST",
        body=MessageIn,
        auth="user",
        response=MessageOut,
        status=201,
        tags=_TAGS,
    ),
    Endpoint(
        f"{_S}/chat/{{message_id:int}}", delete_chat, method="DELETE", auth="user", status=204, tags=_TAGS
    ),
    Endpoint(f"{_S}/questions", list_questions, response=QuestionsOut, tags=_TAGS),
    Endpoint(
        f"{_S}/questions",
        post_question,
        method="POST",
        body=MessageIn,
        auth="user",
        response=MessageOut,
        status=201,
        tags=_TAGS,
    ),
    Endpoint(
        f"{_S}/questions/{{question_id:int}}/vote",
        vote_question,
        method="POST",
        auth="user",
        response=VotesOut,
        tags=_TAGS,
    ),
    Endpoint(
        f"{_S}/questions/{{question_id:int}}/answered",
        answer_question,
        method="POST",
        auth="user",
        status=204,
        tags=_TAGS,
    ),
    Endpoint(f"{_S}/like", like, method="POST", auth="user", response=LikesOut, tags=_TAGS),
    Endpoint(
        f"{_S}/sanctions",
        add_sanction,
        method="POST",
        body=SanctionIn,
        auth="user",
        response=SanctionOut,
        status=201,
        tags=_TAGS,
    ),
    Endpoint(
        f"{_S}/sanctions/{{user_id:int}}",
        lift_sanction,
        method="DELETE",
        query=LiftQuery,
        auth="user",
        status=204,
        tags=_TAGS,
    ),
    Endpoint(
        f"{_S}/chat-settings",
        chat_settings,
        method="PATCH",
        body=ChatSettingsIn,
        auth="user",
        response=ChatSettingsOut,
        tags=_TAGS,
    ),
]
