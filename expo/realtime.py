"""The page-side realtime channel: one WebSocket per page at ``/ws``.

Protocol (JSON text frames, at most :data:`MAX_FRAME_BYTES` each)::

    client -> {"type": "subscribe", "channel": "public:hall-1"}
    client -> {"type": "unsubscribe", "channel": "public:hall-1"}
    client -> {"type": "ping"}
    server -> {"type": "subscribed", "channel": ...}      the subscription is live from now on
    server -> {"type": "unsubscribed", "channel": ...}
    server -> {"type": "event", "channel": ..., "data": ...}
    server -> {"type": "pong"}
    server -> {"type": "error", "code": ..., "message": ...}   the connection stays open

A channel is a bus channel (see :mod:`expo.bus`). Pages may only subscribe to channels that a
registered prefix allows: ``online`` (``{"online": n}`` whenever someone connects or leaves, and
the current figure right after subscribing) and ``public:*`` out of the box; other domains add
theirs with :func:`register_channel_prefix`. Servers publish with :func:`publish_event`.

While a socket is open its owner counts in the presence set :data:`ONLINE_KEY`: once per signed-in
user however many tabs they have open, once per connection for anonymous visitors.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import json
import logging
import re
import secrets
import weakref
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.bus import Bus, BusError
from expo.errors import ExpoError
from expo.http.api import Endpoint, Schema
from expo.wsprotocol import WRITE_FRAME, text_frame

log = logging.getLogger("expo.realtime")

PRESENCE_TTL = 30.0
"""Seconds a connection stays counted without a heartbeat (it sends one every third of that)."""
ONLINE_KEY = "presence:online"
ONLINE_CHANNEL = "online"
MAX_FRAME_BYTES = 8 * 1024
MAX_SUBSCRIPTIONS = 20
SEND_QUEUE_SIZE = 1024
CHANNEL_NAME = re.compile(r"^[a-z0-9:_-]{1,100}$")
# Close codes in the 4000 range mirror HTTP statuses. Sent before the handshake completes, so
# the client sees the upgrade refused (HTTP 403) and no data ever flows.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403

ChannelCheck = Callable[[User | None, str], bool | Awaitable[bool]]
"""``check(user, channel)``: may this (possibly anonymous) user subscribe to ``channel``?"""


def _allow_all(user: User | None, channel: str) -> bool:
    return True


_connection: contextvars.ContextVar[WebSocket] = contextvars.ContextVar("expo_realtime_connection")


def current_connection() -> WebSocket:
    """The socket whose subscription a :data:`ChannelCheck` is deciding, for checks that need the
    app (its store, its settings) to decide. Only valid while a check runs."""
    return _connection.get()


_EXACT: dict[str, ChannelCheck] = {ONLINE_CHANNEL: _allow_all}
_PREFIXES: dict[str, ChannelCheck] = {"public:": _allow_all}


def register_channel_prefix(prefix: str, check: ChannelCheck) -> None:
    """Let pages subscribe to channels starting with ``prefix`` when ``check`` allows it.

    ``check`` may be a plain or an async function. When several prefixes match a channel, the
    longest one decides.
    """
    if not prefix or not CHANNEL_NAME.match(prefix):
        raise ValueError(f"invalid channel prefix {prefix!r}")
    _PREFIXES[prefix] = check


async def may_subscribe(user: User | None, channel: str) -> bool:
    """True when ``channel`` is in an allowed namespace and its check passes for ``user``."""
    check = _EXACT.get(channel)
    if check is None:
        matching = [p for p in _PREFIXES if channel.startswith(p)]
        if not matching:
            return False
        check = _PREFIXES[max(matching, key=len)]
    allowed = check(user, channel)
    if inspect.isawaitable(allowed):
        allowed = await allowed
    return bool(allowed)


async def publish_event(bus: Bus, channel: str, data: Any) -> None:
    """Send ``data`` (anything JSON can encode) to every page subscribed to ``channel``."""
    await bus.publish(channel, json.dumps(data, separators=(",", ":")))


async def publish_online(bus: Bus) -> int:
    """Publish and return the current number of people online."""
    count = await bus.presence_count(ONLINE_KEY)
    await publish_event(bus, ONLINE_CHANNEL, {"online": count})
    return count


ONLINE_INTERVAL = 0.5
"""Seconds between two ``online`` events of one process, however many people come and go."""


class _OnlineAnnouncer:
    """Coalesces this process's arrivals and departures into at most one ``online`` event per
    :data:`ONLINE_INTERVAL`: when 10,000 pages open at once, their watchers get a few updates of
    the figure instead of 10,000 (each of which went to every subscriber of ``online``)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._dirty = False
        self._last = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._dirty = True
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="realtime-online")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._dirty:
                wait = self._last + ONLINE_INTERVAL - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._dirty = False
                self._last = loop.time()
                await publish_online(self.bus)
        except Exception:
            log.warning("publishing the online figure failed", exc_info=True)
        finally:
            self._task = None


