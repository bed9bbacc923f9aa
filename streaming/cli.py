"""``expo streams ...`` and ``expo rooms ...``: what the ``expo`` command line calls for broadcasts
and telepresence rooms."""

from __future__ import annotations

from typing import Any

from expo.config import Settings
from expo.db import Database
from expo.expos import services as expos
from streaming import room_services, services

STREAM_FIELDS = ("id", "key", "whip_url", "whep_url", "hls_url", "page_url")
"""The keys ``expo streams create`` prints, in the contract's order."""


async def create_stream(
    db: Database, settings: Settings, title: str, expo_slug: str | None
) -> dict[str, Any]:
    """Create a stream without an owner and return the contract's JSON object.

    Without ``expo_slug`` the stream goes to ``settings.default_expo``, created when missing; a named
    expo must exist (``expo.unknown``). URLs are absolute, built from ``settings.public_url``.
    """
    async with db.session() as session:
        expo = await expos.expo_or_default(session, settings, expo_slug)
        stream = await services.create_stream(session, expo=expo, title=title, owner=None)
    urls = services.stream_urls(settings, stream)
    return {
        "id": stream.id,
        "key": stream.key,
        "whip_url": urls.whip_url,
        "whep_url": urls.whep_url,
        "hls_url": urls.hls_url,
        "page_url": urls.page_url,
    }


async def create_room(db: Database, settings: Settings, title: str, expo_slug: str | None) -> dict[str, Any]:
    """Create a room without an owner and return the contract's JSON object (expo as for streams)."""
    async with db.session() as session:
        expo = await expos.expo_or_default(session, settings, expo_slug)
        room = await room_services.create_room(session, expo=expo, title=title, owner=None)
    urls = room_services.room_urls(settings, room)
    return {"id": room.id, "host_url": urls.host_url, "guest_url": urls.guest_url}
