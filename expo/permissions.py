"""Who is asking, and may they? Every route goes through here.

Credentials: ``Authorization: Bearer <API token>`` on any ``/api`` route, or the page session
cookie. A request authenticated by cookie that changes state must also carry the CSRF token
(form field or ``X-CSRF-Token`` header); bearer requests need none, since browsers never attach
them on their own.

Pages use :func:`require_page_user`: a signed-out browser is redirected to the login form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from starlette.requests import HTTPConnection

from expo.accounts.models import AuthToken, Role, TokenKind, User
from expo.accounts.services import hash_token, resolve_token
from expo.errors import N_, Forbidden, Unauthorized
from expo.security import CSRF_HEADER, verify_csrf

if TYPE_CHECKING:
    from expo.platform import Platform

SESSION_COOKIE = "expo_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSET = object()


def platform(conn: HTTPConnection) -> Platform:
    return conn.app.state.platform  # type: ignore[no-any-return]


async def current_user(conn: HTTPConnection) -> User | None:
    """The signed-in user or ``None``; a malformed or revoked bearer token is a 401, not anonymous."""
    cached = conn.scope.get("expo.user", _UNSET)
    if cached is not _UNSET:
        return cast("User | None", cached)
    user, token, via = await _authenticate(conn)
    conn.scope["expo.user"] = user
    conn.scope["expo.token"] = token
    conn.scope["expo.auth_via"] = via
    return user


async def _authenticate(conn: HTTPConnection) -> tuple[User | None, AuthToken | None, str | None]:
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="auth.malformed_header")
        found = await _resolve(platform(conn), raw.strip(), TokenKind.API)
        if found is None:
            raise Unauthorized("The token is unknown, expired or revoked.", code="auth.invalid_token")
        return found[0], found[1], "bearer"
    raw_cookie = conn.cookies.get(SESSION_COOKIE)
    if raw_cookie:
        found = await _resolve(platform(conn), raw_cookie, TokenKind.SESSION)
        if found is not None:
            return found[0], found[1], "cookie"
    return None, None, None


async def _resolve(p: Platform, raw: str, kind: TokenKind) -> tuple[User, AuthToken] | None:
    """The token's live user, from this process's :class:`AuthCache` when it knows the answer."""
    key = hash_token(raw)
    found = p.auth_cache.get(key)
    if found is None or found[1].kind != kind.value:
        async with p.db.session() as session:
            found = await resolve_token(session, raw, kind)
        if found is None:
            return None
        p.auth_cache.put(key, *found)
    p.token_use.note(found[1])
    return found


async def forget_auth(
    conn: HTTPConnection, *, token: AuthToken | None = None, user: User | None = None
) -> None:
    """After a commit that signs a token out or changes a user: stop every process remembering it."""
    cache = platform(conn).auth_cache
    if token is not None:
        await cache.forget_token(token.token_hash)
    if user is not None and user.id is not None:
        await cache.forget_user(user.id)


def current_token(conn: HTTPConnection) -> AuthToken | None:
    """The session or API token of an already authenticated request."""
    return conn.scope.get("expo.token")


async def require_user(conn: HTTPConnection, roles: Sequence[Role] | None = None) -> User:
    """The signed-in user, checked against ``roles``; CSRF-checked when the cookie authenticates."""
    user = await current_user(conn)
    if user is None:
        raise Unauthorized("Sign in first.", code="auth.required")
    if conn.scope.get("expo.auth_via") == "cookie" and conn.scope.get("method", "GET") not in SAFE_METHODS:
        verify_csrf(conn, platform(conn).secret, conn.headers.get(CSRF_HEADER))
    if roles is not None and Role(user.role) not in roles:
        raise Forbidden("Your account is not allowed to do this.", code="auth.forbidden")
    return user


async def require_page_user(conn: HTTPConnection, roles: Sequence[Role] | None = None) -> User:
    """The signed-in user of a page, checked against ``roles``.

    Signed out: :class:`Unauthorized`, which the error boundary turns into a redirect to
    ``/login?next=<this page>`` for pages (and a JSON 401 under ``/api``). Wrong role:
    :class:`Forbidden`, shown as the 403 error page. Unlike :func:`require_user` this does not
    look for the CSRF header: page forms carry the token as a field, and a POST handler calls
    :func:`expo.http.pages.read_form` (which verifies it) before this.
    """
    user = await current_user(conn)
    if user is None:
        raise Unauthorized(N_("Sign in first."), code="auth.required")
    if roles is not None and Role(user.role) not in roles:
        raise Forbidden(N_("Your account is not allowed to do this."), code="auth.forbidden")
    return user


def has_role(user: User | None, *roles: Role) -> bool:
    return user is not None and Role(user.role) in roles
