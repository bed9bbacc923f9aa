"""Who is asking: the signed-in user of a request, from a bearer token or the session cookie.

Credentials: ``Authorization: Bearer <API token>`` on any ``/api`` route, or the page session
cookie. A request authenticated by cookie that changes state must also carry the CSRF token
(form field or ``X-CSRF-Token`` header); bearer requests need none, since browsers never attach
them on their own.

Whether they may do what they ask is :mod:`expo.permissions`' question, never this module's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from starlette.requests import HTTPConnection

from expo.accounts.models import AuthToken, TokenKind, User
from expo.accounts.services import hash_token, resolve_token
from expo.errors import N_, Unauthorized
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


async def require_signed_in(conn: HTTPConnection, *, page: bool = False) -> User:
    """The signed-in user, or :class:`Unauthorized` (a redirect to the login form for pages).

    A request authenticated by cookie that changes state must carry the CSRF token. The API checks
    the header here; page forms carry it as a field that :func:`expo.http.pages.read_form` checks.
    """
    user = await current_user(conn)
    if user is None:
        raise Unauthorized(N_("Sign in first."), code="auth.required")
    if (
        not page
        and conn.scope.get("expo.auth_via") == "cookie"
        and conn.scope.get("method", "GET") not in SAFE_METHODS
    ):
        verify_csrf(conn, platform(conn).secret, conn.headers.get(CSRF_HEADER))
    return user
