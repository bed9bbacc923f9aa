"""The application's assembly: every route of the platform, in one place, and every domain's
long-lived component, added to the platform that owns it.

This module (with the command line and the demo, which drive domains too) is the only part of the
core that imports domains: see the layering in the README's Architecture section.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from booths import api as floor_api
from booths import catalog_api, editor_pages, lead_pages, organizer_pages, product_pages
from booths import pages as floor_pages
from booths.catalog_jobs import CatalogImports
from expo import realtime, system
from expo.accounts import admin_pages as account_admin_pages
from expo.accounts import api as account_api
from expo.accounts import pages as account_pages
from expo.accounts import recovery_pages
from expo.accounts.work_links import WorkLinks
from expo.agenda import api as agenda_api
from expo.agenda import organizer_pages as agenda_organizer_pages
from expo.agenda import pages as agenda_pages
from expo.agenda.seats import SeatDesk
from expo.config import Settings
from expo.dashboards import api as dashboard_api
from expo.dashboards import live as dashboards_live
from expo.dashboards import pages as dashboard_pages
from expo.dashboards import promotion_api as promotion_dashboard_api
from expo.dashboards import promotion_pages as promotion_dashboard_pages
from expo.dashboards.live import LiveBoard
from expo.db import import_models
from expo.expos import api as expo_api
from expo.expos import pages as team_pages
from expo.expos import settings_pages as expo_settings_pages
from expo.http.errors import EXCEPTION_HANDLERS
from expo.http.middleware import BoundaryMiddleware, HttpMetrics
from expo.http.pages import build_templates
from expo.mail import pages as outbox_pages
from expo.meetings import api as meeting_api
from expo.meetings import home as exhibitor_home
from expo.meetings import pages as meeting_pages
from expo.meetings import slots_api, slots_pages
from expo.platform import Platform
from expo.promotion import consulting_api, consulting_pages, invitations_api, invitations_pages
from expo.promotion import departments_api as promotion_departments_api
from expo.promotion import departments_desk as promotion_departments_desk
from expo.promotion import departments_pages as promotion_departments_pages
from expo.promotion import editor_pages as promotion_editor_pages
from expo.promotion import filing_questions_pages as promotion_filing_questions_pages
from expo.promotion import pages as promotion_pages
from expo.promotion import project_rooms_pages as promotion_project_rooms_pages
from expo.promotion import projects_api as promotion_projects_api
from expo.promotion import projects_board as promotion_projects_board
from expo.promotion import projects_pages as promotion_projects_pages
from expo.promotion.departments_desk import DeskLinks
from expo.promotion.project_rooms_signing import on_ceremony_completed
from expo.promotion.reminders import OverdueReminders
from expo.registration import api as registration_api
from expo.registration import organizer_pages as registration_organizer_pages
from expo.registration import pages as registration_pages
from expo.showcase import LiveListings
from expo.signing import api as signing_api
from expo.signing import pages as signing_pages
from expo.signing import services as signing_services
from expo.signing.completion import Completions
from streaming import api as stream_api
from streaming import (
    chat_api,
    hls_http,
    media_api,
    on_air_api,
    room_api,
    room_media_api,
    room_pages,
    studio_pages,
)
from streaming import pages as streaming_pages
from streaming.audience import Audience
from streaming.cluster import Cluster
from streaming.hls import HlsRegistry
from streaming.hls_access import HlsGate
from streaming.listings import StreamListings
from streaming.models import Room
from streaming.on_air import OnAirDesk
from streaming.plane import MediaPlane
from streaming.rooms import RoomPlane
from web import STATIC_DIR

log = logging.getLogger("expo.app")


def routes() -> list[BaseRoute]:
    return [
        *system.ROUTES,
        *account_api.ROUTES,
        *account_pages.ROUTES,
        *account_admin_pages.ROUTES,
        *recovery_pages.ROUTES,
        *realtime.ROUTES,
        *expo_api.ROUTES,
        *team_pages.ROUTES,
        *expo_settings_pages.ROUTES,
        *floor_api.ROUTES,
        *catalog_api.ROUTES,
        *floor_pages.ROUTES,
        *editor_pages.ROUTES,
        *product_pages.ROUTES,
        *lead_pages.ROUTES,
        *meeting_api.ROUTES,
        *meeting_pages.ROUTES,
        *slots_api.ROUTES,
        *slots_pages.ROUTES,
        *exhibitor_home.ROUTES,
        *organizer_pages.ROUTES,
        *registration_api.ROUTES,
        *registration_pages.ROUTES,
        *registration_organizer_pages.ROUTES,
        *outbox_pages.ROUTES,
        *agenda_api.ROUTES,
        *agenda_pages.ROUTES,
        *agenda_organizer_pages.ROUTES,
        *stream_api.ROUTES,
        *chat_api.ROUTES,
        *hls_http.ROUTES,
        *media_api.ROUTES,
        *room_api.ROUTES,
        *on_air_api.ROUTES,
        *room_media_api.ROUTES,
        *room_pages.ROUTES,
        *signing_api.ROUTES,
        *signing_pages.ROUTES,
        # Before the promotion site's pages: /invest/projects is not a module page.
        *promotion_projects_pages.ROUTES,
        *promotion_projects_board.ROUTES,
        *promotion_filing_questions_pages.ROUTES,
        *promotion_project_rooms_pages.ROUTES,
        *promotion_projects_api.ROUTES,
        *promotion_pages.ROUTES,
        *promotion_editor_pages.ROUTES,
        *consulting_api.ROUTES,
        *consulting_pages.ROUTES,
        *invitations_api.ROUTES,
        *invitations_pages.ROUTES,
        *promotion_departments_pages.ROUTES,
        *promotion_departments_desk.ROUTES,
        *promotion_departments_api.ROUTES,
        *streaming_pages.ROUTES,
        *studio_pages.ROUTES,
        *dashboard_api.ROUTES,
        *dashboard_pages.ROUTES,
        *promotion_dashboard_api.ROUTES,
        *promotion_dashboard_pages.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


async def _ceremony_stream(session: AsyncSession, room: Room) -> int | None:
    """The broadcast of a signing room's ceremony: where the room goes on air (streaming.on_air)."""
    assert room.id is not None
    ceremony = await signing_services.ceremony_of(session, room.id)
    return ceremony.stream_id if ceremony is not None else None


