"""Account pages: home, log in and out, sign-up, the account page and language.

The organizer's home is :mod:`expo.dashboards.pages` (it reads every domain); the administrators'
account list and audit log are :mod:`expo.accounts.admin_pages`.

Routes stay thin: :func:`~expo.http.pages.read_form` checks the body limit and CSRF, a service
does the work, and the page is rendered or the browser redirected with a flash message. A form
that fails is shown again with its message and the values typed so far (never the password).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from expo import i18n
from expo.accounts import services
from expo.accounts.api import client_of, count_signup
from expo.accounts.models import Role, TokenKind, User
from expo.accounts.passwords import MIN_LENGTH
from expo.accounts.work_links import WorkLinks
from expo.auth import SESSION_COOKIE, current_token, current_user, forget_auth, platform
from expo.errors import N_, ExpoError, Invalid, RateLimited
from expo.expos.services import list_expos
from expo.http.api import path_int
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render, secure_cookies
from expo.permissions import may_sign_up_as, require_page_user
from expo.showcase import LiveListings

# The role homes live with the domains they read, which the core may not import: /organizer in
# expo.dashboards.pages, /exhibitor in expo.meetings.home, /visitor in streaming.pages.
ROLE_HOME = {
    Role.ADMIN: "/organizer",
    Role.ORGANIZER: "/organizer",
    Role.EXHIBITOR: "/exhibitor",
    Role.VISITOR: "/visitor",
}
LANG_COOKIE_SECONDS = 365 * 24 * 3600
MAX_LISTED_EXPOS = 100


def role_home(user: User) -> str:
    return ROLE_HOME[Role(user.role)]


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else ``None``: never redirect to another origin.

    ``//host`` and ``/\\host`` are protocol-relative URLs to browsers, and control characters
    can smuggle either past naive checks.
    """
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _referrer(request: Request) -> str | None:
    """The page the form was sent from, when it is on this site."""
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def start_session(request: Request, response: Response, raw_token: str) -> None:
    """Set the browser's session cookie for a session token (the log-in page, and whatever else signs
    someone in, such as an invitation's sign-up)."""
    days = platform(request).settings.session_days
    response.set_cookie(
        SESSION_COOKIE,
        raw_token,
        max_age=days * 24 * 3600,
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


async def _sign_in(
    request: Request, session: AsyncSession, user: User, target: str, message: str
) -> Response:
    """Start a session for ``user`` (in the session that authenticated it, which commits the login)."""
    days = platform(request).settings.session_days
    raw, _ = await services.issue_token(
        session,
        user,
        TokenKind.SESSION,
        name="browser",
        lifetime=timedelta(days=days),
        client=client_of(request),
    )
    response = redirect(target)
    start_session(request, response, raw)
    flash(response, request, message, "success")
    return response


# --- home, login, sign-up, logout -------------------------------------------------------------


async def home(request: Request) -> Response:
    user = await current_user(request)
    if user is not None:
        return redirect(role_home(user))
    locale = await page_locale(request)
    listings = platform(request).get(LiveListings)
    async with platform(request).db.session() as session:
        expos = await list_expos(session, MAX_LISTED_EXPOS)
        live = await listings.live_now(session, None, locale=locale)
        coming = await listings.coming_up(session, None, locale=locale)
    return await render(request, "home.html", {"expos": expos, "live": live, "coming": coming})


async def login_form(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    user = await current_user(request)
    if user is not None:
        return redirect(target or role_home(user))
    return await render(request, "login.html", {"next": target, "back_to": "/login"})


async def login(request: Request) -> Response:
    """Check the password (rate limited like the API: per e-mail and per address) and start a session."""
    form = await read_form(request)
    email = form_str(form, "email", max_length=254)
    password = form.get("password", "")
    target = safe_next(form_str(form, "next", max_length=2000))
    context: dict[str, Any] = {"email": email, "next": target, "back_to": "/login"}
    if not isinstance(password, str) or not email or not password:
        missing = Invalid(N_("Enter your e-mail and password."))
        return await _form_failed(request, "login.html", context, missing)
    p = platform(request)
    client = client_of(request)
    email_key = email.lower()
    try:
        await p.login_by_email.check(email_key)
        await p.login_by_ip.check(client.ip or "-")
        async with p.db.session() as session:
            try:
                user = await services.authenticate(session, email, password, client)
            except ExpoError:
                # Only failures count: a person who types the password right is never locked out.
                await p.login_by_email.hit(email_key)
                await p.login_by_ip.hit(client.ip or "-")
                raise
            return await _sign_in(request, session, user, target or role_home(user), N_("Welcome back!"))
    except ExpoError as exc:
        return await _form_failed(request, "login.html", context, exc)


async def signup_form(request: Request) -> Response:
    user = await current_user(request)
    if user is not None:
        return redirect(role_home(user))
    return await render(request, "signup.html", {"min_password": MIN_LENGTH, "back_to": "/signup"})


async def signup(request: Request) -> Response:
    """Create a visitor or exhibitor account and sign it in."""
    form = await read_form(request)
    role = form_str(form, "role", max_length=20) or Role.VISITOR.value
    context: dict[str, Any] = {
        "name": form_str(form, "name", max_length=120),
        "email": form_str(form, "email", max_length=254),
        "role": role,
        "min_password": MIN_LENGTH,
        "back_to": "/signup",
    }
    password = form.get("password", "")
    if not isinstance(password, str):
        password = ""
    if not may_sign_up_as(role):
        error = Invalid(N_("Choose visitor or exhibitor."), code="account.invalid_role")
        return await _form_failed(request, "signup.html", context, error)
    if len(password) < MIN_LENGTH:
        # Checked here too so the message can be translated with its number filled in.
        error = Invalid(N_("Passwords need at least %(count)s characters."), code="account.weak_password")
        return await _form_failed(request, "signup.html", context, error, count=MIN_LENGTH)
    try:
        await count_signup(request)
    except RateLimited as exc:
        return await _form_failed(request, "signup.html", context, exc)
    async with platform(request).db.session() as session:
        try:
            user = await services.create_user(
                session,
                email=context["email"],
                password=password,
                name=context["name"],
                role=role,
                locale=_chosen_locale(request),
                client=client_of(request),
            )
        except ExpoError as exc:
            return await _form_failed(request, "signup.html", context, exc)
        return await _sign_in(request, session, user, role_home(user), N_("Your account is ready. Welcome!"))


async def logout(request: Request) -> Response:
    """End this browser's session: the token is revoked, so a copied cookie stops working too."""
    await read_form(request)
    user = await current_user(request)
    token = current_token(request)
    if user is not None and token is not None and token.kind == TokenKind.SESSION.value:
        async with platform(request).db.session() as session:
            await services.revoke_token(session, await session.merge(token), user, client_of(request))
        await forget_auth(request, token=token)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    flash(response, request, N_("You are logged out."), "success")
    return response


async def _form_failed(
    request: Request, template: str, context: dict[str, Any], error: ExpoError, **params: object
) -> Response:
    """Show the form again with the error; its status is the error's (4xx)."""
    context = {**context, "form_error": error.message, "form_error_params": params}
    if isinstance(error, RateLimited):
        context["form_error"] = N_("Too many attempts. Try again in %(seconds)s seconds.")
        context["form_error_params"] = {"seconds": error.retry_after}
    response = await render(request, template, context, status=error.status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _chosen_locale(request: Request) -> str | None:
    """The language the visitor chose with the switcher, kept for the new account.

    Without an explicit choice the account follows the browser's ``Accept-Language``.
    """
    choice = request.cookies.get(i18n.LANG_COOKIE)
    return choice if choice in i18n.LOCALES else None


# --- language -----------------------------------------------------------------------------------


async def set_language(request: Request) -> Response:
    """Switch the interface language: a cookie for anyone, and the profile of a signed-in user."""
    form = await read_form(request)
    locale = form_str(form, "locale", max_length=16)
    if locale not in i18n.LOCALES:
        raise Invalid(N_("Choose a language from the list."), code="account.invalid_locale")
    user = await current_user(request)
    if user is not None:
        async with platform(request).db.session() as session:
            await services.update_profile(
                session, user, name=user.name, locale=locale, client=client_of(request)
            )
        await forget_auth(request, user=user)
    target = safe_next(form_str(form, "next", max_length=2000)) or _referrer(request) or "/"
    response = redirect(target)
    _set_language_cookie(response, request, locale)
    return response


def _set_language_cookie(response: Response, request: Request, locale: str) -> None:
    response.set_cookie(
        i18n.LANG_COOKIE,
        locale,
        max_age=LANG_COOKIE_SECONDS,
        path="/",
        secure=secure_cookies(request),
        httponly=True,
        samesite="lax",
    )


# --- account ------------------------------------------------------------------------------------


async def account_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    p = platform(request)
    async with p.db.session() as session:
        tokens = await services.list_tokens(session, user)
        work = await p.get(WorkLinks).links(session, user)
    context: dict[str, Any] = {
        "tokens": tokens,
        "work_links": work,  # in the header
        "min_password": MIN_LENGTH,
        "profile_name": user.name,
        "profile_locale": user.locale,
        "back_to": "/account",
    }
    context.update(extra or {})
    return await render(request, "account.html", context, status=status)


async def account(request: Request) -> Response:
    user = await require_page_user(request)
    return await account_page(request, user)


async def update_account(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    name = form_str(form, "name", max_length=200)
    locale = form_str(form, "locale", max_length=16) or None
    try:
        async with platform(request).db.session() as session:
            await services.update_profile(session, user, name=name, locale=locale, client=client_of(request))
        await forget_auth(request, user=user)
    except ExpoError as exc:
        extra = {"section": "profile", "form_error": exc.message, "profile_name": name}
        return await account_page(request, user, {**extra, "profile_locale": locale}, status=exc.status)
    response = redirect("/account")
    if locale is not None:
        # Keep the cookie in step, so the choice also holds on the login page after logging out.
        _set_language_cookie(response, request, locale)
    flash(response, request, N_("Profile saved."), "success")
    return response


async def create_token(request: Request) -> Response:
    """Create an API token and show its secret, once, on the page (never in a cookie or a URL)."""
    form = await read_form(request)
    user = await require_page_user(request)
    name = form_str(form, "name", max_length=100)
    days_text = form_str(form, "expires_in_days", max_length=10)
    extra: dict[str, Any] = {"section": "tokens", "token_name": name, "token_days": days_text}
    try:
        if not name:
            raise Invalid(N_("Give the token a name, so you recognise it later."), code="auth.token_name")
        days = int(days_text) if days_text.isdigit() else None
        if days_text and (days is None or not 1 <= days <= 3650):
            bad_expiry = N_("Expiry must be a whole number of days from 1 to 3650.")
            raise Invalid(bad_expiry, code="auth.token_expiry")
        async with platform(request).db.session() as session:
            raw, _ = await services.issue_token(
                session,
                user,
                TokenKind.API,
                name=name,
                lifetime=timedelta(days=days) if days else None,
                client=client_of(request),
            )
    except ExpoError as exc:
        return await account_page(request, user, {**extra, "form_error": exc.message}, status=exc.status)
    return await account_page(request, user, {"new_token": raw, "new_token_name": name})


async def revoke_token(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    token_id = path_int(request, "token_id")
    async with platform(request).db.session() as session:
        token = await services.get_own_token(session, user, token_id)
        await services.revoke_token(session, token, user, client_of(request))
    await forget_auth(request, token=token)
    response = redirect("/account")
    flash(response, request, N_("Token revoked."), "success")
    return response


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/signup", signup_form, methods=["GET"]),
    Route("/signup", signup, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/language", set_language, methods=["POST"]),
    Route("/account", account, methods=["GET"]),
    Route("/account", update_account, methods=["POST"]),
    Route("/account/tokens", create_token, methods=["POST"]),
    Route("/account/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"]),
]
