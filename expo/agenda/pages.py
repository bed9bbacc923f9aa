"""Agenda pages for visitors: the timetable by day or by track, a program's page with register and
cancel buttons, "my agenda", and the iCalendar files (one program, and the personal feed at a
secret link that calendar apps subscribe to without a cookie, which its owner can reset:
:mod:`expo.agenda.feeds`).

Times are laid out in the expo's timezone; each is a ``<time datetime="...Z">`` that
``/static/js/localtime.js`` annotates with the viewer's own time when it differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import services as floor
from booths.models import Hall
from expo.accounts.models import User
from expo.agenda import feeds, ics, services
from expo.agenda.models import Program, SeatStatus
from expo.agenda.seats import SeatDesk
from expo.auth import current_user, platform
from expo.errors import N_, BadRequest, ExpoError, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.pages import flash, page_locale, read_form, redirect, render
from expo.i18n import localized
from expo.permissions import require_page_user
from streaming.models import Stream, StreamStatus


def program_url(slug: str, program_id: int | None) -> str:
    return f"/expos/{slug}/agenda/{program_id}"


def _program_in(expo: Expo, program: Program) -> None:
    if program.expo_id != expo.id:
        raise NotFound(N_("There is no such program."), code="program.unknown")


def _location(program: Program, halls: dict[int, Hall], locale: str | None = None) -> str:
    """Hall and stage; the hall named in ``locale`` (the page's) like the floor does, else as stored."""
    hall = halls.get(program.hall_id) if program.hall_id else None
    name = (localized(hall, "name", locale) if locale else hall.name) if hall else ""
    return " · ".join(part for part in (name, program.stage) if part)


def _pick_day(request: Request, days: Sequence[date], today: date) -> date | None:
    raw = request.query_params.get("day", "")
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise BadRequest(N_("Choose a day from the agenda."), code="program.bad_day") from None
    if not days:
        return None
    return today if today in days else days[0]


async def live_broadcasts(session: AsyncSession, programs: Sequence[Program]) -> set[int]:
    """The ids of the programs' broadcasts that are live now (one query)."""
    ids = {p.stream_id for p in programs if p.stream_id is not None}
    if not ids:
        return set()
    query = select(Stream.id).where(col(Stream.id).in_(ids), Stream.status == StreamStatus.LIVE.value)
    return {i for i in (await session.exec(query)).all() if i is not None}


def columns(programs: Sequence[Program]) -> list[tuple[str, list[Program]]]:
    """The track view: one column per track (or stage, when a program has no track)."""
    out: dict[str, list[Program]] = {}
    for program in programs:
        out.setdefault(program.track or program.stage, []).append(program)
    return list(out.items())


async def agenda(request: Request) -> Response:
    """``/expos/{slug}/agenda``: one day's programs (tabs per day), as a list or in track columns."""
    user = await current_user(request)
    view = "track" if request.query_params.get("view") == "track" else "day"
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        programs = await services.list_programs(session, expo)
        days = services.days_of(programs, expo)
        day = _pick_day(request, days, datetime.now(expo.zone).date())
        shown = [p for p in programs if services.local(p.starts_at, expo).date() == day]
        counts = await services.seat_counts(session, [p.id for p in shown if p.id is not None])
        halls = {h.id: h for h in await floor.list_halls(session, expo) if h.id is not None}
        mine = (
            {item.program.id: item.status for item in await services.my_agenda(session, user)} if user else {}
        )
        organizes = await services.organizes(session, expo, user)
        live = await live_broadcasts(session, shown)
    context: dict[str, Any] = {
        "expo": expo,
        "live": live,
        "days": days,
        "day": day,
        "view": view,
        "programs": shown,
        "columns": columns(shown),
        "counts": counts,
        "locations": {p.id: _location(p, halls, await page_locale(request)) for p in shown},
        "mine": mine,
        "organizes": organizes,
        **_time_helpers(expo),
    }
    return await render(request, "agenda.html", context)


def _time_helpers(expo: Expo) -> dict[str, Any]:
    return {
        "local": lambda dt: services.local(dt, expo),
        "seats_left": services.seats_left,
    }


async def _program_context(request: Request, user: User | None) -> dict[str, Any]:
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        program, _ = await services.get_program(session, path_int(request, "program_id"))
        _program_in(expo, program)
        assert program.id is not None
        counts = await services.seat_counts(session, [program.id])
        halls = {h.id: h for h in await floor.list_halls(session, expo) if h.id is not None}
        seat = await services.seat_of(session, program.id, user)
        organizes = await services.organizes(session, expo, user)
        live = await live_broadcasts(session, [program])
    confirmed, waitlisted = counts.get(program.id, (0, 0))
    return {
        "expo": expo,
        "program": program,
        "location": _location(program, halls, await page_locale(request)),
        "confirmed": confirmed,
        "waitlisted": waitlisted,
        "left": services.seats_left(program, confirmed),
        "seat": seat,
        "over": program.ends_at <= datetime.now(program.ends_at.tzinfo),
        "organizes": organizes,
        "live": live,
        **_time_helpers(expo),
    }


async def program_page(request: Request) -> Response:
    """``/expos/{slug}/agenda/{id}``: speakers, place, broadcast, seats, register or cancel."""
    user = await current_user(request)
    return await render(request, "program.html", await _program_context(request, user))


async def _seat_action(request: Request, cancel: bool) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    assert user.id is not None
    slug, program_id = request.path_params["slug"], path_int(request, "program_id")
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, slug)
        program, _ = await services.get_program(session, program_id)
        _program_in(expo, program)
    desk = platform(request).get(SeatDesk)
    response = redirect(program_url(slug, program_id))
    try:
        seat = await (desk.cancel(program_id, user.id) if cancel else desk.register(program_id, user.id))
    except ExpoError as exc:
        flash(response, request, exc.message, "error")
        return response
    if cancel:
        flash(response, request, N_("Your registration was cancelled."), "success")
    elif seat.status is SeatStatus.CONFIRMED:
        flash(response, request, N_("Your seat is confirmed."), "success")
    else:
        flash(response, request, N_("The program is full: you are on the waiting list."), "info")
    return response


