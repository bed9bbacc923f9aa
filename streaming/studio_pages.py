"""The presenter's pages: one's broadcasts, a new one, going live, and reopening an ended one.

``/streams`` lists the broadcasts the user manages and offers a form for a new one in any expo
they may present in (:func:`streaming.access.presenting_expos`); times typed there are wall-clock
times in the chosen expo's timezone. ``/streams/{id}/live`` publishes from the browser or shows
the OBS settings, with the live viewer count and the chat and Q&A beside the preview; once a
broadcast has ended, the same page reopens it so it can go live again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths.models import BoothStatus
from booths.services import booths_of
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, ExpoError, Invalid
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.http.api import path_int
from expo.http.pages import flash, form_str, read_form, redirect, render
from expo.i18n import LOCALES
from expo.permissions import require, require_page_user
from streaming import access, chat, services
from streaming.audience import Audience
from streaming.models import Stream, StreamStatus, Visibility
from streaming.plane import MediaPlane

MAX_LISTED_STREAMS = 200
_FIELDS = ("title", "description", "expo", "booth", "visibility", "starts", "ends")
_TRANSLATED = ("title", "description")  # also typed in the other languages: ``title_zh_Hans``


def live_url(stream_id: int | None) -> str:
    return f"/streams/{stream_id}/live"


def _moment(value: str, expo: Expo, message: str) -> datetime | None:
    """A ``datetime-local`` value as a wall-clock time in the expo's timezone, or ``None``."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=expo.zone)
    except ValueError:
        raise Invalid(message, code="stream.invalid_time") from None


async def _streams_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        rows = await access.managed_rows(session, user, Stream, limit=MAX_LISTED_STREAMS)
        presenting = await access.presenting_expos(session, user)
        booths = [b for b in await booths_of(session, user) if b.status == BoothStatus.APPROVED.value]
    context: dict[str, Any] = {
        "rows": rows,
        "expos": presenting,
        "booths": [b for b in booths if b.expo_id in {e.id for e in presenting}],
        "values": {"visibility": Visibility.PUBLIC.value},
    }
    context.update(extra or {})
    return await render(request, "streams.html", context, status=status)


async def my_streams(request: Request) -> Response:
    """``/streams``: the broadcasts this user manages (every one of the expos where they manage
    broadcasts, their own, their booths'), and a form for a new one."""
    return await _streams_page(request, await require_page_user(request))


async def create_stream(request: Request) -> Response:
    """Schedule a broadcast from the form, then open its go-live page."""
    form = await read_form(request)
    user = await require_page_user(request)
    values = {
        name: form_str(form, name, max_length=20000 if name == "description" else 200) for name in _FIELDS
    }
    other = [lang for lang in LOCALES if lang != "en"]
    for lang in other:
        for name in _TRANSLATED:
            values[f"{name}_{lang}"] = form_str(form, f"{name}_{lang}", max_length=5000)
    try:
        async with platform(request).db.session() as session:
            expo = await expos.get_expo(session, values["expo"])
            try:
                visibility = Visibility(values["visibility"] or Visibility.PUBLIC.value)
            except ValueError:
                raise Invalid(N_("Choose who may watch."), code="stream.invalid_visibility") from None
            booth = values["booth"]
            stream = await services.create_stream(
                session,
                expo=expo,
                title=values["title"],
                owner=user,
                description=values["description"],
                booth_id=int(booth) if booth.isdigit() and len(booth) < 10 else None,
                visibility=visibility,
                scheduled_start=_moment(values["starts"], expo, N_("Enter the start as a date and time.")),
                planned_end=_moment(values["ends"], expo, N_("Enter the end as a date and time.")),
                translations={
                    lang: {name: values[f"{name}_{lang}"] for name in _TRANSLATED}
                    for lang in other
                    if lang in expo.language_list
                },
            )
    except ExpoError as exc:
        if exc.status == 401:
            raise
        return await _streams_page(request, user, {"form_error": exc.message, "values": values}, exc.status)
    response = redirect(live_url(stream.id))
    flash(response, request, N_("The broadcast is scheduled. Go live from here, or from OBS."), "success")
    return response


async def go_live(request: Request) -> Response:
    """``/streams/{id}/live``: publish from the browser, or copy the settings for OBS; and follow
    the broadcast as its audience does (live viewer count, chat and Q&A, which its managers
    moderate from here)."""
    user = await require_page_user(request)
    stream_id = path_int(request, "stream_id")
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, stream_id)
        manager = await access.can_manage(session, user, stream)
        require(manager, user, N_("Only the stream's managers can broadcast it."), "stream.not_manager")
        history = await chat.history(session, stream, before=None, limit=chat.HISTORY_LIMIT)
        questions = await chat.questions(session, stream, user)
        moderator = await chat.can_moderate(session, user, stream)
        muted = bool(user.id and await chat.active_sanctions(session, stream_id, user.id))
    live = stream.status == StreamStatus.LIVE
    config = {
        "stream": stream_id,
        "whipUrl": f"/api/streams/{stream_id}/whip",
        "status": stream.status,
        "channel": services.channel(stream_id),
        # A rehearsal on (from OBS, or an earlier tab; in any server process): "Go live" is offered.
        "rehearsing": await p.get(MediaPlane).rehearsing_anywhere(stream),
    }
    context = {
        "stream": stream,
        "whip_url": p.settings.url(f"/api/streams/{stream_id}/whip"),
        "config": config,
        "live_viewers": await p.get(Audience).live_viewers(stream_id) if live else 0,
        "history": history,
        "questions": questions,
        "moderator": moderator,
        "muted": muted,
        "max_body": chat.MAX_BODY,
    }
    return await render(request, "golive.html", context)


async def reopen(request: Request) -> Response:
    """Put an ended broadcast back on the schedule, so it can go live again."""
    await read_form(request)
    user = await require_page_user(request)
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        await services.reopen(session, stream, actor=user, bus=p.bus)
    response = redirect(live_url(stream.id))
    flash(
        response,
        request,
        N_("The broadcast is open again: start broadcasting when you are ready."),
        "success",
    )
    return response


ROUTES: list[BaseRoute] = [
    Route("/streams", my_streams, methods=["GET"]),
    Route("/streams", create_stream, methods=["POST"]),
    Route("/streams/{stream_id:int}/live", go_live, methods=["GET"]),
    Route("/streams/{stream_id:int}/reopen", reopen, methods=["POST"]),
]
