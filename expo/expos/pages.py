"""The team pages: an expo's members and invitations, and the page an invitation's link opens.

``/organizer/expos/{slug}/team`` shows the team to its members; its owners (and administrators)
also change roles, remove members and send or withdraw invitations. ``/team/invites/{token}``
asks a signed-in person to accept an invitation sent to their address.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos import services, team
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.mail.letters import Letters
from expo.permissions import Perm, TeamRole, require, require_page_user, standing

ROLE_LABELS = {
    TeamRole.OWNER.value: N_("Owner"),
    TeamRole.ORGANIZER.value: N_("Organizer"),
    TeamRole.CHECKIN.value: N_("Check-in staff"),
    TeamRole.MODERATOR.value: N_("Moderator"),
}


def team_url(slug: str) -> str:
    return f"/organizer/expos/{slug}/team"


def _role(form_value: str) -> TeamRole:
    if form_value not in ROLE_LABELS:
        raise Invalid(N_("Choose a role from the list."), code="team.invalid_role")
    return TeamRole(form_value)


async def _team_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await services.get_expo(session, request.path_params["slug"])
        assert expo.id is not None
        st = await standing(session, user, expo.id)
        require(st.on_team, user, N_("Only this expo's team sees it."), "team.forbidden")
        members = await team.list_members(session, expo)
        may_manage = st.has(Perm.MANAGE_TEAM)
        invites = await team.list_invites(session, expo) if may_manage else []
    context: dict[str, Any] = {
        "expo": expo,
        "members": members,
        "invites": invites,
        "may_manage": may_manage,
        "roles": [(value, label) for value, label in ROLE_LABELS.items()],
        "role_label": lambda value: ROLE_LABELS.get(value, value),
        "values": {},
    }
    context.update(extra or {})
    return await render(request, "team.html", context, status=status)


async def team_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/team``."""
    return await _team_page(request, await require_page_user(request))


def _done(request: Request, message: str, anchor: str = "#members") -> Response:
    response = redirect(team_url(request.path_params["slug"]) + anchor)
    flash(response, request, message, "success")
    return response


async def send_invite(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    values = {"email": form_str(form, "email", max_length=254), "role": form_str(form, "role", max_length=16)}
    p = platform(request)
    try:
        async with p.db.session() as session:
            expo = await services.get_expo(session, request.path_params["slug"])
            await team.invite(
                session, expo, values["email"], _role(values["role"]), user, Letters(p.settings)
            )
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _team_page(request, user, {"invite_error": exc.message, "values": values}, exc.status)
    return _done(request, N_("The invitation was sent."), "#invites")


async def _member_action(request: Request, action: str) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    user_id = path_int(request, "user_id")
    try:
        async with platform(request).db.session() as session:
            expo = await services.get_expo(session, request.path_params["slug"])
            if action == "role":
                role = _role(form_str(form, "role", max_length=16))
                await team.change_role(session, expo, user_id, role, user)
            else:
                await team.remove_member(session, expo, user_id, user)
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _team_page(request, user, {"team_error": exc.message}, exc.status)
    if action == "remove" and user_id == user.id:
        response = redirect("/organizer/expos")
        flash(response, request, N_("You left the team."), "success")
        return response
    return _done(request, N_("The role was changed.") if action == "role" else N_("The member was removed."))


async def change_role(request: Request) -> Response:
    return await _member_action(request, "role")


async def remove_member(request: Request) -> Response:
    return await _member_action(request, "remove")


async def withdraw_invite(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo = await services.get_expo(session, request.path_params["slug"])
        await team.withdraw_invite(session, expo, path_int(request, "invite_id"), user)
    return _done(request, N_("The invitation was withdrawn."), "#invites")


async def _invite_page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    token = request.path_params["token"]
    async with platform(request).db.session() as session:
        invite = await team.find_invite(session, token)
        expo = await session.get(Expo, invite.expo_id)
    context: dict[str, Any] = {
        "expo": expo,
        "invite": invite,
        "token": token,
        "role_label": lambda value: ROLE_LABELS.get(value, value),
    }
    context.update(extra or {})
    return await render(request, "team_invite.html", context, status=status)


async def invite_page(request: Request) -> Response:
    """``/team/invites/{token}``: what the invitation offers, and a button to accept it."""
    await require_page_user(request)
    return await _invite_page(request)


async def accept_invite(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    try:
        async with platform(request).db.session() as session:
            expo = await team.accept_invite(session, request.path_params["token"], user)
    except ExpoError as exc:
        if exc.status == 404:
            raise
        return await _invite_page(request, {"form_error": exc.message}, exc.status)
    response = redirect(team_url(expo.slug))
    flash(response, request, N_("Welcome to the team."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/organizer/expos/{slug}/team", team_page, methods=["GET"]),
    Route("/organizer/expos/{slug}/team/invite", send_invite, methods=["POST"]),
    Route("/organizer/expos/{slug}/team/{user_id:int}/role", change_role, methods=["POST"]),
    Route("/organizer/expos/{slug}/team/{user_id:int}/remove", remove_member, methods=["POST"]),
    Route("/organizer/expos/{slug}/team/invites/{invite_id:int}/withdraw", withdraw_invite, methods=["POST"]),
    Route("/team/invites/{token}", invite_page, methods=["GET"]),
    Route("/team/invites/{token}", accept_invite, methods=["POST"]),
]
