"""Channel hubs: one bus subscription per channel and process, shared by every page socket on it."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from expo.bus import Bus, BusError
from expo.realtime.protocol import event_frame
from expo.wsprotocol import text_frame

if TYPE_CHECKING:
    from expo.realtime.connection import Connection

log = logging.getLogger("expo.realtime")


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
    def of(cls, bus: Bus, channel: str, hubs: dict[str, ChannelHub]) -> ChannelHub:
        """The live hub of ``channel`` among ``hubs``, created when there is none."""
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
                    frame = event_frame(self.channel, message)
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
