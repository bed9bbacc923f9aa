"""The bureau's departments, for the expo's team with :data:`~expo.permissions.BUREAU` (everyone
else gets 403, the signed-out the login page):

- ``/organizer/expos/{slug}/departments``: every department with its members, and a form to add one;
- ``/organizer/expos/{slug}/departments/{id}``: one department: its names, its members (added by
  the e-mail address of their account, removed with a button) and the projects it has now.

Forms show their errors beside the fields, with what was typed kept.
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
from expo.http.pages import flash, read_form, redirect, render
from expo.permissions import require_page_user
from expo.promotion import departments, departments_views, projects
from expo.promotion.services import FormInvalid, form_failure, form_values

PAGE = "/organizer/expos/{slug}/departments"
DEPARTMENT = PAGE + "/{department_id:int}"


def departments_url(slug: str, department_id: int | None = None) -> str:
    return f"/organizer/expos/{slug}/departments" + (f"/{department_id}" if department_id else "")


async def _list(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        found = await departments.with_members(session, expo)
    context: dict[str, Any] = {
        "expo": expo,
        "departments": found,
        "values": {},
        "errors": {},
        **(extra or {}),
    }
    return await render(request, "promotion/departments.html", context, status=status)


async def list_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/departments``."""
    return await _list(request, await require_page_user(request))


async def _name_form(request: Request) -> tuple[User, dict[str, str]]:
    """Who sent a department's name form, and the names it holds."""
    form = await read_form(request)
    return await require_page_user(request), form_values(form, ("name", "name_zh"))


async def create(request: Request) -> Response:
    user, values = await _name_form(request)
    try:
        async with platform(request).db.session() as session:
            expo = await projects.bureau_expo(session, request.path_params["slug"], user)
            department = await departments.create(session, expo, values, user)
    except ExpoError as exc:
        return await _list(request, user, form_failure(exc, values=values), exc.status)
    response = redirect(departments_url(expo.slug, department.id))
    flash(response, request, N_("The department was added. Now add its members."), "success")
    return response


async def _department(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        department = await departments.department_of(session, expo, path_int(request, "department_id"))
        people = await departments.members(session, department.id or 0)
        with_it = await departments_views.projects_with(session, department.id or 0)
        found = [p for p in await projects.projects(session, expo) if p.id in with_it]
    names = {
        "name": department.name,
        "name_zh": (department.translations.get("zh_Hans") or {}).get("name", ""),
    }
    context: dict[str, Any] = {
        "expo": expo,
        "department": department,
        "members": people,
        "projects": found,
        "values": names,
        "member_values": {},
        "errors": {},
        "failed": None,  # which form failed: "rename" or "member"
        **(extra or {}),
    }
    return await render(request, "promotion/department.html", context, status=status)


async def department_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/departments/{id}``."""
    return await _department(request, await require_page_user(request))


async def rename(request: Request) -> Response:
    user, values = await _name_form(request)
    try:
        async with platform(request).db.session() as session:
            expo = await projects.bureau_expo(session, request.path_params["slug"], user)
            department = await departments.department_of(session, expo, path_int(request, "department_id"))
            await departments.rename(session, expo, department, values, user)
    except FormInvalid as exc:
        return await _department(request, user, form_failure(exc, values=values, failed="rename"), exc.status)
    response = redirect(departments_url(expo.slug, department.id))
    flash(response, request, N_("The department was renamed."), "success")
    return response


async def add_member(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = form_values(form, ("email",))
    try:
        async with platform(request).db.session() as session:
            expo = await projects.bureau_expo(session, request.path_params["slug"], user)
            department = await departments.department_of(session, expo, path_int(request, "department_id"))
            await departments.add_member(session, expo, department, values["email"], user)
    except ExpoError as exc:
        extra = form_failure(exc, member_values=values, failed="member")
        return await _department(request, user, extra, exc.status)
    response = redirect(departments_url(expo.slug, department.id) + "#members")
    flash(response, request, N_("The member was added to the department."), "success")
    return response


async def remove_member(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        department = await departments.department_of(session, expo, path_int(request, "department_id"))
        await departments.remove_member(session, expo, department, path_int(request, "user_id"), user)
    response = redirect(departments_url(expo.slug, department.id) + "#members")
    flash(response, request, N_("The member was taken out of the department."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route(PAGE, list_page, methods=["GET"]),
    Route(PAGE, create, methods=["POST"]),
    Route(DEPARTMENT, department_page, methods=["GET"]),
    Route(DEPARTMENT, rename, methods=["POST"]),
    Route(DEPARTMENT + "/members", add_member, methods=["POST"]),
    Route(DEPARTMENT + "/members/{user_id:int}/remove", remove_member, methods=["POST"]),
]
