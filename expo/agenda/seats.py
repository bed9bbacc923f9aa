"""Seats: confirmed registrations never exceed a program's capacity, the rest wait in order.

Every change to who holds a seat goes through one :class:`SeatDesk` per store per process, which
*group-commits*: requests queue up while a transaction runs, and the next transaction decides all
of them at once, in arrival order. A thousand simultaneous requests cost a handful of transactions
instead of a thousand, which is what lets one process answer more than a thousand registrations a
second on SQLite.

Correctness does not rest on the desk being alone: each transaction first takes the store's lock
for the programs it touches (``BEGIN IMMEDIATE`` on SQLite, the single writer; ``SELECT ... FOR
UPDATE`` of the program rows, in id order, on PostgreSQL), then counts confirmed seats from the
store. Two processes, or two desks, therefore decide one after the other on fresh counts.

On SQLite a batch runs whole in a worker thread on the desk's own synchronous connection: through
aiosqlite each statement would be a round trip between threads, each waiting its turn on a busy
event loop, and the transaction (holding the store's only write lock) would last ten times longer.

Cancelling a confirmed seat promotes the oldest waitlisted registration in the same transaction,
and queues an e-mail telling them (:func:`expo.mail.outbox.enqueue`), so the seat is never
left empty while someone waits and the message exists exactly when the promotion does.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.agenda.models import SeatStatus
from expo.agenda.seat_store import (
    USERS,
    ProgramState,
    Row,
    count_seats,
    expo_slugs,
    load_queue,
    load_rows,
    lock_programs,
    rank,
    write,
)
from expo.db import Database, utcnow
from expo.db import _sqlite_pragmas as sqlite_pragmas
from expo.errors import N_, Conflict, ExpoError, NotFound
from expo.mail.outbox import enqueue

log = logging.getLogger("expo.agenda.seats")
T = TypeVar("T")

MAX_BATCH = 500  # requests decided in one transaction


class Op(enum.StrEnum):
    REGISTER = "register"
    CANCEL = "cancel"
    REFILL = "refill"  # after a capacity change: promote while seats are free


@dataclass(frozen=True)
class Seat:
    """The outcome for one user: ``position`` is their place on the waiting list (1 = next)."""

    status: SeatStatus
    position: int | None = None


@dataclass
class _Request:
    op: Op
    program_id: int
    user_id: int
    actor_id: int | None
    future: asyncio.Future[Seat]


class SeatDesk:
    """Decides seat requests for one store in batches; see the module docstring.

    No task outlives its work: the first request that finds the desk idle starts a drain task,
    which runs transactions until the queue is empty and then ends.
    """

    def __init__(self, db: Database, public_url: str = "") -> None:
        self.db = db
        self.public_url = public_url.rstrip("/")
        self._queue: list[_Request] = []
        self._drain: asyncio.Task[None] | None = None
        self._sync_engine: Engine | None = None  # SQLite: see _transact
        self.transactions = 0  # for tests and the benchmark: how many batches ran

    def close(self) -> None:
        """Release the SQLite connection, if one was opened (the desk works again afterwards)."""
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None

    async def register(self, program_id: int, user_id: int) -> Seat:
        """A seat (or a place on the waiting list) for ``user_id``; asking again returns the same."""
        return await self._submit(Op.REGISTER, program_id, user_id, None)

    async def cancel(self, program_id: int, user_id: int, actor_id: int | None = None) -> Seat:
        """Give up a seat or waiting-list place (``actor_id``: an organizer acting for them)."""
        return await self._submit(Op.CANCEL, program_id, user_id, actor_id)

    async def refill(self, program_id: int) -> None:
        """Promote waitlisted registrations while the program has free seats."""
        await self._submit(Op.REFILL, program_id, 0, None)

    async def _submit(self, op: Op, program_id: int, user_id: int, actor_id: int | None) -> Seat:
        future: asyncio.Future[Seat] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(op, program_id, user_id, actor_id, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            await self._decide(batch)

    async def _decide(self, batch: list[_Request]) -> None:
        try:
            outcomes = await self._transact(batch)
        except sa.exc.IntegrityError:
            if len(batch) > 1:
                # One bad request (a user deleted a moment ago, say) must not fail the others.
                for request in batch:
                    await self._decide([request])
                return
            self._fail(batch, Conflict(N_("This registration is no longer possible."), code="program.gone"))
            return
        except Exception as exc:
            # The store itself failed (unreachable, locked too long): retrying each request alone
            # would only make everyone wait longer.
            log.exception("seat transaction failed")
            self._fail(batch, exc)
            return
        for request, outcome in zip(batch, outcomes, strict=True):
            if request.future.done():  # the caller went away
                continue
            if isinstance(outcome, ExpoError):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    @staticmethod
    def _fail(batch: list[_Request], exc: Exception) -> None:
        for request in batch:
            if not request.future.done():
                request.future.set_exception(exc)

    async def _transact(self, batch: list[_Request]) -> list[Seat | ExpoError]:
        if self.db.sqlite:
            # The whole transaction in one trip to a thread: through aiosqlite every statement
            # would be a round trip between threads, each waiting behind the busy event loop.
            outcomes = await asyncio.to_thread(self._sqlite_transact, batch)
        else:
            async with self.db.engine.connect() as conn:
                outcomes = await conn.run_sync(self._decide_batch, batch)
                await conn.commit()
        self.transactions += 1
        return outcomes

    def _sqlite_transact(self, batch: list[_Request]) -> list[Seat | ExpoError]:
        if self._sync_engine is None:
            url = make_url(self.db.url).set(drivername="sqlite")
            # One batch at a time per desk, so the connection is never used by two threads at once.
            self._sync_engine = sa.create_engine(
                url, connect_args={"timeout": 10, "check_same_thread": False}
            )
            sa.event.listen(self._sync_engine, "connect", _desk_pragmas)
        with self._sync_engine.connect() as conn:
            outcomes = self._decide_batch(conn, batch)
            conn.commit()
        return outcomes

    def _decide_batch(self, conn: Connection, batch: list[_Request]) -> list[Seat | ExpoError]:
        """Decide ``batch`` in arrival order inside the caller's transaction (not committed here)."""
        programs = lock_programs(conn, sorted({r.program_id for r in batch}))
        count_seats(conn, programs)
        rows = load_rows(conn, {(r.program_id, r.user_id) for r in batch if r.op is not Op.REFILL})
        now = utcnow()
        outcomes: list[Seat | ExpoError] = []
        late: list[tuple[int, Row]] = []  # waitlisted before this batch: ranked after writing
        for index, request in enumerate(batch):
            state = programs.get(request.program_id)
            if state is None:
                outcomes.append(NotFound(N_("There is no such program."), code="program.unknown"))
                continue
            # A distinct timestamp per request keeps the waiting list in arrival order.
            stamp = now + timedelta(microseconds=index)
            outcome: Seat | ExpoError | Row
            if request.op is Op.REGISTER:
                outcome = self._register(state, rows, request, stamp, now)
                if isinstance(outcome, Row):
                    late.append((index, outcome))
                    outcome = Seat(SeatStatus.WAITLISTED)
            elif request.op is Op.CANCEL:
                outcome = self._cancel(conn, state, rows, request, stamp)
            else:
                self._promote(conn, state, rows, request.program_id, stamp)
                outcome = Seat(SeatStatus.CONFIRMED)
            outcomes.append(outcome)
        write(conn, rows.values())
        for index, row in late:
            outcomes[index] = Seat(SeatStatus.WAITLISTED, rank(conn, row))
        self._notify(conn, programs, batch)
        return outcomes

    def _register(
        self,
        state: ProgramState,
        rows: dict[tuple[int, int], Row],
        request: _Request,
        stamp: datetime,
        now: datetime,
    ) -> Seat | ExpoError | Row:
        key = (request.program_id, request.user_id)
        row = rows.get(key)
        if row is not None and row.status == SeatStatus.CONFIRMED:
            return Seat(SeatStatus.CONFIRMED)
        if row is not None and row.status == SeatStatus.WAITLISTED:
            return row if row.id is not None else Seat(SeatStatus.WAITLISTED, row.position)
        if state.ends_at <= now:
            return Conflict(N_("This program is over."), code="program.over")
        if row is None:
            row = rows[key] = Row(request.program_id, request.user_id, "", stamp)
        row.created_at, row.cancelled_at, row.promoted_at, row.dirty = stamp, None, None, True
        if state.has_room():
            row.status = SeatStatus.CONFIRMED.value
            state.confirmed += 1
            return Seat(SeatStatus.CONFIRMED)
        row.status = SeatStatus.WAITLISTED.value
        state.waiting += 1
        row.position = state.waiting
        if state.queue is not None:
            state.queue.append(row)
        return Seat(SeatStatus.WAITLISTED, state.waiting)

    def _cancel(
        self,
        conn: Connection,
        state: ProgramState,
        rows: dict[tuple[int, int], Row],
        request: _Request,
        stamp: datetime,
    ) -> Seat:
        row = rows.get((request.program_id, request.user_id))
        if row is None or row.status == SeatStatus.CANCELLED:
            return Seat(SeatStatus.CANCELLED)
        was = row.status
        row.status, row.cancelled_at, row.dirty = SeatStatus.CANCELLED.value, stamp, True
        if was == SeatStatus.WAITLISTED:
            state.waiting -= 1
            if state.queue is not None and row in state.queue:
                state.queue.remove(row)
        else:
            state.confirmed -= 1
            self._promote(conn, state, rows, request.program_id, stamp)
        return Seat(SeatStatus.CANCELLED)

    def _promote(
        self,
        conn: Connection,
        state: ProgramState,
        rows: dict[tuple[int, int], Row],
        program_id: int,
        stamp: datetime,
    ) -> None:
        if state.waiting <= 0 or not state.has_room():
            return
        if state.queue is None:
            state.queue = load_queue(conn, program_id, rows)
        while state.queue and state.has_room():
            row = state.queue.popleft()
            row.status, row.promoted_at, row.dirty = SeatStatus.CONFIRMED.value, stamp, True
            state.confirmed += 1
            state.waiting -= 1
            state.promoted.append(row)

    def _notify(self, conn: Connection, programs: dict[int, ProgramState], batch: list[_Request]) -> None:
        """Queue an e-mail to everyone promoted, and audit promotions and cancellations by others."""
        promoted = [(pid, row) for pid, state in programs.items() for row in state.promoted]
        by_others = [r for r in batch if r.op is Op.CANCEL and r.actor_id not in (None, r.user_id)]
        if not promoted and not by_others:
            return
        # A sync Session on this transaction's connection; enqueue and audit.record only add to it.
        with Session(bind=conn) as session:
            added = cast(AsyncSession, session)
            ids = {row.user_id for _, row in promoted}
            query = sa.select(USERS.c.id, USERS.c.email).where(USERS.c.id.in_(ids))
            emails = {uid: email for uid, email in conn.execute(query)}
            slugs = expo_slugs(conn, {programs[pid].expo_id for pid, _ in promoted})
            for pid, row in promoted:
                state = programs[pid]
                link = f"{self.public_url}/expos/{slugs.get(state.expo_id, '')}/agenda/{pid}"
                _ready(
                    enqueue(
                        added,
                        to=emails.get(row.user_id, ""),
                        subject=f"You have a seat: {state.title}",
                        body=(
                            f"A seat has freed up at {state.title!r} and it is yours: you were first on "
                            f"the waiting list. Your registration is confirmed.\n\n{link}\n"
                        ),
                        expo_id=state.expo_id,
                        user_id=row.user_id,
                    )
                )
                audit.record(added, "program.promoted", target=f"program:{pid}", user=row.user_id)
            for request in by_others:
                audit.record(
                    added,
                    "program.registration_cancelled",
                    actor_id=request.actor_id,
                    target=f"program:{request.program_id}",
                    user=request.user_id,
                )
            session.flush()


def _desk_pragmas(dbapi_connection: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_connection, record)
    # No busy handler: seat_store.begin_immediate polls for the lock itself, and once it holds it
    # nothing else in the transaction can be kept waiting (WAL readers never block).
    dbapi_connection.execute("PRAGMA busy_timeout=0")


def _ready(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends (``enqueue`` only adds to the session), run
    from the synchronous transaction code."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coroutine.close()
    raise RuntimeError("expected a coroutine that completes without waiting")
