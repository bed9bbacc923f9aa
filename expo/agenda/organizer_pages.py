"""The organizers' agenda editor: programs (create, edit, delete, capacity), each program's
attendees (confirmed, waiting list, cancelled; mark attended, cancel for someone) and the session
attendance CSV. Every page first checks that the signed-in user manages this expo's agenda
(:attr:`~expo.permissions.Perm.MANAGE_AGENDA`, whatever their account type), and every action is a
service of :mod:`expo.agenda.services`, which checks it again.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import services as floor
from booths.editor_pages import checked
from expo.accounts.models import User
from expo.agenda import services
from expo.agenda.api import desk
from expo.agenda.models import Program
from expo.agenda.services import ProgramFields
from expo.auth import platform
from expo.errors import N_, ExpoError, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.permissions import require_page_user
from streaming import services as streams


def editor_url(slug: str, program_id: int | None = None) -> str:
    base = f"/organizer/expos/{slug}/agenda"
    return f"{base}/{program_id}" if program_id else base


def parse_speakers(text: str) -> list[dict[str, str]]:
    """One speaker a line: ``Name | Title | Company`` (title and company optional)."""
    speakers = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if parts and parts[0]:
            speakers.append({"name": parts[0], "title": "".join(parts[1:2]), "company": "".join(parts[2:3])})
    return speakers


def speakers_text(program: Program) -> str:
    return "\n".join(
        " | ".join(part for part in (s.get("name", ""), s.get("title", ""), s.get("company", "")))
        for s in program.speakers
    )


def _optional_int(form: FormData, name: str) -> int | None:
    raw = form_str(form, name, max_length=12)
    return int(raw) if raw.isdigit() else None


TEXTS = {"title": 200, "track": 100, "description": 20000}  # the translated fields and their limits


def fields_from(form: FormData, expo: Expo) -> ProgramFields:
    """The program a form describes; ``<field>_<lang>`` inputs carry the expo's other languages."""
    translations = {
        lang: {name: form_str(form, f"{name}_{lang}", max_length=limit) for name, limit in TEXTS.items()}
        for lang in expo.language_list[1:]
    }
    data: dict[str, Any] = {
        "translations": translations,
        "title": form_str(form, "title", max_length=200, required=True),
        "description": form_str(form, "description", max_length=20000),
        "speakers": parse_speakers(form_str(form, "speakers", max_length=5000)),
        "track": form_str(form, "track", max_length=100),
        "stage": form_str(form, "stage", max_length=100),
        "hall_id": _optional_int(form, "hall_id"),
        "stream_id": _optional_int(form, "stream_id"),
        "room_url": form_str(form, "room_url", max_length=500),
        "capacity": _optional_int(form, "capacity"),
        # datetime-local inputs: wall-clock times in the expo's timezone.
        "starts_at": form_str(form, "starts_at", max_length=32, required=True),
        "ends_at": form_str(form, "ends_at", max_length=32, required=True),
    }
    return checked(ProgramFields, data)


def form_values(program: Program, expo: Expo) -> dict[str, Any]:
    translated = {
        f"{name}_{lang}": program.translations.get(lang, {}).get(name, "")
        for lang in expo.language_list[1:]
        for name in TEXTS
    }
    return {
        **translated,
        "title": program.title,
        "description": program.description,
        "speakers": speakers_text(program),
        "track": program.track,
        "stage": program.stage,
        "hall_id": program.hall_id,
        "stream_id": program.stream_id,
        "room_url": program.room_url,
        "capacity": program.capacity or "",
        "starts_at": services.local(program.starts_at, expo).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": services.local(program.ends_at, expo).strftime("%Y-%m-%dT%H:%M"),
    }


async def _organized(request: Request, user: User) -> Expo:
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        await services.require_organizer_of(session, expo, user)
    return expo


async def _program(request: Request, expo: Expo) -> Program:
    async with platform(request).db.session() as session:
        program, _ = await services.get_program(session, path_int(request, "program_id"))
    if program.expo_id != expo.id:
        raise NotFound(N_("There is no such program."), code="program.unknown")
    return program


async def _choices(request: Request, expo: Expo) -> dict[str, Any]:
    async with platform(request).db.session() as session:
        halls = await floor.list_halls(session, expo)
        return {
            "halls": halls,
            "halls_by_id": {h.id: h for h in halls},
            "streams": await streams.list_streams(session, expo),
        }


