"""Domain errors.

Services raise these; one boundary (``expo.http.errors``) turns them into the contract's JSON
``{"error": {"code", "message"}}`` under ``/api`` and into an error page elsewhere. Codes are
namespaced by domain (``auth.bad_credentials``, ``booth.not_found``) so clients can branch on
them without parsing messages.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark ``message`` for the translation catalog without translating it.

    Errors carry English text (the API answers in English); pages translate the text when they
    show it, so the messages they can show are marked where they are written.
    """
    return message


class ExpoError(Exception):
    """A failure the client can understand and act on: always answered with a 4xx."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra
        for name, value in extra.items():
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        details = self.extra.get("details")
        if details is not None:
            body["details"] = details
        return {"error": body}


class Invalid(ExpoError):
    """The request is well-formed but its content breaks a rule (422)."""

    status = 422
    code = "validation.invalid"


class BadRequest(ExpoError):
    status = 400
    code = "request.bad"


class Unauthorized(ExpoError):
    """No or invalid credentials."""

    status = 401
    code = "auth.required"


class Forbidden(ExpoError):
    """Authenticated, but not allowed to do this."""

    status = 403
    code = "auth.forbidden"


class NotFound(ExpoError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ExpoError):
    status = 405
    code = "request.method_not_allowed"


class Conflict(ExpoError):
    """The request clashes with the current state (duplicate, already live, ...)."""

    status = 409
    code = "conflict"


class TooLarge(ExpoError):
    status = 413
    code = "request.too_large"


class UnsupportedMediaType(ExpoError):
    status = 415
    code = "request.unsupported_media_type"


class RateLimited(ExpoError):
    """Too many attempts; ``retry_after`` says how many seconds to wait."""

    status = 429
    code = "rate_limited"
    retry_after: int = 1


class Unavailable(ExpoError):
    """A service the request needs is briefly gone (the bus during a Redis outage): nothing was
    done, try again shortly. The one 5xx among these, since it is not the client's mistake."""

    status = 503
    code = "service.unavailable"
    retry_after: int = 5


class ConfigError(Exception):
    """Invalid configuration; the message names the offending key."""
