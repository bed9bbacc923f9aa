"""The bureau's pipeline board (the expo's team with :data:`~expo.permissions.BUREAU`;
everyone else gets 403, the signed-out the login page):

- ``/organizer/expos/{slug}/projects``: one column per stage, each project with its owner, due
  date and a form to move it to the stages the pipeline allows;
- ``/organizer/expos/{slug}/projects/{id}``: one project: move, owner and due date, comments, its
  attachments and the history of every change;
- ``/organizer/expos/{slug}/projects.csv``: every project, for a spreadsheet.

Each move or assignment form carries the project's version: when another organizer changed the
project after the page was drawn, the page is drawn again as it is now, with a 409 and a message.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError
from expo.http.api import path_int
from expo.http.pages import flash, page_locale, read_form, redirect, render
from expo.permissions import require_page_user
from expo.promotion import (
    departments,
    departments_views,
    filing_questions,
    project_rooms_signing,
    projects,
    reminders,
)
from expo.promotion.projects_api import csv_response
from expo.promotion.projects_pages import helpers
from expo.promotion.services import FormInvalid, form_failure, form_version

BOARD = "/organizer/expos/{slug}/projects"


def board_url(slug: str, project_id: int | None = None) -> str:
    return f"/organizer/expos/{slug}/projects" + (f"/{project_id}" if project_id is not None else "")


async def _board(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        found = await projects.projects(session, expo)
        found, circulation = await departments_views.board_context(
            session, expo, found, request.query_params.get("department", "")
        )
        people = await projects.users_by_id(session, {p.owner_id for p in found})
        work = await departments.work_links(session, user)
    context: dict[str, Any] = {
        **circulation,
        "work_links": work,
        "expo": expo,
        "columns": projects.board(found),
        "people": people,
        "moves": projects.MOVES,
        # Flagged on their cards: due before today in the expo's time zone, still open.
        "overdue": {p.id for p in found if reminders.is_overdue(p, reminders.expo_today(expo))},
        **helpers(await page_locale(request)),
        **(extra or {}),
    }
    return await render(request, "promotion/project_board.html", context, status=status)


async def board_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/projects``."""
    return await _board(request, await require_page_user(request))


async def _detail(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        project = await projects.managed_project(session, expo, path_int(request, "project_id"))
        changes = await projects.history(session, project)
        notes = await projects.comments(session, project)
        attached = await projects.files(session, project)
        members = await projects.team_members(session, expo)
        ids = {
            project.investor_id,
            project.owner_id,
            *(c.actor_id for c in changes),
            *(c.detail.get("owner") for c in changes),
            *(n.author_id for n in notes),
        }
        people = await projects.users_by_id(session, ids)
        rooms = await project_rooms_signing.page_context(session, expo, project, user, bureau=True)
        circulation = await departments_views.detail_context(session, expo, project)
        asked = await filing_questions.questions(session, expo)
    locale = await page_locale(request)
    context: dict[str, Any] = {
        **rooms,
        **circulation,
        "expo": expo,
        "project": project,
        "changes": changes,
        "comments": notes,
        "files": attached,
        "member_choices": [(str(m.id), m.name or m.email) for m in members],
        "people": people,
        "moves": projects.MOVES,
        "assignment": {
            "owner_id": str(project.owner_id or ""),
            "due_date": project.due_date.isoformat() if project.due_date else "",
        },
        "comment_values": {},
        "errors": {},
        "failed": None,  # which form failed: "move", "assign" or "comment"
        "filing_answers": filing_questions.shown(asked, project.answers, locale),
        **helpers(locale),
        **(extra or {}),
    }
    return await render(request, "promotion/project_detail.html", context, status=status)


async def detail_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/projects/{id}``."""
    return await _detail(request, await require_page_user(request))


async def move(request: Request) -> Response:
    """Move a project; from the board (``back=board``) or its own page."""
    form = await read_form(request)
    user = await require_page_user(request)
    slug, project_id = request.path_params["slug"], path_int(request, "project_id")
    on_board = form.get("back") == "board"
    try:
        async with platform(request).db.session() as session:
            expo = await projects.bureau_expo(session, slug, user)
            project = await projects.managed_project(session, expo, project_id)
            await projects.move(session, project, str(form.get("stage", "")), form_version(form), user)
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        extra: dict[str, Any] = {"form_error": exc.message, "failed": "move"}
        if on_board:
            return await _board(request, user, extra, exc.status)
        return await _detail(request, user, extra, exc.status)
    response = redirect(
        board_url(slug) + f"#project-{project_id}" if on_board else board_url(slug, project_id)
    )
    flash(response, request, N_("The project was moved."), "success")
    return response


async def assign(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug, project_id = request.path_params["slug"], path_int(request, "project_id")
    values = {k: str(form.get(k, "")) for k in ("owner_id", "due_date")}
    try:
        async with platform(request).db.session() as session:
            expo = await projects.bureau_expo(session, slug, user)
            project = await projects.managed_project(session, expo, project_id)
            await projects.assign(session, expo, project, values, form_version(form), user)
    except ExpoError as exc:
        extra = form_failure(exc, failed="assign")
        if isinstance(exc, FormInvalid):
            extra["assignment"] = values
        return await _detail(request, user, extra, exc.status)
    response = redirect(board_url(slug, project_id))
    flash(response, request, N_("The owner and due date were saved."), "success")
    return response


async def comment(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug, project_id = request.path_params["slug"], path_int(request, "project_id")
    body = str(form.get("body", ""))
    try:
        async with platform(request).db.session() as session:
            expo = await projects.bureau_expo(session, slug, user)
            project = await projects.managed_project(session, expo, project_id)
            await projects.add_comment(session, project, body, user)
    except FormInvalid as exc:
        extra = {"errors": exc.errors, "failed": "comment", "comment_values": {"body": body}}
        return await _detail(request, user, extra, exc.status)
    response = redirect(board_url(slug, project_id) + "#comments")
    flash(response, request, N_("The comment was added."), "success")
    return response


async def export(request: Request) -> Response:
    """``/organizer/expos/{slug}/projects.csv``."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        text = await projects.export(session, expo)
    return csv_response(text, expo.slug)


PROJECT = BOARD + "/{project_id:int}"
ROUTES: list[BaseRoute] = [
    Route(BOARD, board_page, methods=["GET"]),
    Route(BOARD + ".csv", export, methods=["GET"]),
    Route(PROJECT, detail_page, methods=["GET"]),
    Route(PROJECT + "/move", move, methods=["POST"]),
    Route(PROJECT + "/assign", assign, methods=["POST"]),
    Route(PROJECT + "/comments", comment, methods=["POST"]),
]
