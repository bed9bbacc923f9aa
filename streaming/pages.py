"""Broadcast pages for the audience: watch a stream, its replay, and the visitor's home (the presenter's
side is :mod:`streaming.studio_pages`).

The watch page is readable without JavaScript (title, status, schedule, chat history and Q&A are
rendered here); ``watch.js`` adds the player, the live channel and everything interactive.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import Role
from expo.auth import current_user, platform
from expo.errors import N_, NotFound
from expo.expos.models import Expo
from expo.expos.services import list_expos, team_expos
from expo.http.api import path_int
from expo.http.pages import page_locale, render
from expo.permissions import require_page_user
from expo.showcase import LiveListings
from streaming import chat, services
from streaming.audience import Audience, assign_viewer_cookie, set_viewer_cookie
from streaming.models import Recording, StreamStatus

MAX_LISTED_EXPOS = 100


def _recording_file(request: Request, recording: Recording) -> Path | None:
    """The recording's file, when it exists inside the data directory (never anywhere else)."""
    data = platform(request).settings.data_path.resolve()
    path = Path(recording.path)
    path = (path if path.is_absolute() else data / path).resolve()
    if not path.is_relative_to(data) or not path.is_file():
        return None
    return path


async def watch(request: Request) -> Response:
    """``/watch/{id}``: the player, live viewer count, chat, likes and Q&A of a broadcast."""
    stream_id = path_int(request, "stream_id")
    user = await current_user(request)
    async with platform(request).db.session() as session:
        stream = await services.get_stream(session, stream_id)
        await chat.check_can_watch(session, stream, user)
        expo = await session.get(Expo, stream.expo_id)
        history = await chat.history(session, stream, before=None, limit=chat.HISTORY_LIMIT)
        questions = await chat.questions(session, stream, user)
        recording = await services.latest_recording(session, stream_id)
        registered = user is not None and await services.is_registered(session, stream, user)
        sanctions = await chat.active_sanctions(session, stream_id, user.id) if user and user.id else set()
        moderator = await chat.can_moderate(session, user, stream)
    live_viewers = None
    if stream.status == StreamStatus.LIVE:
        live_viewers = await platform(request).get(Audience).shown_viewers(stream_id)
    replay = recording is not None and stream.status == StreamStatus.ENDED
    replay = replay and recording is not None and _recording_file(request, recording) is not None
    config: dict[str, Any] = {
        "stream": stream_id,
        "status": stream.status,
        "channel": services.channel(stream_id),
        "user": user.id if user else None,
        "moderator": moderator,
        "maxBody": chat.MAX_BODY,
        "whepUrl": f"/api/streams/{stream_id}/whep",
        "hlsUrl": f"/live/{stream_id}/index.m3u8",
    }
    # The viewer cookie comes with the page, before the player's first WHEP or HLS request, so that
    # the page's heartbeats and the player count as one person from the start.
    assign_viewer_cookie(request)
    response = await render(
        request,
        "watch.html",
        {
            "stream": stream,
            "expo": expo,
            "history": history,
            "questions": questions,
            "replay": replay,
            "live_viewers": live_viewers,
            "registered": registered,
            "muted": bool(sanctions),
            "moderator": moderator,
            "max_body": chat.MAX_BODY,
            "config": config,
        },
    )
    set_viewer_cookie(request, response)
    return response


async def replay(request: Request) -> Response:
    """The latest recording of an ended broadcast, with range requests for seeking."""
    stream_id = path_int(request, "stream_id")
    async with platform(request).db.session() as session:
        stream = await services.get_stream(session, stream_id)
        await chat.check_can_watch(session, stream, await current_user(request))
        recording = await services.latest_recording(session, stream_id)
    path = _recording_file(request, recording) if recording is not None else None
    if path is None:
        raise NotFound(N_("This broadcast has no replay."), code="stream.no_replay")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type)


async def visitor_home(request: Request) -> Response:
    """``/visitor``: a visitor's home, the expos and the broadcasts they registered for."""
    user = await require_page_user(request, [Role.VISITOR])
    locale = await page_locale(request)
    listings = platform(request).get(LiveListings)
    async with platform(request).db.session() as session:
        expos = await list_expos(session, MAX_LISTED_EXPOS)
        agenda = await services.registered_streams(session, user)
        helping = await team_expos(session, user)
        live = await listings.live_now(session, user, locale=locale)
        coming = await listings.coming_up(session, user, locale=locale)
    context = {"expos": expos, "agenda": agenda, "team_expos": helping, "live": live, "coming": coming}
    return await render(request, "visitor.html", context)


ROUTES: list[BaseRoute] = [
    Route("/visitor", visitor_home, methods=["GET"]),
    Route("/watch/{stream_id:int}", watch, methods=["GET"]),
    Route("/watch/{stream_id:int}/replay", replay, methods=["GET"]),
]
