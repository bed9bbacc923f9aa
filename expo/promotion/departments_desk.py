"""The departments' side of a project's circulation (members of the bureau's departments, who need
not be on the expo's team, and the bureau itself):

- ``/my/departments``: "My department's projects": the steps of the caller's departments, open
  ones first, overdue and due soonest first (403 for anyone in no department);
- ``/expos/{slug}/departments/projects/{id}``: one project as its departments see it: the facts,
  every step of its circulation with its task, due date, status and comments, and the forms to
  accept a step, comment, hand the project over or mark the step done; the bureau also sends the
  project to a department from here;
- ``POST .../steps/{step_id}/accept|comments|handover|done`` and ``POST .../projects/{id}/circulate``.

Each step form carries the step's version (the bureau's assignment the project's): when someone
changed it after the page was drawn, the page is drawn again as it is now, with a 409 and a message.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.accounts.work_links import NavLink, WorkLinks
from expo.auth import platform
from expo.db import utcnow
from expo.errors import N_, ExpoError, Forbidden
from expo.expos.services import get_expo
from expo.http.api import path_int
from expo.http.pages import flash, page_locale, read_form, redirect, render
from expo.i18n import localized
from expo.permissions import may_run_promotion, require_page_user
from expo.promotion import departments, departments_circulation, departments_views, projects
from expo.promotion.departments_letters import CirculationLetters, desk_url
from expo.promotion.projects_pages import helpers
from expo.promotion.services import form_failure, form_version

MINE = departments.MY_DESK[0]
PROJECT = "/expos/{slug}/departments/projects/{project_id:int}"
STEP = "/expos/{slug}/departments/steps/{step_id:int}"
TASK_FIELDS = ("department_id", "note", "due_date")


MINE_LINK = departments.MY_DESK


class DeskLinks(WorkLinks):
    """The header link to "My department's projects", for an account in a department."""

    async def links(self, session: AsyncSession, user: User) -> list[NavLink]:
        return await departments.work_links(session, user)


async def mine_page(request: Request) -> Response:
    """``/my/departments``: what is assigned to the caller's departments, overdue first."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        await departments.require_member(session, user)
        found = await departments_views.assigned_to(session, user)
    context = {"assigned": found, "step_statuses": departments_views.STATUSES, "work_links": [MINE_LINK]}
    return await render(request, "promotion/departments_mine.html", context)


async def _project(
    request: Request, user: User, project_id: int, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        project, st, mine = await departments_circulation.workable_project(session, expo, project_id, user)
        steps = await departments_views.steps(session, project)
        choices = await departments.departments(session, expo)
        attached = await projects.files(session, project)
    bureau = may_run_promotion(st)
    locale = await page_locale(request)
    context: dict[str, Any] = {
        "expo": expo,
        "project": project,
        "steps": steps,
        "files": attached,
        "work_links": [MINE_LINK] if mine else [],
        "bureau": bureau,
        "mine": mine,
        "department_choices": [(str(d.id), localized(d, "name", locale)) for d in choices],
        "circulation_today": utcnow().date(),
        "step_statuses": departments_views.STATUSES,
        "values": {},
        "errors": {},
        "failed": None,  # which form failed: "circulate", or "<kind>-<step id>"
        **helpers(locale),
        **(extra or {}),
    }
    return await render(request, "promotion/department_project.html", context, status=status)


async def project_page(request: Request) -> Response:
    """``/expos/{slug}/departments/projects/{id}``."""
    return await _project(request, await require_page_user(request), path_int(request, "project_id"))


async def circulate(request: Request) -> Response:
    """The bureau sends the project to a department with a task and a due date."""
    form = await read_form(request)
    user = await require_page_user(request)
    p = platform(request)
    values = {name: str(form.get(name, "")) for name in TASK_FIELDS}
    try:
        async with p.db.session() as session:
            expo = await get_expo(session, request.path_params["slug"])
            project, st, _ = await departments_circulation.workable_project(
                session, expo, path_int(request, "project_id"), user
            )
            if not may_run_promotion(st):
                raise Forbidden(
                    N_("Only the bureau sends projects to departments."), code="promotion.forbidden"
                )
            letters = CirculationLetters(p.settings)
            await departments_circulation.circulate(
                session, expo, project, values, form_version(form), user, letters
            )
    except ExpoError as exc:
        extra = form_failure(exc, failed="circulate", values=values)
        return await _project(request, user, path_int(request, "project_id"), extra, exc.status)
    response = redirect(desk_url(expo.slug, project.id) + "#circulation")
    flash(response, request, N_("The project was sent to the department."), "success")
    return response


async def _step_action(request: Request, kind: str) -> Response:
    """Accept, comment on, hand over or close a step; on a mistake the project page is drawn
    again with the error beside the step's form."""
    form = await read_form(request)
    user = await require_page_user(request)
    p = platform(request)
    values = {name: str(form.get(name, "")) for name in (*TASK_FIELDS, "body")}
    step_id = path_int(request, "step_id")
    try:
        async with p.db.session() as session:
            expo = await get_expo(session, request.path_params["slug"])
            step, project = await departments_circulation.workable_step(session, expo, step_id, user)
            if kind == "accept":
                await departments_circulation.accept(session, project, step, form_version(form), user)
            elif kind == "comment":
                await departments_circulation.comment(session, project, step, values["body"], user)
            elif kind == "handover":
                letters = CirculationLetters(p.settings)
                await departments_circulation.hand_over(
                    session, expo, project, step, values, form_version(form), user, letters
                )
            else:
                await departments_circulation.mark_done(session, project, step, form_version(form), user)
    except ExpoError as exc:
        extra = form_failure(exc, failed=f"{kind}-{step_id}", values=values)
        return await _project(request, user, project.id or 0, extra, exc.status)
    response = redirect(desk_url(expo.slug, project.id) + f"#step-{step_id}")
    flash(response, request, _DONE[kind], "success")
    return response


_DONE = {
    "accept": N_("You took the project on."),
    "comment": N_("The comment was added."),
    "handover": N_("The project was handed over."),
    "done": N_("The step was marked done."),
}


async def accept(request: Request) -> Response:
    return await _step_action(request, "accept")


async def comment(request: Request) -> Response:
    return await _step_action(request, "comment")


async def hand_over(request: Request) -> Response:
    return await _step_action(request, "handover")


async def done(request: Request) -> Response:
    return await _step_action(request, "done")


ROUTES: list[BaseRoute] = [
    Route(MINE, mine_page, methods=["GET"]),
    Route(PROJECT, project_page, methods=["GET"]),
    Route(PROJECT + "/circulate", circulate, methods=["POST"]),
    Route(STEP + "/accept", accept, methods=["POST"]),
    Route(STEP + "/comments", comment, methods=["POST"]),
    Route(STEP + "/handover", hand_over, methods=["POST"]),
    Route(STEP + "/done", done, methods=["POST"]),
]
