"""Agenda rules: the organizers' timetable, what visitors see of it, and attendance.

Programs are created, changed and deleted, and attendance read and kept, by the members of the
expo's team whose role grants :attr:`~expo.permissions.Perm.MANAGE_AGENDA` (and platform
administrators), whatever their account type; organizers of other expos may not. Everyone reads
the timetable. Times are stored as aware UTC; a time given without an offset means the
expo's own timezone. Seats themselves are the :mod:`expo.agenda.seats` desk's: a capacity change
here is followed by a refill there, so raising the capacity promotes people from the waiting list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.leads import safe_cell
from booths.models import Hall
from expo import audit
from expo.accounts.models import User
from expo.agenda.models import Program, ProgramRegistration, SeatStatus
from expo.agenda.seats import Seat, SeatDesk
from expo.db import utcnow
from expo.errors import N_, Invalid, NotFound
from expo.expos.models import Expo
from expo.http.inputs import Id, NullRules
from expo.permissions import Perm, require_permission, standing
from streaming.models import Stream

MAX_SPEAKERS = 20
CSV_COLUMNS = ("registration_id", "name", "email", "status", "registered_at", "promoted_at", "attended_at")


class Speaker(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    title: str = Field(default="", max_length=120)
    company: str = Field(default="", max_length=120)


class ProgramText(BaseModel):
    """A program's text in one of the expo's other languages (empty: shown as stored)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    track: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=20000)


class ProgramFields(NullRules):
    """A program as an organizer writes it; on update, absent fields stay as they are. A null text
    is empty, a null hall, broadcast or capacity is none; a null start or end is refused."""

    model_config = ConfigDict(extra="forbid")
    not_null = frozenset({"title", "starts_at", "ends_at"})

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    speakers: list[Speaker] | None = Field(default=None, max_length=MAX_SPEAKERS)
    track: str | None = Field(default=None, max_length=100)
    hall_id: Id | None = None
    stage: str | None = Field(default=None, max_length=100)
    starts_at: datetime | None = Field(default=None, description="without an offset: the expo's timezone")
    ends_at: datetime | None = Field(default=None, description="without an offset: the expo's timezone")
    stream_id: Id | None = None
    # A web address or a path on this site: never "javascript:" or another scheme a link would run.
    room_url: str | None = Field(default=None, max_length=500, pattern=r"^(https?://\S+|/\S*)?$")
    capacity: int | None = Field(default=None, ge=1, le=1_000_000, description="seats; null: no limit")
    translations: dict[str, ProgramText] | None = Field(
        default=None, description='other languages: {"zh_Hans": {"title", "track", "description"}}'
    )


def to_utc(value: datetime, expo: Expo) -> datetime:
    """``value`` in UTC; a naive value is a wall-clock time in the expo's timezone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=expo.zone)
    return value.astimezone(UTC)


def local(value: datetime, expo: Expo) -> datetime:
    return value.astimezone(expo.zone)


# Permissions ---------------------------------------------------------------------------------------------


async def require_organizer_of(session: AsyncSession, expo: Expo, user: User) -> None:
    """``user`` manages the expo's agenda, or :class:`Forbidden` (``program.forbidden``)."""
    assert expo.id is not None
    message = N_("Only this expo's organizers may change its agenda.")
    await require_permission(session, user, expo.id, Perm.MANAGE_AGENDA, message, "program.forbidden")


async def organizes(session: AsyncSession, expo: Expo, user: User | None) -> bool:
    """Whether ``user`` manages the expo's agenda (the pages show them its organizer links)."""
    assert expo.id is not None
    return (await standing(session, user, expo.id)).has(Perm.MANAGE_AGENDA)


# Programs -----------------------------------------------------------------------------------------------


async def get_program(session: AsyncSession, program_id: int) -> tuple[Program, Expo]:
    program = await session.get(Program, program_id)
    expo = await session.get(Expo, program.expo_id) if program is not None else None
    if program is None or expo is None:
        raise NotFound(N_("There is no such program."), code="program.unknown")
    return program, expo


async def list_programs(
    session: AsyncSession, expo: Expo, *, day: date | None = None, track: str | None = None
) -> list[Program]:
    """The expo's programs by start time; ``day`` is a day in the expo's timezone."""
    query = select(Program).where(Program.expo_id == expo.id)
    if day is not None:
        start = datetime.combine(day, time(), tzinfo=expo.zone).astimezone(UTC)
        query = query.where(Program.starts_at >= start, Program.starts_at < start + timedelta(days=1))
    if track is not None:
        query = query.where(Program.track == track)
    query = query.order_by(col(Program.starts_at), col(Program.id))
    return list((await session.exec(query)).all())


