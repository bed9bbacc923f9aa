"""Promotion dashboard API: ``GET /api/expos/{slug}/dashboard/promotion`` answers every figure the
promotion dashboard page shows (:class:`~expo.dashboards.promotion_figures.PromotionFigures`), for
the expo's investment bureau (401 signed out, 403 off its bureau, 404 unknown expo)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import BaseRoute

from expo.accounts.models import User
from expo.auth import platform
from expo.dashboards import promotion
from expo.dashboards.api import EXPO, TAGS
from expo.dashboards.promotion_figures import PromotionFigures
from expo.http.api import Endpoint


async def promotion_dashboard(request: Request, user: User) -> PromotionFigures:
    """The expo's promotion figures: projects per stage and sector (sums per currency), time in
    each stage, overdue projects, the invitation funnel and consulting response times."""
    _, figures = await promotion.dashboard(platform(request).db, request.path_params["slug"], user)
    return figures


ROUTES: list[BaseRoute] = [
    Endpoint(f"{EXPO}/promotion", promotion_dashboard, response=PromotionFigures, auth="user", tags=TAGS),
]
