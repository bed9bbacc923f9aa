"""Dashboard pages and their CSV downloads.

``/organizer/expos/{slug}/dashboard``: the organizer's page, live figures first (drawn here, then
kept current by ``web/static/js/dashboard.js`` over ``/ws``), then the figures over time as SVG
charts with their numbers in tables beside them. ``/my/dashboard/{slug}``: the same for the
booths an exhibitor staffs. Each page links the CSV exports that go with it. ``/organizer``: the
organizer's home, each of their expos with the figures that need attention (:mod:`.home`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from booths import floor
from expo.accounts.models import Role
from expo.accounts.services import count_by_role
from expo.auth import platform
from expo.dashboards import access, charts, exports, home, overview, rooms
from expo.dashboards.figures import BroadcastFigures
from expo.dashboards.live import channel
from expo.http.pages import page_locale, redirect, render
from expo.permissions import Perm, is_admin, may_run_promotion, require_page_user

# Exports of the other domains, linked from the organizer's page when they exist.
REGISTRATIONS_CSV = "/api/expos/{slug}/registrations.csv"
ATTENDANCE_CSV = "/organizer/expos/{slug}/agenda/{program_id}/attendance.csv"
PROMOTION_DASHBOARD = "/organizer/expos/{slug}/dashboard/promotion"  # the bureau's (.promotion_pages)


async def page_helpers(request: Request) -> dict[str, Any]:
    """What the dashboard templates call: numbers in the reader's locale, the charts."""
    locale = await page_locale(request)
    return {
        "number": lambda n: floor.number(n, locale),
        "time_chart": charts.time_chart,
        "bar_ranking": charts.bar_ranking,
        "sparkline": charts.sparkline,
        "minutes": lambda seconds: f"{int(seconds) // 60}:{int(seconds) % 60:02d}",
        "points": _pairs,
        "pairs": _pairs,
    }