def days_of(programs: Sequence[Program], expo: Expo) -> list[date]:
    return sorted({local(p.starts_at, expo).date() for p in programs})


async def _check_links(session: AsyncSession, expo: Expo, hall_id: int | None, stream_id: int | None) -> None:
    if hall_id is not None:
        hall = await session.get(Hall, hall_id)
        if hall is None or hall.expo_id != expo.id:
            raise Invalid(N_("Choose a hall of this expo."), code="program.unknown_hall", field="hall_id")
    if stream_id is not None:
        stream = await session.get(Stream, stream_id)
        if stream is None or stream.expo_id != expo.id:
            raise Invalid(
                N_("Choose a broadcast of this expo."), code="program.unknown_stream", field="stream_id"
            )


def _apply(program: Program, fields: ProgramFields, expo: Expo) -> None:
    changes: dict[str, Any] = fields.model_dump(exclude_unset=True)
    for name in ("title", "description", "track", "stage", "room_url"):
        if name in changes:
            value = (changes[name] or "").strip()
            if name == "title" and not value:
                raise Invalid(N_("Give the program a title."), code="program.no_title", field="title")
            setattr(program, name, value)
    if "speakers" in changes:
        program.speakers = [s.model_dump() for s in fields.speakers or []]
    if "translations" in changes:
        unknown = set(fields.translations or {}) - set(expo.language_list)
        if unknown:
            raise Invalid(
                f"Translations for languages this expo does not use: {', '.join(sorted(unknown))}.",
                code="program.invalid_languages",
                field="translations",
            )
        program.translations = {
            lang: kept
            for lang, text in (fields.translations or {}).items()
            if (kept := {k: v.strip() for k, v in text.model_dump(exclude_none=True).items() if v.strip()})
        }
    for name in ("hall_id", "stream_id", "capacity"):
        if name in changes:
            setattr(program, name, changes[name])
    if fields.starts_at is not None:
        program.starts_at = to_utc(fields.starts_at, expo)
    if fields.ends_at is not None:
        program.ends_at = to_utc(fields.ends_at, expo)
    if program.ends_at <= program.starts_at:
        raise Invalid(
            N_("A program must end after it starts."), code="program.ends_before_start", field="ends_at"
        )


async def create_program(session: AsyncSession, expo: Expo, fields: ProgramFields, actor: User) -> Program:
    """Add a program to the expo's timetable (its organizers)."""
    await require_organizer_of(session, expo, actor)
    assert expo.id is not None
    if fields.title is None or fields.starts_at is None or fields.ends_at is None:
        raise Invalid(N_("A program needs a title, a start and an end."), code="program.incomplete")
    program = Program(expo_id=expo.id, title="", starts_at=utcnow(), ends_at=utcnow())
    _apply(program, fields, expo)
    await _check_links(session, expo, program.hall_id, program.stream_id)
    session.add(program)
    await session.flush()
    audit.record(session, "program.created", actor_id=actor.id, target=f"program:{program.id}")
    await session.commit()
    return program


async def update_program(
    session: AsyncSession, desk: SeatDesk, program: Program, expo: Expo, fields: ProgramFields, actor: User
) -> Program:
    """Change a program (its organizers); more seats promote people from the waiting list, fewer
    never take a confirmed seat away (nobody new is confirmed until the count is under it)."""
    await require_organizer_of(session, expo, actor)
    # Checked before the program changes: looking a hall up flushes the session, and a program
    # already pointing at a hall that does not exist would fail there as a database error.
    changed = fields.model_fields_set
    await _check_links(
        session,
        expo,
        fields.hall_id if "hall_id" in changed else program.hall_id,
        fields.stream_id if "stream_id" in changed else program.stream_id,
    )
    _apply(program, fields, expo)
    program.updated_at = utcnow()
    session.add(program)
    audit.record(session, "program.updated", actor_id=actor.id, target=f"program:{program.id}")
    await session.commit()
    if "capacity" in fields.model_fields_set:
        assert program.id is not None
        await desk.refill(program.id)
    return program


async def delete_program(session: AsyncSession, program: Program, expo: Expo, actor: User) -> None:
    """Remove a program and its registrations (its organizers)."""
    await require_organizer_of(session, expo, actor)
    audit.record(
        session, "program.deleted", actor_id=actor.id, target=f"program:{program.id}", title=program.title
    )
    await session.delete(program)
    await session.commit()


# Seats as visitors and organizers read them ------------------------------------------------------------


