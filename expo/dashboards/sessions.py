"""Session attendance per program of the agenda, read from :mod:`expo.agenda`'s tables.

Seats confirmed and waitlisted now, and how many people came (``attended_at`` is set when their
attendance is recorded), from one aggregate query for the whole expo.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.agenda.models import Program, ProgramRegistration, SeatStatus
from expo.dashboards.figures import SessionFigures


async def session_attendance(session: AsyncSession, expo_id: int) -> list[SessionFigures]:
    """Every program of the expo in timetable order, with its seat and attendance counts."""
    programs = (
        await session.exec(
            select(Program)
            .where(Program.expo_id == expo_id)
            .order_by(col(Program.starts_at), col(Program.id))
        )
    ).all()
    ids = [p.id for p in programs if p.id is not None]
    counts: dict[tuple[int, str], tuple[int, int]] = {}
    if ids:
        rows = await session.exec(
            select(
                ProgramRegistration.program_id,
                ProgramRegistration.status,
                func.count(),
                func.count(col(ProgramRegistration.attended_at)),
            )
            .where(col(ProgramRegistration.program_id).in_(ids))
            .group_by(col(ProgramRegistration.program_id), col(ProgramRegistration.status))
        )
        counts = {(pid, status): (int(n), int(came)) for pid, status, n, came in rows.all()}
    confirmed, waitlisted = SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value
    return [
        SessionFigures(
            id=p.id,
            title=p.title,
            starts_at=p.starts_at,
            capacity=p.capacity,
            confirmed=counts.get((p.id, confirmed), (0, 0))[0],
            waitlisted=counts.get((p.id, waitlisted), (0, 0))[0],
            attended=sum(came for (pid, _), (_, came) in counts.items() if pid == p.id),
        )
        for p in programs
        if p.id is not None
    ]
