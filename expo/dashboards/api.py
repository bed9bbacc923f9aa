"""Dashboard API: an expo's figures for its organizers, an exhibitor's for their booths.

``GET /api/expos/{slug}/dashboard`` (organizers of the expo) answers everything the organizer's
page shows; ``.../dashboard/live`` only the live part, which pages also receive over ``/ws`` on
channel ``dashboard:{expo_id}``; ``.../dashboard/mine`` (booth staff) the exhibitor's part.
"""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from expo.accounts.models import User
from expo.auth import platform
from expo.dashboards import overview
from expo.dashboards.figures import (
    BoothFigures,
    BroadcastFigures,
    DayCount,
    LiveFigures,
    MeetingTotals,
    RoomFigures,
    SessionFigures,
)
from expo.http.api import Endpoint, Schema

TAGS = ["dashboards"]
EXPO = "/api/expos/{slug}/dashboard"


class ExpoDashboardOut(Schema):
    slug: str
    live: LiveFigures
    registrations_per_day: list[DayCount]
    broadcasts: list[BroadcastFigures]
    booths: list[BoothFigures] = Field(description="Most visited first.")
    meetings: MeetingTotals = Field(description="The expo's totals over all its booths.")
    sessions: list[SessionFigures] = Field(description="The agenda's programs in timetable order.")
    rooms: list[RoomFigures] = Field(description="Rooms anyone entered, most recently entered first.")


class ExhibitorDashboardOut(Schema):
    slug: str
    broadcasts: list[BroadcastFigures]
    booths: list[BoothFigures]
    meetings: MeetingTotals = Field(description="Totals over the caller's booths.")
    rooms: list[RoomFigures] = Field(description="Their booths' rooms anyone entered, latest first.")


async def expo_dashboard(request: Request, user: User) -> ExpoDashboardOut:
    """The expo's dashboard: live figures, registrations per day, broadcasts, booths, sessions, rooms."""
    found = await overview.expo_dashboard(platform(request), request.path_params["slug"], user)
    return ExpoDashboardOut(
        slug=found.expo.slug,
        live=found.live,
        registrations_per_day=found.registrations_per_day,
        broadcasts=found.broadcasts,
        booths=found.booths,
        meetings=MeetingTotals.of(found.booths),
        sessions=found.sessions,
        rooms=found.rooms,
    )


async def live_dashboard(request: Request, user: User) -> LiveFigures:
    """The expo's live figures now (the same as the ``dashboard:{expo_id}`` channel's events)."""
    return await overview.live_dashboard(platform(request), request.path_params["slug"], user)


async def exhibitor_dashboard(request: Request, user: User) -> ExhibitorDashboardOut:
    """The figures of the caller's booths at this expo and of the broadcasts they present."""
    found = await overview.exhibitor_dashboard(platform(request), request.path_params["slug"], user)
    return ExhibitorDashboardOut(
        slug=found.expo.slug,
        broadcasts=found.broadcasts,
        booths=found.booths,
        meetings=MeetingTotals.of(found.booths),
        rooms=found.rooms,
    )


ROUTES: list[BaseRoute] = [
    Endpoint(EXPO, expo_dashboard, response=ExpoDashboardOut, auth="user", tags=TAGS),
    Endpoint(f"{EXPO}/live", live_dashboard, response=LiveFigures, auth="user", tags=TAGS),
    Endpoint(f"{EXPO}/mine", exhibitor_dashboard, response=ExhibitorDashboardOut, auth="user", tags=TAGS),
]
