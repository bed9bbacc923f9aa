"""The server side of ``/ws``: one :class:`Realtime` per app, the socket endpoint, and ``/api/online``.

Pages may only subscribe to channels that a rule allows: ``online`` (``{"online": n}`` whenever
someone connects or leaves, and the current figure right after subscribing) and ``public:*`` out
of the box; domains add theirs with :meth:`Realtime.allow_prefix` when the app is assembled, and
servers publish with :func:`expo.realtime.publish_event`.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
from collections.abc import Awaitable, Callable

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.bus import Bus
from expo.errors import ExpoError
from expo.http.api import Endpoint, Schema
from expo.realtime.connection import Connection
from expo.realtime.hubs import ChannelHub
from expo.realtime.presence import ONLINE_CHANNEL, ONLINE_KEY, Heartbeats, OnlineAnnouncer
from expo.realtime.protocol import CHANNEL_NAME, CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED, origin_allowed

ChannelCheck = Callable[[User | None, str], bool | Awaitable[bool]]
"""``check(user, channel)``: may this (possibly anonymous) user subscribe to ``channel``?"""


def _allow_all(user: User | None, channel: str) -> bool:
    return True


_connection: contextvars.ContextVar[WebSocket] = contextvars.ContextVar("expo_realtime_connection")


def current_connection() -> WebSocket:
    """The socket whose subscription a :data:`ChannelCheck` is deciding, for checks that need the
    app (its store, its settings) to decide. Only valid while a check runs."""
    return _connection.get()


class Realtime:
    """One app's page-socket machinery: which channels pages may subscribe to, the shared bus
    subscriptions (:class:`ChannelHub`), the presence heartbeats and the ``online`` announcer.

    Owned by the app's :class:`~expo.platform.Platform` (two apps in one process share nothing);
    :meth:`close` cancels and awaits its tasks.
    """

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.hubs: dict[str, ChannelHub] = {}
        self.announcer = OnlineAnnouncer(bus)
        # After a bus outage the presence is rebuilt by the heartbeats; say the figure again then.
        self.heartbeats = Heartbeats(bus, on_recovered=self.announcer.poke)
        self._exact: dict[str, ChannelCheck] = {ONLINE_CHANNEL: _allow_all}
        self._prefixes: dict[str, ChannelCheck] = {"public:": _allow_all}

    def allow_prefix(self, prefix: str, check: ChannelCheck) -> None:
        """Let pages subscribe to channels starting with ``prefix`` when ``check`` allows it.

        ``check`` may be a plain or an async function. When several prefixes match a channel, the
        longest one decides.
        """
        if not prefix or not CHANNEL_NAME.match(prefix):
            raise ValueError(f"invalid channel prefix {prefix!r}")
        self._prefixes[prefix] = check

    async def may_subscribe(self, user: User | None, channel: str) -> bool:
        """True when ``channel`` is in an allowed namespace and its check passes for ``user``."""
        check = self._exact.get(channel)
        if check is None:
            matching = [p for p in self._prefixes if channel.startswith(p)]
            if not matching:
                return False
            check = self._prefixes[max(matching, key=len)]
        allowed = check(user, channel)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        return bool(allowed)

    def hub(self, channel: str) -> ChannelHub:
        """The live hub of ``channel``, created when there is none."""
        return ChannelHub.of(self.bus, channel, self.hubs)

    def pages_listening(self, channel: str) -> bool:
        """True while a page socket of this app is subscribed (or subscribing) to ``channel``:
        its hub exists from the first subscriber's join until the last one leaves."""
        return channel in self.hubs

    async def close(self) -> None:
        """Cancel and await the housekeeping tasks (before the bus closes)."""
        await asyncio.gather(self.heartbeats.close(), self.announcer.close())


GC_YOUNG_THRESHOLD = 50_000
"""Allocations between collections of CPython's youngest generation in a serving process."""


def tune_gc() -> None:
    """Let the youngest generation grow to :data:`GC_YOUNG_THRESHOLD` objects (default 700).

    Why: a process holding thousands of page sockets keeps about a hundred objects alive per
    socket. Sending one event wakes every socket's sender; with the default threshold the
    collector runs in the middle of that burst, promotes the still-pending wake-ups to the old
    generation, and every few events a full collection walks the whole heap: pauses of 0.7 s at
    5,000 sockets and 1.4 s at 10,000, which were the tail of the delivery latency (see
    scripts/bench_audience.py). Called once by the app's lifespan; never lowers a higher value.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), middle, old)


async def websocket_endpoint(websocket: WebSocket) -> None:
    """``/ws``: authenticate by session cookie (or bearer token), check the origin, then serve."""
    p = platform(websocket)
    if not origin_allowed(websocket, p.settings.public_url):
        await websocket.close(code=CLOSE_FORBIDDEN, reason="cross-origin WebSocket refused")
        return
    try:
        user = await current_user(websocket)
    except ExpoError as exc:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason=exc.message[:120])
        return
    await websocket.accept()
    # Channel checks run in this task (see current_connection).
    _connection.set(websocket)
    await Connection(websocket, p.realtime, user).run()


class OnlineOut(Schema):
    online: int = Field(description="People with the site open now, each signed-in user once.")


async def online(request: Request) -> OnlineOut:
    """How many people have the site open right now."""
    return OnlineOut(online=await platform(request).bus.presence_count(ONLINE_KEY))


ROUTES: list[BaseRoute] = [
    WebSocketRoute("/ws", websocket_endpoint, name="realtime"),
    Endpoint("/api/online", online, response=OnlineOut, tags=["realtime"]),
]
