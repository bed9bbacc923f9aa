"""Agenda API: the timetable (public), the organizers' program editing and attendance, and session
registration, ``POST``/``DELETE /api/programs/{id}/registration`` answering
``{"status": "confirmed"|"waitlisted"|"cancelled", "position": int|null}``. ``GET
/api/me/agenda/feed`` reads the caller's private calendar link and ``POST`` replaces it (the old
link stops working).

Registration is the hot path (a thousand visitors may click at the same second): its handler
reads nothing itself and hands the request to this process's :class:`expo.agenda.seats.SeatDesk`,
which decides it together with the others waiting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from expo.accounts.models import User
from expo.agenda import feeds, services
from expo.agenda.models import CalendarFeed, Program
from expo.agenda.seats import Seat, SeatDesk
from expo.agenda.services import ProgramFields
from expo.auth import platform
from expo.errors import N_, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import Day

TAGS = ["agenda"]


class SpeakerOut(Schema):
    name: str
    title: str = ""
    company: str = ""


class ProgramOut(Schema):
    id: int
    expo_id: int
    title: str
    description: str
    speakers: list[SpeakerOut]
    track: str
    hall_id: int | None
    stage: str
    starts_at: datetime = Field(description="UTC")
    ends_at: datetime = Field(description="UTC")
    timezone: str = Field(description="the expo's timezone, in which the timetable is laid out")
    stream_id: int | None
    watch_url: str | None
    room_url: str
    capacity: int | None = Field(description="confirmed seats; null: no limit")
    confirmed: int
    waitlisted: int
    seats_left: int | None = Field(description="null: no limit")
    url: str
    ics_url: str
    translations: dict[str, dict[str, str]] = Field(
        description='other languages: {"zh_Hans": {"title": ..., "track": ..., "description": ...}}'
    )

    @classmethod
    def of(cls, program: Program, expo: Expo, counts: tuple[int, int]) -> ProgramOut:
        assert program.id is not None
        confirmed, waitlisted = counts
        page = f"/expos/{expo.slug}/agenda/{program.id}"
        return cls(
            id=program.id,
            expo_id=program.expo_id,
            title=program.title,
            description=program.description,
            speakers=[SpeakerOut.model_validate(s) for s in program.speakers],
            track=program.track,
            hall_id=program.hall_id,
            stage=program.stage,
            starts_at=program.starts_at,
            ends_at=program.ends_at,
            timezone=expo.timezone,
            stream_id=program.stream_id,
            watch_url=f"/watch/{program.stream_id}" if program.stream_id else None,
            room_url=program.room_url,
            capacity=program.capacity,
            confirmed=confirmed,
            waitlisted=waitlisted,
            seats_left=services.seats_left(program, confirmed),
            url=page,
            ics_url=page + ".ics",
            translations=program.translations,
        )


class ProgramList(Schema):
    items: list[ProgramOut]


class ProgramQuery(Schema):
    day: Day | None = Field(default=None, description="a day in the expo's timezone")
    track: str | None = Field(default=None, max_length=100)


class SeatOut(Schema):
    status: Literal["confirmed", "waitlisted", "cancelled"]
    position: int | None = Field(description="place on the waiting list, 1 = next; null otherwise")

    @classmethod
    def of(cls, seat: Seat) -> SeatOut:
        return cls(status=seat.status.value, position=seat.position)


class AttendeeOut(Schema):
    user_id: int
    name: str
    email: str
    status: str
    registered_at: datetime
    promoted_at: datetime | None
    attended_at: datetime | None


class AttendeeList(Schema):
    items: list[AttendeeOut]


class AttendedIn(Schema):
    attended: bool


class FeedOut(Schema):
    url: str = Field(description="The private calendar (iCalendar) link; whoever holds it reads your agenda.")


def desk(request: Request) -> SeatDesk:
    return platform(request).get(SeatDesk)


# Handlers ---------------------------------------------------------------------------------------------------


async def list_programs(request: Request, query: ProgramQuery) -> ProgramList:
    """An expo's programs by start time (``day`` in the expo's timezone, ``track`` exactly)."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        programs = await services.list_programs(session, expo, day=query.day, track=query.track)
        counts = await services.seat_counts(session, [p.id for p in programs if p.id is not None])
    return ProgramList(items=[ProgramOut.of(p, expo, counts.get(p.id or 0, (0, 0))) for p in programs])


async def create_program(request: Request, body: ProgramFields, user: User) -> ProgramOut:
    """Add a program (the expo's organizers); times without an offset are in the expo's timezone."""
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        program = await services.create_program(session, expo, body, user)
    return ProgramOut.of(program, expo, (0, 0))


async def _program_out(request: Request, program_id: int) -> ProgramOut:
    async with platform(request).db.session() as session:
        program, expo = await services.get_program(session, program_id)
        counts = await services.seat_counts(session, [program_id])
    return ProgramOut.of(program, expo, counts.get(program_id, (0, 0)))


async def get_program(request: Request) -> ProgramOut:
    """One program, with its seats taken and left."""
    return await _program_out(request, path_int(request, "program_id"))


async def update_program(request: Request, body: ProgramFields, user: User) -> ProgramOut:
    """Change a program (the expo's organizers); a larger capacity promotes from the waiting list."""
    program_id = path_int(request, "program_id")
    async with platform(request).db.session() as session:
        program, expo = await services.get_program(session, program_id)
        await services.update_program(session, desk(request), program, expo, body, user)
    return await _program_out(request, program_id)


