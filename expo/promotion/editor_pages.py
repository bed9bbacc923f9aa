"""Organizers' editing of a promotion site (the expo's team with
:attr:`~expo.permissions.Perm.CHANGE_EXPO`; everyone else gets 403, the signed-out the login page):

- ``/organizer/expos/{slug}/invest``: the letter in English and Chinese, the film, its poster and
  its subtitles, and the six modules;
- ``/organizer/expos/{slug}/invest/{module}``: that module's sections, each with its picture and
  its PDF attachment.

Files arrive through the checked upload path (:mod:`expo.uploads`): who may upload is checked
before the body is read. A rejected form is shown again with what was typed and each error beside
its field.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo import uploads
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.http.api import path_int
from expo.http.pages import flash, read_form, redirect, render
from expo.permissions import require_page_user
from expo.promotion import services as promo
from expo.promotion.pages import view_helpers


def editor_url(slug: str, module: str | None = None) -> str:
    return f"/organizer/expos/{slug}/invest" + (f"/{module}" if module else "")


def _values(form: Any) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


async def _site_editor(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await promo.editable_expo(session, request.path_params["slug"], user)
        site = await promo.site_of(session, expo)
        counts: dict[str, int] = {}
        for section in await promo.sections(session, expo):
            counts[section.module] = counts.get(section.module, 0) + 1
    context: dict[str, Any] = {
        "expo": expo,
        "site": site,
        "counts": counts,
        "values": promo.letter_values(site),
        "errors": {},
        "upload_mib": platform(request).settings.upload_max_bytes >> 20,
        **view_helpers(),
        **(extra or {}),
    }
    return await render(request, "promotion/edit_site.html", context, status=status)


async def site_editor(request: Request) -> Response:
    """``/organizer/expos/{slug}/invest``."""
    return await _site_editor(request, await require_page_user(request))


async def save_letter(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = _values(form)
    try:
        async with platform(request).db.session() as session:
            expo = await promo.editable_expo(session, request.path_params["slug"], user)
            await promo.save_letter(session, expo, values, user)
    except promo.FormInvalid as exc:
        extra = {"values": values, "errors": exc.errors, "form_error": exc.message}
        return await _site_editor(request, user, extra, exc.status)
    response = redirect(editor_url(request.path_params["slug"]))
    flash(response, request, N_("The letter was saved."), "success")
    return response


async def upload_film_file(request: Request) -> Response:
    """One file for the film: ``slot`` is film, poster, subtitles_en or subtitles_zh_Hans."""
    user = await require_page_user(request)
    p = platform(request)
    slug = request.path_params["slug"]
    # Who may upload is checked before the body is read: a stranger's file never reaches the disk.
    async with p.db.session() as session:
        await promo.editable_expo(session, slug, user)
    received: uploads.Received | None = None
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        slot = received.fields.get("slot", "")
        if slot in promo.SUBTITLE_SLOTS:
            assert received.path is not None
            with received.path.open("rb") as file:  # at most 512 KiB: a short read
                text = promo.check_subtitles(file.read(promo.MAX_SUBTITLES + 1))
            async with p.db.session() as session:
                expo = await promo.editable_expo(session, slug, user)
                await promo.set_subtitles(session, expo, slot, text, user)
        elif slot in promo.FILM_SLOTS:
            stored = await uploads.store(p.settings, received)
            async with p.db.session() as session:
                expo = await promo.editable_expo(session, slug, user)
                await promo.set_film_file(session, expo, slot, stored, user)
        else:
            raise Invalid(N_("Choose where the file goes."), code="upload.invalid_slot")
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _site_editor(request, user, {"upload_error": exc.message}, exc.status)
    finally:
        if received is not None:
            await received.discard()
    response = redirect(editor_url(slug) + "#film")
    flash(response, request, N_("The file was uploaded."), "success")
    return response


async def remove_film_file(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug = request.path_params["slug"]
    async with platform(request).db.session() as session:
        expo = await promo.editable_expo(session, slug, user)
        await promo.remove_film_file(session, expo, str(form.get("slot", "")), user)
    return redirect(editor_url(slug) + "#film")


# Module pages ----------------------------------------------------------------------------------------------


async def _module_editor(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    key = request.path_params["module"]
    async with platform(request).db.session() as session:
        expo = await promo.editable_expo(session, request.path_params["slug"], user)
        module = promo.module(key)
        shown = await promo.sections(session, expo, key)
    context: dict[str, Any] = {
        "expo": expo,
        "module": module,
        "sections": shown,
        "section_values": {s.id: promo.section_values(s) for s in shown},
        "values": {},  # the "add a section" form
        "errors": {},
        "failed": None,  # the id of the section whose form failed, or "new"
        "upload_mib": platform(request).settings.upload_max_bytes >> 20,
        **view_helpers(),
    }
    context.update(extra or {})
    return await render(request, "promotion/edit_module.html", context, status=status)


async def module_editor(request: Request) -> Response:
    """``/organizer/expos/{slug}/invest/{module}``."""
    return await _module_editor(request, await require_page_user(request))


async def add_section(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug, key = request.path_params["slug"], request.path_params["module"]
    values = _values(form)
    try:
        async with platform(request).db.session() as session:
            expo = await promo.editable_expo(session, slug, user)
            section = await promo.add_section(session, expo, key, values, user)
    except promo.FormInvalid as exc:
        extra = {"values": values, "errors": exc.errors, "failed": "new", "form_error": exc.message}
        return await _module_editor(request, user, extra, exc.status)
    response = redirect(editor_url(slug, key) + f"#section-{section.id}")
    flash(response, request, N_("The section was added."), "success")
    return response


async def save_section(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug, key = request.path_params["slug"], request.path_params["module"]
    section_id = path_int(request, "section_id")
    values = _values(form)
    try:
        async with platform(request).db.session() as session:
            expo = await promo.editable_expo(session, slug, user)
            section = await promo.section_of(session, expo, key, section_id)
            await promo.save_section(session, section, values, user)
    except promo.FormInvalid as exc:
        async with platform(request).db.session() as session:
            expo = await promo.editable_expo(session, slug, user)
            kept = {s.id: promo.section_values(s) for s in await promo.sections(session, expo, key)}
        kept[section_id] = values
        extra = {
            "section_values": kept,
            "errors": exc.errors,
            "failed": section_id,
            "form_error": exc.message,
        }
        return await _module_editor(request, user, extra, exc.status)
    response = redirect(editor_url(slug, key) + f"#section-{section_id}")
    flash(response, request, N_("The section was saved."), "success")
    return response


async def upload_section_file(request: Request) -> Response:
    """A section's ``picture`` (an image) or ``attachment`` (a PDF)."""
    user = await require_page_user(request)
    p = platform(request)
    slug, key = request.path_params["slug"], request.path_params["module"]
    section_id = path_int(request, "section_id")
    async with p.db.session() as session:
        expo = await promo.editable_expo(session, slug, user)
        await promo.section_of(session, expo, key, section_id)
    received: uploads.Received | None = None
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        slot = received.fields.get("slot", "")
        if slot not in ("picture", "attachment"):
            raise Invalid(N_("Choose where the file goes."), code="upload.invalid_slot")
        stored = await uploads.store(p.settings, received)
        async with p.db.session() as session:
            expo = await promo.editable_expo(session, slug, user)
            section = await promo.section_of(session, expo, key, section_id)
            await promo.set_section_file(session, section, slot, stored, user)
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        extra = {"upload_error": exc.message, "failed": section_id}
        return await _module_editor(request, user, extra, exc.status)
    finally:
        if received is not None:
            await received.discard()
    response = redirect(editor_url(slug, key) + f"#section-{section_id}")
    flash(response, request, N_("The file was uploaded."), "success")
    return response


