"""Meeting pages: the "Request a meeting" form of a booth page, the visitor's "My meetings", and
the booth editor's meetings inbox (accept, decline with a note, call off an accepted meeting
with a note, mark held).

The form's ``datetime-local`` input is a wall-clock time in the expo's timezone, and every page
shows times in that timezone, named beside them, so visitor and exhibitor read the same time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import pages as floor_pages
from booths import services
from booths.editor_pages import editable_booth, editor_url
from booths.models import Booth
from expo.accounts.models import User
from expo.auth import platform
from expo.db import utcnow
from expo.errors import N_, Conflict, ExpoError, Invalid, NotFound
from expo.expos import services as expos
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.meetings import services as meetings
from expo.permissions import require_page_user
from streaming.room_services import RoomRole, room_links

DURATIONS = (15, 30, 45, 60, 90, 120)
"""Meeting lengths, in minutes, the form offers."""
ACTIONS = ("accept", "decline", "held", "cancel")


def _proposed_times(start_raw: str, minutes_raw: str) -> tuple[datetime, datetime]:
    """The form's start (naive: the expo's wall-clock time) and its end after the chosen length."""
    try:
        start = datetime.fromisoformat(start_raw)
    except ValueError:
        raise Invalid(N_("Choose a date and time."), code="meeting.bad_time", field="starts_at") from None
    minutes = int(minutes_raw) if minutes_raw.isdigit() else 0
    if minutes not in DURATIONS:
        raise Invalid(N_("A meeting lasts from 15 minutes to 2 hours."), code="meeting.bad_length")
    return start, start + timedelta(minutes=minutes)


async def booth_of_expo(session: AsyncSession, request: Request, user: User) -> Booth:
    """The booth (``booth_id``) of the expo (``slug``) a booth page's form was posted to;
    :class:`NotFound` for a booth of another expo."""
    expo = await expos.get_expo(session, request.path_params["slug"])
    booth = await services.get_booth(session, path_int(request, "booth_id"), user)
    if booth.expo_id != expo.id:
        raise NotFound(N_("There is nothing at this address."), code="booth.unknown")
    return booth


async def request_meeting(request: Request) -> Response:
    """The booth page's "Request a meeting" form; errors show on the booth page beside the form."""
    form = await read_form(request)
    user = await require_page_user(request)
    values = {
        "starts_at": form_str(form, "starts_at", max_length=32),
        "minutes": form_str(form, "minutes", max_length=4),
        "message": form_str(form, "message", max_length=meetings.MAX_MESSAGE),
    }
    p = platform(request)
    try:
        async with p.db.session() as session:
            booth = await booth_of_expo(session, request, user)
            start, end = _proposed_times(values["starts_at"], values["minutes"])
            await meetings.request_meeting(
                session, booth, user, start, end, values["message"], p.bus, p.settings
            )
    except ExpoError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        extra = {"meeting_error": exc.message, "meeting_values": values}
        return await floor_pages.booth_page(request, extra, status=exc.status)
    response = redirect("/my/meetings")
    flash(response, request, N_("Your meeting request was sent to the booth."), "success")
    return response


async def my_meetings(request: Request) -> Response:
    """``/my/meetings``: the meetings the visitor requested, with their status and the booth's note."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        rows = await meetings.my_meetings(session, user)
        rooms = await room_links(session, [m.room_id for m, _, _ in rows], RoomRole.GUEST)
    open_states = [s.value for s in meetings.OPEN]
    context = {"rows": rows, "rooms": rooms, "local": meetings.local, "open": open_states}
    return await render(request, "my_meetings.html", context)


async def cancel(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    p = platform(request)
    async with p.db.session() as session:
        await meetings.cancel(session, path_int(request, "meeting_id"), user, bus=p.bus)
    response = redirect("/my/meetings")
    flash(response, request, N_("The meeting was cancelled."), "success")
    return response


async def _inbox(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
        rows = await meetings.booth_meetings(session, booth, expo, user)
        rooms = await room_links(session, [m.room_id for m, _ in rows], RoomRole.HOST)
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "rows": rows,
        "rooms": rooms,
        "local": meetings.local,
        "now": utcnow(),
        "tab": "meetings",
    }
    context.update(extra or {})
    return await render(request, "meetings.html", context, status=status)


async def inbox(request: Request) -> Response:
    """``/booths/{id}/meetings``: the booth's meeting requests, soonest first, with their actions."""
    user = await require_page_user(request)
    return await _inbox(request, user)


async def decide(request: Request) -> Response:
    """Accept, decline (with a note) or mark held one meeting of the booth."""
    form = await read_form(request)
    user = await require_page_user(request)
    booth_id = path_int(request, "booth_id")
    meeting_id = path_int(request, "meeting_id")
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise NotFound(N_("There is nothing at this address."), code="page.not_found")
    p = platform(request)
    try:
        async with p.db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            meeting, _, _ = await meetings.get_meeting(session, meeting_id)
            if meeting.booth_id != booth.id:
                raise Invalid(N_("There is no such meeting."), code="meeting.unknown")
            note = form_str(form, "note", max_length=meetings.MAX_NOTE)
            if action == "accept":
                await meetings.accept(session, meeting_id, user, p.settings, note, bus=p.bus)
                done = N_("The meeting was accepted.")
            elif action == "decline":
                await meetings.decline(session, meeting_id, user, p.settings, note, bus=p.bus)
                done = N_("The meeting was declined.")
            elif action == "cancel":
                await meetings.call_off(session, meeting_id, user, p.settings, note, bus=p.bus)
                done = N_("The meeting was cancelled; the visitor has been told.")
            else:
                await meetings.mark_held(session, meeting_id, user, bus=p.bus)
                done = N_("The meeting was marked as held.")
    except (Invalid, Conflict) as exc:
        return await _inbox(
            request, user, {"form_error": exc.message, "failed_meeting": meeting_id}, exc.status
        )
    response = redirect(editor_url(booth_id, "meetings") + f"#meeting-{meeting_id}")
    flash(response, request, done, "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/expos/{slug}/booths/{booth_id:int}/meetings", request_meeting, methods=["POST"]),
    Route("/my/meetings", my_meetings, methods=["GET"]),
    Route("/my/meetings/{meeting_id:int}/cancel", cancel, methods=["POST"]),
    Route("/booths/{booth_id:int}/meetings", inbox, methods=["GET"]),
    Route("/booths/{booth_id:int}/meetings/{meeting_id:int}/{action:str}", decide, methods=["POST"]),
]