async def delete_program(request: Request, user: User) -> None:
    """Remove a program and its registrations (the expo's organizers)."""
    async with platform(request).db.session() as session:
        program, expo = await services.get_program(session, path_int(request, "program_id"))
        await services.delete_program(session, program, expo, user)


async def register_seat(request: Request, user: User) -> SeatOut:
    """Take a seat, or a place on the waiting list when the program is full; asking again is harmless."""
    assert user.id is not None
    return SeatOut.of(await desk(request).register(path_int(request, "program_id"), user.id))


async def my_seat(request: Request, user: User) -> SeatOut:
    """Your seat or waiting-list place at the program (404 when you have not registered)."""
    program_id = path_int(request, "program_id")
    async with platform(request).db.session() as session:
        await services.get_program(session, program_id)
        seat = await services.seat_of(session, program_id, user)
    if seat is None:
        raise NotFound(N_("You have not registered for this program."), code="program.not_registered")
    return SeatOut.of(seat)


async def cancel_seat(request: Request, user: User) -> SeatOut:
    """Give up your seat (the first on the waiting list gets it) or your waiting-list place."""
    assert user.id is not None
    return SeatOut.of(await desk(request).cancel(path_int(request, "program_id"), user.id))


async def list_attendees(request: Request, user: User) -> AttendeeList:
    """Who registered: confirmed, then the waiting list in order, then cancellations (organizers)."""
    async with platform(request).db.session() as session:
        program, expo = await services.get_program(session, path_int(request, "program_id"))
        rows = await services.attendees(session, program, expo, user)
    items = [
        AttendeeOut(
            user_id=u.id or 0,
            name=u.name,
            email=u.email,
            status=r.status,
            registered_at=r.created_at,
            promoted_at=r.promoted_at,
            attended_at=r.attended_at,
        )
        for r, u in rows
    ]
    return AttendeeList(items=items)


async def set_attended(request: Request, body: AttendedIn, user: User) -> dict[str, Any]:
    """Mark (or unmark) that a confirmed attendee came (organizers)."""
    async with platform(request).db.session() as session:
        program, expo = await services.get_program(session, path_int(request, "program_id"))
        row = await services.mark_attended(
            session, program, expo, path_int(request, "user_id"), body.attended, user
        )
    return {"user_id": row.user_id, "attended_at": row.attended_at.isoformat() if row.attended_at else None}


async def cancel_for(request: Request, user: User) -> Response:
    """Cancel someone's registration (organizers); their seat goes to the first in line."""
    program_id = path_int(request, "program_id")
    async with platform(request).db.session() as session:
        _, expo = await services.get_program(session, program_id)
        await services.require_organizer_of(session, expo, user)
    await desk(request).cancel(program_id, path_int(request, "user_id"), actor_id=user.id)
    return Response(status_code=204)


def _feed_out(request: Request, feed: CalendarFeed) -> FeedOut:
    p = platform(request)
    return FeedOut(url=p.settings.public_url.rstrip("/") + feeds.feed_path(p.secret, feed))


async def my_feed(request: Request, user: User) -> FeedOut:
    """Your private calendar link, to subscribe to in a calendar app."""
    async with platform(request).db.session() as session:
        return _feed_out(request, await feeds.feed_of(session, user))


async def reset_my_feed(request: Request, user: User) -> FeedOut:
    """Replace your private calendar link: the old one answers 404 from now on."""
    async with platform(request).db.session() as session:
        return _feed_out(request, await feeds.reset_feed(session, user))


def _write(path: str, handler: Any, method: str, **kwargs: Any) -> Endpoint:
    status = {"POST": 201, "DELETE": 204}.get(method, 200)
    return Endpoint(
        path, handler, method=method, auth="user", status=kwargs.pop("status", status), tags=TAGS, **kwargs
    )


PROGRAM = "/api/programs/{program_id:int}"
ATTENDEE = PROGRAM + "/attendees/{user_id:int}"

ROUTES = [
    Endpoint(
        "/api/expos/{slug}/programs", list_programs, query=ProgramQuery, response=ProgramList, tags=TAGS
    ),
    _write("/api/expos/{slug}/programs", create_program, "POST", body=ProgramFields, response=ProgramOut),
    Endpoint(PROGRAM, get_program, response=ProgramOut, tags=TAGS),
    _write(PROGRAM, update_program, "PATCH", body=ProgramFields, response=ProgramOut),
    _write(PROGRAM, delete_program, "DELETE"),
    _write(f"{PROGRAM}/registration", register_seat, "POST", response=SeatOut, status=200),
    _write(f"{PROGRAM}/registration", my_seat, "GET", response=SeatOut),
    _write(f"{PROGRAM}/registration", cancel_seat, "DELETE", response=SeatOut, status=200),
    _write(f"{PROGRAM}/attendees", list_attendees, "GET", response=AttendeeList),
    _write(f"{ATTENDEE}/attended", set_attended, "PUT", body=AttendedIn),
    _write(ATTENDEE, cancel_for, "DELETE"),
    _write("/api/me/agenda/feed", my_feed, "GET", response=FeedOut),
    _write("/api/me/agenda/feed", reset_my_feed, "POST", response=FeedOut, status=200),
]
