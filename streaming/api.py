"""Broadcast API: create, read, change and end streams, registrations, audience figures, heartbeats.

WHIP, WHEP, HLS and chat have their own modules. The watch page keeps its viewer counted with
``POST /api/streams/{id}/heartbeat`` every few seconds and ``navigator.sendBeacon`` on
``/leave`` when it closes; neither is CSRF-checked (a beacon cannot carry the header, and a forged
heartbeat changes nothing but a count).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.expos.models import Expo
from expo.expos.services import get_expo
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import Id
from expo.platform import Platform
from streaming import access, services
from streaming.audience import Audience, assign_viewer_cookie, set_viewer_cookie, viewer_id
from streaming.hls_access import HlsGate
from streaming.models import Stream, StreamStatus, ViewVia, Visibility


class StreamIn(Schema):
    title: str = Field(min_length=1, max_length=services.TITLE_MAX)
    description: str = Field(default="", max_length=services.DESCRIPTION_MAX)
    expo: str | None = Field(
        default=None,
        max_length=64,
        description="Expo slug; default: the default expo, if you may present there.",
    )
    booth_id: Id | None = None
    visibility: Visibility = Visibility.PUBLIC
    scheduled_start: datetime | None = None
    planned_end: datetime | None = None


class StreamPatch(Schema):
    """Absent fields stay as they are; none of them can be emptied with null."""

    not_null = frozenset({"title", "description", "visibility", "scheduled_start", "planned_end"})

    title: str | None = Field(default=None, min_length=1, max_length=services.TITLE_MAX)
    description: str | None = Field(default=None, max_length=services.DESCRIPTION_MAX)
    visibility: Visibility | None = None
    scheduled_start: datetime | None = None
    planned_end: datetime | None = Field(default=None, description="A later end extends the broadcast.")


class StreamOut(Schema):
    id: int
    expo: str
    booth_id: int | None
    owner_id: int | None
    title: str
    description: str
    status: str
    visibility: str
    scheduled_start: datetime | None
    planned_end: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    peak_viewers: int
    page_url: str
    whep_url: str
    hls_url: str
    whip_url: str | None = Field(description="Shown to the stream's managers only.")
    key: str | None = Field(description="The WHIP bearer token; shown to the stream's managers only.")
    can_manage: bool


class StreamList(Schema):
    items: list[StreamOut]


class ListQuery(Schema):
    # A Literal rather than the enum: query parameters are documented inline, without $defs.
    status: Literal["scheduled", "live", "ended"] | None = None


class StatsOut(Schema):
    status: Literal["scheduled", "live", "ended"]
    live_viewers: int
    peak_viewers: int
    total_views: int
    unique_viewers: int
    registrations: int


class MinuteOut(Schema):
    minute: datetime
    viewers: int


class AudienceOut(Schema):
    stats: StatsOut
    average_watch_seconds: float
    minutes: list[MinuteOut] = Field(description="Highest concurrency in each minute, oldest first.")


class RegistrationOut(Schema):
    registered: bool
    registrations: int


class HeartbeatOut(Schema):
    live_viewers: int


def _out(p: Platform, stream: Stream, expo_slug: str, manager: bool) -> StreamOut:
    """The stream as the API shows it; its key and WHIP URL only to a ``manager``."""
    assert stream.id is not None
    urls = services.stream_urls(p.settings, stream)
    return StreamOut(
        id=stream.id,
        expo=expo_slug,
        booth_id=stream.booth_id,
        owner_id=stream.owner_id,
        title=stream.title,
        description=stream.description,
        status=stream.status,
        visibility=stream.visibility,
        scheduled_start=stream.scheduled_start,
        planned_end=stream.planned_end,
        started_at=stream.started_at,
        ended_at=stream.ended_at,
        peak_viewers=stream.peak_viewers,
        page_url=urls.page_url,
        whep_url=urls.whep_url,
        hls_url=urls.hls_url,
        whip_url=urls.whip_url if manager else None,
        key=stream.key if manager else None,
        can_manage=manager,
    )


async def _shown(p: Platform, stream: Stream, user: User | None) -> StreamOut:
    """:func:`_out` for ``user``, asking the rule whether they manage the stream."""
    async with p.db.session() as session:
        expo = await session.get(Expo, stream.expo_id)
        manager = await access.can_manage(session, user, stream)
    return _out(p, stream, expo.slug if expo is not None else "", manager)


async def _managed(request: Request, user: User) -> Stream:
    """The stream named in the path, if ``user`` may manage it."""
    async with platform(request).db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        await access.require_manager(session, user, stream)
    return stream


async def create_stream(request: Request, body: StreamIn, user: User) -> StreamOut:
    """Create a scheduled broadcast in an expo where you may present (its organizers, and exhibitors
    on the staff of one of its booths); the answer carries its key and URLs."""
    p = platform(request)
    async with p.db.session() as session:
        expo = await access.presenting_expo(session, p.settings, body.expo, user, "stream.forbidden")
        stream = await services.create_stream(
            session,
            expo=expo,
            title=body.title,
            owner=user,
            description=body.description,
            booth_id=body.booth_id,
            visibility=body.visibility,
            scheduled_start=body.scheduled_start,
            planned_end=body.planned_end,
        )
    return _out(p, stream, expo.slug, True)


async def read_stream(request: Request) -> StreamOut:
    """A stream; its managers also see the key and the WHIP URL."""
    p = platform(request)
    user = await current_user(request)
    async with p.db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
    return await _shown(p, stream, user)


async def update_stream(request: Request, body: StreamPatch, user: User) -> StreamOut:
    """Change the title, description, visibility or schedule; a new planned end extends the broadcast."""
    stream = await _managed(request, user)
    async with platform(request).db.session() as session:
        stream = await services.update_stream(
            session,
            stream,
            actor=user,
            title=body.title,
            description=body.description,
            visibility=body.visibility,
            scheduled_start=body.scheduled_start,
            planned_end=body.planned_end,
        )
    if body.visibility is not None:  # who may fetch its HLS segments may have changed
        await platform(request).get(HlsGate).forget_stream(services.stored_id(stream))
    return await _shown(platform(request), stream, user)


async def regenerate_key(request: Request, user: User) -> StreamOut:
    """Issue a new stream key; the old one stops working at once."""
    stream = await _managed(request, user)
    ip = request.client.host if request.client else None
    async with platform(request).db.session() as session:
        stream = await services.regenerate_key(session, stream, actor=user, ip=ip)
    return await _shown(platform(request), stream, user)


async def end_stream(request: Request, user: User) -> StreamOut:
    """End the broadcast (or cancel a scheduled one)."""
    stream = await _managed(request, user)
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.end(session, stream, actor=user, bus=p.bus)
    return await _shown(p, stream, user)


async def reopen_stream(request: Request, user: User) -> StreamOut:
    """Put an ended broadcast back to scheduled so it can go live again (the expo's organizers)."""
    stream = await _managed(request, user)
    p = platform(request)
    async with p.db.session() as session:
        stream = await services.reopen(session, stream, actor=user, bus=p.bus)
    return await _shown(p, stream, user)


async def list_streams(request: Request, query: ListQuery) -> StreamList:
    """An expo's broadcasts, soonest first, optionally only those with one status."""
    p = platform(request)
    user = await current_user(request)
    slug = request.path_params["slug"]
    async with p.db.session() as session:
        expo = await get_expo(session, slug)
        status = StreamStatus(query.status) if query.status else None
        streams = await services.list_streams(session, expo, status)
        items = [_out(p, s, expo.slug, await access.can_manage(session, user, s)) for s in streams]
    return StreamList(items=items)


async def stats(request: Request) -> StatsOut:
    """The broadcast's audience figures, the same from every server process. Public."""
    figures = await platform(request).get(Audience).stats(path_int(request, "stream_id"))
    return StatsOut.model_validate(dict(figures))


async def audience(request: Request, user: User) -> AudienceOut:
    """Figures for the stream's managers: the stats, the per-minute series, the mean watch time."""
    stream = await _managed(request, user)
    assert stream.id is not None
    tracker = platform(request).get(Audience)
    figures = await tracker.stats(stream.id)
    return AudienceOut(
        stats=StatsOut.model_validate(dict(figures)),
        average_watch_seconds=round(await tracker.average_watch_seconds(stream.id), 1),
        minutes=[
            MinuteOut(minute=m["minute"], viewers=m["viewers"]) for m in await tracker.series(stream.id)
        ],
    )


async def register(request: Request, user: User) -> RegistrationOut:
    """Register for the broadcast (idempotent)."""
    return await _registration(request, user, True)


async def unregister(request: Request, user: User) -> RegistrationOut:
    """Withdraw a registration (idempotent)."""
    return await _registration(request, user, False)


async def _registration(request: Request, user: User, on: bool) -> RegistrationOut:
    async with platform(request).db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
        if on:
            await services.register(session, stream, user)
        else:
            await services.unregister(session, stream, user)
        assert stream.id is not None
        count = await services.count_registrations(session, stream.id)
    return RegistrationOut(registered=on, registrations=count)


async def _watcher(request: Request) -> tuple[Stream, str]:
    user = await current_user(request)
    async with platform(request).db.session() as session:
        stream = await services.get_stream(session, path_int(request, "stream_id"))
    services.require_watcher(user, stream)
    return stream, viewer_id(request)


async def heartbeat(request: Request) -> Response:
    """The watch page's presence heartbeat (every few seconds while open); answers the live count.

    Counts the viewer only while the stream is live. Sets the ``expo_viewer`` cookie when missing.
    """
    tracker = platform(request).get(Audience)
    # Before viewer_id: a browser's first heartbeat already counts under the cookie it is given.
    assign_viewer_cookie(request)
    stream, viewer = await _watcher(request)
    assert stream.id is not None
    if stream.status == StreamStatus.LIVE:
        await tracker.watch(stream.id, viewer, ViewVia.PAGE)
        live = await tracker.live_viewers(stream.id)
    else:
        live = 0
    response = JSONResponse(HeartbeatOut(live_viewers=live).model_dump())
    set_viewer_cookie(request, response)
    return response


async def leave(request: Request) -> None:
    """The watch page closed (sent with ``navigator.sendBeacon``)."""
    tracker = platform(request).get(Audience)
    stream, viewer = await _watcher(request)
    assert stream.id is not None
    await tracker.leave(stream.id, viewer, ViewVia.PAGE)


_ID = "/api/streams/{stream_id:int}"
_TAGS = ["streams"]

ROUTES = [
    Endpoint(
        "/api/streams",
        create_stream,
        method="POST",
        body=StreamIn,
        auth="user",
        response=StreamOut,
        status=201,
        tags=_TAGS,
    ),
    Endpoint(_ID, read_stream, response=StreamOut, tags=_TAGS),
    Endpoint(
        _ID, update_stream, method="PATCH", body=StreamPatch, auth="user", response=StreamOut, tags=_TAGS
    ),
    Endpoint(f"{_ID}/key", regenerate_key, method="POST", auth="user", response=StreamOut, tags=_TAGS),
    Endpoint(f"{_ID}/end", end_stream, method="POST", auth="user", response=StreamOut, tags=_TAGS),
    Endpoint(f"{_ID}/reopen", reopen_stream, method="POST", auth="user", response=StreamOut, tags=_TAGS),
    Endpoint("/api/expos/{slug}/streams", list_streams, query=ListQuery, response=StreamList, tags=_TAGS),
    Endpoint(f"{_ID}/stats", stats, response=StatsOut, tags=_TAGS),
    Endpoint(f"{_ID}/audience", audience, auth="user", response=AudienceOut, tags=_TAGS),
    Endpoint(f"{_ID}/register", register, method="POST", auth="user", response=RegistrationOut, tags=_TAGS),
    Endpoint(
        f"{_ID}/register",
        unregister,
        method="DELETE",
        auth="user",
        response=RegistrationOut,
        tags=_TAGS,
        name="unregister",
    ),
    Endpoint(f"{_ID}/heartbeat", heartbeat, method="POST", response=HeartbeatOut, tags=_TAGS),
    Endpoint(f"{_ID}/leave", leave, method="POST", status=204, tags=_TAGS),
]
