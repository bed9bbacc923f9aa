"""Agenda tables: programs on an expo's timetable, and who holds (or waits for) a seat at each.

A program's ``capacity`` is the number of confirmed seats (``None``: no limit). Seats are given out
by :mod:`expo.agenda.seats` only, under a per-program lock, so the number of ``confirmed``
registrations never exceeds the capacity; everyone else is ``waitlisted`` in the order they asked
(``created_at``, then ``id``) and promoted when a seat frees.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from expo.db import utcnow


class SeatStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Program(SQLModel, table=True):
    """A talk, panel or ceremony: when and where it happens, who speaks, and how many seats it has."""

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    # [{"name": ..., "title": ..., "company": ...}, ...] in the order they are shown.
    speakers: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    track: str = Field(default="", max_length=100)
    # {"zh_Hans": {"title": ..., "track": ..., "description": ...}}
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    hall_id: int | None = Field(default=None, foreign_key="hall.id", ondelete="SET NULL")
    stage: str = Field(default="", max_length=100)
    starts_at: datetime = Field(index=True)
    ends_at: datetime
    stream_id: int | None = Field(default=None, foreign_key="stream.id", ondelete="SET NULL")
    room_url: str = Field(default="", max_length=500)
    capacity: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ProgramRegistration(SQLModel, table=True):
    """One visitor's seat, place on the waiting list, or cancelled request for one program.

    A user has at most one row per program: registering again after cancelling reuses it (with a
    fresh ``created_at``, so they join the end of the queue).
    """

    __table_args__ = (
        sa.UniqueConstraint("program_id", "user_id", name="uq_programregistration_program_id_user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    status: str = Field(default=SeatStatus.CONFIRMED.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    promoted_at: datetime | None = None
    cancelled_at: datetime | None = None
    attended_at: datetime | None = None


class CalendarFeed(SQLModel, table=True):
    """The key in a user's personal calendar-feed link (:mod:`expo.agenda.feeds`).

    The link carries the user id and this key, signed with the server's secret. A new key (the
    owner resets their link) makes every earlier link answer 404, so a leaked one can be revoked.
    """

    __tablename__ = "calendar_feed"

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
