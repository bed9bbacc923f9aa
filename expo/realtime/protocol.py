"""The ``/ws`` wire protocol: frame limits, channel names, close codes and the event frame.

Frames are JSON text, at most :data:`MAX_FRAME_BYTES` each::

    client -> {"type": "subscribe", "channel": "public:hall-1"}
    client -> {"type": "unsubscribe", "channel": "public:hall-1"}
    client -> {"type": "ping"}
    server -> {"type": "subscribed", "channel": ...}      the subscription is live from now on
    server -> {"type": "unsubscribed", "channel": ...}
    server -> {"type": "event", "channel": ..., "data": ...}
    server -> {"type": "pong"}
    server -> {"type": "error", "code": ..., "message": ...}   the connection stays open
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket

from expo.bus import Bus

MAX_FRAME_BYTES = 8 * 1024
MAX_SUBSCRIPTIONS = 20
SEND_QUEUE_SIZE = 1024
CHANNEL_NAME = re.compile(r"^[a-z0-9:_-]{1,100}$")
# Close codes in the 4000 range mirror HTTP statuses. Sent before the handshake completes, so
# the client sees the upgrade refused (HTTP 403) and no data ever flows.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


async def publish_event(bus: Bus, channel: str, data: Any) -> None:
    """Send ``data`` (anything JSON can encode) to every page subscribed to ``channel``.

    Best effort, like every live event: what it reports is stored already, and a page that missed
    it (a bus outage, a dropped socket) shows it on its next load.
    """
    await bus.try_publish(channel, json.dumps(data, separators=(",", ":")))


def event_frame(channel: str, message: str) -> str:
    """The frame that carries a bus message to the pages subscribed to ``channel``."""
    try:
        data: Any = json.loads(message)
    except ValueError:
        data = message
    return json.dumps({"type": "event", "channel": channel, "data": data}, separators=(",", ":"))


def _strip_default_port(netloc: str, scheme: str) -> str:
    default = {"http": ":80", "https": ":443", "ws": ":80", "wss": ":443"}.get(scheme)
    netloc = netloc.lower()
    return netloc[: -len(default)] if default and netloc.endswith(default) else netloc


def origin_allowed(websocket: WebSocket, public_url: str) -> bool:
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
    public = urlsplit(public_url)
    ours = {
        _strip_default_port(websocket.headers.get("host", ""), parts.scheme),
        _strip_default_port(public.netloc, public.scheme),
    }
    return theirs in ours - {""}
