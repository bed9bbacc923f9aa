"""The seat desk's statements: lock and read programs, count seats, read and write registrations.

Plain SQLAlchemy Core on a synchronous ``Connection``, so one implementation serves both stores:
SQLite runs it in a worker thread on its own connection, PostgreSQL through ``run_sync`` on the
async engine (see :class:`expo.agenda.seats.SeatDesk`). :class:`Row` and :class:`ProgramState` are
a transaction's working copy of what it read, changed in memory and written back in two statements.
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from expo.accounts.models import User
from expo.agenda.models import Program, ProgramRegistration, SeatStatus
from expo.expos.models import Expo

REG = cast(sa.Table, ProgramRegistration.__table__)  # type: ignore[attr-defined]
PROG = cast(sa.Table, Program.__table__)  # type: ignore[attr-defined]
USERS = cast(sa.Table, User.__table__)  # type: ignore[attr-defined]
LAST = 2**62  # sorts rows not yet inserted after every stored one with the same timestamp


@dataclass(eq=False)  # identity: a row is in a waiting list, not an equal copy of it
class Row:
    """A registration as this transaction sees it; ``id`` is ``None`` until inserted."""

    program_id: int
    user_id: int
    status: str
    created_at: datetime
    id: int | None = None
    promoted_at: datetime | None = None
    cancelled_at: datetime | None = None
    dirty: bool = False
    position: int | None = None  # place on the waiting list when this batch put it there

    def order(self) -> tuple[datetime, int]:
        return (self.created_at, self.id if self.id is not None else LAST)


@dataclass
class ProgramState:
    capacity: int | None
    ends_at: datetime
    expo_id: int
    title: str
    confirmed: int = 0
    waiting: int = 0
    queue: deque[Row] | None = None  # the waiting list, loaded when a seat frees
    promoted: list[Row] = field(default_factory=list)

    def has_room(self) -> bool:
        return self.capacity is None or self.confirmed < self.capacity


def one_of(conn: Connection, column: sa.ColumnElement[int], values: Any) -> sa.ColumnElement[bool]:
    """``column IN values``. On PostgreSQL ``column = ANY(:array)``: one statement text whatever the
    number of values, so the connection's prepared statement is reused (an ``IN`` list of a new
    length is a new statement, prepared in a round trip of its own, in nearly every batch)."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(list(values))


def begin_immediate(conn: Connection, timeout: float = 10.0) -> None:
    """``BEGIN IMMEDIATE``, asking again every millisecond or so while another process writes.

    SQLite's own busy handler backs off to 100 ms naps, so when the desks of two processes take
    turns the lock would sit free most of the time; this polls instead (the desk's connections
    have ``busy_timeout`` 0, see :meth:`expo.agenda.seats.SeatDesk`). Runs in the desk's thread.
    """
    raw = cast(sqlite3.Connection, conn.connection.dbapi_connection)
    deadline = time.monotonic() + timeout
    pause = 0.0002
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.002)


def lock_programs(conn: Connection, ids: list[int]) -> dict[int, ProgramState]:
    """Take the write lock for ``ids`` and read them; programs that do not exist are left out."""
    query = (
        sa.select(PROG.c.id, PROG.c.capacity, PROG.c.ends_at, PROG.c.expo_id, PROG.c.title)
        .where(one_of(conn, PROG.c.id, ids))
        .order_by(PROG.c.id)
    )
    if conn.dialect.name == "sqlite":
        # SQLite has one writer: taking its lock up front means this transaction reads counts no
        # other writer can change before it commits (and never has to upgrade a read lock).
        begin_immediate(conn)
    else:
        query = query.with_for_update()
    result = conn.execute(query)
    return {
        pid: ProgramState(capacity=capacity, ends_at=ends_at, expo_id=expo_id, title=title)
        for pid, capacity, ends_at, expo_id, title in result.all()
    }


def count_seats(conn: Connection, programs: dict[int, ProgramState]) -> None:
    if not programs:
        return
    query = (
        sa.select(REG.c.program_id, REG.c.status, sa.func.count())
        .where(one_of(conn, REG.c.program_id, programs), REG.c.status != SeatStatus.CANCELLED.value)
        .group_by(REG.c.program_id, REG.c.status)
    )
    for pid, status, count in (conn.execute(query)).all():
        if status == SeatStatus.CONFIRMED:
            programs[pid].confirmed = count
        elif status == SeatStatus.WAITLISTED:
            programs[pid].waiting = count