_ANNOUNCERS: weakref.WeakKeyDictionary[Bus, _OnlineAnnouncer] = weakref.WeakKeyDictionary()


def announce_online(bus: Bus) -> None:
    """Publish the online figure soon (see :class:`_OnlineAnnouncer`); never waits."""
    announcer = _ANNOUNCERS.get(bus)
    if announcer is None:
        announcer = _ANNOUNCERS[bus] = _OnlineAnnouncer(bus)
    announcer.poke()


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


def _strip_default_port(netloc: str, scheme: str) -> str:
    default = {"http": ":80", "https": ":443", "ws": ":80", "wss": ":443"}.get(scheme)
    netloc = netloc.lower()
    return netloc[: -len(default)] if default and netloc.endswith(default) else netloc


def origin_allowed(websocket: WebSocket) -> bool:
    """Refuse cross-site WebSocket hijacking: a browser's ``Origin`` must be this site.

    Browsers always send ``Origin`` on WebSocket handshakes, so a missing header means a
    non-browser client, which cannot be tricked into carrying someone's cookie.
    """
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    theirs = _strip_default_port(parts.netloc, parts.scheme)
    public = urlsplit(platform(websocket).settings.public_url)
    ours = {
        _strip_default_port(websocket.headers.get("host", ""), parts.scheme),
        _strip_default_port(public.netloc, public.scheme),
    }
    return theirs in ours - {""}


class ChannelHub:
    """This process's one bus subscription to a channel, shared by every page socket on it.

    Each message is decoded and its event frame encoded once (as JSON text and as WebSocket frame
    bytes), then handed to every member connection with :meth:`Connection.push`, which never
    waits. With one subscription (and one
    task) per socket instead, a chat line to 10,000 watch pages cost 10,000 JSON round trips and
    twice as many task switches, and the bus kept 10,000 buffers of the same message.

    The hub is created by the first socket that subscribes and ends with the last one that
    leaves, or when the bus ends the subscription (closing, or failed): members are then told
    through :meth:`Connection.channel_ended` and may subscribe again.
    """

    def __init__(self, bus: Bus, channel: str, hubs: dict[str, ChannelHub]) -> None:
        self.bus = bus
        self.channel = channel
        self.members: set[Connection] = set()
        self._hubs = hubs
        self._joining = 0
        self._ready = asyncio.Event()  # set once live, or once ended
        self._ended = False
        self._task = asyncio.create_task(self._run(), name=f"realtime-hub:{channel}")

    @classmethod
    def of(cls, bus: Bus, channel: str) -> ChannelHub:
        """The live hub of ``channel`` on ``bus``, created when there is none."""
        hubs = _HUBS.setdefault(bus, {})
        hub = hubs.get(channel)
        if hub is None or hub._ended:
            hub = hubs[channel] = cls(bus, channel, hubs)
        return hub

    async def join(self, connection: Connection) -> None:
        """Add ``connection``; on return the subscription is live. Raises :class:`BusError`
        when the bus could not subscribe."""
        self._joining += 1
        try:
            await self._ready.wait()
            if self._ended:
                raise BusError(f"the subscription to {self.channel} ended")
            self.members.add(connection)
        finally:
            self._joining -= 1
            if not self.members and not self._joining:
                await self._close()

    async def leave(self, connection: Connection) -> None:
        """Remove ``connection``; the last one out ends the bus subscription."""
        self.members.discard(connection)
        if not self.members and not self._joining:
            await self._close()

    async def _close(self) -> None:
        if self._hubs.get(self.channel) is self:
            del self._hubs[self.channel]
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        failed = False
        try:
            async with self.bus.subscribe(self.channel) as subscription:
                self._ready.set()
                async for message in subscription:
                    frame = _event_frame(self.channel, message)
                    prepared = text_frame(frame)
                    for connection in tuple(self.members):
                        connection.push(frame, prepared)
        except asyncio.CancelledError:
            raise
        except Exception:
            failed = True
            log.warning(
                "realtime subscription failed", exc_info=True, extra={"fields": {"channel": self.channel}}
            )
        finally:
            self._ended = True
            self._ready.set()
            if self._hubs.get(self.channel) is self:
                del self._hubs[self.channel]
        members, self.members = self.members, set()
        for connection in members:
            connection.channel_ended(self, failed)


