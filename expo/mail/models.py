"""The outbox's table: every e-mail the platform writes, kept until (and after) it is delivered."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from expo.db import utcnow


class OutboxStatus(enum.StrEnum):
    """``queued`` until delivered (``sent``) or given up on after the last retry (``failed``)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    """One e-mail to send. Written in the transaction of the change it reports, delivered later."""

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=sa.Text)
    status: str = Field(default=OutboxStatus.QUEUED.value, max_length=16, index=True)
    attempts: int = 0
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: datetime | None = None
    # A sender claims a message by moving this forward (its lease); retries wait for it too.
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    expo_id: int | None = Field(default=None, foreign_key="expo.id", index=True, ondelete="CASCADE")
    # One file sent along (a meeting's .ics invitation); empty name: none.
    attachment_name: str = Field(default="", max_length=120)
    attachment_type: str = Field(default="", max_length=100)
    attachment: str = Field(default="", sa_type=sa.Text)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True, ondelete="SET NULL")
