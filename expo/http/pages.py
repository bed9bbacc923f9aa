"""Rendering pages: templates with the user, CSRF token, flash messages and the active language."""

from __future__ import annotations

from typing import Any

import jinja2
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from expo import i18n
from expo.auth import current_user, platform
from expo.errors import BadRequest, ExpoError, UnsupportedMediaType
from expo.http.bodies import media_type, read_body
from expo.http.inputs import refuse_control_in_fields
from expo.security import CSRF_FIELD, csrf_token, is_https, set_csrf_cookie, sign, unsign, verify_csrf
from web import TEMPLATES_DIR

FLASH_COOKIE = "expo_flash"


def build_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
        auto_reload=False,
    )
    env.install_gettext_callables(i18n.gettext_, i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]
    env.globals["locales"] = i18n.LOCALES
    env.globals["translate"] = i18n.translate
    env.globals["localized"] = i18n.localized  # organizer content in the page's language
    return env


def secure_cookies(conn: HTTPConnection) -> bool:
    mode = platform(conn).settings.secure_cookies
    return mode == "always" or (mode == "auto" and is_https(conn))


def flash(response: Response, conn: HTTPConnection, message: str, kind: str = "info") -> None:
    """Show ``message`` on the next page this browser renders."""
    existing = _read_flash(conn)
    existing.append({"kind": kind, "message": message})
    value = sign(platform(conn).secret, "flash", existing[-5:])
    response.set_cookie(FLASH_COOKIE, value, httponly=True, samesite="lax", secure=secure_cookies(conn))


def _read_flash(conn: HTTPConnection) -> list[dict[str, str]]:
    raw = conn.cookies.get(FLASH_COOKIE)
    data = unsign(platform(conn).secret, "flash", raw) if raw else None
    if not isinstance(data, list):
        return []
    return [m for m in data if isinstance(m, dict) and isinstance(m.get("message"), str)]


async def page_locale(conn: HTTPConnection) -> str:
    user = await current_user(conn)
    return i18n.choose_locale(
        user.locale if user else None,
        conn.cookies.get(i18n.LANG_COOKIE),
        conn.headers.get("accept-language"),
        platform(conn).settings.default_locale,
    )


async def render(
    request: HTTPConnection, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    p = platform(request)
    user = await current_user(request)
    locale = await page_locale(request)
    i18n.activate(locale)
    messages = _read_flash(request)
    env: jinja2.Environment = request.app.state.templates
    html = env.get_template(template).render(
        request=request,
        user=user,
        locale=locale,
        csrf_token=csrf_token(request, p.secret),
        csrf_field=CSRF_FIELD,
        messages=messages,
        **(context or {}),
    )
    response = HTMLResponse(html, status_code=status)
    set_csrf_cookie(request, response, secure_cookies(request))
    if messages:
        response.delete_cookie(FLASH_COOKIE)
    return response


def redirect(url: str, status: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status)


async def read_form(request: Request) -> FormData:
    """A URL-encoded form under the body limit, with its CSRF token checked and no control
    characters in its fields."""
    p = platform(request)
    if media_type(request) not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise UnsupportedMediaType("Submit this form from its page.")
    # Read the body under the limit first; Starlette's form parser then reads the cached bytes.
    request._body = await read_body(request, p.settings.max_body_bytes)
    form = await request.form(max_files=0, max_fields=100)
    submitted = form.get(CSRF_FIELD)
    verify_csrf(request, p.secret, submitted if isinstance(submitted, str) else None)
    refuse_control_in_fields(form.multi_items(), "form")
    return form


def form_str(form: FormData, name: str, *, max_length: int = 1000, required: bool = False) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be text.", code="form.invalid")
    value = value.strip()
    if required and not value:
        raise ExpoError(f"{name} is required.", code="form.required")
    if len(value) > max_length:
        raise ExpoError(f"{name} can have at most {max_length} characters.", code="form.too_long")
    return value
