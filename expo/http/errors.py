"""The one place where exceptions become responses.

Under ``/api``: the contract's ``{"error": {"code", "message"}}``. Elsewhere: an error page.
Anything unexpected is logged with its traceback and answered 500 without internals.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from expo.bus import BusError
from expo.errors import N_, ExpoError, MethodNotAllowed, NotFound, Unavailable
from expo.http.middleware import boundary_headers

log = logging.getLogger("expo.errors")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


async def _respond(request: Request, error: ExpoError) -> Response:
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if error.status in (429, 503) and retry_after:
        headers["Retry-After"] = str(retry_after)
    if error.status == 401 and _is_api(request):
        headers["WWW-Authenticate"] = 'Bearer realm="expo"'
    if _is_api(request) or request.scope.get("type") != "http":
        return JSONResponse(error.to_dict(), status_code=error.status, headers=headers)
    if error.status == 401:
        # A page that needs a signed-in user sends the browser to the login form, and back after.
        return RedirectResponse(_login_url(request), status_code=303)
    # Imported here: pages need templates, the API boundary must not depend on them.
    from expo.http.pages import render

    try:
        response: Response = await render(
            request, "error.html", {"status": error.status, "error": error}, status=error.status
        )
    except Exception:
        log.exception("error page failed")
        response = Response(error.message, status_code=error.status, media_type="text/plain")
    response.headers.update(headers)
    return response


def _login_url(request: Request) -> str:
    if request.method not in ("GET", "HEAD"):
        return "/login"  # a form post cannot be replayed by a redirect: start from the login page
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": here})


async def refuse(scope: Scope, receive: Receive, send: Send, error: ExpoError) -> None:
    """Answer ``error`` from outside the router, as its handler would have."""
    response = await _respond(Request(scope, receive), error)
    await response(scope, receive, send)


async def expo_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ExpoError)
    return await _respond(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: ExpoError
    if exc.status_code == 404:
        error = NotFound(N_("There is nothing at this address."))
    elif exc.status_code == 405:
        error = MethodNotAllowed(f"{request.method} is not allowed here.")
    else:
        error = ExpoError(str(exc.detail), code="request.error")
        error.status = exc.status_code
    response = await _respond(request, error)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def bus_error(request: Request, exc: Exception) -> Response:
    """The bus failed under a request (Redis is down): a 503 that says to retry, not a 500.

    Not logged here: the bus logs the outage once when it starts, where every request failing
    during it would log the same traceback again.
    """
    assert isinstance(exc, BusError)
    log.debug("request failed on the bus: %s", exc, extra={"fields": {"path": request.url.path}})
    message = N_("Live features are briefly unavailable. Please try again in a moment.")
    return await _respond(request, Unavailable(message))


async def server_error(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"fields": {"path": request.url.path, "request_id": request.scope.get("expo.request_id")}},
    )
    message = "Something went wrong on our side. It has been logged."
    body = {"error": {"code": "server.error", "message": message}}
    # Starlette sends this from outside every middleware, so add what BoundaryMiddleware would have:
    # the request id above all, which ties a user's report to the logged traceback.
    headers = {name.decode(): value.decode() for name, value in boundary_headers(request.scope)}
    if _is_api(request):
        return JSONResponse(body, status_code=500, headers=headers)
    return Response(message, status_code=500, media_type="text/plain", headers=headers)


EXCEPTION_HANDLERS = {
    ExpoError: expo_error,
    HTTPException: http_error,
    BusError: bus_error,
    Exception: server_error,
}
