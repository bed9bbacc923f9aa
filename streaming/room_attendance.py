"""Who was in a room, and when: one :class:`~streaming.models.RoomAttendance` row per stay.

The room plane (:mod:`streaming.rooms`) writes a row when someone enters (joins, or is let in from
the lobby: waiting in it is not attending) and closes it when they leave, saying how. The room's
managers download the rows as CSV from the rooms page. A row left open means its server process
stopped without a word; the CSV shows no end for it rather than a guess.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.leads import safe_cell
from expo.db import Database, utcnow
from streaming.models import Room, RoomAttendance

LEFT_HOW = ("left", "removed", "ended", "closed")
"""How a stay ends: they left (or their connection was lost), the host removed them, the room was
ended for everyone, or the server process closed its rooms (a restart)."""

CSV_COLUMNS = ("name", "role", "joined_utc", "left_utc", "minutes", "how")
MAX_ROWS = 10_000


async def entered(
    db: Database, room_id: int, participant: str, user_id: int | None, name: str, role: str
) -> int:
    """Record that someone entered the room now; the row's id, to close it with :func:`left`."""
    async with db.session() as session:
        row = RoomAttendance(room_id=room_id, participant=participant, user_id=user_id, name=name, role=role)
        session.add(row)
        await session.commit()
        assert row.id is not None
        return row.id


async def left(db: Database, stays: Sequence[tuple[int, str]], how: str) -> None:
    """Close the stays (row id, their name as shown when they left) now, ``how`` (a :data:`LEFT_HOW`)."""
    assert how in LEFT_HOW
    if not stays:
        return
    names = dict(stays)
    now = utcnow()
    async with db.session() as session:
        rows = (await session.exec(select(RoomAttendance).where(col(RoomAttendance.id).in_(names)))).all()
        for row in rows:
            if row.left_at is None:
                row.left_at, row.left_how, row.name = now, how, names[row.id or 0]
                session.add(row)
        await session.commit()


async def attendance(session: AsyncSession, room_id: int) -> list[RoomAttendance]:
    """The room's stays, first entry first (at most :data:`MAX_ROWS`)."""
    query = (
        select(RoomAttendance)
        .where(RoomAttendance.room_id == room_id)
        .order_by(col(RoomAttendance.joined_at), col(RoomAttendance.id))
        .limit(MAX_ROWS)
    )
    return list((await session.exec(query)).all())


def attendance_csv(rows: Sequence[RoomAttendance], rooms: Mapping[int, Room] | None = None) -> str:
    """The stays as CSV (a header row, one row a stay, UTC times), safe to open in a spreadsheet.
    With ``rooms`` (by id), each row starts with its room's title and kind: stays of many rooms."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS if rooms is None else ("room", "kind", *CSV_COLUMNS))
    for row in rows:
        minutes = round((row.left_at - row.joined_at).total_seconds() / 60, 1) if row.left_at else ""
        cells: list[object] = [
            row.name,
            row.role,
            row.joined_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.left_at.strftime("%Y-%m-%d %H:%M:%S") if row.left_at else "",
            minutes,
            row.left_how,
        ]
        if rooms is not None:
            room = rooms[row.room_id]
            cells = [room.title, room.kind, *cells]
        writer.writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()
