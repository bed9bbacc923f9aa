"""The investor's side of project filing, under the promotion site (signed-in users; the signed-out
are sent to the login page):

- ``/expos/{slug}/invest/projects``: "My projects", each with its stage;
- ``/expos/{slug}/invest/projects/new``: the filing form (errors beside the fields);
- ``/expos/{slug}/invest/projects/{id}``: one project, its moves along the pipeline, its PDFs and
  a form to attach another (through the checked upload path, :mod:`expo.uploads`);
- ``/expos/{slug}/invest/projects/{id}/files/{file_id}``: an attachment, to its investor, the
  bureau and the departments the project was circulated to.

The bureau's team opens the same project pages; its board is :mod:`expo.promotion.projects_board`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from expo import uploads
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError
from expo.expos import services as expos
from expo.http.api import path_int
from expo.http.pages import flash, page_locale, read_form, redirect, render
from expo.i18n import country_choices
from expo.permissions import may_run_promotion, require_page_user
from expo.promotion import departments_circulation, filing_questions, project_rooms_signing, projects
from expo.promotion.pages import view_helpers
from expo.promotion.services import form_failure

PAGE = "/expos/{slug}/invest/projects"


def project_url(slug: str, project_id: int | None = None) -> str:
    return f"/expos/{slug}/invest/projects" + (f"/{project_id}" if project_id is not None else "")


def helpers(locale: str) -> dict[str, Any]:
    return {
        **view_helpers(),
        "stages": projects.STAGES,
        "stage_of": projects.stage,
        "currency_choices": [(c, c) for c in projects.CURRENCIES],
        "country_names": dict(country_choices(locale)),
        "country_choices": country_choices(locale),
    }


def _values(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


async def my_projects(request: Request) -> Response:
    """``/expos/{slug}/invest/projects``: the signed-in investor's projects with this expo."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        found = await projects.my_projects(session, expo, user)
    context = {"expo": expo, "projects": found, **helpers(await page_locale(request))}
    return await render(request, "promotion/projects_mine.html", context)


async def _filing_form(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        asked = await filing_questions.questions(session, expo)
    context: dict[str, Any] = {
        "expo": expo,
        "values": {"currency": "CNY"},
        "errors": {},
        "questions": asked,
        "answers": {},
        **filing_questions.page_helpers(locale),
        **helpers(locale),
        **(extra or {}),
    }
    return await render(request, "promotion/project_form.html", context, status=status)


async def filing_form(request: Request) -> Response:
    """``/expos/{slug}/invest/projects/new``."""
    await require_page_user(request)
    return await _filing_form(request)


async def file_project(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = _values(form)
    answers = filing_questions.submitted(form)
    try:
        async with platform(request).db.session() as session:
            expo = await expos.get_expo(session, request.path_params["slug"])
            project = await projects.file_project(session, expo, values, user, answers)
    except ExpoError as exc:
        return await _filing_form(request, form_failure(exc, values=values, answers=answers), exc.status)
    response = redirect(project_url(expo.slug, project.id))
    flash(response, request, N_("Your project was filed. The bureau will be in touch."), "success")
    return response


async def _project_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        project, st = await projects.visible_project(session, expo, path_int(request, "project_id"), user)
        asked = await filing_questions.questions(session, expo)
        changes = await projects.history(session, project, moves_only=True)
        attached = await projects.files(session, project)
        rooms = await project_rooms_signing.page_context(session, expo, project, user, bureau=False)
    context: dict[str, Any] = {
        **rooms,
        "expo": expo,
        "project": project,
        "changes": changes,
        "files": attached,
        "bureau": may_run_promotion(st),
        "upload_mib": platform(request).settings.upload_max_bytes >> 20,
        "filing_answers": filing_questions.shown(asked, project.answers, locale),
        **helpers(locale),
        **(extra or {}),
    }
    return await render(request, "promotion/project.html", context, status=status)


async def project_page(request: Request) -> Response:
    """``/expos/{slug}/invest/projects/{id}``: the project and where it stands."""
    return await _project_page(request, await require_page_user(request))


async def attach_file(request: Request) -> Response:
    """A PDF for the project, from its investor or the bureau."""
    user = await require_page_user(request)
    p = platform(request)
    slug, project_id = request.path_params["slug"], path_int(request, "project_id")
    # Who may upload is checked before the body is read: a stranger's file never reaches the disk.
    async with p.db.session() as session:
        expo = await expos.get_expo(session, slug)
        await projects.visible_project(session, expo, project_id, user)
    received: uploads.Received | None = None
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        filename = received.filename
        stored = await uploads.store(p.settings, received)
        async with p.db.session() as session:
            expo = await expos.get_expo(session, slug)
            project, _ = await projects.visible_project(session, expo, project_id, user)
            await projects.attach(session, project, stored, filename, user)
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _project_page(request, user, {"upload_error": exc.message}, exc.status)
    finally:
        if received is not None:
            await received.discard()
    response = redirect(project_url(slug, project_id) + "#files")
    flash(response, request, N_("The file was attached."), "success")
    return response


async def download_file(request: Request) -> Response:
    """An attachment, to the project's investor, the bureau and the departments the project was
    circulated to (never cached by others)."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        project_id = path_int(request, "project_id")
        project = await departments_circulation.readable_project(session, expo, project_id, user)
        attached = await projects.file_of(session, project, path_int(request, "file_id"))
    path = uploads.media_path(platform(request).settings, attached.name)
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=attached.filename or "attachment.pdf",
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


ROUTES: list[BaseRoute] = [
    # Before the promotion site's module pages: "projects" is not a module.
    Route(PAGE, my_projects, methods=["GET"]),
    Route(PAGE, file_project, methods=["POST"]),
    Route(PAGE + "/new", filing_form, methods=["GET"]),
    Route(PAGE + "/{project_id:int}", project_page, methods=["GET"]),
    Route(PAGE + "/{project_id:int}/files", attach_file, methods=["POST"]),
    Route(PAGE + "/{project_id:int}/files/{file_id:int}", download_file, methods=["GET"]),
]
