"""The organizers' page of the bureau's own questions on the project filing form (the expo's team
with :data:`~expo.permissions.BUREAU`; everyone else gets 403, the signed-out the login page):

- ``/organizer/expos/{slug}/invest/filing-questions``: add, remove and reorder questions, each with
  its label and options in the expo's languages, of the registration form builder's kinds.

The page is the registration builder's rows for custom questions (``_questions.html``, parsed by
:func:`expo.registration.builder.custom_rows`); a refused submission is shown again as typed, with
the message beside the question at fault.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, Invalid
from expo.http.pages import flash, read_form, redirect, render
from expo.permissions import require_page_user
from expo.promotion import filing_questions
from expo.promotion import services as promo
from expo.registration import builder, forms

PAGE = "/organizer/expos/{slug}/invest/filing-questions"


def page_url(slug: str) -> str:
    return f"/organizer/expos/{slug}/invest/filing-questions"


def submitted_rows(
    form: FormData, stored: list[dict[str, Any]], languages: list[str]
) -> list[dict[str, Any]]:
    """The questions as submitted, ordered by their typed positions (ties keep the page's order);
    the one added is marked ``new``: shown again, it stays in the row that adds a question."""
    keys = {q["key"] for q in stored}
    ranked = builder.custom_rows(form, stored, languages, first=1)
    rows = [row for _, _, row in sorted((pos, i, row) for i, (pos, row) in enumerate(ranked))]
    return [{**row, "new": row["key"] not in keys} for row in rows]


async def _page(
    request: Request,
    user: User,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    async with platform(request).db.session() as session:
        expo = await promo.editable_expo(session, request.path_params["slug"], user)
        asked = await filing_questions.questions(session, expo)
    context: dict[str, Any] = {
        "expo": expo,
        "rows": asked,
        "kinds": forms.KINDS,
        "max_questions": filing_questions.MAX_QUESTIONS,
        **(extra or {}),
    }
    return await render(request, "promotion/filing_questions.html", context, status=status)


async def questions_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/invest/filing-questions``."""
    return await _page(request, await require_page_user(request))


async def save_questions(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug = request.path_params["slug"]
    rows: list[dict[str, Any]] | None = None
    try:
        async with platform(request).db.session() as session:
            expo = await promo.editable_expo(session, slug, user)
            stored = await filing_questions.questions(session, expo)
            rows = submitted_rows(form, stored, expo.language_list[1:])
            await filing_questions.save(session, expo, builder.questions_of(rows), user)
    except Invalid as exc:
        extra: dict[str, Any] = {"form_error": exc.message, "error_field": exc.extra.get("field", "")}
        if rows is not None:
            extra["rows"] = rows
        return await _page(request, user, extra, exc.status)
    response = redirect(page_url(slug))
    flash(response, request, N_("The filing questions were saved."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route(PAGE, questions_page, methods=["GET"]),
    Route(PAGE, save_questions, methods=["POST"]),
]
