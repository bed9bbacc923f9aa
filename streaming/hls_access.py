"""Who may fetch a live stream's HLS playlists and segments, answered from memory.

A player polls its media playlist every half second or so and fetches a part as often, so the
question "may this viewer still watch?" is asked far too often for the store. :class:`HlsGate`
remembers, per stream, the facts :func:`streaming.chat.check_can_watch` weighs (the stream's
visibility and the bans in force) and, per signed-in viewer, their account; the decision itself is
still :func:`streaming.services.can_watch` plus "not banned".

Freshness: whatever takes away someone's right to watch calls :meth:`HlsGate.forget_stream` after
its commit (a ban or a change of visibility), which drops the answer here at once and, through
the bus, in every other process within milliseconds; a disabled account is dropped when the
core's ``auth.forget`` message names it. ``ttl`` bounds how long a lost bus message could keep a
stale answer, and a ban that runs out is noticed when it does.

Segment tokens: the media playlist of a non-public stream names its segments with ``?t=<token>``,
a signed ``[stream, viewer, expiry]`` (:meth:`HlsGate.segment_token`). Each poll hands out a fresh
one, so a playing viewer never sees it lapse, and a copied URL stops working minutes later; a
banned viewer's token stops at once, because a segment request checks the viewer too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from expo.accounts.authcache import CHANNEL as AUTH_CHANNEL
from expo.accounts.models import User
from expo.bus import Bus
from expo.db import Database, utcnow
from expo.security import sign, unsign
from streaming.chat import bans_in_force
from streaming.models import Stream, Visibility
from streaming.services import can_watch

log = logging.getLogger("streaming.hls_access")

CHANNEL = "hls.access"
RULES_TTL = 10.0
"""Seconds an answer is trusted without news from the bus."""
SEGMENT_TOKEN_SECONDS = 300
"""A segment token's life, at least: a player refreshes it with every playlist poll."""
_TOKEN_STEP = 30  # expiries are rounded up to this, so a viewer's token changes twice a minute
_TOKEN_PURPOSE = "hls-segment"  # noqa: S105 (a signing purpose, not a secret)
_MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class StreamRules:
    """What decides who may watch one stream, as last read from the store."""

    stream: Stream | None  # None: there is no such stream
    banned: frozenset[int]
    deadline: float  # time.monotonic() after which the store is asked again

    @property
    def public(self) -> bool:
        """Anyone may fetch its segments, without a token (and a CDN may keep them)."""
        return self.stream is not None and Visibility(self.stream.visibility) is Visibility.PUBLIC


def user_of(viewer: str) -> int | None:
    """The user id in a viewer id (``user:<id>``, see :func:`streaming.audience.viewer_id`)."""
    kind, _, rest = viewer.partition(":")
    return int(rest) if kind == "user" and rest.isdigit() and len(rest) < 19 else None


