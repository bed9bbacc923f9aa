"""Broadcast tables: streams, their audience, registrations, chat and Q&A, moderation, recordings.

Live figures (who is watching now, the running peak) live on the realtime bus; what must survive
a restart is written here: every view started (``StreamView``, so an acknowledged view is never
lost), the per-minute concurrency series, the peak, chat, questions and recordings.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from expo.db import utcnow


class StreamStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class Visibility(enum.StrEnum):
    PUBLIC = "public"  # anyone may watch, no token
    REGISTERED = "registered"  # signed-in users of the expo


class ViewVia(enum.StrEnum):
    WHEP = "whep"
    HLS = "hls"
    PAGE = "page"


class MessageKind(enum.StrEnum):
    CHAT = "chat"
    QUESTION = "question"


class SanctionKind(enum.StrEnum):
    MUTE = "mute"  # may watch, may not write
    BAN = "ban"  # may not watch or write


class RoomKind(enum.StrEnum):
    """What a room is for: a booth's meeting with a visitor, a negotiation between delegations, or
    a signing ceremony (contracts signed on the room page, see :mod:`expo.signing`)."""

    BOOTH_MEETING = "booth_meeting"
    NEGOTIATION = "negotiation"
    SIGNING_CEREMONY = "signing_ceremony"


class Stream(SQLModel, table=True):
    """A broadcast: scheduled, then live (possibly several times, e.g. after a dropped encoder),
    then ended. ``key`` is the WHIP bearer token, shown to the stream's owners and regenerable."""

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    # The booth that presents it, if any.
    booth_id: int | None = Field(default=None, foreign_key="booth.id", index=True, ondelete="SET NULL")
    owner_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    # {"zh_Hans": {"title": ..., "description": ...}}
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=StreamStatus.SCHEDULED.value, max_length=16, index=True)
    visibility: str = Field(default=Visibility.PUBLIC.value, max_length=16)
    key: str = Field(max_length=64, unique=True, index=True)
    scheduled_start: datetime | None = None
    planned_end: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    peak_viewers: int = 0
    likes: int = 0
    slow_mode_seconds: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class StreamView(SQLModel, table=True):
    """One view started, by WHEP, HLS or the watch page. ``viewer`` identifies the person
    (``user:<id>``, or ``anon:<token>`` for an anonymous browser) for unique counts."""

    __tablename__ = "stream_view"

    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True, ondelete="CASCADE")
    viewer: str = Field(max_length=80, index=True)
    via: str = Field(max_length=8)
    started_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class StreamMinute(SQLModel, table=True):
    """Concurrent viewers per minute, for the dashboards' curves."""

    __tablename__ = "stream_minute"
    __table_args__ = (UniqueConstraint("stream_id", "minute"),)

    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True, ondelete="CASCADE")
    minute: datetime
    viewers: int = 0


class StreamRegistration(SQLModel, table=True):
    """ "Register for this broadcast": a reminder, and the registrations figure."""

    __tablename__ = "stream_registration"
    __table_args__ = (UniqueConstraint("stream_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class ChatMessage(SQLModel, table=True):
    """A chat line or a question (Q&A). Deleted messages are kept for moderation history."""

    __tablename__ = "chat_message"

    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True, ondelete="SET NULL")
    kind: str = Field(default=MessageKind.CHAT.value, max_length=16)
    body: str = Field(max_length=1000)
    votes: int = 0
    answered: bool = False
    created_at: datetime = Field(default_factory=utcnow, index=True)
    deleted_at: datetime | None = None
    deleted_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")


class QuestionVote(SQLModel, table=True):
    __tablename__ = "question_vote"
    __table_args__ = (UniqueConstraint("message_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="chat_message.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class Sanction(SQLModel, table=True):
    """A mute or ban of a user in one stream's chat, until a time or for good."""

    __table_args__ = (UniqueConstraint("stream_id", "user_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=8)
    until: datetime | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class Recording(SQLModel, table=True):
    """One live period's recording (video not re-encoded), offered as the replay."""

    id: int | None = Field(default=None, primary_key=True)
    stream_id: int = Field(foreign_key="stream.id", index=True, ondelete="CASCADE")
    path: str = Field(max_length=500)
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    duration_seconds: float = 0.0
    size_bytes: int = 0


class Room(SQLModel, table=True):
    """A telepresence room (booth meeting, negotiation, signing ceremony): up to a dozen people
    see and hear each other, their media forwarded by the server. Its page URLs carry
    ``host_key`` or ``guest_key`` as their access token; who is in the room is live state (see
    :mod:`streaming.rooms`). ``ended_at`` is set when a host ends it for everyone."""

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    booth_id: int | None = Field(default=None, foreign_key="booth.id", index=True, ondelete="SET NULL")
    owner_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    title: str = Field(max_length=200)
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # {"zh_Hans": {"title": ...}}
    host_key: str = Field(max_length=64, unique=True, index=True)
    guest_key: str = Field(max_length=64, unique=True, index=True)
    # A booth's "meet us now" room: while open, its booth page offers its guest link to everyone.
    # Other rooms (a booked meeting's, a negotiation's) are joined only by whoever was sent a link.
    walk_in: bool = False
    kind: str = Field(default=RoomKind.NEGOTIATION.value, max_length=24)  # a RoomKind
    # Room control (see streaming.room_services.RoomSettings): how many may be in it (None: the
    # kind's default), whether guests wait in a lobby for the host (None: the kind's default), and
    # whether the host locked it (no guest gets in, not even into the lobby).
    capacity: int | None = None
    lobby: bool | None = None
    locked: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class RoomAttendance(SQLModel, table=True):
    """One stay of one person in a room, for its managers (a CSV on the rooms page): when they
    entered (joined, or were let in from the lobby) and when and how they left (a
    :data:`streaming.room_attendance.LEFT_HOW`). ``left_at`` stays empty while they are in, or
    if the server process that held the room stopped dead."""

    __tablename__ = "room_attendance"

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="room.id", index=True, ondelete="CASCADE")
    participant: str = Field(max_length=16)  # their public id in the room
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    name: str = Field(max_length=60)  # as shown on their tile when they left ("Guest 3" unnamed)
    role: str = Field(max_length=8)  # a RoomRole
    joined_at: datetime = Field(default_factory=utcnow)
    left_at: datetime | None = None
    left_how: str = Field(default="", max_length=16)


class RoomOnAir(SQLModel, table=True):
    """A room on air: its people's media feeds the broadcast ``stream_id`` (see
    :mod:`streaming.on_air`). ``feed`` is the participant the host put on air, or ``"auto"``.
    Kept while on air, so that a process starting after a crash ends what nobody feeds any more."""

    __tablename__ = "room_on_air"

    room_id: int = Field(foreign_key="room.id", primary_key=True, ondelete="CASCADE")
    stream_id: int = Field(foreign_key="stream.id", unique=True, ondelete="CASCADE")
    feed: str = Field(default="auto", max_length=16)
    started_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    started_at: datetime = Field(default_factory=utcnow)
