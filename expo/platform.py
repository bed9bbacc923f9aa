"""The platform's long-lived resources, owned by the app and reached from every route.

The core's own (store, bus, page sockets, token cache, rate limiters, the outbox sender) are
attributes. A domain's long-lived resource (the media plane, the seat desk, the live board...) is
a *component*: the app's assembly (:func:`expo.app.create_app`) adds it with :meth:`Platform.add`,
naming how it starts and stops, and the domain's code reaches it with :meth:`Platform.get` by its
class. So the core never imports a domain, and two apps in one process share nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from expo.accounts.authcache import AuthCache, TokenUse
from expo.bus import Bus, connect_bus
from expo.config import Settings
from expo.db import Database
from expo.looplag import LoopLagMonitor
from expo.mail.outbox import OutboxSender
from expo.process_metrics import register_process_metrics
from expo.ratelimit import RateLimiter
from expo.realtime import Realtime

T = TypeVar("T")
Step = Callable[[], Awaitable[None] | None]


@dataclass
class _Component:
    value: Any
    start: Step | None
    stop: Step | None


async def _run(step: Step | None) -> None:
    if step is not None:
        result = step()
        if inspect.isawaitable(result):
            await result


@dataclass
class Platform:
    """Everything a request may need: settings, store, bus, metrics, rate limiters, page sockets,
    and the components the domains added.

    Built by :func:`expo.app.create_app`; :meth:`start` and :meth:`stop` run in the lifespan.
    Components start after the core, in the order they were added, and stop in reverse order
    before it.
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
        register_process_metrics(self.registry)
        window = self.settings.login_window_seconds
        attempts = self.settings.login_attempts
        self.login_by_email = RateLimiter(self.bus, "login-email", attempts, window)
        # An address may sit behind a NAT with many people, so it gets more room than one account.
        self.login_by_ip = RateLimiter(self.bus, "login-ip", attempts * 5, window)
        # Every sign-up counts (creating accounts in bulk is the abuse), with the same room per address.
        self.signup_by_ip = RateLimiter(self.bus, "signup-ip", attempts * 5, window)
        self.auth_cache = AuthCache(self.bus, ttl=self.settings.auth_cache_seconds)
        self.token_use = TokenUse(self.db)
        # The page sockets of this app: channel rules, shared subscriptions, presence keepers.
        self.realtime = Realtime(self.bus)
        # Delivers the outbox's e-mails; without SMTP they stay readable on the outbox page.
        self.outbox: OutboxSender | None = None
        if self.settings.smtp_url:
            self.outbox = OutboxSender(self.db, self.settings.smtp_url, self.settings.mail_from)
        # How late this process's event loop runs, on /metrics (see expo.looplag).
        self.loop_lag = LoopLagMonitor(self.registry)
        self._components: dict[type, _Component] = {}

    def add(
        self, component: T, *, start: Step | None = None, stop: Step | None = None, kind: type | None = None
    ) -> T:
        """Own ``component`` (one per class): :meth:`start` runs ``start``, :meth:`stop` ``stop``.

        ``kind`` files it under a core interface it implements (a class of the core that a domain
        subclasses), so that code below that domain finds it with ``get(kind)``."""
        if kind is not None and not isinstance(component, kind):
            raise TypeError(f"{type(component).__name__} is not a {kind.__name__}")
        kind = kind or type(component)
        if kind in self._components:
            raise ValueError(f"the platform has a {kind.__name__} already")
        self._components[kind] = _Component(component, start, stop)
        return component

    def get(self, kind: type[T]) -> T:
        """The component of class ``kind`` that the app's assembly added."""
        found = self._components.get(kind)
        if found is None:
            raise LookupError(f"the platform has no {kind.__name__}: add it in expo.app.create_app")
        value: T = found.value
        return value

    async def start(self) -> None:
        self.loop_lag.start()
        await self.bus.connect()
        await self.auth_cache.start()
        await self.token_use.start()
        if self.outbox is not None:
            await self.outbox.start()
        for component in self._components.values():
            await _run(component.start)

    async def stop(self) -> None:
        for component in reversed(self._components.values()):
            await _run(component.stop)
        if self.outbox is not None:
            await self.outbox.stop()
        await self.auth_cache.stop()
        await self.token_use.stop()
        await self.realtime.close()
        await self.bus.close()
        await self.db.dispose()
        await self.loop_lag.stop()