class HlsGate:
    """The per-process memory of who may watch each stream over HLS; owned by the platform.

    :meth:`start` subscribes to the invalidations (returns once subscribed), :meth:`stop` ends
    that. ``clock`` gives wall-clock seconds for token expiry (tests pass their own).
    """

    def __init__(
        self,
        db: Database,
        bus: Bus,
        secret: str,
        *,
        ttl: float = RULES_TTL,
        token_seconds: int = SEGMENT_TOKEN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.bus = bus
        self.ttl = ttl
        self.token_seconds = token_seconds
        self.clock = clock
        self._secret = secret
        self._rules: dict[int, StreamRules] = {}
        self._users: dict[int, tuple[User | None, float]] = {}
        # Bumped by every invalidation: a load that began before one must not store its answer.
        self._epochs: dict[int, int] = {}
        self._loading: dict[int, asyncio.Future[StreamRules]] = {}
        self._listeners: list[asyncio.Task[None]] = []

    # -- who may watch ---------------------------------------------------------------------------

    async def rules(self, stream_id: int) -> StreamRules:
        """The stream's rules, from memory while fresh; concurrent misses share one store read."""
        found = self._rules.get(stream_id)
        if found is not None and found.deadline > time.monotonic():
            return found
        loading = self._loading.get(stream_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(stream_id))
            self._loading[stream_id] = loading
            loading.add_done_callback(lambda done: self._finished(stream_id, done))
        return await asyncio.shield(loading)

    async def allows(self, rules: StreamRules, viewer: str) -> bool:
        """May ``viewer`` watch the stream of ``rules``: :func:`~streaming.services.can_watch`,
        and not banned. Anonymous viewers may watch public streams only."""
        if rules.stream is None:
            return False
        user_id = user_of(viewer)
        if user_id is None:
            return can_watch(None, rules.stream) if viewer.startswith("anon:") else False
        if user_id in rules.banned:
            return False
        if rules.public:
            return True  # the account is not asked: anyone may watch, signed in or not
        return can_watch(await self._user(user_id), rules.stream)

    # -- segment tokens --------------------------------------------------------------------------

    def segment_token(self, stream_id: int, viewer: str) -> str:
        """A token letting ``viewer`` fetch this stream's segments for the next few minutes."""
        expires = math.ceil((self.clock() + self.token_seconds) / _TOKEN_STEP) * _TOKEN_STEP
        return sign(self._secret, _TOKEN_PURPOSE, [stream_id, viewer, expires])

    def segment_viewer(self, stream_id: int, token: str) -> str | None:
        """The viewer a :meth:`segment_token` names; None if forged, expired or for another stream."""
        data = unsign(self._secret, _TOKEN_PURPOSE, token) if len(token) < 400 else None
        if not (isinstance(data, list) and len(data) == 3):
            return None
        stream, viewer, expires = data
        if stream != stream_id or not isinstance(viewer, str) or not isinstance(expires, int):
            return None
        return viewer if expires > self.clock() else None

    # -- invalidation ----------------------------------------------------------------------------

    async def forget_stream(self, stream_id: int) -> None:
        """After a commit that changes who may watch ``stream_id``: ask the store again, here at
        once and in every other process as soon as the bus tells them."""
        self._drop_stream(stream_id)
        await self.bus.publish(CHANNEL, json.dumps({"stream": stream_id}))

    def _drop_stream(self, stream_id: int) -> None:
        self._rules.pop(stream_id, None)
        self._loading.pop(stream_id, None)
        self._epochs[stream_id] = self._epochs.get(stream_id, 0) + 1

    def _drop_all(self) -> None:
        for stream_id in {*self._rules, *self._loading}:
            self._drop_stream(stream_id)
        self._users.clear()

    # -- the store -------------------------------------------------------------------------------

    async def _load(self, stream_id: int) -> StreamRules:
        epoch = self._epochs.get(stream_id, 0)
        async with self.db.session() as session:
            stream = await session.get(Stream, stream_id, populate_existing=True)
            bans = await bans_in_force(session, stream_id) if stream is not None else {}
        now, wall = time.monotonic(), utcnow()
        deadline = now + self.ttl
        for until in bans.values():
            if until is not None:  # ask again when a ban runs out
                deadline = min(deadline, now + max(0.0, (until - wall).total_seconds()))
        rules = StreamRules(stream, frozenset(bans), deadline)
        if self._epochs.get(stream_id, 0) == epoch:
            if len(self._rules) >= _MAX_ENTRIES:
                self._rules.clear()
            self._rules[stream_id] = rules
        return rules

    def _finished(self, stream_id: int, done: asyncio.Future[StreamRules]) -> None:
        if self._loading.get(stream_id) is done:
            del self._loading[stream_id]
        if not done.cancelled():
            done.exception()  # retrieved: a failed load is the waiting requests' to report

    async def _user(self, user_id: int) -> User | None:
        found = self._users.get(user_id)
        if found is not None and found[1] > time.monotonic():
            return found[0]
        async with self.db.session() as session:
            user = await session.get(User, user_id)
        if len(self._users) >= _MAX_ENTRIES:
            self._users.clear()
        self._users[user_id] = (user, time.monotonic() + self.ttl)
        return user

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for invalidations from every process; returns once subscribed."""
        if self._listeners:
            return
        ready = [asyncio.Event(), asyncio.Event()]
        self._listeners = [
            asyncio.create_task(self._listen(CHANNEL, ready[0]), name="hls-gate"),
            asyncio.create_task(self._listen(AUTH_CHANNEL, ready[1]), name="hls-gate-accounts"),
        ]
        for event in ready:
            await event.wait()

    async def stop(self) -> None:
        """Stop listening and forget everything."""
        tasks, self._listeners = self._listeners, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._drop_all()

    async def _listen(self, channel: str, ready: asyncio.Event) -> None:
        async with self.bus.subscribe(channel) as subscription:
            ready.set()
            dropped = 0
            async for message in subscription:
                if subscription.dropped != dropped:
                    # Some invalidations were lost in an overflow: trust nothing remembered.
                    dropped = subscription.dropped
                    self._drop_all()
                try:
                    what = json.loads(message)
                except ValueError:
                    log.warning("ignoring a malformed invalidation %r", message[:100])
                    continue
                if not isinstance(what, dict):
                    continue
                if isinstance(what.get("stream"), int):
                    self._drop_stream(what["stream"])
                if isinstance(what.get("user"), int):
                    self._users.pop(what["user"], None)