def build_platform(settings: Settings) -> Platform:
    """The core platform with each domain's components and page channels. Nothing connects yet."""
    platform = Platform.build(settings)
    db, bus = platform.db, platform.bus
    # Catalogue files imported in the background by this process (see booths.catalog_jobs).
    imports = platform.add(CatalogImports(db, bus), stop=lambda: imports.stop())
    # Broadcasts: audience figures, the HLS packagers and the media plane of this process.
    audience = platform.add(Audience(db, bus), start=lambda: audience.start(), stop=lambda: audience.stop())
    hls = platform.add(HlsRegistry(), stop=lambda: hls.close())
    # Who may fetch HLS playlists and segments, remembered per process (bans revoke at once).
    gate = HlsGate(db, bus, platform.secret)
    platform.add(gate, start=lambda: gate.start(), stop=lambda: gate.stop())
    # This process among the server processes: its private address on the bus (see streaming.cluster).
    cluster = platform.add(
        Cluster(bus, platform.secret), start=lambda: cluster.start(), stop=lambda: cluster.close()
    )
    media = platform.add(
        MediaPlane(settings, db, bus, audience, hls, cluster),
        start=lambda: media.start(),
        stop=lambda: media.close(),
    )
    # Telepresence rooms admitted by this process: their people and peer connections.
    rooms = platform.add(RoomPlane(media, bus, platform.secret), stop=lambda: rooms.close())
    # Rooms of this process on air as broadcasts; a signing room goes on air into its ceremony's.
    desk = platform.add(
        OnAirDesk(rooms, suggest=_ceremony_stream), start=lambda: desk.start(), stop=lambda: desk.close()
    )
    # "Live now" and "Coming up" for the core's and the floor's pages (see expo.showcase).
    platform.add(StreamListings(audience), kind=LiveListings)
    # "My department's projects" in the header of the account page (see expo.accounts.work_links).
    platform.add(DeskLinks(), kind=WorkLinks)
    # Session seats: one group-committing desk per process (see expo.agenda.seats).
    seats = platform.add(SeatDesk(db, settings.public_url), stop=lambda: seats.close())
    # Live dashboard figures of the expos whose dashboards are open in this process.
    board = platform.add(LiveBoard(db, bus, audience, platform.realtime), stop=lambda: board.stop())
    # The project pipeline's overdue reminders, queued in the outbox (see expo.promotion.reminders).
    overdue = platform.add(
        OverdueReminders(db, settings), start=lambda: overdue.start(), stop=lambda: overdue.stop()
    )
    # What follows a completed signing ceremony: the project signed in it moves to "signed".
    platform.add(Completions()).add(on_ceremony_completed)
    chat_api.register_channels(platform.realtime)
    dashboards_live.register_channels(platform.realtime)
    room_api.register_channels(platform.realtime)
    return platform


def create_app(settings: Settings, *, check_schema: bool = True) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts."""
    import_models()
    platform = build_platform(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if check_schema:
            from expo.migrations import ensure_schema

            await ensure_schema(platform.db)
        await platform.start()
        realtime.tune_gc()
        log.info("expo started", extra={"fields": {"store": platform.db.engine.url.render_as_string()}})
        try:
            yield
        finally:
            await platform.stop()

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(
                BoundaryMiddleware, metrics=HttpMetrics(platform.registry), access_log=settings.access_log
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.templates = build_templates()
    return app
