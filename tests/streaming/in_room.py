"""The start of most room tests: a room with its host and a guest in it, and a socket on the room's
channel as a participant's page has (test_room_media.py, test_room_control.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, NamedTuple

import httpx
import websockets

from streaming.models import Room
from tests.conftest import LiveServer
from tests.streaming.test_rooms import Member, join, new_room


@asynccontextmanager
async def listening(server: LiveServer, channel: str) -> AsyncIterator[Any]:
    """A socket subscribed to a room's channel, as a participant's page is: events from the moment
    it is yielded reach it."""
    ws_url = server.url.replace("http", "ws") + "/ws"
    async with websockets.connect(ws_url, origin=server.url) as socket:  # type: ignore[arg-type]
        await socket.send(json.dumps({"type": "subscribe", "channel": channel}))
        async with asyncio.timeout(10):
            while json.loads(await socket.recv())["type"] != "subscribed":
                pass
        yield socket


class InRoom(NamedTuple):
    """Unpacked as ``async with host_and_guest(...) as (http, room, host, guest, socket)``."""

    http: httpx.AsyncClient
    room: Room
    host: Member
    guest: Member
    socket: Any  # on the room's channel, as the page of ``listener`` in :func:`host_and_guest`


@asynccontextmanager
async def host_and_guest(
    server: LiveServer,
    members: list[Member],
    *,
    host_name: str = "",
    guest_name: str = "",
    listener: Literal["host", "guest"] = "host",
) -> AsyncIterator[InRoom]:
    """A new room (the command line's: no lobby), its host and then a guest joined through the
    HTTP API, and ``listener``'s socket on its channel."""
    room = new_room(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        host = await join(http, room, room.host_key, members, name=host_name)
        guest = await join(http, room, room.guest_key, members, name=guest_name)
        heard_by = host if listener == "host" else guest
        async with listening(server, heard_by.joined["channel"]) as socket:
            yield InRoom(http, room, host, guest, socket)
