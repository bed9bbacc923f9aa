"""The media plane: every WebRTC session of this process and what they mean for the broadcasts.

:class:`MediaPlane` owns the :class:`~streaming.router.MediaRouter`, the WHIP publisher sessions
(at most one per stream) and the WHEP viewer sessions. It is the service behind
:mod:`streaming.media_api`: it takes stream rows already authorised by the route and turns
connections into broadcast state through :mod:`streaming.services` (``go_live``, ``end``).

Life of a broadcast, as seen from here:

* **publish** (WHIP POST): the offer is answered, the tracks are routed, the stream goes live,
  and, if the video is H.264, an HLS packager with a recorder is fed from the forwarded frames.
* **rehearse** (a WHIP POST with ``?rehearsal=1``, opt-in from the go-live page): the same, except
  that the stream stays *scheduled*: WHEP answers only its managers (without counting them as
  viewers), there is no HLS and no recording. :meth:`MediaPlane.go_public` then makes it live for
  everyone, the same publisher still sending; ending a rehearsal (DELETE, or the publisher lost)
  leaves the stream *scheduled*.
* **end by DELETE**, or the stream **ended by a manager** (its ``status`` event on the bus): the
  stream is ended (viewers hear it before their connection closes, so they do not retry), then
  the publisher's connection, every viewer's connection and the HLS packaging end and the
  recording is stored.
* **publisher lost** (connection failed or closed, or its tracks ended, without DELETE): the
  same teardown of the media, but the stream stays *live* for ``reconnect_grace`` seconds so an
  encoder that reconnects resumes the broadcast; if none has by then, the stream is ended.
* **publisher gone with its process** (SIGTERM, ``kill -9``, a crash): every process names the
  streams it answers for (publisher connecting or connected, or waiting out the grace) in a
  presence on the bus (:data:`PUBLISHERS_KEY`, renewed every ``presence_interval`` seconds,
  lapsing after three, left on close). On start (:meth:`MediaPlane.reconcile`), each stream the
  store says is *live* that no process names gets the ``reconnect_grace`` of a lost publisher: an
  encoder that reconnects to any process resumes it, otherwise it is ended. One that another
  process names is left to it, and looked at once more when a presence left by a process killed
  just before this start has lapsed.
* **viewers** (WHEP POST) are counted by the audience tracker (a heartbeat every
  ``heartbeat_interval`` seconds while connected, ``leave`` when they go); a viewer whose
  connection fails, closes or never connects within ``connect_timeout`` is torn down.

* **viewers of another process's publisher**: a WHEP POST for a stream that another process holds
  (named in :data:`PUBLISHERS_KEY`) is answered here from a relay link to that process
  (:class:`~streaming.relay.RelayHub`, one link per stream, closed a few seconds after its last
  viewer here left). When the link ends, because the origin's publisher went or the origin process
  died, the viewers here are torn down as those of a lost local publisher are; after a drop the
  stream is reconciled once the origin's presence has lapsed (ended after the reconnect grace
  unless an encoder came back to some process).

Session ids name their process (``{token}.{process}``, see :func:`streaming.cluster.session_owner`),
so a DELETE that lands on another process is forwarded to the owner by the route.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator, Collection, Coroutine
from typing import Any

from aiortc import RTCPeerConnection

from expo.accounts.models import User
from expo.bus import Bus, BusError
from expo.config import Settings
from expo.db import Database
from expo.errors import Conflict, NotFound, Unauthorized
from streaming import services
from streaming.audience import Audience
from streaming.cluster import Cluster
from streaming.hls import HlsPackager, HlsRegistry
from streaming.ice import IceServer, ice_servers, rtc_configuration
from streaming.models import Stream, StreamStatus, ViewVia
from streaming.publication import Publication
from streaming.recorder import Recorder
from streaming.relay import RelayHub
from streaming.router import MediaRouter
from streaming.whip import (
    MediaSession,
    PublisherSession,
    ViewerSession,
    accept_publisher,
    accept_viewer,
)

logger = logging.getLogger(__name__)

RECONNECT_GRACE = 10.0
HEARTBEAT_INTERVAL = 5.0
CONNECT_TIMEOUT = 30.0
PRESENCE_INTERVAL = 5.0
PUBLISHERS_KEY = "stream-publishers"
"""Bus presence of the streams some process answers for; members are ``{stream id}/{process}``."""
CLAIM_TTL = 30.0  # seconds a claim left by a process that died while accepting a publisher lasts


@contextlib.asynccontextmanager
async def publishing_claim(bus: Bus, stream_id: int) -> AsyncIterator[bool]:
    """Whether this process is the only one taking a publisher for ``stream_id`` right now.

    Two encoders of one stream that reach two processes within the same milliseconds both pass
    each process's own check and the bus presence (named only once accepted). Each attempt adds
    one to a counter on the bus for as long as it lasts: only the attempt that finds it at 1
    goes on. A bus that cannot be reached leaves each process to its own check, as before.
    """
    key = f"stream-publish-claim:{stream_id}"
    try:
        claimants = await bus.incr(key, 1, ttl=CLAIM_TTL)
    except BusError:
        logger.warning("whip: the bus cannot say whether another process takes stream %s", stream_id)
        yield True
        return
    try:
        yield claimants == 1
    finally:
        with contextlib.suppress(BusError):
            await bus.incr(key, -1)


class MediaPlane:
    """Owns the router and the WHIP/WHEP sessions of this process; built by the platform.

    States: *open*, then *closed* after :meth:`close` (every session torn down, every task
    cancelled and awaited; new sessions refused with ``stream.router_closed``).

    :param reconnect_grace: seconds a stream whose publisher dropped without DELETE stays live,
        waiting for the encoder to reconnect, before it is ended.
    :param heartbeat_interval: seconds between a WHEP viewer's audience heartbeats.
    :param connect_timeout: seconds a new session may take to connect before it is dropped.
    :param presence_interval: seconds between renewals of this process's publisher presence
        on the bus (which lapses after three intervals without one).
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: Bus,
        audience: Audience,
        hls: HlsRegistry,
        cluster: Cluster,
        *,
        reconnect_grace: float = RECONNECT_GRACE,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        connect_timeout: float = CONNECT_TIMEOUT,
        presence_interval: float = PRESENCE_INTERVAL,
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.audience = audience
        self.hls = hls
        self.router = MediaRouter()
        self.ice_servers: list[IceServer] = ice_servers(settings)
        self.reconnect_grace = reconnect_grace
        self.heartbeat_interval = heartbeat_interval
        self.connect_timeout = connect_timeout
        self.presence_interval = presence_interval
        self.cluster = cluster
        self.instance = cluster.instance  # this process's name in the publisher presence
        self.relays = RelayHub(self.router, cluster, PUBLISHERS_KEY, self._relay_ended)
        self._present: set[int] = set()  # streams this process's presence names right now
        self._keeper: asyncio.Task[None] | None = None
        self.publishers: dict[int, PublisherSession] = {}
        self.viewers: dict[str, ViewerSession] = {}
        self._claimed: set[int] = set()  # streams whose publisher is negotiating right now
        self._rehearsing: set[int] = set()  # streams whose publisher is rehearsing: still scheduled
        self._private: set[str] = set()  # viewer sessions of a rehearsal (its managers): not counted
        self._grace: dict[int, asyncio.Task[None]] = {}
        # Publishers whose connection dropped, kept while their stream waits for a reconnect: a
        # DELETE that arrives just after the drop (a browser closes as it stops) still ends it.
        self._lost: dict[int, PublisherSession] = {}
        # Streams whose last publisher's media, viewers and HLS are being torn down, set once done:
        # an encoder reconnecting meanwhile waits, lest the teardown end its viewers and playlist.
        self._teardowns: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    # -- WHIP ------------------------------------------------------------------------------------

    async def publish(
        self, stream: Stream, key: str, offer: str, *, rehearsal: bool = False
    ) -> tuple[PublisherSession, str]:
        """Start ``stream``'s broadcast from a WHIP offer (the key is already checked), or with
        ``rehearsal`` its private rehearsal; returns the session and the SDP answer.

        :class:`Conflict` ``stream.publisher_connected`` if a publisher is connected or
        connecting, ``stream.ended`` if the stream has ended, ``stream.live`` for a rehearsal of a
        stream that viewers can see already.
        """
        self._check_open()
        stream_id = services.stored_id(stream)
        if stream_id in self.publishers or stream_id in self._claimed:
            raise Conflict("This stream already has a publisher.", code="stream.publisher_connected")
        if stream.status == StreamStatus.ENDED:
            raise Conflict("The stream has ended; an organizer can reopen it.", code="stream.ended")
        if rehearsal and stream.status != StreamStatus.SCHEDULED:
            raise Conflict("The stream is live already: it cannot be rehearsed.", code="stream.live")
        self._claimed.add(stream_id)  # before the first await: two encoders racing get one 409
        try:
            teardown = self._teardowns.get(stream_id)
            if teardown is not None:
                await teardown.wait()  # the dropped publisher's media is still going: resume after it
                self._check_open()
            async with publishing_claim(self.bus, stream_id) as alone:
                if not alone:  # another process is accepting one for this stream at this moment
                    raise Conflict("This stream already has a publisher.", code="stream.publisher_connected")
                return await self._accept_publisher(stream, stream_id, key, offer, rehearsal=rehearsal)
        finally:
            self._claimed.discard(stream_id)

    async def _accept_publisher(
        self, stream: Stream, stream_id: int, key: str, offer: str, *, rehearsal: bool
    ) -> tuple[PublisherSession, str]:
        # Named on the bus before the store can say live: a process starting meanwhile leaves it.
        await self._hold(stream_id)
        config = rtc_configuration(self.ice_servers)
        session, answer = await accept_publisher(self.router, config, stream_id, key, offer)
        session.id = self._session_id(session.id)
        # Held before the stream is announced live: a viewer who hears "live" and asks for the
        # media at once finds the publisher (else a WHEP 409 and an HLS 404 in their page).
        self.publishers[stream_id] = session
        if rehearsal:
            self._rehearsing.add(stream_id)
        try:
            if not rehearsal:
                async with self.db.session() as db_session:
                    stream = await services.go_live(db_session, stream, bus=self.bus)
        except BaseException:
            if self.publishers.get(stream_id) is session:
                del self.publishers[stream_id]
            await self._drop_media(session)
            raise
        self._cancel_grace(stream_id)
        packager = None if rehearsal else await self._start_hls(stream, session)
        session.tasks.append(self._spawn(self._supervise_publisher(session, packager)))
        what = "rehearsing" if rehearsal else "live"
        logger.info("whip: stream %s is %s (session %s)", stream_id, what, session.id)
        return session, answer

    async def feed(self, stream: Stream, publications: list[Publication], actor: User | None = None) -> None:
        """Make ``stream`` live from ``publications`` that this process feeds itself (a room on
        air, see :mod:`streaming.on_air`) instead of a WHIP publisher. To WHIP (409), WHEP, relay
        links, HLS and the presence it is a publisher connected here, with no remote peer (its
        connection is never negotiated) and a key nobody knows: :meth:`unfeed` ends it.

        :class:`Conflict` as :meth:`publish`, and ``stream.live`` for a stream already live
        (from a publisher that dropped, or another source).
        """
        self._check_open()
        stream_id = services.stored_id(stream)
        busy = Conflict("This stream already has a publisher.", code="stream.publisher_connected")
        if stream_id in self.publishers or stream_id in self._claimed:
            raise busy
        if stream.status == StreamStatus.ENDED:
            raise Conflict("The stream has ended; an organizer can reopen it.", code="stream.ended")
        if stream.status == StreamStatus.LIVE:
            raise Conflict("The stream is live already from another source.", code="stream.live")
        self._claimed.add(stream_id)
        try:
            async with publishing_claim(self.bus, stream_id) as alone:
                if not alone or await self._held_by_another(stream_id):
                    raise busy
                await self._hold(stream_id)
                session = PublisherSession(
                    stream_id, RTCPeerConnection(), key=secrets.token_urlsafe(32), publications=publications
                )
                session.id = self._session_id(session.id)
                session.connected.set()
                self.publishers[stream_id] = session
                try:
                    async with self.db.session() as db_session:
                        stream = await services.go_live(db_session, stream, actor=actor, bus=self.bus)
                except BaseException:
                    if self.publishers.get(stream_id) is session:
                        del self.publishers[stream_id]
                    await session.close()
                    raise
        finally:
            self._claimed.discard(stream_id)
        self._cancel_grace(stream_id)
        packager = await self._start_hls(stream, session)
        session.tasks.append(self._spawn(self._supervise_publisher(session, packager)))
        logger.info("whip: stream %s is live, fed by this process", stream_id)

    async def unfeed(self, stream_id: int) -> None:
        """End a stream that :meth:`feed` made live: viewers hear "ended", the media and HLS
        stop and the recording is stored. A stream no longer fed here is ended if still live."""
        session = self.publishers.get(stream_id)
        if session is None:
            await self._end_stream(stream_id, only_live=True)
            return
        await self._end_publisher(session, end_stream=True)

    async def _held_by_another(self, stream_id: int) -> bool:
        try:
            return await self.cluster.holder(PUBLISHERS_KEY, str(stream_id)) is not None
        except BusError:
            return False  # cannot tell: this process's own checks decide, as for WHIP

    def rehearsing(self, stream_id: int) -> bool:
        """Whether the stream's publisher in this process is rehearsing (the stream is private)."""
        return stream_id in self._rehearsing

    async def rehearsing_anywhere(self, stream: Stream) -> bool:
        """Whether the stream is being rehearsed here or in another server process: a scheduled
        stream whose publisher another process holds can only be rehearsing there (publishing
        for real makes the stream live)."""
        stream_id = services.stored_id(stream)
        if self.rehearsing(stream_id):
            return True
        if stream.status != StreamStatus.SCHEDULED:
            return False
        return await self.cluster.holder(PUBLISHERS_KEY, str(stream_id)) is not None

    async def go_public(self, stream: Stream, actor: User | None = None) -> Stream:
        """End the rehearsal: the stream goes live for everyone (the same publisher keeps sending)
        and HLS starts. :class:`Conflict` ``stream.not_rehearsing`` without a rehearsal here."""
        stream_id = services.stored_id(stream)
        session = self.publishers.get(stream_id)
        if session is None or stream_id not in self._rehearsing:
            raise Conflict(
                "This stream is not rehearsing: start a rehearsal first.", code="stream.not_rehearsing"
            )
        # Public before it is announced: viewers who hear "live" are answered at once.
        self._rehearsing.discard(stream_id)
        try:
            async with self.db.session() as db_session:
                stream = await services.go_live(db_session, stream, actor=actor, bus=self.bus)
        except BaseException:
            if self.publishers.get(stream_id) is session:
                self._rehearsing.add(stream_id)
            raise
        if self.publishers.get(stream_id) is session:
            await self._start_hls(stream, session)
        logger.info("whip: stream %s is live after its rehearsal (session %s)", stream_id, session.id)
        return stream

    def publisher(self, stream_id: int, session_id: str) -> PublisherSession:
        """The stream's publisher session with this id, or :class:`NotFound` (``stream.no_session``)."""
        for session in (self.publishers.get(stream_id), self._lost.get(stream_id)):
            if session is not None and session.id == session_id:
                return session
        raise NotFound("There is no such WHIP session.", code="stream.no_session")

    async def unpublish(self, stream_id: int, session_id: str, key: str) -> None:
        """WHIP DELETE: end the broadcast. ``key`` must be the one the session was opened with."""
        session = self.publisher(stream_id, session_id)
        if not hmac.compare_digest(session.key.encode(), key.encode()):
            raise Unauthorized("Present the stream key this session was opened with.", code="stream.bad_key")
        if self._lost.get(stream_id) is session:
            # Its media is gone already (the connection closed before the DELETE came): end the
            # broadcast now instead of after the reconnect grace.
            self._cancel_grace(stream_id)
            await self._end_stream(stream_id)
            return
        await self._end_publisher(session, end_stream=True)

    # -- WHEP ------------------------------------------------------------------------------------

    async def play(
        self, stream: Stream, viewer: str, offer: str, *, manager: bool = False
    ) -> tuple[ViewerSession, str]:
        """Start a WHEP viewer session on a live stream; returns the session and the SDP answer.
        During a rehearsal only a ``manager`` is answered, and is not counted as a viewer.

        :class:`Conflict` ``stream.not_live`` when the stream has no publisher in this process.
        """
        self._check_open()
        stream_id = services.stored_id(stream)
        publisher = self.publishers.get(stream_id)
        if publisher is not None:
            publications = [p for p in publisher.publications if p.state == "live"]
            private = stream_id in self._rehearsing
        elif stream.status == StreamStatus.ENDED or stream_id in self._claimed:
            publications, private = [], False
        else:
            # Held by another process (or by none): relayed from there. A stream with a publisher
            # that is still *scheduled* is rehearsing there.
            publications = await self.relays.publications(stream_id)
            private = stream.status == StreamStatus.SCHEDULED
        self.relays.keep(stream_id)
        try:
            if not publications or (private and not manager):
                raise Conflict("This stream is not live.", code="stream.not_live")
            config = rtc_configuration(self.ice_servers)
            session, answer = await accept_viewer(publications, config, stream_id, viewer, offer)
        except BaseException:
            if self.viewer_count(stream_id) == 0:
                self.relays.release(stream_id)  # a link opened for this viewer alone closes again
            raise
        session.id = self._session_id(session.id)
        self.viewers[session.id] = session
        if private:
            self._private.add(session.id)
        session.tasks.append(self._spawn(self._supervise_viewer(session)))
        return session, answer

    def viewer(self, stream_id: int, session_id: str) -> ViewerSession:
        """The viewer session with this id on this stream, or :class:`NotFound`."""
        session = self.viewers.get(session_id)
        if session is None or session.stream_id != stream_id:
            raise NotFound("There is no such WHEP session.", code="stream.no_session")
        return session

    async def leave(self, stream_id: int, session_id: str) -> None:
        """WHEP DELETE: the viewer leaves (their connection is closed)."""
        await self._end_viewer(self.viewer(stream_id, session_id))

    def relay_source(self, stream_id: int) -> list[Publication]:
        """The live publications a relay link to another process carries (see
        :mod:`streaming.relay`): those of this process's publisher of the stream, or none."""
        publisher = self.publishers.get(stream_id)
        if publisher is None or self.closed:
            return []
        return [p for p in publisher.publications if p.state == "live" and p.codec is not None]

    def viewer_count(self, stream_id: int) -> int:
        """WHEP sessions open on ``stream_id`` in this process."""
        return sum(1 for s in self.viewers.values() if s.stream_id == stream_id)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start naming this process's streams on the bus and reconcile the live streams of the
        store with the publishers of every process (see the module docstring)."""
        self._keeper = self._spawn(self._keep_presence())
        try:
            # Before the app serves: only streams left live by a previous run are looked at.
            _, elsewhere = await self.reconcile()
        except Exception:
            logger.exception("whip: cannot reconcile live streams with their publishers; will retry")
            self._spawn(self._reconcile_later(None))
            return
        if elsewhere:
            self._spawn(self._reconcile_later(elsewhere))

    async def close(self) -> None:
        """Tear every session down (streams stay as they are: the encoder may reconnect to this
        process restarted or to another one; if none does, the next start ends them)."""
        self.closed = True
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        for task in self._grace.values():
            task.cancel()
        await asyncio.gather(*self._grace.values(), return_exceptions=True)
        self._grace.clear()
        self._lost.clear()
        for publisher in list(self.publishers.values()):
            await self._end_publisher(publisher, end_stream=False, grace=False)
        for viewer in list(self.viewers.values()):
            await self._end_viewer(viewer)
        await self.relays.close()
        await self.router.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._release_all()

    def _session_id(self, token: str) -> str:
        """A session id that names this process (see :func:`streaming.cluster.session_owner`)."""
        return f"{token}.{self.instance}"

    async def _relay_ended(self, stream_id: int, said_end: bool) -> None:
        """A relay link ended: its viewers here go as those of a lost local publisher do. If it
        dropped (the origin may have died), the stream is reconciled once the origin's presence
        has lapsed, so that it ends if no encoder comes back anywhere."""
        if stream_id not in self.publishers:
            for viewer in [v for v in self.viewers.values() if v.stream_id == stream_id]:
                await self._end_viewer(viewer)
        if not said_end and not self.closed:
            logger.info("whep: relay link of stream %s dropped", stream_id)
            self._spawn(self._reconcile_later([stream_id]))

    def _check_open(self) -> None:
        if self.closed:
            raise Conflict("The media server is shutting down.", code="stream.router_closed")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- publisher internals ---------------------------------------------------------------------

    async def _supervise_publisher(self, session: PublisherSession, packager: HlsPackager | None) -> None:
        """Ends the session when its connection or tracks end, or when the stream is ended."""
        watchers: list[asyncio.Task[Any]] = [asyncio.create_task(session.ended.wait())]
        watchers += [asyncio.create_task(p.wait_ended()) for p in session.publications]
        watchers.append(asyncio.create_task(self._until_stream_ended(session.stream_id)))
        watchers.append(asyncio.create_task(self._until_connected(session)))
        try:
            done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        ended_by_manager = any(
            not t.cancelled() and t.exception() is None and t.result() is True for t in done
        )
        if ended_by_manager:
            # services.end already ran wherever the manager clicked: only the media goes.
            await self._end_publisher(session, end_stream=False, grace=False)
        else:
            logger.info("whip: publisher of stream %s lost without DELETE", session.stream_id)
            await self._end_publisher(session, end_stream=False, grace=True)

    async def _until_connected(self, session: MediaSession) -> bool:
        try:
            async with asyncio.timeout(self.connect_timeout):
                await session.connected.wait()
        except TimeoutError:
            return False
        await asyncio.Event().wait()  # connected: this watcher never finishes on its own
        return False

    async def _until_stream_ended(self, stream_id: int) -> bool:
        """Returns True once the stream's ``status`` event says ``ended`` (from any process)."""
        try:
            async with self.bus.subscribe(services.channel(stream_id)) as subscription:
                async for message in subscription:
                    with contextlib.suppress(ValueError, AttributeError):
                        event = json.loads(message)
                        if event.get("kind") == "status" and event.get("status") == StreamStatus.ENDED:
                            return True
        except BusError:
            logger.exception("whip: cannot follow stream %s's status on the bus", stream_id)
        await asyncio.Event().wait()  # the bus closed: wait for the other reasons to end
        return False

    async def _end_publisher(
        self, session: PublisherSession, *, end_stream: bool, grace: bool = False
    ) -> None:
        stream_id = session.stream_id
        if self.publishers.get(stream_id) is not session:
            return  # already torn down by another path
        del self.publishers[stream_id]
        done = self._teardowns[stream_id] = asyncio.Event()
        try:
            await self._tear_down(session, end_stream=end_stream, grace=grace)
        finally:
            if self._teardowns.get(stream_id) is done:
                del self._teardowns[stream_id]
            done.set()
        logger.info("whip: media of stream %s ended", stream_id)

    async def _tear_down(self, session: PublisherSession, *, end_stream: bool, grace: bool) -> None:
        """Its media, viewers and HLS go; with ``grace``, the stream then waits for it to return."""
        stream_id = session.stream_id
        rehearsal = stream_id in self._rehearsing
        self._rehearsing.discard(stream_id)  # a rehearsal that ends leaves the stream scheduled
        waits = grace and not rehearsal and not self.closed
        if waits:
            # Named lost before the teardown's awaits: a DELETE that comes meanwhile (a browser
            # closes its connection as it stops) finds the session and ends the broadcast.
            self._lost[stream_id] = session
        try:
            if end_stream and not rehearsal:
                # Announced before the media goes: viewers hear "ended" and do not retry.
                await self._end_stream(stream_id)
        finally:
            await self._drop_media(session)
            for viewer in [v for v in self.viewers.values() if v.stream_id == stream_id]:
                await self._end_viewer(viewer)
            await self._finish_hls(stream_id)
        if waits and self._lost.get(stream_id) is session:  # not ended meanwhile (a DELETE)
            self._cancel_grace(stream_id)  # one that reconcile started during the teardown
            self._grace[stream_id] = self._spawn(self._end_after_grace(stream_id))
            self._lost[stream_id] = session

    async def _drop_media(self, session: PublisherSession) -> None:
        for publication in session.publications:
            await self.router.unpublish(publication)
        await session.close()

    async def _end_after_grace(self, stream_id: int) -> None:
        await asyncio.sleep(self.reconnect_grace)
        if self._grace.get(stream_id) is asyncio.current_task():
            del self._grace[stream_id]
            self._lost.pop(stream_id, None)
        if stream_id in self.publishers or stream_id in self._claimed:
            return
        try:
            if stream_id in await self._held_elsewhere():
                return  # the encoder came back to another process
        except BusError:
            # Cannot tell; the publisher was routed here (sticky routing), so it most likely
            # came back nowhere: end it rather than leave it live for good.
            logger.warning("whip: cannot ask the bus who holds stream %s; ending it", stream_id)
        logger.info("whip: no publisher came back to stream %s: ending it", stream_id)
        await self._end_stream(stream_id, only_live=True)

    def _cancel_grace(self, stream_id: int) -> None:
        """The stream no longer waits for its lost publisher (it came back, or was ended)."""
        self._lost.pop(stream_id, None)
        grace = self._grace.pop(stream_id, None)
        if grace is not None:
            grace.cancel()

    async def _end_stream(self, stream_id: int, *, only_live: bool = False) -> None:
        """End the stream; with ``only_live``, only if it is still live (a stream that a manager
        ended, or ended and reopened, while it waited for its publisher is left as it is)."""
        try:
            async with self.db.session() as db_session:
                stream = await services.get_stream(db_session, stream_id)
                if not only_live or stream.status == StreamStatus.LIVE:
                    await services.end(db_session, stream, bus=self.bus)
        except NotFound:
            pass  # deleted meanwhile

    # -- publisher presence and reconciliation --------------------------------------------------

    @property
    def presence_ttl(self) -> float:
        """Seconds a process's presence outlives its last renewal (three renewal intervals)."""
        return 3 * self.presence_interval

    def _member(self, stream_id: int) -> str:
        return f"{stream_id}/{self.instance}"

    def _answering_for(self) -> set[int]:
        """Streams whose fate this process decides: publisher connecting or connected, or waiting
        out the reconnect grace."""
        return set(self.publishers) | self._claimed | set(self._grace) | set(self._lost)

    async def _hold(self, stream_id: int) -> None:
        """Name ``stream_id`` in this process's presence now (not at the next renewal)."""
        try:
            await self.bus.presence_touch(PUBLISHERS_KEY, self._member(stream_id), self.presence_ttl)
            self._present.add(stream_id)
        except BusError:
            # The next renewal tries again; a bus that is down fails the "live" announcement anyway.
            logger.exception("whip: cannot name stream %s on the bus", stream_id)

    async def _renew_presence(self) -> None:
        held = self._answering_for()
        members = [self._member(stream_id) for stream_id in sorted(held)]
        await self.bus.presence_touch_many(PUBLISHERS_KEY, members, self.presence_ttl)
        for gone in sorted(self._present - held):
            await self.bus.presence_leave(PUBLISHERS_KEY, self._member(gone))
        self._present = held

    async def _keep_presence(self) -> None:
        while not self.closed:
            try:
                await self._renew_presence()
            except BusError as exc:
                # Redis is down, which the bus logs once; the first renewal after its return
                # names our broadcasts again.
                logger.debug("whip: cannot renew the publisher presence: %s", exc)
            await asyncio.sleep(self.presence_interval)

    async def _release_all(self) -> None:
        """Leave the presence on close: a process started next need not wait for it to lapse."""
        try:
            for stream_id in sorted(self._present):
                await self.bus.presence_leave(PUBLISHERS_KEY, self._member(stream_id))
        except BusError:
            logger.warning("whip: could not leave the publisher presence; it lapses on its own")
        self._present.clear()

    async def _held_elsewhere(self) -> set[int]:
        """Streams that other processes name in their presence."""
        held: set[int] = set()
        for member in await self.bus.presence_members(PUBLISHERS_KEY):
            stream, _, instance = member.partition("/")
            if instance != self.instance and stream.isdigit():
                held.add(int(stream))
        return held

    async def reconcile(self, among: Collection[int] | None = None) -> tuple[list[int], list[int]]:
        """Give every stream the store says is live (of ``among``, if given) that no process
        names the reconnect grace of a lost publisher, after which it is ended unless an encoder
        came back. Returns those streams and the live ones another process names."""
        async with self.db.session() as db_session:
            live = await services.live_stream_ids(db_session)
        if among is not None:
            live = [stream_id for stream_id in live if stream_id in among]
        if not live:
            return [], []
        elsewhere = await self._held_elsewhere()
        # Read after the awaits, and nothing awaited until the graces are registered.
        mine = self._answering_for()
        orphans = [stream_id for stream_id in live if stream_id not in elsewhere and stream_id not in mine]
        for stream_id in orphans:
            logger.info("whip: stream %s is live without a publisher in any process", stream_id)
            self._grace[stream_id] = self._spawn(self._end_after_grace(stream_id))
        return orphans, [stream_id for stream_id in live if stream_id in elsewhere]

    async def _reconcile_later(self, among: list[int] | None) -> None:
        """Reconcile again: all live streams if the first attempt failed (store or bus not
        reachable yet), else ``among``, the streams another process named at start."""
        while not self.closed:
            if among is not None:
                # A process killed just before this one started is still named until its presence
                # lapses; a running one renews it. Look once more after that.
                await asyncio.sleep(self.presence_ttl + self.presence_interval)
            try:
                _, elsewhere = await self.reconcile(among)
            except Exception:
                logger.exception("whip: cannot reconcile live streams with their publishers")
                await asyncio.sleep(self.presence_interval)
                continue
            if among is not None or not elsewhere:
                return
            among = elsewhere

    # -- HLS and recording -----------------------------------------------------------------------

    async def _start_hls(self, stream: Stream, session: PublisherSession) -> HlsPackager | None:
        """Feed an HLS packager (and its recorder) from the publications, if the video is H.264.

        HLS carries H.264 only and the router never re-encodes, so a VP8 publisher is WebRTC-only.
        """
        stream_id = services.stored_id(stream)
        kinds: dict[str, Publication] = {p.kind: p for p in session.publications}
        video = kinds.get("video")
        if video is None or video.codec is None or video.codec.name.upper() != "H264":
            return None
        try:
            packager = await self._open_hls(stream, kinds, video)
        except Exception:
            # WebRTC playback goes on without HLS (e.g. the recordings directory is not writable).
            logger.exception("whip: HLS packaging of stream %s could not start", stream_id)
            return None
        for publication in session.publications:
            packager.follow(publication.subscribe())  # the packager's tasks, awaited by its close()
        return packager

    async def _open_hls(
        self, stream: Stream, kinds: dict[str, Publication], video: Publication
    ) -> HlsPackager:
        stream_id = services.stored_id(stream)
        return await self.hls.open(
            stream_id,
            audio="audio" in kinds,
            recorder=Recorder(self.settings.data_path, stream_id),
            request_keyframe=video.request_keyframe,
        )

    async def _finish_hls(self, stream_id: int) -> None:
        """End the HLS playlist and store the recording, if one was made."""
        if self.hls.get(stream_id) is None:
            return
        recording = await self.hls.end(stream_id)
        if recording is None:
            return
        async with self.db.session() as db_session:
            db_session.add(recording.to_model(stream_id))
            await db_session.commit()
        logger.info("whip: recording of stream %s stored at %s", stream_id, recording.relative_path)

    # -- viewer internals ------------------------------------------------------------------------

    async def _supervise_viewer(self, session: ViewerSession) -> None:
        """Heartbeats the viewer while connected; ends the session when its connection ends."""
        waits = [asyncio.create_task(session.connected.wait()), asyncio.create_task(session.ended.wait())]
        try:
            await asyncio.wait(waits, timeout=self.connect_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        while session.connected.is_set() and not session.ended.is_set():
            if session.id not in self._private:
                await self._heartbeat(session)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat_interval):
                    await session.ended.wait()
        await self._end_viewer(session)

    async def _heartbeat(self, session: ViewerSession) -> None:
        try:
            await self.audience.watch(session.stream_id, session.viewer, ViewVia.WHEP)
        except BusError as exc:
            # Redis is down (logged once by the bus); the first heartbeat after its return counts
            # the viewer again. Playback goes on meanwhile.
            logger.debug("whep: audience heartbeat skipped for stream %s: %s", session.stream_id, exc)
        except Exception:
            # Playback must not depend on the audience figures (bus or store trouble).
            logger.exception("whep: audience heartbeat failed for stream %s", session.stream_id)

    async def _end_viewer(self, session: ViewerSession) -> None:
        if self.viewers.pop(session.id, None) is None:
            return
        if not any(v.stream_id == session.stream_id for v in self.viewers.values()):
            self.relays.release(session.stream_id)  # its link, if any, closes after the linger
        await session.close()
        if session.id in self._private:
            self._private.discard(session.id)
        elif session.connected.is_set():
            try:
                await self.audience.leave(session.stream_id, session.viewer, ViewVia.WHEP)
            except Exception:
                logger.exception("whep: audience leave failed for stream %s", session.stream_id)
