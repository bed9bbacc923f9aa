"""``/rooms``: the telepresence rooms an exhibitor or organizer opened, with their links.

Open a room for a negotiation or a signing ceremony, copy the guest link to the other side, enter
as host, end it. Rooms opened for accepted booth meetings appear here too (their staff member
owns them). Organizers see every room; exhibitors their own.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import Role, User
from expo.auth import platform
from expo.errors import N_, ExpoError, Forbidden
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.permissions import require_page_user
from streaming import room_services
from streaming.models import Room

MAX_LISTED_ROOMS = 200


async def _staff(request: Request) -> User:
    user = await require_page_user(request)
    if user.role not in (Role.ORGANIZER, Role.EXHIBITOR):
        raise Forbidden(N_("Only organizers and exhibitors open rooms."), code="room.forbidden")
    return user


async def rooms_page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The rooms list with their links and the form to open one."""
    user = await _staff(request)
    p = platform(request)
    query = select(Room, Expo.title).join(Expo, col(Expo.id) == col(Room.expo_id))
    if user.role != Role.ORGANIZER:
        query = query.where(Room.owner_id == user.id)
    query = query.order_by(col(Room.id).desc()).limit(MAX_LISTED_ROOMS)
    async with p.db.session() as session:
        rows = list((await session.exec(query)).all())
        expos = list((await session.exec(select(Expo).order_by(col(Expo.title)))).all())
    listed = [
        {
            "room": room,
            "expo": expo_title,
            "urls": room_services.room_urls(p.settings, room),
            "people": len(p.rooms.participants(room.id or 0)),
        }
        for room, expo_title in rows
    ]
    context = {"rows": listed, "expos": expos, "default_expo": p.settings.default_expo, **(extra or {})}
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
            expo = await expos.expo_or_default(session, p.settings, values["expo"] or None)
            await room_services.create_room(session, expo=expo, title=values["title"], owner=user)
    except ExpoError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return await rooms_page(request, {"room_error": exc.message, "room_values": values}, exc.status)
    response = redirect("/rooms")
    flash(response, request, N_("The room is open: send the guest link to the people you meet."), "success")
    return response


async def end_room_form(request: Request) -> Response:
    """End a room for everyone (its owner, or an organizer)."""
    await read_form(request)
    user = await _staff(request)
    p = platform(request)
    room_id = path_int(request, "room_id")
    async with p.db.session() as session:
        room = await room_services.get_room(session, room_id)
        if user.role != Role.ORGANIZER and room.owner_id != user.id:
            raise Forbidden(N_("Only the room's owner can end it."), code="room.not_owner")
        await room_services.end_room(session, room_id)
    await p.rooms.end(room_id)
    response = redirect("/rooms")
    flash(response, request, N_("The room has ended."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/rooms", rooms_page, methods=["GET"]),
    Route("/rooms", open_room_form, methods=["POST"]),
    Route("/rooms/{room_id:int}/end", end_room_form, methods=["POST"]),
]