async def register(request: Request) -> Response:
    return await _seat_action(request, cancel=False)


async def cancel(request: Request) -> Response:
    return await _seat_action(request, cancel=True)


async def my_agenda(request: Request) -> Response:
    """``/my/agenda``: the programs you hold a seat at or wait for, and your calendar feed (shown
    to you only: nobody else's page carries it)."""
    user = await require_page_user(request)
    p = platform(request)
    async with p.db.session() as session:
        items = await services.my_agenda(session, user)
        feed = await feeds.feed_of(session, user)
    context = {
        "items": items,
        "local": lambda dt, expo: services.local(dt, expo),
        "feed_url": p.settings.public_url.rstrip("/") + feeds.feed_path(p.secret, feed),
    }
    return await render(request, "my_agenda.html", context)


async def reset_feed(request: Request) -> Response:
    """Make a new calendar link; the old one stops working at once."""
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        await feeds.reset_feed(session, user)
    response = redirect("/my/agenda#feed-title")
    flash(
        response,
        request,
        N_("Your calendar link was replaced. Subscribe again with the new one; the old one no longer works."),
        "success",
    )
    return response


def _calendar_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=60",
        },
    )


async def program_ics(request: Request) -> Response:
    """``/expos/{slug}/agenda/{id}.ics``: one program for a calendar app."""
    settings = platform(request).settings
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        program, _ = await services.get_program(session, path_int(request, "program_id"))
        _program_in(expo, program)
        halls = {h.id: h for h in await floor.list_halls(session, expo) if h.id is not None}
    base = settings.public_url.rstrip("/")
    event = ics.Event(program, base + program_url(expo.slug, program.id), _location(program, halls))
    body = ics.calendar([event], name=f"{expo.title}: {program.title}", public_url=settings.public_url)
    return _calendar_response(body, f"program-{program.id}.ics")


async def personal_feed(request: Request) -> Response:
    """``/agenda/feed/{token}.ics``: a visitor's agenda, readable by whoever holds the current link."""
    p = platform(request)
    async with p.db.session() as session:
        user = await feeds.feed_owner(session, p.secret, request.path_params["token"])
        items = await services.my_agenda(session, user)
        hall_ids = {i.program.hall_id for i in items if i.program.hall_id}
        halls = {hid: h for hid in hall_ids if (h := await session.get(Hall, hid)) is not None}
    base = p.settings.public_url.rstrip("/")
    events = [
        ics.Event(
            item.program,
            base + program_url(item.expo.slug, item.program.id),
            _location(item.program, halls),
            note="Waiting list" if item.status is SeatStatus.WAITLISTED else "",
        )
        for item in items
    ]
    body = ics.calendar(
        events, name=f"My agenda ({user.name or user.email})", public_url=p.settings.public_url
    )
    return _calendar_response(body, "agenda.ics")


ROUTES: list[BaseRoute] = [
    Route("/expos/{slug}/agenda", agenda, methods=["GET"]),
    Route("/expos/{slug}/agenda/{program_id:int}.ics", program_ics, methods=["GET"]),
    Route("/expos/{slug}/agenda/{program_id:int}", program_page, methods=["GET"]),
    Route("/expos/{slug}/agenda/{program_id:int}/register", register, methods=["POST"]),
    Route("/expos/{slug}/agenda/{program_id:int}/cancel", cancel, methods=["POST"]),
    Route("/my/agenda", my_agenda, methods=["GET"]),
    Route("/my/agenda/feed/reset", reset_feed, methods=["POST"]),
    Route("/agenda/feed/{token}.ics", personal_feed, methods=["GET"]),
]
