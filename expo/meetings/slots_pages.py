"""Meeting slot pages: the booth staff's availability page (publish, change, remove windows) and
the booth page's slot picker, whose booking form posts here.

Windows are entered as a day, a start and an end in the expo's timezone. A form error is shown
beside the field it is about, on the same page, with what was typed kept.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import pages as floor_pages
from booths.editor_pages import editable_booth
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, Conflict, ExpoError, Invalid, NotFound
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.meetings import services as meetings
from expo.meetings import slots
from expo.meetings.pages import booth_of_expo
from expo.permissions import require_page_user

FIELDS = ("day", "start", "end", "slot_minutes", "capacity")


def availability_url(booth_id: int) -> str:
    return f"/booths/{booth_id}/availability"


def _values(form: FormData) -> dict[str, str]:
    return {name: form_str(form, name, max_length=16) for name in FIELDS}


def _fields(values: dict[str, str]) -> slots.WindowFields:
    """The form's window, or :class:`Invalid` naming the field that cannot be read."""
    try:
        day = date.fromisoformat(values["day"])
    except ValueError:
        raise Invalid(N_("Choose a day."), code="slot.bad_day", field="day") from None
    times: list[time] = []
    for name in ("start", "end"):
        try:
            times.append(time.fromisoformat(values[name]))
        except ValueError:
            raise Invalid(N_("Choose a time."), code="slot.bad_time", field=name) from None
    minutes, capacity = values["slot_minutes"], values["capacity"]
    return slots.WindowFields(
        day,
        times[0],
        times[1],
        int(minutes) if minutes.isdigit() else 0,
        int(capacity) if capacity.isdigit() else 0,
    )


async def _page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
        windows = await slots.windows_of(session, booth)
        found = await slots.slots_of(session, windows)
    by_window: dict[int, list[slots.Slot]] = {}
    for slot in found:
        by_window.setdefault(slot.window_id, []).append(slot)
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "windows": windows,
        "slots": by_window,
        "local": meetings.local,
        "lengths": slots.SLOT_MINUTES,
        "max_capacity": slots.MAX_CAPACITY,
        "tab": "meetings",
        "values": {},
    }
    context.update(extra or {})
    return await render(request, "meetings_availability.html", context, status=status)


def _failed(exc: ExpoError, values: dict[str, str], window_id: int | None) -> dict[str, Any]:
    """What the page needs to show ``exc`` beside its field (or above the form) of one window."""
    return {
        "failed": window_id or 0,
        "error": exc.message,
        "error_field": getattr(exc, "field", ""),
        "booked": (exc.extra.get("details") or {}).get("slots", []),
        "values": values,
    }


async def availability(request: Request) -> Response:
    """``/booths/{id}/availability``: the booth's windows and slots, and the form to publish one."""
    user = await require_page_user(request)
    return await _page(request, user)


async def publish(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = _values(form)
    p = platform(request)
    try:
        async with p.db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            await slots.publish(session, booth, user, _fields(values), p.bus)
    except (Invalid, Conflict) as exc:
        return await _page(request, user, _failed(exc, values, None), exc.status)
    response = redirect(availability_url(path_int(request, "booth_id")))
    flash(response, request, N_("The availability was published."), "success")
    return response


async def _on_window(request: Request, remove: bool) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    booth_id, window_id = path_int(request, "booth_id"), path_int(request, "window_id")
    values = _values(form)
    try:
        async with platform(request).db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            window, _, _ = await slots.get_window(session, window_id)
            if window.booth_id != booth.id:
                raise NotFound(N_("There is no such availability."), code="slot.unknown_window")
            if remove:
                await slots.remove_window(session, window_id, user)
                done = N_("The availability was removed.")
            else:
                await slots.edit_window(session, window_id, user, _fields(values))
                done = N_("The availability was saved.")
    except (Invalid, Conflict) as exc:
        return await _page(request, user, _failed(exc, values, window_id), exc.status)
    response = redirect(availability_url(booth_id))
    flash(response, request, done, "success")
    return response


async def change(request: Request) -> Response:
    """Change one window; slots with booked meetings cannot go (the page lists them)."""
    return await _on_window(request, remove=False)


async def remove(request: Request) -> Response:
    """Remove one window, refused while a slot of it has a booked meeting ahead."""
    return await _on_window(request, remove=True)


async def book(request: Request) -> Response:
    """The booth page's slot picker; errors show on the booth page beside the picker."""
    form = await read_form(request)
    user = await require_page_user(request)
    values = {
        "starts_at": form_str(form, "starts_at", max_length=40),
        "message": form_str(form, "message", max_length=meetings.MAX_MESSAGE),
    }
    p = platform(request)
    try:
        async with p.db.session() as session:
            booth = await booth_of_expo(session, request, user)
            try:
                start = datetime.fromisoformat(values["starts_at"])
            except ValueError:
                raise Invalid(N_("Choose a free slot."), code="slot.unknown", field="starts_at") from None
            await slots.book(session, booth, user, start, values["message"], p.settings, p.bus)
    except ExpoError as exc:
        if exc.status >= 500 or exc.status in (401, 404):
            raise
        extra = {"slot_error": exc.message, "slot_values": values}
        return await floor_pages.booth_page(request, extra, status=exc.status)
    response = redirect("/my/meetings")
    flash(response, request, N_("Your meeting is booked. The invitation is on its way by e-mail."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/booths/{booth_id:int}/availability", availability, methods=["GET"]),
    Route("/booths/{booth_id:int}/availability", publish, methods=["POST"]),
    Route("/booths/{booth_id:int}/availability/{window_id:int}", change, methods=["POST"]),
    Route("/booths/{booth_id:int}/availability/{window_id:int}/delete", remove, methods=["POST"]),
    Route("/expos/{slug}/booths/{booth_id:int}/slots", book, methods=["POST"]),
]
