"""The organizers' outbox: every e-mail the platform wrote, whether or not SMTP delivered it.

Without ``smtp_url`` this is where confirmations are read (and forwarded by hand if need be); with
it, the page shows what was sent, what waits for a retry and what failed, with the last error and
a button to try a failed message again. An organizer sees the messages of the expos they organize
and those of no expo.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths.models import Expo
from booths.services import organizes
from expo.accounts.models import Role, User
from expo.errors import N_, Invalid, NotFound
from expo.http.api import path_int
from expo.http.pages import flash, read_form, redirect, render
from expo.permissions import platform, require_page_user
from expo.registration import outbox
from expo.registration.models import OutboxMessage, OutboxStatus

ORGANIZER = [Role.ORGANIZER]


async def _organized(session: AsyncSession, user: User) -> list[Expo]:
    expos = (await session.exec(select(Expo).order_by(col(Expo.title)))).all()
    return [e for e in expos if organizes(e, user)]


async def _visible_message(session: AsyncSession, user: User, message_id: int) -> OutboxMessage:
    message = await session.get(OutboxMessage, message_id)
    if message is not None and message.expo_id is not None:
        expo = await session.get(Expo, message.expo_id)
        if expo is None or not organizes(expo, user):
            message = None
    if message is None:
        raise NotFound(N_("There is no such message."), code="outbox.unknown")
    return message


async def outbox_page(request: Request) -> Response:
    """``/organizer/outbox``: messages newest first, by expo, status and address or subject."""
    user = await require_page_user(request, ORGANIZER)
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
        expos = await _organized(session, user)
        ids = [e.id for e in expos if e.id is not None]
        chosen = [i for i in ids if str(i) == raw_expo]
        total, messages = await outbox.list_messages(
            session, expo_ids=chosen or ids, status=status, q=q, page=page
        )
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
    user = await require_page_user(request, ORGANIZER)
    async with platform(request).db.session() as session:
        message = await _visible_message(session, user, path_int(request, "message_id"))
        expo = await session.get(Expo, message.expo_id) if message.expo_id else None
    return await render(request, "outbox_message.html", {"message": message, "expo": expo})


async def retry(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request, ORGANIZER)
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
