"""The booth editor for booth staff (and organizers): profile in each of the expo's languages, logo,
banner, pictures, brochures and videos, and staff; plus the exhibitor's list of booths and the
application form.

Routes stay thin: read the form (CSRF-checked), check who is asking, call :mod:`booths.services`
or :mod:`booths.media`, then redirect with a message, or show the form again with the error and
what was typed (a 4xx).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import floor, media, services
from booths.mail import BoothMailer
from booths.models import Booth
from booths.services import BoothFields, TextFields
from expo import uploads
from expo.accounts.models import Role, User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos import services as expo_services
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.inputs import parse_id
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.i18n import country_choices
from expo.permissions import BoothRole, may_manage_booth_staff, require_page_user, standing

TEXT_LIMITS = {"name": 200, "tagline": 300, "description": 20000}
MAX_LINKS = 20


M = TypeVar("M", bound=BaseModel)


def checked(model: type[M], data: dict[str, Any]) -> M:
    """``model`` built from form data; its first validation problem becomes :class:`Invalid`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"{where}: {first['msg']}", code="form.invalid") from None


def translations_from(form: FormData, expo: Expo, names: tuple[str, ...]) -> dict[str, TextFields]:
    """The ``<field>_<lang>`` inputs for the expo's other languages (the first is the main column)."""
    out: dict[str, TextFields] = {}
    for lang in expo.language_list[1:]:
        values = {n: form_str(form, f"{n}_{lang}", max_length=TEXT_LIMITS[n]) or None for n in names}
        out[lang] = TextFields(**values)
    return out


async def editable_booth(session: AsyncSession, request: Request, user: User) -> tuple[Booth, Expo]:
    """The booth of the URL if ``user`` may edit it: 404 when they may not even see it, else 403."""
    booth = await services.get_booth(session, path_int(request, "booth_id"), user)
    await services.require_booth_editor(session, booth, user)
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None
    return booth, expo


def editor_url(booth_id: int, tab: str = "edit") -> str:
    return f"/booths/{booth_id}/{tab}"


# Exhibitor's booths and applications ------------------------------------------------------------------------


async def my_booths(request: Request) -> Response:
    """``/my/booths``: the booths this account works at, and expos taking applications."""
    user = await require_page_user(request, [Role.EXHIBITOR, Role.ORGANIZER])
    async with platform(request).db.session() as session:
        booths = await services.booths_of(session, user)
        expos = await floor.list_expos(session)
    by_id = {e.id: e for e in expos}
    context = {"booths": booths, "expos": expos, "expos_by_id": by_id}
    return await render(request, "editor_booths.html", context)


async def my_leads(request: Request) -> Response:
    """``/my/leads``: the inbox of one's booth, or the list of booths to choose from."""
    user = await require_page_user(request, [Role.EXHIBITOR, Role.ORGANIZER])
    async with platform(request).db.session() as session:
        booths = await services.booths_of(session, user)
    if len(booths) == 1 and booths[0].id is not None:
        return redirect(editor_url(booths[0].id, "leads"))
    return redirect("/my/booths")


async def apply(request: Request) -> Response:
    """An exhibitor applies for a booth at an expo (pending until an organizer approves it)."""
    form = await read_form(request)
    user = await require_page_user(request, [Role.EXHIBITOR, Role.ORGANIZER])
    name = form_str(form, "name", max_length=200)
    async with platform(request).db.session() as session:
        expo = await expo_services.get_expo(session, request.path_params["slug"])
        try:
            fields = checked(BoothFields, {"name": name})
            mailer = BoothMailer(platform(request).settings)
            booth = await services.create_booth(session, expo, fields, user, mailer=mailer)
        except ExpoError as exc:
            expos = await floor.list_expos(session)
            booths = await services.booths_of(session, user)
            context = {
                "booths": booths,
                "expos": expos,
                "expos_by_id": {e.id: e for e in expos},
                "form_error": exc.message,
                "apply_to": expo.slug,
                "apply_name": name,
            }
            return await render(request, "editor_booths.html", context, status=exc.status)
    assert booth.id is not None
    response = redirect(editor_url(booth.id))
    flash(response, request, N_("Your application was sent. Fill in your booth while organizers review it."))
    return response


