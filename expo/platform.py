"""The platform's long-lived resources, owned by the app and reached from every route."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from expo.accounts.authcache import AuthCache, TokenUse
from expo.agenda.seats import SeatDesk
from expo.bus import Bus, connect_bus
from expo.config import Settings
from expo.dashboards.live import LiveBoard
from expo.db import Database
from expo.mail.outbox import OutboxSender
from expo.ratelimit import RateLimiter
from expo.realtime import Realtime
from streaming.audience import Audience
from streaming.hls import HlsRegistry
from streaming.plane import MediaPlane
from streaming.rooms import RoomPlane


@dataclass
class Platform:
    """Everything a request may need: settings, store, bus, metrics, rate limiters, audience figures.

    Built by :func:`expo.app.create_app`; :meth:`start` and :meth:`stop` run in the lifespan.
    """

    settings: Settings
    db: Database
    bus: Bus
    secret: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    # When the store last answered a health probe (time.monotonic()); see expo.system.healthz.
    healthy_at: float = float("-inf")

    @classmethod
    def build(cls, settings: Settings) -> Platform:
        return cls(
            settings=settings,
            db=Database(settings.database),
            bus=connect_bus(settings.bus_url),
            secret=settings.resolved_secret(),
        )

    def __post_init__(self) -> None:
        window = self.settings.login_window_seconds
        attempts = self.settings.login_attempts
        self.login_by_email = RateLimiter(self.bus, "login-email", attempts, window)
        # An address may sit behind a NAT with many people, so it gets more room than one account.
        self.login_by_ip = RateLimiter(self.bus, "login-ip", attempts * 5, window)
        self.audience = Audience(self.db, self.bus)
        self.auth_cache = AuthCache(self.bus, ttl=self.settings.auth_cache_seconds)
        self.token_use = TokenUse(self.db)
        # The page sockets of this app: channel rules, shared subscriptions, presence keepers.
        self.realtime = Realtime(self.bus)
        # HLS packagers of the streams live in this process (their segments are in memory).
        self.hls = HlsRegistry()
        # WHIP publishers, WHEP viewers and the media router of this process.
        self.media = MediaPlane(self.settings, self.db, self.bus, self.audience, self.hls)
        # Telepresence rooms admitted by this process: their people and peer connections.
        self.rooms = RoomPlane(self.media, self.bus, self.secret)
        # Session seats: one group-committing desk per process (see expo.agenda.seats).
        self.seats = SeatDesk(self.db, self.settings.public_url)
        # Live dashboard figures of the expos whose dashboards are open in this process.
        self.live_board = LiveBoard(self.db, self.bus, self.audience, self.realtime)
        # Delivers the outbox's e-mails; without SMTP they stay readable on the outbox page.
        self.outbox: OutboxSender | None = None
        if self.settings.smtp_url:
            self.outbox = OutboxSender(self.db, self.settings.smtp_url, self.settings.mail_from)

    async def start(self) -> None:
        await self.bus.connect()
        await self.auth_cache.start()
        await self.token_use.start()
        await self.audience.start()
        if self.outbox is not None:
            await self.outbox.start()

    async def stop(self) -> None:
        if self.outbox is not None:
            await self.outbox.stop()
        await self.live_board.stop()
        await self.rooms.close()
        await self.media.close()
        await self.hls.close()
        await self.audience.stop()
        await self.auth_cache.stop()
        await self.token_use.stop()
        await self.realtime.close()
        await self.bus.close()
        self.seats.close()
        await self.db.dispose()
