"""Operational routes: health, metrics, the OpenAPI document."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from expo.auth import platform
from expo.http.api import Endpoint
from expo.http.openapi import build_openapi

_OK = JSONResponse({"status": "ok"})
# A load balancer may probe many times a second; one real round trip to the store a second is enough.
HEALTH_CACHE_SECONDS = 1.0


async def healthz(request: Request) -> Response:
    """200 once the store answers; 503 while it does not."""
    p = platform(request)
    now = time.monotonic()
    if now - p.healthy_at < HEALTH_CACHE_SECONDS:
        return _OK
    if await p.db.ping():
        p.healthy_at = now
        return _OK
    return JSONResponse({"status": "unavailable"}, status_code=503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(platform(request).registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """This document: every ``/api`` route, generated from the routes' declarations."""
    # Built once per app: the routes do not change after start-up.
    doc = getattr(request.app.state, "openapi_doc", None)
    if doc is None:
        doc = build_openapi(request.app.routes)
        request.app.state.openapi_doc = doc
    return JSONResponse(doc)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    # An Endpoint, so the document lists itself like every other /api route.
    Endpoint("/api/openapi.json", openapi, tags=["meta"]),
]