async def _list_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    expo = await _organized(request, user)
    async with platform(request).db.session() as session:
        programs = await services.list_programs(session, expo)
        counts = await services.seat_counts(session, [p.id for p in programs if p.id is not None])
    context: dict[str, Any] = {
        "expo": expo,
        "programs": programs,
        "counts": counts,
        "values": {},
        "local": lambda dt: services.local(dt, expo),
        **await _choices(request, expo),
    }
    context.update(extra or {})
    return await render(request, "organizer_agenda.html", context, status=status)


async def programs(request: Request) -> Response:
    """``/organizer/expos/{slug}/agenda``: the expo's programs and a form for a new one."""
    user = await require_page_user(request)
    return await _list_page(request, user)


async def create(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        expo = await _organized(request, user)
        async with platform(request).db.session() as session:
            program = await services.create_program(session, expo, fields_from(form, expo), user)
    except ExpoError as exc:
        if exc.status in (403, 404):
            raise
        return await _list_page(request, user, {"form_error": exc.message, "values": values}, exc.status)
    response = redirect(editor_url(expo.slug, program.id))
    flash(response, request, N_("The program was added to the agenda."), "success")
    return response


async def _edit_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    expo = await _organized(request, user)
    program = await _program(request, expo)
    async with platform(request).db.session() as session:
        rows = await services.attendees(session, program, expo, user)
    context: dict[str, Any] = {
        "expo": expo,
        "program": program,
        "values": form_values(program, expo),
        "rows": rows,
        "local": lambda dt: services.local(dt, expo),
        **await _choices(request, expo),
    }
    context.update(extra or {})
    return await render(request, "organizer_program.html", context, status=status)


async def edit_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/agenda/{id}``: edit the program, see and manage its attendees."""
    user = await require_page_user(request)
    return await _edit_page(request, user)


async def update(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    expo = await _organized(request, user)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        async with platform(request).db.session() as session:
            program, _ = await services.get_program(session, path_int(request, "program_id"))
            if program.expo_id != expo.id:
                raise NotFound(N_("There is no such program."), code="program.unknown")
            fields = fields_from(form, expo)
            await services.update_program(session, desk(request), program, expo, fields, user)
    except ExpoError as exc:
        if exc.status in (403, 404):
            raise
        return await _edit_page(request, user, {"form_error": exc.message, "values": values}, exc.status)
    response = redirect(editor_url(expo.slug, program.id))
    flash(response, request, N_("The program was saved."), "success")
    return response


async def delete(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    expo = await _organized(request, user)
    program = await _program(request, expo)
    async with platform(request).db.session() as session:
        await services.delete_program(session, program, expo, user)
    response = redirect(editor_url(expo.slug))
    flash(response, request, N_("The program was deleted."), "success")
    return response


async def attendee_action(request: Request) -> Response:
    """Mark or unmark attendance, or cancel someone's registration."""
    form = await read_form(request)
    user = await require_page_user(request)
    expo = await _organized(request, user)
    program = await _program(request, expo)
    assert program.id is not None
    target = path_int(request, "user_id")
    action = form_str(form, "action", max_length=16)
    response = redirect(editor_url(expo.slug, program.id) + "#attendees")
    try:
        if action == "cancel":
            await desk(request).cancel(program.id, target, actor_id=user.id)
            flash(response, request, N_("The registration was cancelled."), "success")
        else:
            async with platform(request).db.session() as session:
                await services.mark_attended(session, program, expo, target, action == "attended", user)
            flash(response, request, N_("Attendance was saved."), "success")
    except ExpoError as exc:
        flash(response, request, exc.message, "error")
    return response


async def attendance_csv(request: Request) -> Response:
    """``/organizer/expos/{slug}/agenda/{id}/attendance.csv``: session attendance, spreadsheet-safe."""
    user = await require_page_user(request)
    expo = await _organized(request, user)
    program = await _program(request, expo)
    async with platform(request).db.session() as session:
        rows = await services.attendees(session, program, expo, user)
    return Response(
        services.export_csv(rows, expo),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="program-{program.id}-attendance.csv"'},
    )


PROGRAM = "/organizer/expos/{slug}/agenda/{program_id:int}"
ROUTES: list[BaseRoute] = [
    Route("/organizer/expos/{slug}/agenda", programs, methods=["GET"]),
    Route("/organizer/expos/{slug}/agenda", create, methods=["POST"]),
    Route(PROGRAM, edit_page, methods=["GET"]),
    Route(PROGRAM, update, methods=["POST"]),
    Route(f"{PROGRAM}/delete", delete, methods=["POST"]),
    Route(f"{PROGRAM}/attendance.csv", attendance_csv, methods=["GET"]),
    Route(PROGRAM + "/attendees/{user_id:int}", attendee_action, methods=["POST"]),
]
