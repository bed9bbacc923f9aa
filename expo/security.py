"""Signing and CSRF.

CSRF uses signed double-submit: every browser gets a random ``expo_csrf`` cookie, and a form (or a
page's script, via the ``X-CSRF-Token`` header) must send back HMAC(secret, that value). An
attacker can neither read the cookie nor compute the HMAC, and one who plants a cookie from a
sibling domain still cannot produce a matching token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response

from expo.errors import N_, Forbidden

CSRF_COOKIE = "expo_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def _mac(secret: str, purpose: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, purpose: str, data: Any) -> str:
    """A tamper-proof string carrying ``data`` (JSON), for flash messages and similar cookies."""
    payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{payload}.{_mac(secret, purpose, payload)}"


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that treats any non-ASCII ``given`` as simply not matching.

    ``hmac.compare_digest`` raises ``TypeError`` on non-ASCII strings, and every value compared
    here (cookies, query strings, path segments) comes from the client.
    """
    return given.isascii() and hmac.compare_digest(given, expected)


def unsign(secret: str, purpose: str, value: str) -> Any:
    """The data in ``value``, or ``None`` if it was forged or is malformed (non-ASCII included)."""
    if not value.isascii():
        return None
    payload, _, mac = value.rpartition(".")
    if not payload or not _same(mac, _mac(secret, purpose, payload)):
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None


def is_https(conn: HTTPConnection) -> bool:
    # uvicorn applies X-Forwarded-Proto from trusted proxies (forwarded_allow_ips) to the scope.
    return conn.url.scheme in ("https", "wss")


def csrf_token(conn: HTTPConnection, secret: str) -> str:
    """The token to embed in forms; creates the browser's nonce when it has none yet."""
    nonce = conn.cookies.get(CSRF_COOKIE) or conn.scope.get("expo.csrf_nonce")
    if not nonce or len(nonce) > 100:
        nonce = secrets.token_urlsafe(24)
        # The response must set this cookie: see set_csrf_cookie.
        conn.scope["expo.csrf_nonce"] = nonce
    return _mac(secret, "csrf", nonce)


def set_csrf_cookie(conn: HTTPConnection, response: Response, secure: bool) -> None:
    nonce = conn.scope.get("expo.csrf_nonce")
    if nonce:
        response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax", secure=secure, path="/")


def verify_csrf(conn: HTTPConnection, secret: str, submitted: str | None) -> None:
    nonce = conn.cookies.get(CSRF_COOKIE)
    if not nonce or not submitted or not _same(submitted, _mac(secret, "csrf", nonce)):
        raise Forbidden(
            N_("The form expired or did not come from this site. Reload the page and try again."),
            code="auth.csrf_failed",
        )
