"""Organizer pages for the floor: the expos (list, create, banner), their halls and category tree,
and exhibitor applications (approve, reject) with booth placement (hall, number, tier).

Every action is a service of :mod:`booths.services`, which asks :mod:`expo.permissions` whether the
actor may do it in this expo; the pages also check up front, so someone off the expo's team gets a
403 page, not a form.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import floor, services
from booths.editor_pages import checked
from booths.mail import BoothMailer
from booths.models import BoothStatus, Category
from booths.services import CategoryFields, HallFields, Placement
from expo import uploads
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos import services as expo_services
from expo.expos import settings_pages
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.inputs import parse_id
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.i18n import activate
from expo.i18n import gettext_ as _
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
        "may_create": may_create_expo(user),
        "Perm": Perm,
        **settings_pages.form_context({}),
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
    values, fields = settings_pages.read_expo_form(form, settings=False)
    try:
        slug = form_str(form, "slug", max_length=64)
        if isinstance(fields, ExpoError):
            raise fields
        async with platform(request).db.session() as session:
            await expo_services.create_expo(session, slug, fields, user)
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
        hall_booths = {h.id: await services.count_booths_in(session, h) for h in halls}
        category_use = {c.id: await services.category_use(session, c) for c in categories}
    context: dict[str, Any] = {
        "expo": expo,
        "halls": halls,
        "hall_names": {h.id: floor.localized(h, "name", locale) for h in halls},
        "hall_booths": hall_booths,
        "category_use": category_use,
        "tree": floor.category_tree(categories),
        "category_edges": _edges(categories),
        "other_languages": expo.language_list[1:],
        "pending": pending,
        "pending_total": pending_total,
        "approved": approved,
        "approved_total": approved_total,
        "country_name": lambda code: floor.country_name(code, locale),
        "upload_mib": platform(request).settings.upload_max_bytes >> 20,
    }
    context.update(extra or {})
    return await render(request, "organizer_expo.html", context, status=status)


def _edges(categories: list[Category]) -> dict[int | None, tuple[bool, bool]]:
    """Whether each category is the first and the last among its siblings (it cannot move past)."""
    siblings: dict[int | None, list[int | None]] = {}
    for category in categories:
        siblings.setdefault(category.parent_id, []).append(category.id)
    return {c.id: (siblings[c.parent_id][0] == c.id, siblings[c.parent_id][-1] == c.id) for c in categories}


async def expo_page(request: Request) -> Response:
    """``/organizer/expos/{slug}``: halls, categories, applications and placement."""
    user = await require_page_user(request)
    return await _expo_page(request, user)


def _done(request: Request, anchor: str, message: str) -> Response:
    response = redirect(expo_url(request.path_params["slug"]) + anchor)
    flash(response, request, message, "success")
    return response


def _names(form: FormData, expo: Expo, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The name and its translations from a hall or category form (other translated text kept)."""
    name = form_str(form, "name", max_length=200)
    if not name:
        raise Invalid(N_("Give it a name."), code="layout.invalid_name")
    translations: dict[str, Any] = {lang: dict(t) for lang, t in (stored or {}).items()}
    for lang in expo.language_list[1:]:
        text = translations.setdefault(lang, {})
        text.pop("name", None)
        if translated := form_str(form, f"name_{lang}", max_length=200):
            text["name"] = translated
    return {"name": name, "translations": {k: v for k, v in translations.items() if v}}


async def _layout_form(request: Request, kind: str) -> Response:
    """Add (no id in the path) or rename a hall or a category."""
    form = await read_form(request)
    user = await require_page_user(request)
    item_id = request.path_params.get(f"{kind}_id")
    try:
        async with platform(request).db.session() as session:
            expo = await expo_services.get_expo(session, request.path_params["slug"])
            if kind == "hall":
                hall = await services.get_hall(session, expo, item_id) if item_id else None
                data = _names(form, expo, hall.translations if hall else None)
                await services.save_hall(session, expo, checked(HallFields, data), user, hall)
            else:
                category = await services.get_category(session, expo, item_id) if item_id else None
                data = _names(form, expo, category.translations if category else None)
                if category is None:
                    parent = form_str(form, "parent_id", max_length=12)
                    data["parent_id"] = int(parent) if parent.isdigit() else None
                await services.save_category(session, expo, checked(CategoryFields, data), user, category)
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _expo_page(request, user, {f"{kind}_error": exc.message}, exc.status)
    if kind == "hall":
        return _done(request, "#halls", N_("The hall was renamed.") if item_id else N_("The hall was added."))
    message = N_("The category was renamed.") if item_id else N_("The category was added.")
    return _done(request, "#categories", message)


