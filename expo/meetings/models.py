"""Booth meetings: a visitor asks a booth for a face-to-face (video) meeting at a time they propose,
or books a place in one of the slots the booth's staff published (:class:`AvailabilityWindow`)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from expo.db import utcnow


class MeetingStatus(enum.StrEnum):
    """A visitor's request is ``requested`` until the booth's staff accept or decline it; the
    requester may cancel it while it is open; staff mark an accepted meeting ``held`` once its
    start has passed. Only ``requested`` and ``accepted`` are open."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    HELD = "held"


class Meeting(SQLModel, table=True):
    """A face-to-face meeting a visitor asked a booth for, at a time they proposed or in a slot.

    ``expo_id`` repeats the booth's expo so the dashboards count an expo's meetings without a join.
    Times are aware UTC; pages show them in the expo's timezone.
    """

    __table_args__ = (
        sa.UniqueConstraint("window_id", "starts_at", "slot_place", name="uq_meeting_window_id_slot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    booth_id: int = Field(foreign_key="booth.id", index=True, ondelete="CASCADE")
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    requester_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    status: str = Field(default=MeetingStatus.REQUESTED.value, max_length=16, index=True)
    starts_at: datetime
    ends_at: datetime
    message: str = Field(default="", sa_type=sa.Text)
    staff_note: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    decided_at: datetime | None = None
    decided_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    held_at: datetime | None = None
    # The video room opened when the booth accepted (its host link for staff, guest link for the
    # requester); ended if the meeting is cancelled.
    room_id: int | None = Field(default=None, foreign_key="room.id", ondelete="SET NULL")
    # A meeting booked in a published slot: its window, and which of the slot's places it holds
    # (1..capacity; NULL once cancelled, which frees the place). The unique constraint below makes
    # two bookings of one place impossible on either store, whatever the timing.
    window_id: int | None = Field(
        default=None, foreign_key="availability_window.id", index=True, ondelete="SET NULL"
    )
    slot_place: int | None = None
    # The reminder queued in the outbox for the requester, due before the start (deleted if the
    # meeting is cancelled before it went out).
    reminder_id: int | None = Field(default=None, foreign_key="outboxmessage.id", ondelete="SET NULL")


class AvailabilityWindow(SQLModel, table=True):
    """A stretch of time in which a booth takes meetings, cut into slots of ``slot_minutes``, each
    taking up to ``capacity`` meetings at once. Published by the booth's staff; times are aware UTC,
    entered and shown as wall-clock times in the expo's timezone."""

    __tablename__ = "availability_window"

    id: int | None = Field(default=None, primary_key=True)
    booth_id: int = Field(foreign_key="booth.id", index=True, ondelete="CASCADE")
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    starts_at: datetime
    ends_at: datetime
    slot_minutes: int
    capacity: int
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    # Moved by every booking and edit of the window: the write that serialises them (see slots.py).
    updated_at: datetime = Field(default_factory=utcnow)
