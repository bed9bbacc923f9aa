"""Dashboard API: an expo's figures for its organizers, an exhibitor's for their booths.

``GET /api/expos/{slug}/dashboard`` (organizers of the expo) answers everything the organizer's
page shows; ``.../dashboard/live`` only the live part, which pages also receive over ``/ws`` on
channel ``dashboard:{expo_id}``; ``.../dashboard/mine`` (booth staff) the exhibitor's part.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from expo.accounts.models import User
from expo.auth import platform
from expo.dashboards import overview
from expo.dashboards.history import BoothFigures, BroadcastFigures
from expo.dashboards.live import LiveFigures
from expo.dashboards.sessions import SessionFigures
from expo.http.api import Endpoint, Schema

TAGS = ["dashboards"]
EXPO = "/api/expos/{slug}/dashboard"


class LiveBroadcastOut(Schema):
    id: int
    title: str
    live_viewers: int


class LiveOut(Schema):
    online: int = Field(description="People with the site open now, each signed-in user once.")
    live_viewers: int = Field(description="People watching the expo's live broadcasts now, summed.")
    rooms_in_session: int
    check_ins_today: int = Field(description="Check-ins since midnight in the expo's time zone.")
    check_ins_total: int
    registrations: int = Field(description="Pending and approved registrations.")
    broadcasts: list[LiveBroadcastOut]

    @classmethod
    def of(cls, figures: LiveFigures) -> LiveOut:
        return cls.model_validate(asdict(figures))


class MinuteOut(Schema):
    minute: datetime
    viewers: int


class BroadcastOut(Schema):
    id: int
    title: str
    status: str
    booth_id: int | None
    scheduled_start: datetime | None
    live_viewers: int
    peak_viewers: int
    total_views: int
    unique_viewers: int
    average_watch_seconds: float
    series: list[MinuteOut] = Field(description="Highest concurrency per minute, oldest first.")

    @classmethod
    def of(cls, figures: BroadcastFigures) -> BroadcastOut:
        return cls.model_validate(asdict(figures))


class BoothOut(Schema):
    id: int
    name: str
    visits: int = Field(description="Booth page views by visitors (not by the booth's staff).")
    unique_visitors: int
    leads: int
    meetings_requested: int = Field(description="Meeting requests received, whatever their outcome.")
    meetings_held: int = Field(description="Meetings the booth's staff marked as held.")
    daily_visits: list[int] = Field(description="Visits on each of the last 14 UTC days, today last.")

    @classmethod
    def of(cls, figures: BoothFigures) -> BoothOut:
        return cls.model_validate(asdict(figures))


class DayOut(Schema):
    day: date
    count: int


class SessionOut(Schema):
    id: int
    title: str
    starts_at: datetime
    capacity: int | None
    confirmed: int = Field(description="Confirmed seats now.")
    waitlisted: int
    attended: int = Field(description="People whose attendance was recorded.")

    @classmethod
    def of(cls, figures: SessionFigures) -> SessionOut:
        return cls.model_validate(asdict(figures))


class MeetingTotalsOut(Schema):
    requested: int = Field(description="Meeting requests received by the booths listed.")
    held: int = Field(description="Meetings held at the booths listed.")

    @classmethod
    def of(cls, booths: list[BoothFigures]) -> MeetingTotalsOut:
        return cls(
            requested=sum(b.meetings_requested for b in booths), held=sum(b.meetings_held for b in booths)
        )


class ExpoDashboardOut(Schema):
    slug: str
    live: LiveOut
    registrations_per_day: list[DayOut]
    broadcasts: list[BroadcastOut]
    booths: list[BoothOut] = Field(description="Most visited first.")
    meetings: MeetingTotalsOut = Field(description="The expo's totals over all its booths.")
    sessions: list[SessionOut] = Field(description="The agenda's programs in timetable order.")


class ExhibitorDashboardOut(Schema):
    slug: str
    broadcasts: list[BroadcastOut]
    booths: list[BoothOut]
    meetings: MeetingTotalsOut = Field(description="Totals over the caller's booths.")


async def expo_dashboard(request: Request, user: User) -> ExpoDashboardOut:
    """The expo's dashboard: live figures, registrations per day, broadcasts, booths, sessions."""
    found = await overview.expo_dashboard(platform(request), request.path_params["slug"], user)
    return ExpoDashboardOut(
        slug=found.expo.slug,
        live=LiveOut.of(found.live),
        registrations_per_day=[DayOut(day=d.day, count=d.count) for d in found.registrations_per_day],
        broadcasts=[BroadcastOut.of(b) for b in found.broadcasts],
        booths=[BoothOut.of(b) for b in found.booths],
        meetings=MeetingTotalsOut.of(found.booths),
        sessions=[SessionOut.of(s) for s in found.sessions],
    )


async def live_dashboard(request: Request, user: User) -> LiveOut:
    """The expo's live figures now (the same as the ``dashboard:{expo_id}`` channel's events)."""
    return LiveOut.of(await overview.live_dashboard(platform(request), request.path_params["slug"], user))


async def exhibitor_dashboard(request: Request, user: User) -> ExhibitorDashboardOut:
    """The figures of the caller's booths at this expo and of the broadcasts they present."""
    found = await overview.exhibitor_dashboard(platform(request), request.path_params["slug"], user)
    return ExhibitorDashboardOut(
        slug=found.expo.slug,
        broadcasts=[BroadcastOut.of(b) for b in found.broadcasts],
        booths=[BoothOut.of(b) for b in found.booths],
        meetings=MeetingTotalsOut.of(found.booths),
    )


ROUTES: list[BaseRoute] = [
    Endpoint(EXPO, expo_dashboard, response=ExpoDashboardOut, auth="user", tags=TAGS),
    Endpoint(f"{EXPO}/live", live_dashboard, response=LiveOut, auth="user", tags=TAGS),
    Endpoint(f"{EXPO}/mine", exhibitor_dashboard, response=ExhibitorDashboardOut, auth="user", tags=TAGS),
]
