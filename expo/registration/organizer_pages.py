"""Organizer pages for registration: the form builder, the registrations list (filter, search,
approve, reject, CSV) with pending exhibitor applications, and the check-in desk.

Each page asks the signed-in user's permission in this expo before drawing anything (through
:func:`expo.registration.services.require_expo_permission`): the form and the registrations need
:attr:`~expo.permissions.Perm.MANAGE_REGISTRATION`, the desk :attr:`~expo.permissions.Perm.CHECK_IN`,
whatever the account type (a visitor account on the team as check-in staff works the desk).
Anyone else gets the 403 page; an unknown expo is a 404.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import services as floor_services
from booths.models import Booth, BoothStatus
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos.services import get_expo
from expo.http.api import path_int
from expo.http.inputs import parse_id
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.permissions import Perm, require_page_user
from expo.registration import builder, forms, services
from expo.registration.api import check_in_out, csv_response, desk_row_out, figures_changed
from expo.registration.exports import export_csv
from expo.registration.mail import Mailer
from expo.registration.models import RegistrationStatus


def base_url(slug: str) -> str:
    return f"/organizer/expos/{slug}"


# Form builder --------------------------------------------------------------------------------------------


async def _builder_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        await services.require_expo_permission(session, expo, user, Perm.MANAGE_REGISTRATION)
        form = await services.get_form(session, expo)
    tz = expo.zone
    context: dict[str, Any] = {
        "expo": expo,
        "form": form,
        "rows": builder.rows_of(form),
        "timezone": tz.key,
        "opens_at": builder.local_input(form.opens_at, tz),
        "closes_at": builder.local_input(form.closes_at, tz),
        "kinds": forms.KINDS,
        "builtin_labels": forms.BUILTIN_LABELS,
        "max_custom": builder.MAX_CUSTOM,
    }
    context.update(extra or {})
    return await render(request, "registration_builder.html", context, status=status)


async def builder_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/registration/form``: questions, dates, approval, consent."""
    user = await require_page_user(request)
    return await _builder_page(request, user)


async def save_builder(request: Request) -> Response:
    submitted = await read_form(request)
    user = await require_page_user(request)
    slug = request.path_params["slug"]
    rows: list[dict[str, Any]] | None = None
    try:
        async with platform(request).db.session() as session:
            expo = await get_expo(session, slug)
            await services.require_expo_permission(session, expo, user, Perm.MANAGE_REGISTRATION)
            stored = await services.get_form(session, expo)
            spec, rows = builder.parse(submitted, stored, expo.zone, expo.language_list[1:])
            await services.save_form(session, expo, spec, user)
    except Invalid as exc:
        extra: dict[str, Any] = {"form_error": exc.message}
        details = exc.extra.get("details") or [{"field": exc.extra.get("field", "")}]
        extra["error_field"] = details[0].get("field", "")
        if rows is not None:
            extra["rows"] = rows
        return await _builder_page(request, user, extra, exc.status)
    response = redirect(f"{base_url(slug)}/registration/form")
    flash(response, request, N_("The registration form was saved."), "success")
    return response


# Registrations -------------------------------------------------------------------------------------------


def _status_filter(raw: str) -> RegistrationStatus | None:
    if not raw:
        return None
    try:
        return RegistrationStatus(raw)
    except ValueError:
        raise Invalid(N_("Choose a status from the list."), code="registration.invalid_status") from None


