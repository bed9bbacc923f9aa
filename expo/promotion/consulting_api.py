"""The consulting API (``{c}`` is ``/api/expos/{slug}/consulting``):

- ``POST {c}/threads`` ``{"category", "subject", "body"}`` → 201 the new thread (any signed-in
  user asks; the bureau is e-mailed);
- ``GET {c}/threads`` → the caller's own threads; ``GET {c}/inbox`` → every thread of the expo
  (its team with ``expo.change``), those waiting for an answer first;
- ``GET {c}/threads/{id}`` → a thread with its messages, and ``POST {c}/threads/{id}/messages``
  ``{"body"}`` → 201 the message (the investor who asked and the team; 404 for anyone else).

Refusals: 422 ``promotion.invalid`` with ``details`` ``[{"field", "message"}]``, 404
``consulting.unknown_thread``, 403 ``consulting.forbidden``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import Invalid
from expo.expos import services as expos
from expo.http.api import Endpoint, Schema, path_int
from expo.promotion import consulting
from expo.promotion.models import ConsultingThread
from expo.promotion.services import FormInvalid

_TAGS = ["promotion"]
Category = Literal["tax", "land", "talent", "licensing", "other"]


class QuestionIn(Schema):
    category: Category
    subject: str = Field(min_length=1, max_length=consulting.MAX_SUBJECT)
    body: str = Field(min_length=1, max_length=consulting.MAX_BODY)


class MessageIn(Schema):
    body: str = Field(min_length=1, max_length=consulting.MAX_BODY)


class MessageOut(Schema):
    id: int
    from_team: bool = Field(description="written by the bureau's team (else by the investor)")
    author: str = Field(description="the author's name; empty once their account is gone")
    body: str
    created_at: datetime


class ThreadOut(Schema):
    id: int
    category: Category
    subject: str
    answered: bool = Field(description="the team wrote the last message")
    created_at: datetime
    first_answered_at: datetime | None = Field(description="when the team first answered")
    last_message_at: datetime
    url: str = Field(description="the thread's page")
    messages: list[MessageOut] | None = Field(default=None, description="in a single thread's answer")


class ThreadsOut(Schema):
    items: list[ThreadOut]


@contextmanager
def _as_api_errors() -> Iterator[None]:
    """A form's per-field messages as the API's ``details`` list."""
    try:
        yield
    except FormInvalid as exc:
        details = [{"field": name, "message": message} for name, message in exc.errors.items()]
        raise Invalid(exc.message, code=exc.code, details=details) from None


def _thread_out(
    slug: str, thread: ConsultingThread, found: list[consulting.Message] | None = None
) -> ThreadOut:
    assert thread.id is not None
    return ThreadOut(
        id=thread.id,
        category=thread.category,  # stored from the checked list
        subject=thread.subject,
        answered=thread.answered,
        created_at=thread.created_at,
        first_answered_at=thread.first_answered_at,
        last_message_at=thread.last_message_at,
        url=f"/expos/{slug}/invest/consulting/questions/{thread.id}",
        messages=None if found is None else [_message_out(m) for m in found],
    )


def _message_out(found: consulting.Message) -> MessageOut:
    m = found.message
    assert m.id is not None
    author = found.author.name if found.author is not None else ""
    return MessageOut(id=m.id, from_team=m.from_team, author=author, body=m.body, created_at=m.created_at)


def _letters(request: Request) -> consulting.ConsultingLetters:
    return consulting.ConsultingLetters(platform(request).settings)


async def ask(request: Request, body: QuestionIn, user: User) -> ThreadOut:
    """Ask the expo's bureau a question."""
    slug = request.path_params["slug"]
    with _as_api_errors():
        async with platform(request).db.session() as session:
            expo = await expos.get_expo(session, slug)
            thread = await consulting.ask(session, expo, user, body.model_dump(), _letters(request))
            return _thread_out(slug, thread)


async def my_threads(request: Request, user: User) -> ThreadsOut:
    """Your questions to the expo's bureau, the most recently active first."""
    slug = request.path_params["slug"]
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, slug)
        found = await consulting.my_threads(session, expo, user)
    return ThreadsOut(items=[_thread_out(slug, t) for t in found])


async def inbox(request: Request, user: User) -> ThreadsOut:
    """Every question to the expo's bureau, those waiting for an answer first (its team)."""
    slug = request.path_params["slug"]
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, slug)
        await consulting.require_bureau(session, expo, user)
        found = await consulting.inbox(session, expo)
    return ThreadsOut(items=[_thread_out(slug, t) for t, _ in found])


async def thread(request: Request, user: User) -> ThreadOut:
    """One thread with its messages, oldest first."""
    slug = request.path_params["slug"]
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, slug)
        found = await consulting.thread_of(session, expo, path_int(request, "thread_id"), user)
        return _thread_out(slug, found, await consulting.messages(session, found))


async def add_message(request: Request, body: MessageIn, user: User) -> MessageOut:
    """Write in a thread: the bureau's answer, or the investor's follow-up."""
    with _as_api_errors():
        async with platform(request).db.session() as session:
            expo = await expos.get_expo(session, request.path_params["slug"])
            found = await consulting.thread_of(session, expo, path_int(request, "thread_id"), user)
            message = await consulting.add_message(
                session, expo, found, user, body.model_dump(), _letters(request)
            )
            return _message_out(consulting.Message(message, user))


C = "/api/expos/{slug}/consulting"
ROUTES: list[BaseRoute] = [
    Endpoint(
        C + "/threads",
        ask,
        method="POST",
        body=QuestionIn,
        response=ThreadOut,
        status=201,
        auth="user",
        tags=_TAGS,
        name="consulting_ask",
    ),
    Endpoint(
        C + "/threads", my_threads, response=ThreadsOut, auth="user", tags=_TAGS, name="consulting_mine"
    ),
    Endpoint(C + "/inbox", inbox, response=ThreadsOut, auth="user", tags=_TAGS, name="consulting_inbox"),
    Endpoint(
        C + "/threads/{thread_id:int}",
        thread,
        response=ThreadOut,
        auth="user",
        tags=_TAGS,
        name="consulting_thread",
    ),
    Endpoint(
        C + "/threads/{thread_id:int}/messages",
        add_message,
        method="POST",
        body=MessageIn,
        response=MessageOut,
        status=201,
        auth="user",
        tags=_TAGS,
        name="consulting_message",
    ),
]
