"""Pages to change one's password and e-mail address, and to get back in with a link by e-mail.

The account page (``/account``) holds the two change forms; ``/password/forgot`` asks for an
address and always answers the same way; ``/password/reset/{token}`` sets the new password. Asking
for links is rate limited per address and per client, like logging in.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts import recovery
from expo.accounts.api import client_of
from expo.accounts.models import User
from expo.accounts.pages import account_page
from expo.accounts.passwords import MIN_LENGTH
from expo.auth import current_token, forget_auth, platform
from expo.errors import N_, ExpoError, Invalid
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.permissions import require_page_user


def _password(form_value: object) -> str:
    """A submitted password, refused (with a translatable message) when it is too short."""
    password = form_value if isinstance(form_value, str) else ""
    if len(password) < MIN_LENGTH:
        raise Invalid(N_("Passwords need at least %(count)s characters."), code="account.weak_password")
    return password


def _refused(exc: ExpoError) -> dict[str, Any]:
    params = {"count": MIN_LENGTH} if exc.code == "account.weak_password" else {}
    return {"form_error": exc.message, "form_error_params": params}


async def change_password(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    current = form.get("current", "")
    try:
        new = _password(form.get("new"))
        async with platform(request).db.session() as session:
            await recovery.change_password(
                session,
                user,
                current if isinstance(current, str) else "",
                new,
                keep=current_token(request),
                client=client_of(request),
            )
    except ExpoError as exc:
        extra = {"section": "password", "min_password": MIN_LENGTH, **_refused(exc)}
        return await account_page(request, user, extra, status=exc.status)
    await forget_auth(request, user=user)
    response = redirect("/account")
    flash(response, request, N_("Your password was changed. Your other sessions are signed out."), "success")
    return response


async def change_email(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    email = form_str(form, "email", max_length=254)
    password = form.get("password", "")
    try:
        async with platform(request).db.session() as session:
            await recovery.change_email(
                session, user, email, password if isinstance(password, str) else "", client=client_of(request)
            )
    except ExpoError as exc:
        extra = {"section": "email", "new_email": email, "min_password": MIN_LENGTH, **_refused(exc)}
        return await account_page(request, user, extra, status=exc.status)
    await forget_auth(request, user=user)
    response = redirect("/account")
    flash(response, request, N_("Your e-mail address was changed."), "success")
    return response


async def forgot_form(request: Request) -> Response:
    """``/password/forgot``: ask for a link to choose a new password."""
    return await render(request, "password_forgot.html", {"sent": False})


async def forgot(request: Request) -> Response:
    form = await read_form(request)
    email = form_str(form, "email", max_length=254)
    p = platform(request)
    client = client_of(request)
    try:
        # The same allowance as logging in, per address and per client.
        await p.login_by_email.hit("reset:" + email.strip().lower())
        await p.login_by_ip.hit("reset:" + (client.ip or "-"))
    except ExpoError as exc:
        context = {"sent": False, "email": email, "form_error": exc.message}
        return await render(request, "password_forgot.html", context, status=exc.status)
    async with p.db.session() as session:
        await recovery.request_reset(session, email, p.settings, client)
    return await render(request, "password_forgot.html", {"sent": True})


async def _reset_page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    context: dict[str, Any] = {"token": request.path_params["token"], "min_password": MIN_LENGTH}
    context.update(extra or {})
    return await render(request, "password_reset.html", context, status=status)


async def reset_form(request: Request) -> Response:
    """``/password/reset/{token}``: the form, if the link is still good (404 otherwise)."""
    async with platform(request).db.session() as session:
        await recovery.find_reset(session, request.path_params["token"])
    return await _reset_page(request)


async def reset(request: Request) -> Response:
    form = await read_form(request)
    user: User | None = None
    try:
        new = _password(form.get("new"))
        async with platform(request).db.session() as session:
            user = await recovery.reset_password(
                session, request.path_params["token"], new, client_of(request)
            )
    except ExpoError as exc:
        if exc.status == 404:
            raise
        return await _reset_page(request, _refused(exc), exc.status)
    await forget_auth(request, user=user)
    response = redirect("/login")
    flash(response, request, N_("Your password was changed. Log in with the new one."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/email", change_email, methods=["POST"]),
    Route("/password/forgot", forgot_form, methods=["GET"]),
    Route("/password/forgot", forgot, methods=["POST"]),
    Route("/password/reset/{token}", reset_form, methods=["GET"]),
    Route("/password/reset/{token}", reset, methods=["POST"]),
]