# Profile ----------------------------------------------------------------------------------------------------


async def _editor_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
        files = await media.list_media(session, booth)
        staff = await services.list_staff(session, booth)
        assert booth.id is not None
        st = await standing(session, user, booth.expo_id)
        owner = may_manage_booth_staff(st, await services.booth_role(session, booth.id, user))
    links = "\n".join(f"{link['label']} | {link['url']}" for link in booth.links)
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "files": files,
        "staff": staff,
        "owner": owner,
        "tab": "edit",
        "values": {},
        "links_text": links,
        "countries": [code for code, _ in country_choices(locale)],
        "country_name": lambda code: floor.country_name(code, locale),
        "upload_mib": platform(request).settings.upload_max_bytes >> 20,
    }
    context.update(extra or {})
    return await render(request, "editor.html", context, status=status)


async def edit_form(request: Request) -> Response:
    user = await require_page_user(request)
    return await _editor_page(request, user)


def _links(text: str) -> list[dict[str, str]]:
    """``label | https://...`` per line."""
    links = []
    for line in text.splitlines():
        if not line.strip():
            continue
        label, bar, url = line.partition("|")
        if not bar:
            raise Invalid(N_("Write each link as: label | https://address"), code="booth.invalid_links")
        links.append({"label": label.strip(), "url": url.strip()})
    if len(links) > MAX_LINKS:
        raise Invalid(N_("A booth has at most 20 links."), code="booth.invalid_links")
    return links