def load_rows(conn: Connection, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], Row]:
    """The stored registrations of these (program, user) pairs."""
    if not wanted:
        return {}
    query = sa.select(
        REG.c.id, REG.c.program_id, REG.c.user_id, REG.c.status, REG.c.created_at, REG.c.promoted_at
    ).where(
        one_of(conn, REG.c.program_id, {pid for pid, _ in wanted}),
        one_of(conn, REG.c.user_id, {uid for _, uid in wanted}),
    )
    rows: dict[tuple[int, int], Row] = {}
    for rid, pid, uid, status, created_at, promoted_at in (conn.execute(query)).all():
        if (pid, uid) in wanted:
            rows[pid, uid] = Row(pid, uid, status, created_at, id=rid, promoted_at=promoted_at)
    return rows


def load_queue(conn: Connection, program_id: int, rows: dict[tuple[int, int], Row]) -> deque[Row]:
    """The program's waiting list in order, stored rows merged with this batch's changes."""
    query = (
        sa.select(REG.c.id, REG.c.user_id, REG.c.created_at)
        .where(REG.c.program_id == program_id, REG.c.status == SeatStatus.WAITLISTED.value)
        .order_by(REG.c.created_at, REG.c.id)  # pragma: no mutate (equivalent: sorted by Row.order below)
    )
    queue = [
        Row(program_id, uid, SeatStatus.WAITLISTED.value, created_at, id=rid)
        for rid, uid, created_at in (conn.execute(query)).all()
        if (program_id, uid) not in rows
    ]
    for key, row in rows.items():
        if key[0] == program_id and row.status == SeatStatus.WAITLISTED:
            queue.append(row)
    for row in queue:
        rows.setdefault((program_id, row.user_id), row)
    return deque(sorted(queue, key=Row.order))


def rank(conn: Connection, row: Row) -> int:
    """``row``'s place on its waiting list, from the store (1 = next to be promoted)."""
    ahead = sa.or_(
        REG.c.created_at < row.created_at,
        sa.and_(REG.c.created_at == row.created_at, REG.c.id < (row.id or LAST)),
    )
    query = sa.select(sa.func.count()).where(
        REG.c.program_id == row.program_id, REG.c.status == SeatStatus.WAITLISTED.value, ahead
    )
    return int((conn.execute(query)).scalar_one()) + 1


def write(conn: Connection, rows: Any) -> None:
    """Insert the new registrations and update the changed ones, each kind in one statement."""
    new = [r for r in rows if r.dirty and r.id is None]
    changed = [r for r in rows if r.dirty and r.id is not None]
    if new:
        conn.execute(
            REG.insert(),
            [
                {
                    "program_id": r.program_id,
                    "user_id": r.user_id,
                    "status": r.status,
                    "created_at": r.created_at,
                    "promoted_at": r.promoted_at,
                    "cancelled_at": r.cancelled_at,
                }
                for r in new
            ],
        )
    if changed:
        statement = (
            REG.update()
            .where(REG.c.id == sa.bindparam("row_id"))
            .values(
                status=sa.bindparam("new_status"),
                created_at=sa.bindparam("new_created_at"),
                promoted_at=sa.bindparam("new_promoted_at"),
                cancelled_at=sa.bindparam("new_cancelled_at"),
            )
        )
        conn.execute(
            statement,
            [
                {
                    "row_id": r.id,
                    "new_status": r.status,
                    "new_created_at": r.created_at,
                    "new_promoted_at": r.promoted_at,
                    "new_cancelled_at": r.cancelled_at,
                }
                for r in changed
            ],
        )


def expo_slugs(conn: Connection, expo_ids: set[int]) -> dict[int, str]:
    if not expo_ids:
        return {}
    table = cast(sa.Table, Expo.__table__)  # type: ignore[attr-defined]
    query = sa.select(table.c.id, table.c.slug).where(table.c.id.in_(expo_ids))
    return {eid: slug for eid, slug in conn.execute(query)}