async def add_hall(request: Request) -> Response:
    return await _layout_form(request, "hall")


async def add_category(request: Request) -> Response:
    return await _layout_form(request, "category")


async def move_layout(request: Request) -> Response:
    """Move a hall or a category one place up or down."""
    form = await read_form(request)
    user = await require_page_user(request)
    step = {"up": -1, "down": 1}.get(form_str(form, "direction", max_length=8))
    if step is None:
        raise Invalid(N_("Move it up or down."), code="layout.invalid_move")
    async with platform(request).db.session() as session:
        expo = await expo_services.get_expo(session, request.path_params["slug"])
        if "hall_id" in request.path_params:
            hall = await services.get_hall(session, expo, path_int(request, "hall_id"))
            await services.move_hall(session, expo, hall, step, user)
            return redirect(expo_url(expo.slug) + "#halls")
        category = await services.get_category(session, expo, path_int(request, "category_id"))
        await services.move_category(session, expo, category, step, user)
    return redirect(expo_url(expo.slug) + "#categories")


def _in_use(code: str, num: int) -> str | None:
    """The refusal to delete a hall or category in use, in the page's language."""
    messages = {
        "hall.in_use": _("Booths in this hall: %(num)s. Choose where they go, then delete the hall."),
        "category.in_use": _(
            "Products in this category: %(num)s. Choose where they go, then delete the category."
        ),
        "category.has_children": _("Subcategories of this category: %(num)s. Move or delete them first."),
    }
    return messages[code] % {"num": num} if code in messages else None


async def delete_layout(request: Request) -> Response:
    """Delete a hall or a category; what is filed there goes where the form says (``move_to``:
    another one's id or ``none``), and without a choice one in use is refused with its count."""
    form = await read_form(request)
    user = await require_page_user(request)
    move_to = form_str(form, "move_to", max_length=12)
    kind = "hall" if "hall_id" in request.path_params else "category"
    try:
        async with platform(request).db.session() as session:
            expo = await expo_services.get_expo(session, request.path_params["slug"])
            target_id = parse_id(move_to)
            if kind == "hall":
                hall = await services.get_hall(session, expo, path_int(request, "hall_id"))
                target = await services.get_hall(session, expo, target_id) if target_id else None
                await services.delete_hall(session, hall, user, move_to=target, unplace=move_to == "none")
            else:
                category = await services.get_category(session, expo, path_int(request, "category_id"))
                other = await services.get_category(session, expo, target_id) if target_id else None
                await services.delete_category(
                    session, expo, category, user, move_to=other, uncategorise=move_to == "none"
                )
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        activate(await page_locale(request))
        message = _in_use(exc.code, int(exc.extra.get("count", 0))) or exc.message
        return await _expo_page(request, user, {f"{kind}_error": message}, exc.status)
    if kind == "hall":
        return _done(request, "#halls", N_("The hall was deleted."))
    return _done(request, "#categories", N_("The category was deleted."))


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
    Route("/organizer/expos/{slug}/halls/{hall_id:int}", add_hall, methods=["POST"]),
    Route("/organizer/expos/{slug}/halls/{hall_id:int}/move", move_layout, methods=["POST"]),
    Route("/organizer/expos/{slug}/halls/{hall_id:int}/delete", delete_layout, methods=["POST"]),
    Route("/organizer/expos/{slug}/categories", add_category, methods=["POST"]),
    Route("/organizer/expos/{slug}/categories/{category_id:int}", add_category, methods=["POST"]),
    Route("/organizer/expos/{slug}/categories/{category_id:int}/move", move_layout, methods=["POST"]),
    Route("/organizer/expos/{slug}/categories/{category_id:int}/delete", delete_layout, methods=["POST"]),
    Route("/organizer/expos/{slug}/banner", banner, methods=["POST"]),
    Route("/organizer/expos/{slug}/booths/{booth_id:int}/status", set_status, methods=["POST"]),
    Route("/organizer/expos/{slug}/booths/{booth_id:int}/place", place, methods=["POST"]),
]