async def save_profile(request: Request) -> Response:
    """Save the booth profile form."""
    form = await read_form(request)
    user = await require_page_user(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        async with platform(request).db.session() as session:
            booth, expo = await editable_booth(session, request, user)
            data: dict[str, Any] = {
                name: form_str(form, name, max_length=limit) for name, limit in TEXT_LIMITS.items()
            }
            for name, limit in (("contact_name", 120), ("contact_email", 254), ("contact_phone", 40)):
                data[name] = form_str(form, name, max_length=limit)
            data["website"] = form_str(form, "website", max_length=500)
            data["country"] = form_str(form, "country", max_length=2) or None
            data["links"] = _links(form_str(form, "links", max_length=20 * 620))
            data["translations"] = translations_from(form, expo, tuple(TEXT_LIMITS))
            await services.update_booth(session, booth, checked(BoothFields, data), user)
    except ExpoError as exc:
        extra = {"form_error": exc.message, "values": values, "links_text": values.get("links", "")}
        return await _editor_page(request, user, extra, status=exc.status)
    response = redirect(editor_url(path_int(request, "booth_id")))
    flash(response, request, N_("The booth was saved."), "success")
    return response


# Uploads ----------------------------------------------------------------------------------------------------


async def upload(request: Request) -> Response:
    """One file for the booth: ``slot`` is logo, banner, media (booth page) or product (its images)."""
    user = await require_page_user(request)
    p = platform(request)
    booth_id = path_int(request, "booth_id")
    # Who may upload is checked before the body is read: a stranger's 20 MiB never reaches the disk.
    async with p.db.session() as session:
        await editable_booth(session, request, user)
    received: uploads.Received | None = None
    product_id: int | None = None
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        slot = received.fields.get("slot", "media")
        product_raw = received.fields.get("product_id", "")
        product_id = parse_id(product_raw) if slot == "product" else None
        if slot not in ("logo", "banner", "media", "product") or (slot == "product" and product_id is None):
            raise Invalid(N_("Choose where the file goes."), code="upload.invalid_slot")
        stored = await uploads.store(p.settings, received)
        async with p.db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            if slot in ("logo", "banner"):
                await media.set_image(session, booth, stored, user, slot)
            else:
                title = received.fields.get("title", "") or received.filename
                await media.add_media(session, booth, stored, user, title=title, product_id=product_id)
    except ExpoError as exc:
        if received is not None:
            await received.discard()
        extra = {"upload_error": exc.message}
        if product_id is not None:
            # Imported here: the product pages build on this module's helpers.
            from booths.product_pages import product_form_page

            request.path_params["product_id"] = product_id
            return await product_form_page(request, user, extra, status=exc.status)
        return await _editor_page(request, user, extra, status=exc.status)
    back = editor_url(booth_id, f"products/{product_id}") if product_id else editor_url(booth_id) + "#media"
    response = redirect(back)
    flash(response, request, N_("The file was uploaded."), "success")
    return response


async def delete_media(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        booth, _ = await editable_booth(session, request, user)
        await media.delete_media(session, booth, path_int(request, "media_id"), user)
    response = redirect(editor_url(path_int(request, "booth_id")) + "#media")
    flash(response, request, N_("The file was removed from the booth."), "success")
    return response


async def remove_logo(request: Request) -> Response:
    return await _remove_image(request, "logo")


async def remove_banner(request: Request) -> Response:
    return await _remove_image(request, "banner")


async def _remove_image(request: Request, slot: str) -> Response:
    """Take the logo or the banner off the booth page."""
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        booth, _ = await editable_booth(session, request, user)
        await services.clear_booth_image(session, booth, slot, user)
    response = redirect(editor_url(path_int(request, "booth_id")) + "#media")
    message = N_("The logo was removed.") if slot == "logo" else N_("The banner was removed.")
    flash(response, request, message, "success")
    return response


# Staff ------------------------------------------------------------------------------------------------------


async def add_staff(request: Request) -> Response:
    """Invite a colleague (an exhibitor account, by e-mail) into the booth's staff."""
    form = await read_form(request)
    user = await require_page_user(request)
    email = form_str(form, "email", max_length=254, required=True)
    role_raw = form_str(form, "role", max_length=16) or BoothRole.STAFF.value
    try:
        role = BoothRole(role_raw)
        async with platform(request).db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            await services.add_staff(session, booth, email, role, user)
    except ValueError:
        return await _editor_page(
            request, user, {"staff_error": N_("Choose a role from the list.")}, status=422
        )
    except ExpoError as exc:
        return await _editor_page(
            request, user, {"staff_error": exc.message, "staff_email": email}, exc.status
        )
    response = redirect(editor_url(path_int(request, "booth_id")) + "#staff")
    flash(response, request, N_("Staff updated."), "success")
    return response


async def remove_staff(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        booth, _ = await editable_booth(session, request, user)
        await services.remove_staff(session, booth, path_int(request, "user_id"), user)
    response = redirect(editor_url(path_int(request, "booth_id")) + "#staff")
    flash(response, request, N_("Staff updated."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/my/booths", my_booths, methods=["GET"]),
    Route("/my/leads", my_leads, methods=["GET"]),
    Route("/expos/{slug}/apply", apply, methods=["POST"]),
    Route("/booths/{booth_id:int}/edit", edit_form, methods=["GET"]),
    Route("/booths/{booth_id:int}/edit", save_profile, methods=["POST"]),
    Route("/booths/{booth_id:int}/upload", upload, methods=["POST"]),
    Route("/booths/{booth_id:int}/logo/remove", remove_logo, methods=["POST"]),
    Route("/booths/{booth_id:int}/banner/remove", remove_banner, methods=["POST"]),
    Route("/booths/{booth_id:int}/media/{media_id:int}/delete", delete_media, methods=["POST"]),
    Route("/booths/{booth_id:int}/staff", add_staff, methods=["POST"]),
    Route("/booths/{booth_id:int}/staff/{user_id:int}/remove", remove_staff, methods=["POST"]),
]
