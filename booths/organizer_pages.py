"""Organizer pages for the floor: the expos (list, create, banner), their halls and category tree,
and exhibitor applications (approve, reject) with booth placement (hall, number, tier).

Every action is a service of :mod:`booths.services`, which asks :mod:`expo.permissions` whether the
actor may do it in this expo; the pages also check up front, so someone off the expo's team gets a
403 page, not a form.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import floor, services
from booths.editor_pages import checked
from booths.mail import BoothMailer
from booths.models import BoothStatus
from booths.services import CategoryFields, HallFields, Placement
from expo import uploads
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos import services as expo_services
from expo.expos.services import ExpoFields
from expo.http.api import path_int
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.permissions import Perm, may_create_expo, require_page_user
from expo.uploads import MediaKind


def expo_url(slug: str) -> str:
    return f"/organizer/expos/{slug}"


async def _expos_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expos = await expo_services.team_standings(session, user)
    context: dict[str, Any] = {
        "expos": expos,
        "values": {},
        "may_create": may_create_expo(user),
        "Perm": Perm,
    }
    context.update(extra or {})
    return await render(request, "organizer_expos.html", context, status=status)


async def expos(request: Request) -> Response:
    """``/organizer/expos``: the expos whose team you are on, and a form for a new one."""
    user = await require_page_user(request)
    return await _expos_page(request, user)


async def create_expo(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    slug = form_str(form, "slug", max_length=64)
    try:
        data: dict[str, Any] = {
            "title": form_str(form, "title", max_length=200),
            "description": form_str(form, "description", max_length=20000),
            "timezone": form_str(form, "timezone", max_length=64) or "UTC",
            "starts_on": form_str(form, "starts_on", max_length=10) or None,
            "ends_on": form_str(form, "ends_on", max_length=10) or None,
        }
        async with platform(request).db.session() as session:
            await expo_services.create_expo(session, slug, checked(ExpoFields, data), user)
    except ExpoError as exc:
        return await _expos_page(request, user, {"form_error": exc.message, "values": values}, exc.status)
    response = redirect(expo_url(slug))
    flash(response, request, N_("The expo was created. Add its halls and categories."), "success")
    return response


async def _expo_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        slug = request.path_params["slug"]
        expo = await expo_services.managed_expo(session, slug, user, Perm.MANAGE_BOOTHS)
        halls = await services.list_halls(session, expo)
        categories = await services.list_categories(session, expo)
        pending_total, pending = await services.list_booths(session, expo, status=BoothStatus.PENDING)
        approved_total, approved = await services.list_booths(session, expo, status=BoothStatus.APPROVED)
    context: dict[str, Any] = {
        "expo": expo,
        "halls": halls,
        "hall_names": {h.id: h.name for h in halls},
        "tree": floor.category_tree(categories),
        "pending": pending,
        "pending_total": pending_total,
        "approved": approved,
        "approved_total": approved_total,
        "country_name": lambda code: floor.country_name(code, locale),
        "upload_mib": platform(request).settings.upload_max_bytes >> 20,
    }
    context.update(extra or {})
    return await render(request, "organizer_expo.html", context, status=status)


async def expo_page(request: Request) -> Response:
    """``/organizer/expos/{slug}``: halls, categories, applications and placement."""
    user = await require_page_user(request)
    return await _expo_page(request, user)


def _done(request: Request, anchor: str, message: str) -> Response:
    response = redirect(expo_url(request.path_params["slug"]) + anchor)
    flash(response, request, message, "success")
    return response


async def add_hall(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    try:
        fields = checked(HallFields, {"name": form_str(form, "name", max_length=200, required=True)})
        async with platform(request).db.session() as session:
            expo = await expo_services.get_expo(session, request.path_params["slug"])
            await services.save_hall(session, expo, fields, user)
    except ExpoError as exc:
        return await _expo_page(request, user, {"hall_error": exc.message}, exc.status)
    return _done(request, "#halls", N_("The hall was added."))


async def add_category(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    parent = form_str(form, "parent_id", max_length=12)
    try:
        data = {
            "name": form_str(form, "name", max_length=200, required=True),
            "parent_id": int(parent) if parent.isdigit() else None,
        }
        async with platform(request).db.session() as session:
            expo = await expo_services.get_expo(session, request.path_params["slug"])
            await services.save_category(session, expo, checked(CategoryFields, data), user)
    except ExpoError as exc:
        return await _expo_page(request, user, {"category_error": exc.message}, exc.status)
    return _done(request, "#categories", N_("The category was added."))


async def set_status(request: Request) -> Response:
    """Approve or reject an application."""
    form = await read_form(request)
    user = await require_page_user(request)
    raw = form_str(form, "status", max_length=16)
    if raw not in (BoothStatus.APPROVED.value, BoothStatus.REJECTED.value):
        raise Invalid(N_("Approve or reject the application."), code="booth.invalid_status")
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        await services.set_booth_status(
            session, booth, BoothStatus(raw), user, BoothMailer(platform(request).settings)
        )
    message = N_("The booth was approved.") if raw == "approved" else N_("The application was rejected.")
    return _done(request, "#applications", message)


async def place(request: Request) -> Response:
    """Assign a booth its hall, number and tier."""
    form = await read_form(request)
    user = await require_page_user(request)
    hall = form_str(form, "hall_id", max_length=12)
    try:
        data = {
            "hall_id": int(hall) if hall.isdigit() else None,
            "number": form_str(form, "number", max_length=32) or None,
            "tier": form_str(form, "tier", max_length=16) or "standard",
        }
        async with platform(request).db.session() as session:
            booth = await services.get_booth(session, path_int(request, "booth_id"), user)
            await services.place_booth(session, booth, checked(Placement, data), user)
    except ExpoError as exc:
        if exc.status in (403, 404):
            raise
        return await _expo_page(request, user, {"place_error": exc.message}, exc.status)
    return _done(request, "#booths", N_("The booth was placed."))


async def banner(request: Request) -> Response:
    """Upload the expo's banner image."""
    user = await require_page_user(request)
    p = platform(request)
    async with p.db.session() as session:  # before a byte of the upload is read
        await expo_services.managed_expo(session, request.path_params["slug"], user, Perm.CHANGE_EXPO)
    received: uploads.Received | None = None
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        stored = await uploads.store(p.settings, received)
        if stored.kind is not MediaKind.IMAGE:
            raise Invalid(N_("A logo or banner is an image."), code="upload.not_an_image")
        async with p.db.session() as session:
            expo = await expo_services.get_expo(session, request.path_params["slug"])
            await expo_services.set_expo_banner(session, expo, stored.name, user)
    except ExpoError as exc:
        if received is not None:
            await received.discard()
        return await _expo_page(request, user, {"banner_error": exc.message}, exc.status)
    return _done(request, "", N_("The file was uploaded."))


ROUTES: list[BaseRoute] = [
    Route("/organizer/expos", expos, methods=["GET"]),
    Route("/organizer/expos", create_expo, methods=["POST"]),
    Route("/organizer/expos/{slug}", expo_page, methods=["GET"]),
    Route("/organizer/expos/{slug}/halls", add_hall, methods=["POST"]),
    Route("/organizer/expos/{slug}/categories", add_category, methods=["POST"]),
    Route("/organizer/expos/{slug}/banner", banner, methods=["POST"]),
    Route("/organizer/expos/{slug}/booths/{booth_id:int}/status", set_status, methods=["POST"]),
    Route("/organizer/expos/{slug}/booths/{booth_id:int}/place", place, methods=["POST"]),
]
