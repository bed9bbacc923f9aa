"""The consulting service's pages:

- ``/expos/{slug}/invest/consulting/questions``: "Ask a question" (signed-in investors) and "My
  questions", their own threads; ``.../questions/{id}``: one thread, where they write again;
- ``/organizer/expos/{slug}/consulting``: the bureau's inbox of every thread of the expo (its team
  with ``expo.change``), those waiting for an answer first; ``.../consulting/{id}``: one thread
  with the answer form.

A rejected form comes back (422) with what was typed and each error beside its field.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_
from expo.expos import services as expos
from expo.http.api import path_int
from expo.http.pages import flash, read_form, redirect, render
from expo.permissions import require_page_user
from expo.promotion import consulting
from expo.promotion.services import FormInvalid

MINE = "/expos/{slug}/invest/consulting/questions"
TEAM = "/organizer/expos/{slug}/consulting"


def _values(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _letters(request: Request) -> consulting.ConsultingLetters:
    return consulting.ConsultingLetters(platform(request).settings)


def _helpers() -> dict[str, Any]:
    return {"categories": consulting.CATEGORIES, "max_body": consulting.MAX_BODY}


# The investor's side ---------------------------------------------------------------------------------------


async def _questions(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        threads = await consulting.my_threads(session, expo, user)
    context: dict[str, Any] = {"expo": expo, "threads": threads, "values": {}, "errors": {}, **_helpers()}
    context.update(extra or {})
    return await render(request, "promotion/consulting_questions.html", context, status=status)


async def questions(request: Request) -> Response:
    """``/expos/{slug}/invest/consulting/questions``: the question form and the investor's threads."""
    return await _questions(request, await require_page_user(request))


async def ask(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = _values(form)
    try:
        async with platform(request).db.session() as session:
            expo = await expos.get_expo(session, request.path_params["slug"])
            thread = await consulting.ask(session, expo, user, values, _letters(request))
    except FormInvalid as exc:
        extra = {"values": values, "errors": exc.errors, "form_error": exc.message}
        return await _questions(request, user, extra, exc.status)
    response = redirect(MINE.format(slug=expo.slug) + f"/{thread.id}")
    flash(response, request, N_("Your question was sent to the bureau."), "success")
    return response


async def _thread_page(
    request: Request, user: User, *, team: bool, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        if team:
            await consulting.require_bureau(session, expo, user)
        thread = await consulting.thread_of(session, expo, path_int(request, "thread_id"), user)
        found = await consulting.messages(session, thread)
        investor = await session.get(User, thread.investor_id)
    base = (TEAM if team else MINE).format(slug=expo.slug)
    context: dict[str, Any] = {
        "expo": expo,
        "thread": thread,
        "entries": found,
        "investor": investor,
        "team": team,
        "back": base,
        "action": f"{base}/{thread.id}/reply",
        "values": {},
        "errors": {},
        **_helpers(),
    }
    context.update(extra or {})
    return await render(request, "promotion/consulting_thread.html", context, status=status)


async def my_thread(request: Request) -> Response:
    """``/expos/{slug}/invest/consulting/questions/{id}``: the investor's thread."""
    return await _thread_page(request, await require_page_user(request), team=False)


async def _reply(request: Request, *, team: bool) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = _values(form)
    slug, thread_id = request.path_params["slug"], path_int(request, "thread_id")
    try:
        async with platform(request).db.session() as session:
            expo = await expos.get_expo(session, slug)
            if team:
                await consulting.require_bureau(session, expo, user)
            thread = await consulting.thread_of(session, expo, thread_id, user)
            message = await consulting.add_message(session, expo, thread, user, values, _letters(request))
    except FormInvalid as exc:
        extra = {"values": values, "errors": exc.errors, "form_error": exc.message}
        return await _thread_page(request, user, team=team, extra=extra, status=exc.status)
    response = redirect((TEAM if team else MINE).format(slug=slug) + f"/{thread_id}#message-{message.id}")
    flash(response, request, N_("Your message was sent."), "success")
    return response


async def my_reply(request: Request) -> Response:
    return await _reply(request, team=False)


# The bureau's side -----------------------------------------------------------------------------------------


async def team_inbox(request: Request) -> Response:
    """``/organizer/expos/{slug}/consulting``: every question, those waiting for an answer first."""
    user = await require_page_user(request)
    waiting_only = request.query_params.get("waiting") == "1"
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        await consulting.require_bureau(session, expo, user)
        threads = await consulting.inbox(session, expo, waiting_only=waiting_only)
        waiting = await consulting.waiting_count(session, expo)
    context = {
        "expo": expo,
        "threads": threads,
        "waiting": waiting,
        "waiting_only": waiting_only,
        **_helpers(),
    }
    return await render(request, "promotion/consulting_inbox.html", context)


async def team_thread(request: Request) -> Response:
    """``/organizer/expos/{slug}/consulting/{id}``: a thread and the answer form."""
    return await _thread_page(request, await require_page_user(request), team=True)


async def team_reply(request: Request) -> Response:
    return await _reply(request, team=True)


ROUTES: list[BaseRoute] = [
    Route(MINE, questions, methods=["GET"]),
    Route(MINE, ask, methods=["POST"]),
    Route(MINE + "/{thread_id:int}", my_thread, methods=["GET"]),
    Route(MINE + "/{thread_id:int}/reply", my_reply, methods=["POST"]),
    Route(TEAM, team_inbox, methods=["GET"]),
    Route(TEAM + "/{thread_id:int}", team_thread, methods=["GET"]),
    Route(TEAM + "/{thread_id:int}/reply", team_reply, methods=["POST"]),
]
