"""Who a session or API token belongs to, remembered for a short while per process.

Without it every authenticated request starts with a store round trip (token and user), which on
SQLite through aiosqlite costs about as much as the page's own query. With it a signed-in request
reads the store only for what it actually shows.

Correctness: whatever makes a remembered answer wrong (signing out, revoking a token, changing a
profile) calls :meth:`AuthCache.forget_token` or :meth:`AuthCache.forget_user` after its commit.
That drops the entry here at once and, through the bus, in every other process within
milliseconds; ``ttl`` bounds how long a lost bus message could keep a stale answer alive. Expiry
(``expires_at``) is checked on every hit, not only on load.

The cached :class:`User` and :class:`AuthToken` objects are shared by concurrent requests: treat
them as read-only and ``session.merge()`` them before changing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from expo.accounts.models import AuthToken, User
from expo.accounts.services import token_needs_touch
from expo.bus import Bus
from expo.db import Database, utcnow

log = logging.getLogger("expo.accounts.authcache")

CHANNEL = "auth.forget"


@dataclass(slots=True)
class _Entry:
    user: User
    token: AuthToken
    deadline: float


class AuthCache:
    """A bounded, least-recently-used map from token hash to its live user and token."""

    def __init__(self, bus: Bus, *, ttl: float = 30.0, max_entries: int = 100_000) -> None:
        self._bus = bus
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token_hash: str) -> tuple[User, AuthToken] | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        expires_at = entry.token.expires_at
        if entry.deadline <= time.monotonic() or (expires_at is not None and expires_at <= utcnow()):
            del self._entries[token_hash]
            return None
        self._entries.move_to_end(token_hash)
        return entry.user, entry.token

    def put(self, token_hash: str, user: User, token: AuthToken) -> None:
        if self._ttl <= 0:
            return
        self._entries[token_hash] = _Entry(user, token, time.monotonic() + self._ttl)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def forget_token(self, token_hash: str) -> None:
        """Drop one token's answer here and in every other process."""
        self._drop({"token": token_hash})
        # Lost during a bus outage: ``ttl`` bounds how long other processes keep the answer.
        await self._bus.try_publish(CHANNEL, json.dumps({"token": token_hash}))

    async def forget_user(self, user_id: int) -> None:
        """Drop every answer naming this user here and in every other process."""
        self._drop({"user": user_id})
        await self._bus.try_publish(CHANNEL, json.dumps({"user": user_id}))

    def _drop(self, what: dict[str, object]) -> None:
        if "token" in what:
            self._entries.pop(str(what["token"]), None)
        if "user" in what:
            stale = [key for key, entry in self._entries.items() if entry.user.id == what["user"]]
            for key in stale:
                del self._entries[key]

    async def start(self) -> None:
        """Listen for other processes' invalidations; returns once subscribed."""
        self._listener = asyncio.create_task(self._listen(), name="auth-cache")
        await self._ready.wait()

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._entries.clear()

    async def _listen(self) -> None:
        async with self._bus.subscribe(CHANNEL) as subscription:
            self._ready.set()
            dropped = 0
            async for message in subscription:
                if subscription.dropped != dropped:
                    # Some invalidations were lost in an overflow: trust nothing remembered.
                    dropped = subscription.dropped
                    self._entries.clear()
                try:
                    what = json.loads(message)
                except ValueError:
                    log.warning("ignoring a malformed auth invalidation %r", message[:100])
                    continue
                if isinstance(what, dict):
                    self._drop(what)


class TokenUse:
    """Records when tokens were last used, off the request path: a few rows per flush, not a
    write transaction inside the first request of each token every minute (which, on SQLite,
    queues behind every other writer just when many people arrive at once).

    :meth:`note` updates the token object at once (what this process shows) and remembers the
    write; a task flushes the remembered writes every ``interval`` seconds in one transaction,
    and once more on :meth:`stop`. A crash loses at most ``interval`` seconds of "last used".
    """

    def __init__(self, db: Database, *, interval: float = 5.0) -> None:
        self._db = db
        self._interval = interval
        self._pending: dict[int, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, token: AuthToken) -> None:
        """Record a use of ``token`` now if :func:`token_needs_touch` says it is time."""
        if token.id is None or not token_needs_touch(token):
            return
        now = utcnow()
        # Set without marking the object dirty: it may be shared and attached to nothing.
        set_committed_value(token, "last_used_at", now)
        self._pending[token.id] = now

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        async with self._db.session() as session:
            for token_id, used_at in pending.items():
                await session.exec(
                    update(AuthToken).where(col(AuthToken.id) == token_id).values(last_used_at=used_at)
                )
            await session.commit()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="token-use")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.warning("recording token use failed", exc_info=True)
