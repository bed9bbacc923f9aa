"""The invitation letters' pages.

For the organizer (the expo's team with ``expo.change``):

- ``/organizer/expos/{slug}/invitations``: upload a CSV of investors, and the funnel of every
  invitation sent (sent, opened, registered, filed a project);
- ``POST .../invitations/preview``: the file checked, each bad line with its reasons, the letters
  that would go out; nothing is sent yet;
- ``POST .../invitations/send``: sends the previewed file (refused while it has problems, unless
  the organizer chose to send the good rows only);
- ``/organizer/expos/{slug}/invitations.csv``: the funnel per invitation as CSV.

For the investor: ``/expos/{slug}/invest/invited/{token}``, the link of their letter, greets them by
name (recording "opened", and "registered" once they are signed in); signed out, they sign in
(and come back) or create their account right there.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo import uploads
from expo.accounts import services as accounts
from expo.accounts.api import client_of, count_signup
from expo.accounts.models import TokenKind, User
from expo.accounts.pages import start_session
from expo.accounts.passwords import MIN_LENGTH
from expo.auth import current_user, platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos import services as expos
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.permissions import Perm, require_page_user, standing
from expo.promotion import invitations as inv
from expo.promotion import services as promo
from expo.promotion.invitations_csv import MAX_FILE_BYTES, Reading
from expo.promotion.pages import view_helpers

PAGE = "/organizer/expos/{slug}/invitations"
LANDING = "/expos/{slug}/invest/invited/{token}"


async def _organizer_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        expo = await expos.managed_expo(session, request.path_params["slug"], user, Perm.CHANGE_EXPO)
        found = await inv.invitations(session, expo)
    context: dict[str, Any] = {
        "expo": expo,
        "invitations": found,
        "funnel": inv.funnel(found),
        "stage_of": inv.stage_of,
        "stage_names": inv.STAGE_NAMES,
        "reading": None,
        "csv": "",
        "max_kib": MAX_FILE_BYTES // 1024,
    }
    context.update(extra or {})
    return await render(request, "promotion/invitations.html", context, status=status)


async def organizer_page(request: Request) -> Response:
    """``/organizer/expos/{slug}/invitations``: the upload form and the funnel."""
    return await _organizer_page(request, await require_page_user(request))


async def _shown(request: Request, user: User, data: bytes, reading: Reading, status: int) -> Response:
    # The file goes back in the send form as base64: any byte the file holds (a control character
    # on a bad line) survives the round trip, and the form's text checks see only base64.
    extra = {"reading": reading, "csv": base64.b64encode(data).decode()}
    return await _organizer_page(request, user, extra, status)


async def preview(request: Request) -> Response:
    """The uploaded file checked: its good rows, and each bad line with its reasons."""
    user = await require_page_user(request)
    p = platform(request)
    slug = request.path_params["slug"]
    # Who may upload is checked before the body is read.
    async with p.db.session() as session:
        await expos.managed_expo(session, slug, user, Perm.CHANGE_EXPO)
    received: uploads.Received | None = None
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        assert received.path is not None
        with received.path.open("rb") as file:  # a short read: at most the limit and one byte
            data = file.read(MAX_FILE_BYTES + 1)
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await _organizer_page(request, user, {"upload_error": exc.message}, exc.status)
    finally:
        if received is not None:
            await received.discard()
    async with p.db.session() as session:
        expo = await expos.managed_expo(session, slug, user, Perm.CHANGE_EXPO)
        reading = await inv.preview(session, expo, data)
    return await _shown(request, user, data, reading, 200 if reading.clean else 422)


async def send(request: Request) -> Response:
    """Send the previewed file: every row, or with ``good_only`` the good rows of a file with problems."""
    form = await read_form(request)
    user = await require_page_user(request)
    p = platform(request)
    slug = request.path_params["slug"]
    try:
        data = base64.b64decode(form_str(form, "csv", max_length=2 * MAX_FILE_BYTES), validate=True)
    except ValueError:
        raise Invalid(N_("Preview the file again."), code="invitation.bad_form") from None
    good_only = form.get("good_only") == "1"
    try:
        async with p.db.session() as session:
            expo = await expos.managed_expo(session, slug, user, Perm.CHANGE_EXPO)
            await inv.send(
                session,
                expo,
                data,
                user,
                inv.InvitationLetters(p.settings),
                p.secret,
                good_rows_only=good_only,
            )
    except inv.InvitationsInvalid:
        async with p.db.session() as session:
            expo = await expos.managed_expo(session, slug, user, Perm.CHANGE_EXPO)
            reading = await inv.preview(session, expo, data)
        return await _shown(request, user, data, reading, 422)
    response = redirect(PAGE.format(slug=slug) + "#funnel")
    flash(response, request, N_("The invitations were sent."), "success")
    return response


async def export(request: Request) -> Response:
    """``/organizer/expos/{slug}/invitations.csv``: the funnel per invitation."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        expo = await expos.managed_expo(session, request.path_params["slug"], user, Perm.CHANGE_EXPO)
        body = inv.funnel_csv(await inv.invitations(session, expo))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{expo.slug}-invitations.csv"'},
    )


