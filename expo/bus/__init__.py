"""Realtime bus: pub/sub, presence and counters shared between server processes.

Pick a backend by URL (the ``bus_url`` setting)::

    bus = connect_bus("redis://localhost:6379/0")   # or "memory://"
    await bus.connect()
    ...
    await bus.close()

``memory://`` keeps everything inside one process (development, tests);
``redis://`` and ``rediss://`` share state between processes. The Redis client
library is imported only when a Redis URL is used.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from expo.bus.base import (
    DEFAULT_NAMESPACE,
    DEFAULT_QUEUE_SIZE,
    Bus,
    BusError,
    Subscription,
)
from expo.errors import ConfigError

__all__ = ["Bus", "BusError", "Subscription", "connect_bus"]

_SCHEMES = "memory://, redis:// or rediss://"


def connect_bus(
    url: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    queue_size: int = DEFAULT_QUEUE_SIZE,
) -> Bus:
    """Return an *unconnected* bus for ``url``; the caller awaits ``connect()``.

    ``namespace`` prefixes every key and channel; ``queue_size`` bounds each
    subscriber's buffer. Raises :class:`~expo.errors.ConfigError` naming
    ``bus_url`` for an unknown scheme or a malformed Redis URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"bus_url is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()

    if scheme == "memory":
        from expo.bus.memory import MemoryBus

        # Any path ("memory:///dev") is accepted and ignored: there is only one
        # in-process store per bus instance anyway.
        return MemoryBus(namespace=namespace, queue_size=queue_size)

    if scheme in ("redis", "rediss"):
        _check_redis_url(parts)
        # Imported lazily: memory:// users (tests, CLI tools) never load redis-py.
        from expo.bus.redis import RedisBus

        return RedisBus(url, namespace=namespace, queue_size=queue_size)

    if not scheme:
        raise ConfigError(f"bus_url has no scheme; expected {_SCHEMES}")
    raise ConfigError(f"bus_url has unsupported scheme {scheme!r}; expected {_SCHEMES}")


def _check_redis_url(parts: SplitResult) -> None:
    # redis-py would only complain on the first connect; fail at startup instead.
    # Messages never echo the URL, which may contain a password.
    if not parts.hostname:
        raise ConfigError("bus_url must name a Redis host, e.g. redis://localhost:6379/0")
    try:
        _ = parts.port  # the property parses and validates the port
    except ValueError:
        raise ConfigError("bus_url has an invalid Redis port") from None
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ConfigError(f"bus_url database must be a number (redis://host:port/db), got {db!r}")
