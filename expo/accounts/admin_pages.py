"""The administrators' account pages: ``/organizer/users`` (search, create, change an account's type,
disable and enable) and ``/organizer/audit`` (the audit log, page by page).

Thin routes over :mod:`expo.accounts.admin`: a form that fails is shown again with its message
(and, for the create form, what was typed), and a change redirects back to the list it came from.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from expo.accounts import admin, services
from expo.accounts.api import client_of
from expo.accounts.models import Role, User
from expo.auth import forget_auth, platform
from expo.errors import N_, ExpoError
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.permissions import require_page_user

ACCOUNT_TYPES = ("visitor", "exhibitor", "organizer", "admin")


def _page_number(raw: str) -> int:
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 1_000_000 else 1


def _list_url(q: str, page: int) -> str:
    """The users list the form was sent from (its search and page), to go back to after a change."""
    query = {k: v for k, v in (("q", q), ("page", str(page) if page > 1 else "")) if v}
    return "/organizer/users" + (f"?{urlencode(query)}" if query else "")


async def _users_page(
    request: Request, user: User, *, q: str, page: int, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        found = await admin.list_users(session, q=q, page=page)
    context: dict[str, Any] = {
        "found": found,
        "q": q,
        "account_types": ACCOUNT_TYPES,
        "new_user": {},
        "back_to": _list_url(q, found.page),
    }
    context.update(extra or {})
    return await render(request, "users.html", context, status=status)


async def users(request: Request) -> Response:
    """``/organizer/users``: every account, searchable by name or e-mail, newest first."""
    user = await require_page_user(request, [Role.ADMIN])
    q = request.query_params.get("q", "").strip()[:200]
    return await _users_page(request, user, q=q, page=_page_number(request.query_params.get("page", "")))


async def create_user(request: Request) -> Response:
    """Create an account of any type: the only way to make another organizer or administrator."""
    form = await read_form(request)
    user = await require_page_user(request, [Role.ADMIN])
    values = {
        "name": form_str(form, "name", max_length=120),
        "email": form_str(form, "email", max_length=254),
        "role": form_str(form, "role", max_length=20),
    }
    password = form.get("password", "")
    try:
        async with platform(request).db.session() as session:
            await services.create_user(
                session,
                email=values["email"],
                password=password if isinstance(password, str) else "",
                name=values["name"],
                role=values["role"],
                actor_id=user.id,
                client=client_of(request),
            )
    except ExpoError as exc:
        extra = {"new_user": values, "form_error": exc.message, "form_section": "create"}
        return await _users_page(request, user, q="", page=1, extra=extra, status=exc.status)
    response = redirect("/organizer/users")
    flash(response, request, N_("Account created."), "success")
    return response


async def _change(request: Request, kind: str) -> Response:
    """Change one account's type (``kind == "role"``) or whether it may sign in (``"active"``)."""
    form = await read_form(request)
    user = await require_page_user(request, [Role.ADMIN])
    user_id = path_int(request, "user_id")
    q = form_str(form, "q", max_length=200).strip()
    page = _page_number(form_str(form, "page", max_length=10))
    try:
        async with platform(request).db.session() as session:
            if kind == "role":
                role = form_str(form, "role", max_length=20)
                target = await admin.change_role(session, user_id, role, user, client_of(request))
                message = N_("Account type changed.")
            else:
                active = form_str(form, "active", max_length=5) == "1"
                target = await admin.set_active(session, user_id, active, user, client_of(request))
                message = (
                    N_("Account enabled.") if active else N_("Account disabled: it is signed out everywhere.")
                )
        await forget_auth(request, user=target)
    except ExpoError as exc:
        extra = {"form_error": exc.message, "form_section": "list"}
        return await _users_page(request, user, q=q, page=page, extra=extra, status=exc.status)
    response = redirect(_list_url(q, page) + f"#user-{user_id}")
    flash(response, request, message, "success")
    return response


async def change_role(request: Request) -> Response:
    return await _change(request, "role")


async def set_active(request: Request) -> Response:
    return await _change(request, "active")


async def audit_log(request: Request) -> Response:
    """``/organizer/audit``: the audit log newest first, a page at a time, by action."""
    await require_page_user(request, [Role.ADMIN])
    action = request.query_params.get("action", "").strip()[:64] or None
    page = _page_number(request.query_params.get("page", ""))
    async with platform(request).db.session() as session:
        found = await admin.audit_page(session, action=action, page=page)
        ids = {e.actor_id for e in found.items if e.actor_id is not None}
        actors = await services.users_by_id(session, ids)
    context = {"found": found, "events": found.items, "actors": actors, "action": action}
    return await render(request, "audit.html", context)


ROUTES = [
    Route("/organizer/users", users, methods=["GET"]),
    Route("/organizer/users", create_user, methods=["POST"]),
    Route("/organizer/users/{user_id:int}/role", change_role, methods=["POST"]),
    Route("/organizer/users/{user_id:int}/active", set_active, methods=["POST"]),
    Route("/organizer/audit", audit_log, methods=["GET"]),
]
