"""The expo settings page: ``/organizer/expos/{slug}/settings`` edits an expo's title and
description in each of its languages, its dates, time zone, languages and whether it takes
exhibitor applications (its team's organizers and owners: :attr:`~expo.permissions.Perm.CHANGE_EXPO`).

:func:`read_expo_form` also reads the "create an expo" form, so both show the same fields and
refuse the same mistakes, with what was typed kept.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos import services
from expo.expos.models import Expo
from expo.expos.services import ExpoFields, ExpoText
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.i18n import LOCALES
from expo.permissions import Perm, require_page_user

MAIN_LANGUAGE = "en"


def settings_url(slug: str) -> str:
    return f"/organizer/expos/{slug}/settings"


def other_languages(main: str = MAIN_LANGUAGE) -> list[str]:
    """The languages an expo's text may be translated into, beside its main one."""
    return [lang for lang in LOCALES if lang != main]


def _date(raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = N_("Give dates as year-month-day, like 2026-10-15.")
        raise Invalid(message, code="expo.invalid_dates") from None


def expo_values(expo: Expo) -> dict[str, Any]:
    """An expo's settings as the form shows them."""
    values: dict[str, Any] = {
        "title": expo.title,
        "description": expo.description,
        "timezone": expo.timezone,
        "starts_on": expo.starts_on.isoformat() if expo.starts_on else "",
        "ends_on": expo.ends_on.isoformat() if expo.ends_on else "",
        "languages": expo.language_list,
        "applications_open": expo.applications_open,
    }
    for lang in other_languages(expo.language_list[0] if expo.language_list else MAIN_LANGUAGE):
        text = expo.translations.get(lang, {})
        values[f"title_{lang}"] = text.get("title", "")
        values[f"description_{lang}"] = text.get("description", "")
    return values


def read_expo_form(form: FormData, *, settings: bool) -> tuple[dict[str, Any], ExpoFields | ExpoError]:
    """What was typed (to show again) and the fields it sets, or the first mistake in it.

    ``settings`` is the edit form, which also carries ``applications_open`` (a checkbox).
    """
    languages = [str(v) for v in form.getlist("languages") if v in LOCALES]
    languages.sort(key=list(LOCALES).index)
    if not languages and "languages_shown" not in form:  # posted without the checkboxes: both
        languages = list(LOCALES)
    values: dict[str, Any] = {
        k: v for k, v in form.items() if isinstance(v, str) and k not in ("csrf_token", "languages")
    }
    values["languages"] = languages
    values["applications_open"] = form.get("applications_open") == "on"
    try:
        main = languages[0] if languages else MAIN_LANGUAGE
        translations = {}
        for lang in other_languages(main):
            text = ExpoText(
                title=form_str(form, f"title_{lang}", max_length=200),
                description=form_str(form, f"description_{lang}", max_length=20000),
            )
            if lang in languages:  # a language the expo does not use has nothing to show it in
                translations[lang] = text
        data: dict[str, Any] = {
            "title": form_str(form, "title", max_length=200),
            "description": form_str(form, "description", max_length=20000),
            "timezone": form_str(form, "timezone", max_length=64) or "UTC",
            "starts_on": _date(form_str(form, "starts_on", max_length=10)),
            "ends_on": _date(form_str(form, "ends_on", max_length=10)),
            "languages": ",".join(languages),
            "translations": translations,
        }
        if not data["title"]:
            raise Invalid(N_("An expo needs a title."), code="expo.invalid_title")
        if settings:
            data["applications_open"] = values["applications_open"]
        return values, ExpoFields(**data)
    except ExpoError as exc:
        return values, exc
    except ValidationError as exc:  # the length limits are the inputs' own: only a crafted post
        return values, Invalid(str(exc.errors()[0]["msg"]), code="form.invalid")


def form_context(values: dict[str, Any]) -> dict[str, Any]:
    """What the expo form's template (``_expo_form.html``) needs beside the values."""
    return {
        "values": values,
        "timezones": services.timezones(),
        "other_languages": other_languages(),
        "main_language": MAIN_LANGUAGE,
    }


async def _page(
    request: Request, user: User, values: dict[str, Any] | None, extra: dict[str, Any], status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await services.managed_expo(session, request.path_params["slug"], user, Perm.CHANGE_EXPO)
    context: dict[str, Any] = {"expo": expo, **form_context(values or expo_values(expo)), **extra}
    return await render(request, "organizer_expo_settings.html", context, status=status)


async def settings_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/settings``."""
    return await _page(request, await require_page_user(request), None, {})


async def save_settings(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values, fields = read_expo_form(form, settings=True)
    try:
        if isinstance(fields, ExpoError):
            raise fields
        async with platform(request).db.session() as session:
            expo = await services.managed_expo(session, request.path_params["slug"], user, Perm.CHANGE_EXPO)
            await services.update_expo(session, expo, fields, user)
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _page(request, user, values, {"form_error": exc.message}, exc.status)
    response = redirect(settings_url(request.path_params["slug"]))
    flash(response, request, N_("The expo's settings were saved."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/organizer/expos/{slug}/settings", settings_page, methods=["GET"]),
    Route("/organizer/expos/{slug}/settings", save_settings, methods=["POST"]),
]