async def seat_counts(session: AsyncSession, program_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """``{program_id: (confirmed, waitlisted)}`` for the given programs (absent: none)."""
    if not program_ids:
        return {}
    query = (
        select(ProgramRegistration.program_id, ProgramRegistration.status, func.count())
        .where(col(ProgramRegistration.program_id).in_(program_ids))
        .where(ProgramRegistration.status != SeatStatus.CANCELLED.value)
        .group_by(col(ProgramRegistration.program_id), col(ProgramRegistration.status))
    )
    counts: dict[int, tuple[int, int]] = {}
    for pid, status, count in (await session.exec(query)).all():
        confirmed, waiting = counts.get(pid, (0, 0))
        if status == SeatStatus.CONFIRMED:
            confirmed = count
        else:
            waiting = count
        counts[pid] = (confirmed, waiting)
    return counts


def seats_left(program: Program, confirmed: int) -> int | None:
    return None if program.capacity is None else max(program.capacity - confirmed, 0)


async def seat_of(session: AsyncSession, program_id: int, user: User | None) -> Seat | None:
    """``user``'s seat or waiting-list place at the program (``None``: not registered)."""
    if user is None:
        return None
    row = (
        await session.exec(
            select(ProgramRegistration).where(
                ProgramRegistration.program_id == program_id, ProgramRegistration.user_id == user.id
            )
        )
    ).first()
    if row is None or row.status == SeatStatus.CANCELLED:
        return None
    if row.status == SeatStatus.CONFIRMED:
        return Seat(SeatStatus.CONFIRMED)
    ahead = await session.exec(
        select(func.count()).where(
            ProgramRegistration.program_id == program_id,
            ProgramRegistration.status == SeatStatus.WAITLISTED.value,
            (col(ProgramRegistration.created_at) < row.created_at)
            | (
                (col(ProgramRegistration.created_at) == row.created_at)
                & (col(ProgramRegistration.id) < row.id)
            ),
        )
    )
    return Seat(SeatStatus.WAITLISTED, ahead.one() + 1)


@dataclass(frozen=True)
class AgendaItem:
    program: Program
    expo: Expo
    status: SeatStatus


async def my_agenda(session: AsyncSession, user: User) -> list[AgendaItem]:
    """The programs ``user`` holds a seat at or waits for, in every expo, by start time."""
    query = (
        select(Program, Expo, ProgramRegistration.status)
        .join(ProgramRegistration, col(ProgramRegistration.program_id) == col(Program.id))
        .join(Expo, col(Expo.id) == col(Program.expo_id))
        .where(ProgramRegistration.user_id == user.id)
        .where(ProgramRegistration.status != SeatStatus.CANCELLED.value)
        .order_by(col(Program.starts_at), col(Program.id))
    )
    return [AgendaItem(p, e, SeatStatus(s)) for p, e, s in (await session.exec(query)).all()]


async def attendees(
    session: AsyncSession, program: Program, expo: Expo, actor: User
) -> list[tuple[ProgramRegistration, User]]:
    """Everyone registered: confirmed first, then the waiting list in order, then cancellations."""
    await require_organizer_of(session, expo, actor)
    query = (
        select(ProgramRegistration, User)
        .join(User, col(User.id) == col(ProgramRegistration.user_id))
        .where(ProgramRegistration.program_id == program.id)
        .order_by(col(ProgramRegistration.created_at), col(ProgramRegistration.id))
    )
    rows = list((await session.exec(query)).all())
    rank = {SeatStatus.CONFIRMED: 0, SeatStatus.WAITLISTED: 1, SeatStatus.CANCELLED: 2}
    return sorted(rows, key=lambda pair: rank[SeatStatus(pair[0].status)])


async def mark_attended(
    session: AsyncSession, program: Program, expo: Expo, user_id: int, attended: bool, actor: User
) -> ProgramRegistration:
    """Record (or clear) that a confirmed attendee came (its organizers)."""
    await require_organizer_of(session, expo, actor)
    row = (
        await session.exec(
            select(ProgramRegistration).where(
                ProgramRegistration.program_id == program.id, ProgramRegistration.user_id == user_id
            )
        )
    ).first()
    if row is None or row.status != SeatStatus.CONFIRMED:
        raise NotFound(N_("This person has no seat at the program."), code="program.no_seat")
    row.attended_at = utcnow() if attended else None
    session.add(row)
    audit.record(
        session,
        "program.attended",
        actor_id=actor.id,
        target=f"program:{program.id}",
        user=user_id,
        attended=attended,
    )
    await session.commit()
    return row


def _stamp(value: datetime | None, expo: Expo) -> str:
    return local(value, expo).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def export_csv(rows: Sequence[tuple[ProgramRegistration, User]], expo: Expo) -> str:
    """Session attendance as CSV (times in the expo's timezone), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for reg, user in rows:
        row: list[object] = [
            reg.id,
            user.name,
            user.email,
            reg.status,
            _stamp(reg.created_at, expo),
            _stamp(reg.promoted_at, expo),
            _stamp(reg.attended_at, expo),
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