# The investor's link -------------------------------------------------------------------------------------


async def _landing(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    user = await current_user(request)
    token = request.path_params["token"]
    async with platform(request).db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        invitation = await inv.by_token(session, expo, platform(request).secret, token)
        # The expo's own team trying a link (to see what investors get) is not an investor's visit.
        if not (await standing(session, user, expo.id or 0)).on_team:
            await inv.open_invitation(session, invitation, user)
        site = await promo.site_of(session, expo)
    here = LANDING.format(slug=expo.slug, token=token)
    context: dict[str, Any] = {
        "expo": expo,
        "invitation": invitation,
        "site": site,
        "here": here,
        "values": {"name": invitation.name, "email": invitation.email},
        "errors": {},
        "min_password": MIN_LENGTH,
        **view_helpers(),
    }
    context.update(extra or {})
    return await render(request, "promotion/invited.html", context, status=status)


async def landing(request: Request) -> Response:
    """``/expos/{slug}/invest/invited/{token}``: the investor's welcome, by name."""
    return await _landing(request)


async def signup(request: Request) -> Response:
    """Create the invited investor's account from their welcome page, sign it in and record it."""
    form = await read_form(request)
    p = platform(request)
    token = request.path_params["token"]
    values = {
        "name": form_str(form, "name", max_length=120),
        "email": form_str(form, "email", max_length=254),
    }
    password = form.get("password", "")
    async with p.db.session() as session:
        expo = await expos.get_expo(session, request.path_params["slug"])
        invitation = await inv.by_token(session, expo, p.secret, token)
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        errors = {"password": N_("This password is too short.")}
        return await _landing(request, {"values": values, "errors": errors}, 422)
    try:
        await count_signup(request)
        async with p.db.session() as session:
            user = await accounts.create_user(
                session,
                email=values["email"],
                password=password,
                name=values["name"],
                locale=invitation.language,
                client=client_of(request),
            )
            invitation = await inv.by_token(session, expo, p.secret, token)
            await inv.open_invitation(session, invitation, user)
            raw, _ = await accounts.issue_token(
                session,
                user,
                TokenKind.SESSION,
                name="browser",
                lifetime=timedelta(days=p.settings.session_days),
                client=client_of(request),
            )
    except ExpoError as exc:
        if exc.status in (401, 403, 404):
            raise
        field = next((name for name in ("email", "name", "password") if name in exc.code), None)
        extra: dict[str, Any] = {"values": values, "errors": {field: exc.message} if field else {}}
        if field is None:  # too many sign-ups from this address, for one
            extra["form_error"] = exc.message
        return await _landing(request, extra, exc.status)
    response = redirect(LANDING.format(slug=expo.slug, token=token))
    start_session(request, response, raw)
    flash(response, request, N_("Your account is ready. Welcome!"), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route(PAGE, organizer_page, methods=["GET"]),
    Route(PAGE + "/preview", preview, methods=["POST"]),
    Route(PAGE + "/send", send, methods=["POST"]),
    Route("/organizer/expos/{slug}/invitations.csv", export, methods=["GET"]),
    Route(LANDING, landing, methods=["GET"]),
    Route(LANDING + "/signup", signup, methods=["POST"]),
]