async def registrations_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/registrations``: counts, filter, search, decisions, applications."""
    user = await require_page_user(request)
    status = _status_filter(request.query_params.get("status", ""))
    q = request.query_params.get("q", "")[:200]
    page_raw = request.query_params.get("page", "1")
    page = int(page_raw) if page_raw.isdigit() and 0 < int(page_raw) <= 100000 else 1
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        found = await services.list_registrations(session, expo, user, status=status, q=q, page=page)
        form = await services.get_form(session, expo)
        applications: list[Booth] = []
        applications_total = 0
        manages_booths = await services.holds(session, expo, user, Perm.MANAGE_BOOTHS)
        if manages_booths:
            applications_total, applications = await floor_services.list_booths(
                session, expo, status=BoothStatus.PENDING
            )
    context: dict[str, Any] = {
        "expo": expo,
        "found": found,
        "questions": form.fields,
        "label_of": forms.label_of,
        "answer_text": forms.answer_text,
        "status_filter": status.value if status else "",
        "statuses": [s.value for s in RegistrationStatus],
        "q": q,
        "page": page,
        "pages": max(1, -(-found.total // services.PAGE_SIZE)),
        "manages_booths": manages_booths,
        "applications": applications,
        "applications_total": applications_total,
    }
    return await render(request, "registrations.html", context)


async def decide(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug = request.path_params["slug"]
    choice = form_str(form, "status", max_length=16)
    if choice not in (RegistrationStatus.APPROVED.value, RegistrationStatus.REJECTED.value):
        raise Invalid(N_("Approve or reject the registration."), code="registration.invalid_status")
    back = form_str(form, "back", max_length=500)
    target = back if back.startswith(f"{base_url(slug)}/registrations") else f"{base_url(slug)}/registrations"
    try:
        async with platform(request).db.session() as session:
            expo = await get_expo(session, slug)
            await services.decide(
                session,
                expo,
                path_int(request, "registration_id"),
                choice == "approved",
                user,
                Mailer(platform(request).settings),
            )
        await figures_changed(request, expo.id)
    except ExpoError as exc:
        if exc.status != 409:
            raise
        response = redirect(target)
        flash(response, request, exc.message, "error")
        return response
    response = redirect(target)
    message = (
        N_("The registration was approved.") if choice == "approved" else N_("The registration was rejected.")
    )
    flash(response, request, message, "success")
    return response


async def export(request: Request) -> Response:
    """``/organizer/expos/{slug}/registrations.csv``: every registration, safe for spreadsheets."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        found = await services.list_registrations(session, expo, user, limit=None)
        form = await services.get_form(session, expo)
    return csv_response(export_csv(found.rows, form.fields), expo.slug)


# Check-in ------------------------------------------------------------------------------------------------


async def _checkin_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    q = request.query_params.get("q", "")[:200]
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        await services.require_expo_permission(session, expo, user, Perm.CHECK_IN)
        manages = await services.holds(session, expo, user, Perm.MANAGE_REGISTRATION)
        found = await services.desk_search(session, expo, user, q)
    context: dict[str, Any] = {
        "expo": expo,
        "result": None,
        "manages_registrations": manages,
        "q": q,
        "found": [desk_row_out(row) for row in found],
    }
    context.update(extra or {})
    return await render(request, "checkin.html", context, status=status)


async def checkin_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/check-in``: scan a badge with the camera, type its code, or find
    the visitor by name (``?q=``)."""
    user = await require_page_user(request)
    return await _checkin_page(request, user)


async def checkin(request: Request) -> Response:
    """The desk's forms without script: check in by code (or by ``registration_id`` from a name
    search) and draw the page again with the answer."""
    form = await read_form(request)
    user = await require_page_user(request)
    p = platform(request)
    try:
        chosen = form_str(form, "registration_id", max_length=12)
        async with p.db.session() as session:
            expo = await get_expo(session, request.path_params["slug"])
            if chosen:
                registration_id = parse_id(chosen)
                if registration_id is None:
                    raise Invalid(N_("Choose a registration from the list."), code="registration.unknown")
                done = await services.check_in_registration(session, expo, registration_id, user)
            else:
                code = form_str(form, "code", max_length=1000)
                done = await services.check_in(session, expo, code, p.secret, user)
    except ExpoError as exc:
        if exc.status in (401, 403):
            raise
        return await _checkin_page(request, user, {"form_error": exc.message}, exc.status)
    if not done.already:
        await figures_changed(request, expo.id)
    return await _checkin_page(request, user, {"result": check_in_out(done)})


ROUTES: list[BaseRoute] = [
    Route("/organizer/expos/{slug}/registration/form", builder_page, methods=["GET"]),
    Route("/organizer/expos/{slug}/registration/form", save_builder, methods=["POST"]),
    Route("/organizer/expos/{slug}/registrations", registrations_page, methods=["GET"]),
    Route("/organizer/expos/{slug}/registrations.csv", export, methods=["GET"]),
    Route("/organizer/expos/{slug}/registrations/{registration_id:int}/decision", decide, methods=["POST"]),
    Route("/organizer/expos/{slug}/check-in", checkin_page, methods=["GET"]),
    Route("/organizer/expos/{slug}/check-in", checkin, methods=["POST"]),
]