def _field(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


def _pairs(items: Iterable[Any], first: str, second: str) -> list[tuple[Any, Any]]:
    """``(item.first, item.second)`` for each item (objects or dicts): what the charts draw."""
    return [(_field(item, first), _field(item, second)) for item in items]


def _exists(request: Request, path: str) -> bool:
    """True when the app serves ``path`` (exports of domains that may not be installed)."""
    scope = {"type": "http", "path": path, "method": "GET"}
    return any(route.matches(scope)[0] == Match.FULL for route in request.app.routes)


async def organizer_home(request: Request) -> Response:
    """``/organizer``: the expos the user helps run, what needs doing in each, and for
    administrators the platform's accounts and audit log behind links."""
    user = await require_page_user(request, [Role.ORGANIZER])
    cards, total = await home.expo_cards(platform(request), user)
    by_role: dict[str, int] = {}
    if is_admin(user):
        async with platform(request).db.session() as session:
            by_role = await count_by_role(session)
    context: dict[str, Any] = {
        "cards": cards,
        "total_expos": total,
        "is_admin": is_admin(user),
        "users_by_role": by_role,
        "total_users": sum(by_role.values()),
        "number": (await page_helpers(request))["number"],
    }
    return await render(request, "organizer.html", context)


async def expo_page(request: Request) -> Response:
    """The organizer's dashboard of one expo."""
    user = await require_page_user(request)
    found = await overview.expo_dashboard(platform(request), request.path_params["slug"], user)
    slug = found.expo.slug
    registrations_csv = REGISTRATIONS_CSV.format(slug=slug)
    attendance = {s.id: ATTENDANCE_CSV.format(slug=slug, program_id=s.id) for s in found.sessions}
    context: dict[str, Any] = {
        "expo": found.expo,
        "dash": found,
        "channel": channel(found.expo.id or 0),
        "live_url": f"/api/expos/{slug}/dashboard/live",
        "csv_base": f"/organizer/expos/{slug}/dashboard",
        # Links only to what the reader may open: the other domains ask their own permissions.
        "registrations_csv": (
            registrations_csv
            if found.viewer.has(Perm.MANAGE_REGISTRATION) and _exists(request, registrations_csv)
            else None
        ),
        "attendance_csv": {
            pid: url
            for pid, url in attendance.items()
            if found.viewer.has(Perm.MANAGE_AGENDA) and _exists(request, url)
        },
        "promotion_dashboard": (
            PROMOTION_DASHBOARD.format(slug=slug) if may_run_promotion(found.viewer) else None
        ),
        **await page_helpers(request),
    }
    return await render(request, "dashboard.html", context)


async def my_dashboards(request: Request) -> Response:
    """``/my/dashboard``: the expos where the user staffs a booth (straight to it when one)."""
    user = await require_page_user(request)
    expos = await overview.exhibitor_expos(platform(request), user)
    if len(expos) == 1:
        return redirect(f"/my/dashboard/{expos[0].slug}")
    return await render(request, "my_dashboards.html", {"expos": expos})


async def exhibitor_page(request: Request) -> Response:
    """The exhibitor's dashboard of their booths at one expo."""
    user = await require_page_user(request)
    found = await overview.exhibitor_dashboard(platform(request), request.path_params["slug"], user)
    context: dict[str, Any] = {
        "expo": found.expo,
        "dash": found,
        "csv_base": f"/my/dashboard/{found.expo.slug}",
        **await page_helpers(request),
    }
    return await render(request, "my_dashboard.html", context)


def csv_response(body: str, filename: str) -> Response:
    """A CSV download named ``filename``."""
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _organizer_broadcasts(request: Request) -> tuple[str, list[BroadcastFigures]]:
    user = await require_page_user(request)
    found = await overview.expo_dashboard(platform(request), request.path_params["slug"], user)
    return found.expo.slug, found.broadcasts


async def _exhibitor_broadcasts(request: Request) -> tuple[str, list[BroadcastFigures]]:
    user = await require_page_user(request)
    found = await overview.exhibitor_dashboard(platform(request), request.path_params["slug"], user)
    return found.expo.slug, found.broadcasts


async def organizer_audience_csv(request: Request) -> Response:
    """Per-broadcast audience totals of the expo as CSV."""
    slug, broadcasts = await _organizer_broadcasts(request)
    return csv_response(exports.audience_totals_csv(broadcasts), f"{slug}-audience.csv")


async def organizer_minutes_csv(request: Request) -> Response:
    """Per-minute concurrency of every broadcast of the expo as CSV."""
    slug, broadcasts = await _organizer_broadcasts(request)
    return csv_response(exports.audience_minutes_csv(broadcasts), f"{slug}-audience-minutes.csv")


async def exhibitor_audience_csv(request: Request) -> Response:
    slug, broadcasts = await _exhibitor_broadcasts(request)
    return csv_response(exports.audience_totals_csv(broadcasts), f"{slug}-my-audience.csv")


async def exhibitor_minutes_csv(request: Request) -> Response:
    slug, broadcasts = await _exhibitor_broadcasts(request)
    return csv_response(exports.audience_minutes_csv(broadcasts), f"{slug}-my-audience-minutes.csv")


async def organizer_rooms_csv(request: Request) -> Response:
    """Every stay in the expo's rooms as CSV (the organizer's dashboard readers)."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo, _ = await access.organized_expo(session, request.path_params["slug"], user)
        body = await rooms.attendance_csv(session, expo.id or 0)
    return csv_response(body, f"{expo.slug}-room-attendance.csv")


async def exhibitor_rooms_csv(request: Request) -> Response:
    """Every stay in the rooms of the caller's booths at the expo as CSV."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo, mine = await access.exhibitor_expo(session, request.path_params["slug"], user)
        body = await rooms.attendance_csv(session, expo.id or 0, [b.id for b in mine if b.id is not None])
    return csv_response(body, f"{expo.slug}-my-room-attendance.csv")


ROUTES: list[BaseRoute] = [
    Route("/organizer", organizer_home, methods=["GET"]),
    Route("/organizer/expos/{slug}/dashboard", expo_page, methods=["GET"]),
    Route("/organizer/expos/{slug}/dashboard/audience.csv", organizer_audience_csv, methods=["GET"]),
    Route("/organizer/expos/{slug}/dashboard/audience-minutes.csv", organizer_minutes_csv, methods=["GET"]),
    Route("/organizer/expos/{slug}/dashboard/rooms.csv", organizer_rooms_csv, methods=["GET"]),
    Route("/my/dashboard", my_dashboards, methods=["GET"]),
    Route("/my/dashboard/{slug}", exhibitor_page, methods=["GET"]),
    Route("/my/dashboard/{slug}/audience.csv", exhibitor_audience_csv, methods=["GET"]),
    Route("/my/dashboard/{slug}/audience-minutes.csv", exhibitor_minutes_csv, methods=["GET"]),
    Route("/my/dashboard/{slug}/rooms.csv", exhibitor_rooms_csv, methods=["GET"]),
]
