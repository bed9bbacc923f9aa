"""The organizers' outbox: every e-mail the platform wrote, whether or not SMTP delivered it.

Without ``smtp_url`` this is where confirmations are read (and forwarded by hand if need be); with
it, the page shows what was sent, what waits for a retry and what failed, with the last error and
a button to try a failed message again. A team member who manages registration sees the messages
of their expos (and the page answers 403 to whoever manages no expo's registration); platform
administrators see every message, those of no expo too. Another expo's message is a 404, as if it
did not exist.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, Invalid, NotFound
from expo.expos.models import Expo
from expo.expos.services import expos_where
from expo.http.api import path_int
from expo.http.pages import flash, read_form, redirect, render
from expo.mail import outbox
from expo.mail.models import OutboxMessage, OutboxStatus
from expo.permissions import Perm, is_admin, require, require_page_user, standing


async def _visible_message(session: AsyncSession, user: User, message_id: int) -> OutboxMessage:
    message = await session.get(OutboxMessage, message_id)
    if message is not None:
        if message.expo_id is None:
            visible = is_admin(user)
        else:
            visible = (await standing(session, user, message.expo_id)).has(Perm.MANAGE_REGISTRATION)
        if not visible:
            message = None
    if message is None:
        raise NotFound(N_("There is no such message."), code="outbox.unknown")
    return message


async def outbox_page(request: Request) -> Response:
    """``/organizer/outbox``: messages newest first, by expo, status and address or subject."""
    user = await require_page_user(request)
    raw_status = request.query_params.get("status", "")
    try:
        status = OutboxStatus(raw_status) if raw_status else None
    except ValueError:
        raise Invalid(N_("Choose a status from the list."), code="outbox.invalid_status") from None
    raw_expo = request.query_params.get("expo", "")
    q = request.query_params.get("q", "")[:200]
    page_raw = request.query_params.get("page", "1")
    page = int(page_raw) if page_raw.isdigit() and 0 < int(page_raw) <= 100000 else 1
    async with platform(request).db.session() as session:
        expos = await expos_where(session, user, Perm.MANAGE_REGISTRATION)
        require(
            bool(expos) or is_admin(user),
            user,
            N_("Only the teams that manage an expo's registration read its outbox."),
            "outbox.forbidden",
        )
        ids = [e.id for e in expos if e.id is not None]
        chosen = [i for i in ids if str(i) == raw_expo]
        # Administrators read every message; everyone else those of their expos.
        scope = chosen or (None if is_admin(user) else ids)
        total, messages = await outbox.list_messages(session, expo_ids=scope, status=status, q=q, page=page)
    context: dict[str, Any] = {
        "outbox_messages": messages,
        "total": total,
        "expos": expos,
        "expo_titles": {e.id: e.title for e in expos},
        "expo_filter": raw_expo if chosen else "",
        "status_filter": status.value if status else "",
        "statuses": [s.value for s in OutboxStatus],
        "q": q,
        "page": page,
        "pages": max(1, -(-total // outbox.PAGE_SIZE)),
        "smtp": bool(platform(request).settings.smtp_url),
    }
    return await render(request, "outbox.html", context)


async def message_page(request: Request) -> Response:
    """``/organizer/outbox/{id}``: one message as the recipient reads it, with its delivery state."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        message = await _visible_message(session, user, path_int(request, "message_id"))
        expo = await session.get(Expo, message.expo_id) if message.expo_id else None
    return await render(request, "outbox_message.html", {"message": message, "expo": expo})


async def retry(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        message = await _visible_message(session, user, path_int(request, "message_id"))
        await outbox.retry(session, message)
    response = redirect(f"/organizer/outbox/{message.id}")
    flash(response, request, N_("The message will be sent again."), "success")
    return response


ROUTES: list[BaseRoute] = [
    Route("/organizer/outbox", outbox_page, methods=["GET"]),
    Route("/organizer/outbox/{message_id:int}", message_page, methods=["GET"]),
    Route("/organizer/outbox/{message_id:int}/retry", retry, methods=["POST"]),
]