_HUBS: weakref.WeakKeyDictionary[Bus, dict[str, ChannelHub]] = weakref.WeakKeyDictionary()


def pages_listening(bus: Bus, channel: str) -> bool:
    """True while a page socket of this process is subscribed (or subscribing) to ``channel``:
    its hub exists from the first subscriber's join until the last one leaves."""
    return channel in _HUBS.get(bus, {})


def _event_frame(channel: str, message: str) -> str:
    try:
        data: Any = json.loads(message)
    except ValueError:
        data = message
    return json.dumps({"type": "event", "channel": channel, "data": data}, separators=(",", ":"))


class _Heartbeats:
    """Keeps the presence of every open socket of this process alive with one task.

    One heartbeat task per socket meant 10,000 wake-ups and, on Redis, up to 20,000 round trips
    every :data:`PRESENCE_TTL` / 3 for a process holding 10,000 watch pages; this renews all of a
    key's members in one :meth:`Bus.presence_touch_many` (a handful of round trips). The task runs
    while there is something to keep and ends with the last socket.
    """

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._kept: dict[str, Counter[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def keep(self, pairs: list[tuple[str, str]]) -> None:
        for key, member in pairs:
            self._kept.setdefault(key, Counter())[member] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="realtime-heartbeats")

    def drop(self, pairs: list[tuple[str, str]]) -> None:
        for key, member in pairs:
            members = self._kept.get(key)
            if members is None:
                continue
            members[member] -= 1
            if members[member] <= 0:
                del members[member]
            if not members:
                del self._kept[key]

    async def _run(self) -> None:
        while self._kept:
            await asyncio.sleep(PRESENCE_TTL / 3)
            for key, members in list(self._kept.items()):
                try:
                    await self.bus.presence_touch_many(key, list(members), PRESENCE_TTL)
                except Exception:
                    # The next round tries again; a lapse only shows when it lasts PRESENCE_TTL.
                    log.warning("presence heartbeat failed", exc_info=True, extra={"fields": {"key": key}})


_HEARTBEATS: weakref.WeakKeyDictionary[Bus, _Heartbeats] = weakref.WeakKeyDictionary()


async def shutdown(bus: Bus) -> None:
    """Cancel and await this process's realtime housekeeping on ``bus`` (before it closes)."""
    tasks = []
    for registry in (_HEARTBEATS, _ANNOUNCERS):
        keeper = registry.pop(bus, None)
        if keeper is not None and keeper._task is not None:
            keeper._task.cancel()
            tasks.append(keeper._task)
    await asyncio.gather(*tasks, return_exceptions=True)


def _heartbeats(bus: Bus) -> _Heartbeats:
    found = _HEARTBEATS.get(bus)
    if found is None:
        found = _HEARTBEATS[bus] = _Heartbeats(bus)
    return found


class Connection:
    """One open page socket: its subscriptions, presence heartbeat and outgoing queue.

    Outgoing frames wait in a bounded queue drained by one sender task; when a slow client lets
    it fill, the oldest frames are dropped, so neither the bus nor other clients ever wait for it.
    :meth:`run` returns when the client disconnects, after every task it started is cancelled
    and awaited, its subscriptions are left and its presence is withdrawn.
    """

    def __init__(self, websocket: WebSocket, bus: Bus, user: User | None) -> None:
        self.websocket = websocket
        self.bus = bus
        self.user = user
        self.id = secrets.token_urlsafe(12)
        self.member = f"user:{user.id}" if user is not None else f"anon:{self.id}"
        # One person with several tabs counts once: the member leaves ONLINE_KEY only when the
        # last of their connections (in any process) is gone.
        self.connections_key = f"presence:connections:{self.member}" if user is not None else None
        self.dropped = 0
        self._outbox: deque[str] = deque()
        # The sender task parks on this future while the outbox is empty. A bare future rather
        # than an asyncio.Event: a chat line wakes every socket of a channel at once, and the
        # Event's waiter bookkeeping was a tenth of the cost of each delivery.
        self._wakeup: asyncio.Future[None] | None = None
        self._channels: dict[str, ChannelHub] = {}
        # See expo.wsprotocol: None when the server does not offer the extension.
        extensions = websocket.scope.get("extensions") or {}
        self._write_frame: Callable[[bytes], bool] | None = extensions.get(WRITE_FRAME)
        self._sending = False  # the sender task is inside websocket.send_text

    def push(self, text: str, prepared: bytes | None = None) -> None:
        """Send ``text`` without waiting: written at once when the server can write ``prepared``
        (``text`` as a frame, from :func:`expo.wsprotocol.text_frame`) and nothing is queued
        before it; otherwise queued for the sender task, dropping the oldest queued frame when
        the queue is full."""
        write = self._write_frame
        if (
            prepared is not None
            and write is not None
            and not (self._outbox or self._sending)
            and write(prepared)
        ):
            return
        if len(self._outbox) >= SEND_QUEUE_SIZE:
            self._outbox.popleft()
            self.dropped += 1
        self._outbox.append(text)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def send(self, frame: dict[str, Any]) -> None:
        """Queue ``frame`` without waiting (see :meth:`push`)."""
        self.push(json.dumps(frame, separators=(",", ":")))

    def error(self, code: str, message: str) -> None:
        self.send({"type": "error", "code": code, "message": message})

    def channel_ended(self, hub: ChannelHub, failed: bool) -> None:
        """The bus ended ``hub``'s subscription: forget it, so the client can subscribe again."""
        if self._channels.get(hub.channel) is hub:
            del self._channels[hub.channel]
        if failed:
            self.error("channel.failed", f"The subscription to {hub.channel} ended; subscribe again.")

    async def run(self) -> None:
        background = [asyncio.create_task(self._sender())]
        try:
            await self._join()
            await self._receive_loop()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            hubs, self._channels = list(self._channels.values()), {}
            for hub in hubs:
                await hub.leave(self)
            await self._leave()

    # -- presence ----------------------------------------------------------------

    def _presence(self) -> list[tuple[str, str]]:
        """The (key, member) heartbeats this connection keeps alive while open."""
        own = [(ONLINE_KEY, self.member)]
        if self.connections_key is not None:
            own.append((self.connections_key, self.id))
        return own

    async def _touch(self) -> None:
        for key, member in self._presence():
            await self.bus.presence_touch(key, member, PRESENCE_TTL)

    async def _join(self) -> None:
        _heartbeats(self.bus).keep(self._presence())
        try:
            await self._touch()
            announce_online(self.bus)
        except Exception:
            log.warning("presence join failed", exc_info=True)

    async def _leave(self) -> None:
        _heartbeats(self.bus).drop(self._presence())
        try:
            if self.connections_key is not None:
                await self.bus.presence_leave(self.connections_key, self.id)
                if await self.bus.presence_count(self.connections_key) > 0:
                    return
            await self.bus.presence_leave(ONLINE_KEY, self.member)
            announce_online(self.bus)
        except Exception:
            # The heartbeat lapses within PRESENCE_TTL anyway.
            log.warning("presence leave failed", exc_info=True)

    # -- frames ------------------------------------------------------------------

    async def _sender(self) -> None:
        while True:
            if not self._outbox:
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
                self._wakeup = None
            while self._outbox:
                self._sending = True
                try:
                    await self.websocket.send_text(self._outbox.popleft())
                finally:
                    self._sending = False

    async def _receive_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self.error("frame.not_text", "Send JSON text frames.")
                continue
            if len(text) > MAX_FRAME_BYTES or len(text.encode("utf-8", "replace")) > MAX_FRAME_BYTES:
                self.error("frame.too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
                continue
            try:
                frame = json.loads(text)
            except ValueError:
                self.error("frame.not_json", "Frames must be JSON objects.")
                continue
            if not isinstance(frame, dict):
                self.error("frame.not_json", "Frames must be JSON objects.")
                continue
            await self._handle(frame)

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ping":
            self.send({"type": "pong"})
        elif kind in ("subscribe", "unsubscribe"):
            channel = frame.get("channel")
            if not isinstance(channel, str) or not CHANNEL_NAME.match(channel):
                self.error("channel.invalid", "Channel names are 1-100 of a-z, 0-9, ':', '_' and '-'.")
            elif kind == "subscribe":
                await self._subscribe(channel)
            else:
                await self._unsubscribe(channel)
        else:
            self.error("frame.unknown_type", "Frame type must be subscribe, unsubscribe or ping.")

    async def _subscribe(self, channel: str) -> None:
        if channel in self._channels:
            self.send({"type": "subscribed", "channel": channel})
            return
        if len(self._channels) >= MAX_SUBSCRIPTIONS:
            self.error("channel.too_many", f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection.")
            return
        if not await may_subscribe(self.user, channel):
            self.error("channel.forbidden", f"You cannot subscribe to {channel}.")
            return
        hub = ChannelHub.of(self.bus, channel)
        try:
            await hub.join(self)
            self._channels[channel] = hub
            self.send({"type": "subscribed", "channel": channel})
            if channel == ONLINE_CHANNEL:
                # A page wants the figure now, not at the next arrival or departure.
                count = await self.bus.presence_count(ONLINE_KEY)
                self.send({"type": "event", "channel": channel, "data": {"online": count}})
        except Exception:
            log.warning("realtime subscription failed", exc_info=True, extra={"fields": {"channel": channel}})
            self.error("channel.failed", f"The subscription to {channel} ended; subscribe again.")

    async def _unsubscribe(self, channel: str) -> None:
        hub = self._channels.pop(channel, None)
        if hub is not None:
            await hub.leave(self)
        self.send({"type": "unsubscribed", "channel": channel})


async def websocket_endpoint(websocket: WebSocket) -> None:
    """``/ws``: authenticate by session cookie (or bearer token), check the origin, then serve."""
    if not origin_allowed(websocket):
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
    connection = Connection(websocket, platform(websocket).bus, user)
    await connection.run()


class OnlineOut(Schema):
    online: int = Field(description="People with the site open now, each signed-in user once.")


async def online(request: Request) -> OnlineOut:
    """How many people have the site open right now."""
    return OnlineOut(online=await platform(request).bus.presence_count(ONLINE_KEY))


ROUTES: list[BaseRoute] = [
    WebSocketRoute("/ws", websocket_endpoint, name="realtime"),
    Endpoint("/api/online", online, response=OnlineOut, tags=["realtime"]),
]
