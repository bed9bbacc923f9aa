"""One pure-ASGI middleware for what every response needs: request id, security headers,
metrics, a structured access log, and no control characters in the path or query string. Pure
ASGI (not BaseHTTPMiddleware) because it runs on every request, ``/healthz`` included, and must
cost next to nothing.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from expo.errors import N_, Invalid, NotFound
from expo.http.inputs import CONTROL_MESSAGE, control_in_path, control_in_query

log = logging.getLogger("expo.access")

# Pages use only our own scripts and styles: no inline script, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(self), display-capture=(self), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def boundary_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """What every response carries: the security policy, HSTS over HTTPS and the request id."""
    headers = list(_SECURITY_HEADERS)
    if scope.get("scheme") == "https":
        headers.append(_HSTS)
    request_id = scope.get("expo.request_id")
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    return headers


class HttpMetrics:
    """Request count and latency by route template.

    The labelled children are cached: ``Counter.labels()`` takes a lock and builds a key on
    every call, which shows up at tens of thousands of requests a second.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "expo_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "expo_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
        )
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(method, route, str(status))
        counter.inc()
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.latency.labels(route)
        histogram.observe(seconds)


def route_label(scope: Scope) -> str:
    """The matched route's template (``/api/streams/{id}``): bounded label cardinality."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"


class BoundaryMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, access_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _incoming_request_id(scope) or secrets.token_hex(8)
        scope["expo.request_id"] = request_id
        status = 500
        extra_headers = boundary_headers(scope)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: list[Any] = list(message.get("headers", ()))
                present = {name for name, _ in headers}  # ASGI header names are lower case
                headers.extend(h for h in extra_headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        try:
            if control_in_path(scope["path"]) or control_in_query(scope.get("query_string", b"")):
                await _refuse_control(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = route_label(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            # Checked first: building the fields costs more than the check.
            if self.access_log and log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                log.info(
                    "request",
                    extra={
                        "fields": {
                            "request_id": request_id,
                            "method": scope["method"],
                            "path": scope["path"],
                            "route": route,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                            "client": client[0] if client else None,
                            "user_id": getattr(scope.get("expo.user"), "id", None),
                        }
                    },
                )


async def _refuse_control(scope: Scope, receive: Receive, send: Send) -> None:
    """A control character in the path is an address that cannot exist (404); in the query
    string it is a refused input (422). Either way no handler, and no query, sees it."""
    from expo.http.errors import refuse  # that module imports this one

    if control_in_path(scope["path"]):
        await refuse(scope, receive, send, NotFound(N_("There is nothing at this address.")))
    else:
        await refuse(scope, receive, send, Invalid(CONTROL_MESSAGE, code="input.control"))


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            # Only accept a short, plain id from upstream proxies: it is echoed into logs.
            if 0 < len(text) <= 64 and text.isascii() and text.replace("-", "").isalnum():
                return text
    return None
