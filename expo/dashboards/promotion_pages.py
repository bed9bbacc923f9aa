"""The promotion dashboard page and its CSV downloads, for the expo's investment bureau:

- ``/organizer/expos/{slug}/dashboard/promotion``: the pipeline per stage and sector, time in
  stage, overdue projects, the invitation funnel and consulting response times, each chart drawn
  on the server (:mod:`.charts`) beside a table of its numbers;
- ``/organizer/expos/{slug}/dashboard/promotion/{table}.csv``: each of those tables
  (:data:`.promotion_exports.WRITERS`: stages, sectors, funnel, consulting).

Linked from the pipeline board and the expo's dashboard; the API gives the same figures
(:mod:`.promotion_api`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.auth import platform
from expo.dashboards import promotion
from expo.dashboards.pages import PROMOTION_DASHBOARD, csv_response, page_helpers
from expo.dashboards.promotion_exports import WRITERS
from expo.dashboards.promotion_figures import PromotionFigures
from expo.errors import N_, NotFound
from expo.http.pages import page_locale, render
from expo.i18n import translations
from expo.permissions import require_page_user
from expo.promotion import projects
from expo.promotion.consulting import CATEGORIES
from expo.promotion.invitations import STAGE_NAMES, Stage
from expo.promotion.reminders import OPEN_STAGES

PAGE = PROMOTION_DASHBOARD
TOP_SECTORS = 10  # the sectors chart shows the ten with the most projects; the table lists all


def _charts(figures: PromotionFigures, locale: str) -> dict[str, list[tuple[str, float]]]:
    """The rows of the page's bar charts, names in the reader's language."""
    gettext = translations(locale).gettext
    stage_name = {s.key: gettext(s.title) for s in projects.STAGES}
    return {
        "stages": [(stage_name[s.stage], s.projects) for s in figures.stages],
        "days_in_stage": [
            (stage_name[s.stage], round(s.median_seconds_in_stage / 86400, 1))
            for s in figures.stages
            if s.median_seconds_in_stage is not None and s.stage in OPEN_STAGES
        ],
        "sectors": [(s.sector, s.projects) for s in figures.sectors[:TOP_SECTORS]],
        "funnel": [(gettext(STAGE_NAMES[Stage(f.step)]), f.invitations) for f in figures.funnel],
        "response_hours": [
            (gettext(CATEGORIES[c.category]), round(c.median_first_response_seconds / 3600, 1))
            for c in figures.consulting
            if c.median_first_response_seconds is not None
        ],
    }


async def dashboard_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/dashboard/promotion``."""
    user = await require_page_user(request)
    expo, figures = await promotion.dashboard(platform(request).db, request.path_params["slug"], user)
    context: dict[str, Any] = {
        "expo": expo,
        "figures": figures,
        "bars": _charts(figures, await page_locale(request)),
        "csv_base": PAGE.format(slug=expo.slug),
        "stage_of": projects.stage,
        "open_stages": OPEN_STAGES,
        "categories": CATEGORIES,
        "funnel_names": {s.value: name for s, name in STAGE_NAMES.items()},
        **await page_helpers(request),
    }
    return await render(request, "promotion_dashboard.html", context)


async def table_csv(request: Request) -> Response:
    """``/organizer/expos/{slug}/dashboard/promotion/{table}.csv``: one table of the page."""
    user = await require_page_user(request)
    table = request.path_params["table"]
    writer = WRITERS.get(table)
    if writer is None:
        raise NotFound(N_("There is nothing at this address."), code="dashboard.unknown_table")
    expo, figures = await promotion.dashboard(platform(request).db, request.path_params["slug"], user)
    return csv_response(writer(figures), f"{expo.slug}-promotion-{table}.csv")


ROUTES: list[BaseRoute] = [
    Route(PAGE, dashboard_page, methods=["GET"]),
    Route(PAGE + "/{table}.csv", table_csv, methods=["GET"]),
]