async def remove_section(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    slug, key = request.path_params["slug"], request.path_params["module"]
    async with platform(request).db.session() as session:
        expo = await promo.editable_expo(session, slug, user)
        section = await promo.section_of(session, expo, key, path_int(request, "section_id"))
        await promo.remove_section(session, section, user)
    response = redirect(editor_url(slug, key))
    flash(response, request, N_("The section was removed."), "success")
    return response


SECTION = "/organizer/expos/{slug}/invest/{module}/sections/{section_id:int}"
ROUTES: list[BaseRoute] = [
    Route("/organizer/expos/{slug}/invest", site_editor, methods=["GET"]),
    Route("/organizer/expos/{slug}/invest/letter", save_letter, methods=["POST"]),
    Route("/organizer/expos/{slug}/invest/film", upload_film_file, methods=["POST"]),
    Route("/organizer/expos/{slug}/invest/film/remove", remove_film_file, methods=["POST"]),
    Route("/organizer/expos/{slug}/invest/{module}", module_editor, methods=["GET"]),
    Route("/organizer/expos/{slug}/invest/{module}/sections", add_section, methods=["POST"]),
    Route(SECTION, save_section, methods=["POST"]),
    Route(SECTION + "/upload", upload_section_file, methods=["POST"]),
    Route(SECTION + "/remove", remove_section, methods=["POST"]),
]
