"""One open page socket: its subscriptions, presence and outgoing queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from expo.accounts.models import User
from expo.bus import BusError
from expo.realtime import presence
from expo.realtime.hubs import ChannelHub
from expo.realtime.presence import ONLINE_CHANNEL, ONLINE_KEY
from expo.realtime.protocol import CHANNEL_NAME, MAX_FRAME_BYTES, MAX_SUBSCRIPTIONS, SEND_QUEUE_SIZE
from expo.wsprotocol import WRITE_FRAME

if TYPE_CHECKING:
    from expo.realtime.server import Realtime

log = logging.getLogger("expo.realtime")


class Connection:
    """One open page socket: its subscriptions, presence heartbeat and outgoing queue.

    Outgoing frames wait in a bounded queue drained by one sender task; when a slow client lets
    it fill, the oldest frames are dropped, so neither the bus nor other clients ever wait for it.
    :meth:`run` returns when the client disconnects, after every task it started is cancelled
    and awaited, its subscriptions are left and its presence is withdrawn.
    """

    def __init__(self, websocket: WebSocket, realtime: Realtime, user: User | None) -> None:
        self.websocket = websocket
        self.realtime = realtime
        self.bus = realtime.bus
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
            await self.bus.presence_touch(key, member, presence.PRESENCE_TTL)

    async def _join(self) -> None:
        self.realtime.heartbeats.keep(self._presence())
        try:
            await self._touch()
            self.realtime.announcer.poke()
        except BusError as exc:
            log.debug("presence join failed: %s", exc)  # the heartbeats announce it later
        except Exception:
            log.warning("presence join failed", exc_info=True)

    async def _leave(self) -> None:
        self.realtime.heartbeats.drop(self._presence())
        try:
            if self.connections_key is not None:
                await self.bus.presence_leave(self.connections_key, self.id)
                if await self.bus.presence_count(self.connections_key) > 0:
                    return
            await self.bus.presence_leave(ONLINE_KEY, self.member)
            self.realtime.announcer.poke()
        except BusError as exc:
            log.debug("presence leave failed: %s", exc)  # it lapses within PRESENCE_TTL anyway
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
            if not isinstance(channel, str) or not CHANNEL_NAME.fullmatch(channel):
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
        if not await self.realtime.may_subscribe(self.user, channel):
            self.error("channel.forbidden", f"You cannot subscribe to {channel}.")
            return
        hub = self.realtime.hub(channel)
        try:
            await hub.join(self)
            self._channels[channel] = hub
            self.send({"type": "subscribed", "channel": channel})
            if channel == ONLINE_CHANNEL:
                # A page wants the figure now, not at the next arrival or departure. During a bus
                # outage it waits for the next one: the subscription itself stands.
                with contextlib.suppress(BusError):
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
