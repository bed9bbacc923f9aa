"""``/rooms``: the telepresence rooms someone manages, with their links.

Open a room for a negotiation or a signing ceremony, copy the guest link to the other side, enter
as host, end it. Rooms opened for accepted booth meetings appear here too (their staff member
owns them). Everyone sees the rooms they manage as they would broadcasts
(:func:`streaming.access.can_manage`): their own, their booths', and every room of the expos
where they manage broadcasts; and may open rooms in the expos where they may present.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.permissions import may_run_broadcasts, require, require_page_user
from streaming import access, room_services
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
    listed = [
        {
            "room": room,
            "expo": expo_title,
            "urls": room_services.room_urls(p.settings, room),
            "people": len(p.get(RoomPlane).participants(room.id or 0)),
        }
        for room, expo_title in rows
    ]
    slugs = [e.slug for e in expos]
    default = p.settings.default_expo if p.settings.default_expo in slugs else (slugs or [""])[0]
    context = {"rows": listed, "expos": expos, "default_expo": default, **(extra or {})}
    return await render(request, "rooms.html", context, status=status)


async def open_room_form(request: Request) -> Response:
    """Open a room from the form: its title and expo."""
    form = await read_form(request)
    user = await _staff(request)
    p = platform(request)
    values = {
        "title": form_str(form, "title", max_length=500),
        "expo": form_str(form, "expo", max_length=100),
    }
    try:
        async with p.db.session() as session:
            expo = await access.presenting_expo(
                session, p.settings, values["expo"] or None, user, "room.forbidden"
            )
            await room_services.create_room(session, expo=expo, title=values["title"], owner=user)
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


ROUTES: list[BaseRoute] = [
    Route("/rooms", rooms_page, methods=["GET"]),
    Route("/rooms", open_room_form, methods=["POST"]),
    Route("/rooms/{room_id:int}/end", end_room_form, methods=["POST"]),
]
