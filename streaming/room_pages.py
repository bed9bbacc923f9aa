"""``/rooms``: the telepresence rooms someone manages, with their links.

Open a room for a negotiation or a signing ceremony, copy the guest link to the other side, enter
as host, end it. Rooms opened for accepted booth meetings appear here too (their staff member
owns them). Everyone sees the rooms they manage as they would broadcasts
(:func:`streaming.access.can_manage`): their own, their booths', and every room of the expos
where they manage broadcasts; and may open rooms in the expos where they may present. They
download each room's attendance (who was in it, from when to when) as CSV.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths.models import BoothStatus
from booths.services import booths_of
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.http.api import path_int
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.i18n import localized
from expo.permissions import may_run_broadcasts, require, require_page_user
from streaming import access, room_attendance, room_services
from streaming.models import Room
from streaming.rooms import RoomPlane

MAX_LISTED_ROOMS = 200


async def _staff(request: Request) -> User:
    user = await require_page_user(request)
    require(
        may_run_broadcasts(user), user, N_("Only organizers and exhibitors open rooms."), "room.forbidden"
    )
    return user


async def rooms_page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The rooms list with their links and the form to open one."""
    user = await _staff(request)
    p = platform(request)
    async with p.db.session() as session:
        rows = await access.managed_rows(session, user, Room, limit=MAX_LISTED_ROOMS)
        expos = await access.presenting_expos(session, user)
        expo_ids = {expo.id for expo in expos}
        booths = [
            b
            for b in await booths_of(session, user)
            if b.status == BoothStatus.APPROVED.value and b.expo_id in expo_ids
        ]
    locale = await page_locale(request)
    expo_titles = {expo.id: localized(expo, "title", locale) for expo in expos}
    listed = [
        {
            "room": room,
            "expo": expo_titles.get(room.expo_id, expo_title),
            "urls": room_services.room_urls(p.settings, room),
            "people": len(p.get(RoomPlane).participants(room.id or 0)),
        }
        for room, expo_title in rows
    ]
    context = {"rows": listed, "expos": expos, "booths": booths, **(extra or {})}
    return await render(request, "rooms.html", context, status=status)


async def open_room_form(request: Request) -> Response:
    """Open a room from the form: its title and expo (never an expo made up for it: see
    :func:`streaming.room_services.room_expo`)."""
    form = await read_form(request)
    user = await _staff(request)
    p = platform(request)
    values = {
        "title": form_str(form, "title", max_length=500),
        "expo": form_str(form, "expo", max_length=100),
        "title_zh_Hans": form_str(form, "title_zh_Hans", max_length=500),
        "booth": form_str(form, "booth", max_length=20),
        "walk_in": "1" if form_str(form, "walk_in", max_length=10) else "",
    }
    booth = values["booth"]
    try:
        async with p.db.session() as session:
            # Someone with several expos picks one in the form: none is chosen for them.
            expo = await room_services.room_expo(
                session, p.settings, values["expo"] or None, user, default=False
            )
            if booth and not (booth.isdigit() and len(booth) < 10):
                raise Invalid(N_("Choose one of your booths in this expo."), code="room.unknown_booth")
            await room_services.create_room(
                session,
                expo=expo,
                title=values["title"],
                owner=user,
                title_zh=values["title_zh_Hans"],
                booth_id=int(booth) if booth else None,
                walk_in=bool(values["walk_in"]),
            )
    except ExpoError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return await rooms_page(request, {"room_error": exc.message, "room_values": values}, exc.status)
    response = redirect("/rooms")
    flash(response, request, N_("The room is open: send the guest link to the people you meet."), "success")
    return response


async def end_room_form(request: Request) -> Response:
    """End a room for everyone (whoever manages it)."""
    await read_form(request)
    user = await _staff(request)
    p = platform(request)
    room_id = path_int(request, "room_id")
    async with p.db.session() as session:
        room = await room_services.get_room(session, room_id)
        await room_services.require_room_manager(session, user, room)
        await room_services.end_room(session, room_id)
    await p.get(RoomPlane).end(room_id)
    response = redirect("/rooms")
    flash(response, request, N_("The room has ended."), "success")
    return response


async def walk_in_form(request: Request) -> Response:
    """Offer an open booth room on its booth page ("Meet us now") or stop offering it: the
    ``walk_in`` field on or absent (whoever manages the room)."""
    form = await read_form(request)
    user = await _staff(request)
    p = platform(request)
    room_id = path_int(request, "room_id")
    walk_in = bool(form_str(form, "walk_in", max_length=10))
    try:
        async with p.db.session() as session:
            room = await room_services.get_room(session, room_id)
            await room_services.set_walk_in(session, user, room, walk_in)
    except ExpoError as exc:
        if exc.status >= 500 or exc.status in (401, 403, 404):
            raise
        response = redirect("/rooms")
        flash(response, request, exc.message, "error")
        return response
    response = redirect(f"/rooms#room-{room_id}")
    message = (
        N_("Visitors of the booth page can now walk into the room.")
        if walk_in
        else N_("The booth page no longer offers the room.")
    )
    flash(response, request, message, "success")
    return response


async def attendance_csv(request: Request) -> Response:
    """``/rooms/{id}/attendance.csv``: who was in the room, from when to when (its managers)."""
    user = await _staff(request)
    room_id = path_int(request, "room_id")
    async with platform(request).db.session() as session:
        room = await room_services.get_room(session, room_id)
        only = N_("Only the room's owner and the expo's organizers can see who attended.")
        await room_services.require_room_manager(session, user, room, only)
        body = room_attendance.attendance_csv(await room_attendance.attendance(session, room_id))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="room-{room_id}-attendance.csv"'},
    )


ROUTES: list[BaseRoute] = [
    Route("/rooms", rooms_page, methods=["GET"]),
    Route("/rooms", open_room_form, methods=["POST"]),
    Route("/rooms/{room_id:int}/end", end_room_form, methods=["POST"]),
    Route("/rooms/{room_id:int}/walk-in", walk_in_form, methods=["POST"]),
    Route("/rooms/{room_id:int}/attendance.csv", attendance_csv, methods=["GET"]),
]
