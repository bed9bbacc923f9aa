"""The page-side realtime channel: one WebSocket per page at ``/ws``.

* :mod:`~expo.realtime.protocol`: the frames, limits and close codes, and :func:`publish_event`.
* :mod:`~expo.realtime.server`: :class:`Realtime` (one per app: channel rules, hubs, presence
  keepers), the ``/ws`` endpoint and ``/api/online``.
* :mod:`~expo.realtime.connection`, :mod:`~expo.realtime.hubs`, :mod:`~expo.realtime.presence`:
  one socket, one shared subscription per channel, and who is online.

A channel is a bus channel (see :mod:`expo.bus`).
"""

from expo.realtime.presence import ONLINE_CHANNEL, ONLINE_KEY, PRESENCE_TTL
from expo.realtime.protocol import MAX_FRAME_BYTES, MAX_SUBSCRIPTIONS, publish_event
from expo.realtime.server import ROUTES, ChannelCheck, Realtime, current_connection, tune_gc

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_SUBSCRIPTIONS",
    "ONLINE_CHANNEL",
    "ONLINE_KEY",
    "PRESENCE_TTL",
    "ROUTES",
    "ChannelCheck",
    "Realtime",
    "current_connection",
    "publish_event",
    "tune_gc",
]
