"""Typed API endpoints: one declaration gives validation, permission checks and the OpenAPI entry.

A handler is an ``async def`` that takes the request and, by parameter name, any of ``body``
(the validated request model), ``query`` (the validated query-string model) and ``user`` (the
authenticated user). JSON bodies are validated strictly, from the JSON itself, so that what the
OpenAPI document says is what is accepted (no ``false`` for an integer, no number for a date-time).
It returns a pydantic model, plain JSON data or a ``Response``::

    Endpoint("/api/auth/login", login, method="POST", body=LoginIn, response=TokenOut)
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from expo.accounts.models import Role, User
from expo.errors import BadRequest, Invalid
from expo.http.bodies import decode_json, read_json_bytes
from expo.http.inputs import NullRules, refuse_control
from expo.permissions import require_user

Handler = Callable[..., Awaitable[Any]]


class Schema(NullRules):
    """Base for request and response bodies: unknown fields are an error, not silently dropped,
    and ``null`` is refused for the fields named in ``not_null``."""

    model_config = ConfigDict(extra="forbid")


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def _invalid(exc: ValidationError, where: str) -> Invalid:
    details = validation_details(exc)
    first = details[0]
    return Invalid(f"Invalid {where}: {first['field']}: {first['message']}", details=details)


class Endpoint(Route):
    """A ``/api`` route with declared input and output models.

    ``auth`` is ``None`` (public), ``"user"`` (any signed-in user) or a sequence of roles.
    ``body_media`` names a non-JSON request body (for example ``application/sdp``) that the
    handler reads itself; it only documents the route.
    """

    def __init__(
        self,
        path: str,
        handler: Handler,
        *,
        method: str = "GET",
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        auth: str | Sequence[Role] | None = None,
        summary: str = "",
        tags: Sequence[str] = (),
        body_media: str | None = None,
        response_media: str | None = None,
        name: str | None = None,
    ) -> None:
        self.handler = handler
        self.method = method.upper()
        self.body_model = body
        self.query_model = query
        self.response_model = response
        self.status = status
        self.auth = auth
        self.summary = summary or (inspect.getdoc(handler) or "").split("\n", 1)[0]
        self.description = inspect.getdoc(handler) or ""
        self.tags = tuple(tags)
        self.body_media = body_media
        self.response_media = response_media
        self._wants = set(inspect.signature(handler).parameters)
        super().__init__(path, self._endpoint, methods=[self.method], name=name or handler.__name__)

    async def _endpoint(self, request: Request) -> Response:
        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            roles = None if self.auth == "user" else tuple(Role(r) for r in self.auth)
            user: User = await require_user(request, roles)
            if "user" in self._wants:
                kwargs["user"] = user
        if self.query_model is not None:
            try:
                kwargs["query"] = self.query_model.model_validate(dict(request.query_params))
            except ValidationError as exc:
                raise _invalid(exc, "query") from None
        if self.body_model is not None:
            limit: int = request.app.state.platform.settings.max_body_bytes
            raw = await read_json_bytes(request, limit)
            refuse_control(decode_json(raw), "body")
            try:
                # Strict, from the JSON itself: what the document says is an integer must be one
                # (not ``false``), a date-time an RFC 3339 string (not ``0``), a string a string.
                kwargs["body"] = self.body_model.model_validate_json(raw, strict=True)
            except ValidationError as exc:
                raise _invalid(exc, "body") from None
        result = await self.handler(request, **kwargs)
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        if result is None and self.status == 204:
            return Response(status_code=204)
        return JSONResponse(result, status_code=self.status)


def path_int(request: Request, name: str) -> int:
    """A positive integer path parameter (routes use ``{name:int}``, which already rejects text)."""
    value = request.path_params[name]
    if not isinstance(value, int) or value < 1:
        raise BadRequest(f"{name} must be a positive integer.")
    return value
