"""The bureau's forms for a project's meetings and signing ceremony, on its pipeline page
(``/organizer/expos/{slug}/projects/{id}``, :mod:`expo.promotion.projects_board`; the expo's team
with :data:`~expo.permissions.BUREAU`, everyone else 403):

- ``.../meetings``: schedule an online meeting with the investor;
- ``.../meetings/{meeting_id}/move`` and ``.../cancel``: move it to another time, or call it off;
- ``.../ceremony``: open the project's signing ceremony (at the "signing" stage only, else 409).

A form with mistakes draws the project page again with the errors beside its fields. The
meeting's calendar file, ``/expos/{slug}/invest/projects/{id}/meetings/{meeting_id}/invitation.ics``,
is the investor's (with the guest link) or the team's (with the host link), nobody else's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.config import Settings
from expo.errors import N_, ExpoError
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.pages import flash, page_locale, read_form, redirect
from expo.permissions import may_run_promotion, require_page_user
from expo.promotion import project_rooms, project_rooms_signing, projects
from expo.promotion.models import ProjectMeeting, PromotionProject
from expo.promotion.projects_board import PROJECT, _detail, board_url
from expo.promotion.services import form_failure, form_values
from streaming import room_services
from streaming.room_services import RoomRole

MEETING_FIELDS = ("title", "agenda", "starts_at", "minutes")
CEREMONY_FIELDS = ("party", "signer_name", "email", "investor_signer")
Change = Callable[[AsyncSession, Expo, PromotionProject], Awaitable[None]]


async def _change(
    request: Request,
    user: User,
    failed: str,
    values_key: str,
    values: dict[str, str],
    change: Change,
    done: tuple[str, str],
) -> Response:
    """Run ``change(session, expo, project)`` for the bureau; a mistake draws the project page
    again (``failed`` names the form, ``values_key`` what was typed), success redirects to
    ``done`` (anchor, message)."""
    p = platform(request)
    slug, project_id = request.path_params["slug"], path_int(request, "project_id")
    try:
        async with p.db.session() as session:
            expo = await projects.bureau_expo(session, slug, user)
            project = await projects.managed_project(session, expo, project_id)
            await change(session, expo, project)
    except ExpoError as exc:
        return await _detail(
            request, user, form_failure(exc, failed=failed, **{values_key: values}), exc.status
        )
    response = redirect(board_url(slug, project_id) + done[0])
    flash(response, request, done[1], "success")
    return response


ProjectForm = Callable[
    [AsyncSession, Settings, Expo, PromotionProject, dict[str, str], User], Awaitable[object]
]


async def _project_form(
    request: Request, fields: tuple[str, ...], failed: str, act: ProjectForm, done: tuple[str, str]
) -> Response:
    """Run ``act`` with the form's ``fields`` on the project (a mistake is shown in the ``failed``
    form, with what was typed in ``{failed}_values``)."""
    form = await read_form(request)
    user = await require_page_user(request)
    values = form_values(form, fields)
    settings = platform(request).settings

    async def change(session: AsyncSession, expo: Expo, project: PromotionProject) -> None:
        await act(session, settings, expo, project, values, user)

    return await _change(request, user, failed, f"{failed}_values", values, change, done)


async def schedule(request: Request) -> Response:
    done = ("#meetings", N_("The meeting was scheduled and the investor invited."))
    return await _project_form(request, MEETING_FIELDS, "meeting", project_rooms.schedule, done)


MeetingChange = Callable[
    [AsyncSession, Settings, Expo, PromotionProject, ProjectMeeting, dict[str, str], User], Awaitable[object]
]


async def _meeting_change(
    request: Request, fields: tuple[str, ...], act: MeetingChange, message: str
) -> Response:
    """Run ``act`` on the meeting of the address (its form is ``move-{id}``)."""
    form = await read_form(request)
    user = await require_page_user(request)
    values = form_values(form, fields)
    meeting_id = path_int(request, "meeting_id")
    settings = platform(request).settings

    async def change(session: AsyncSession, expo: Expo, project: PromotionProject) -> None:
        meeting = await project_rooms.meeting_of(session, project, meeting_id)
        await act(session, settings, expo, project, meeting, values, user)

    done = ("#meetings", message)
    return await _change(request, user, f"move-{meeting_id}", "move_values", values, change, done)


async def move(request: Request) -> Response:
    message = N_("The meeting was moved and the investor told.")
    return await _meeting_change(request, MEETING_FIELDS, project_rooms.reschedule, message)


async def cancel(request: Request) -> Response:
    message = N_("The meeting was cancelled and the investor told.")
    # The form has no fields: the values are not passed on.
    return await _meeting_change(
        request, (), lambda s, st, e, p, m, _v, u: project_rooms.cancel(s, st, e, p, m, u), message
    )


async def open_ceremony(request: Request) -> Response:
    done = ("#signing", N_("The signing ceremony is open. Upload the contract on its set-up page."))
    return await _project_form(
        request, CEREMONY_FIELDS, "ceremony", project_rooms_signing.open_ceremony, done
    )


async def invitation_file(request: Request) -> Response:
    """A meeting's ``.ics``: the investor's copy (guest link) or the team's (host link)."""
    user = await require_page_user(request)
    p = platform(request)
    async with p.db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        project, st = await projects.visible_project(session, expo, path_int(request, "project_id"), user)
        meeting = await project_rooms.meeting_of(session, project, path_int(request, "meeting_id"))
        room = await room_services.get_room(session, meeting.room_id)
        role = RoomRole.HOST if may_run_promotion(st) else RoomRole.GUEST
        ics = project_rooms.invitation(p.settings, expo, meeting, room, role, await page_locale(request))
    return Response(
        ics.render(),
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{ics.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


MEETING = PROJECT + "/meetings/{meeting_id:int}"
ROUTES: list[BaseRoute] = [
    Route(PROJECT + "/meetings", schedule, methods=["POST"]),
    Route(MEETING + "/move", move, methods=["POST"]),
    Route(MEETING + "/cancel", cancel, methods=["POST"]),
    Route(PROJECT + "/ceremony", open_ceremony, methods=["POST"]),
    Route(
        "/expos/{slug}/invest/projects/{project_id:int}/meetings/{meeting_id:int}/invitation.ics",
        invitation_file,
        methods=["GET"],
    ),
]
