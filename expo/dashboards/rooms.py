"""Room attendance for the dashboards: who came to the expo's telepresence rooms, and for how long.

Read from the stays :mod:`streaming.room_attendance` writes (one row from entering a room to
leaving it), aggregated per room in one query on either store; the most recently entered rooms
first. The CSV lists the stays themselves, room by room as they came.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.dashboards.figures import RoomFigures
from expo.db import seconds_between
from streaming import room_attendance
from streaming.models import Room, RoomAttendance

ROOMS_SHOWN = 50


def _of_expo(query: sa.Select, expo_id: int, booth_ids: Sequence[int] | None) -> sa.Select:  # type: ignore[type-arg]
    query = query.where(col(Room.expo_id) == expo_id)
    return query if booth_ids is None else query.where(col(Room.booth_id).in_(booth_ids))


async def room_figures(
    session: AsyncSession, expo_id: int, booth_ids: Sequence[int] | None = None, *, limit: int = ROOMS_SHOWN
) -> list[RoomFigures]:
    """The rooms of the expo (of ``booth_ids`` only, when given) that anyone entered, latest first."""
    stay = RoomAttendance
    ended = col(stay.left_at).is_not(None)
    seconds = sa.func.sum(sa.case((ended, seconds_between(session, stay.joined_at, stay.left_at)), else_=0.0))
    guests = sa.func.sum(sa.case((col(stay.user_id).is_(None), 1), else_=0))
    query = (
        sa.select(
            col(Room.id),
            col(Room.title),
            col(Room.kind),
            col(Room.booth_id),
            sa.func.count(col(stay.id)),
            sa.func.count(sa.distinct(col(stay.user_id))) + guests,
            seconds,
            sa.func.sum(sa.case((ended, 0), else_=1)),
            sa.func.min(col(stay.joined_at)),
            sa.func.max(col(stay.left_at)),
        )
        .join(stay, col(stay.room_id) == col(Room.id))
        .group_by(col(Room.id), col(Room.title), col(Room.kind), col(Room.booth_id))
        .order_by(sa.func.max(col(stay.joined_at)).desc(), col(Room.id).desc())
        .limit(limit)
    )
    rows = (await (await session.connection()).execute(_of_expo(query, expo_id, booth_ids))).all()
    return [
        RoomFigures(
            id=room_id,
            title=title,
            kind=kind,
            booth_id=booth_id,
            stays=int(stays),
            people=int(people),
            minutes=round(float(total or 0) / 60, 1),
            in_room=int(open_stays),
            first_entry=first,
            last_exit=last,
        )
        for room_id, title, kind, booth_id, stays, people, total, open_stays, first, last in rows
    ]


async def attendance_csv(session: AsyncSession, expo_id: int, booth_ids: Sequence[int] | None = None) -> str:
    """Every stay in the expo's rooms (of ``booth_ids`` only, when given) as CSV, room by room."""
    query = (
        select(RoomAttendance, Room)
        .join(Room, col(Room.id) == col(RoomAttendance.room_id))
        .order_by(col(Room.id), col(RoomAttendance.joined_at), col(RoomAttendance.id))
        .limit(room_attendance.MAX_ROWS)
    )
    rows = (await session.exec(_of_expo(query, expo_id, booth_ids))).all()  # type: ignore[call-overload]
    return room_attendance.attendance_csv(
        [stay for stay, _ in rows], rooms={room.id or 0: room for _, room in rows}
    )
