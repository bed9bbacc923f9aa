"""Registration tables: an expo's form, each visitor's registration, and the outgoing mail outbox.

A registration is ``pending`` until an organizer approves it (or ``approved`` at once when the
form needs no approval); a visitor may cancel, an organizer may reject. ``badge_code`` is a random
secret printed on the badge's QR code (signed, see :mod:`expo.registration.badges`), so staff can
check the visitor in by scanning it. ``short_code`` is a second, short random secret (eight
characters of an alphabet without look-alikes, shown grouped as ``K7F3-Q9XA``) that staff can type.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from expo.db import utcnow

# No 0/O, 1/I: a code read aloud or off a crumpled badge is typed right. 32 letters, 40 random bits.
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SHORT_CODE_LENGTH = 8


def new_short_code() -> str:
    """A fresh random short code (stored without its dash)."""
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(SHORT_CODE_LENGTH))


class RegistrationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class RegistrationForm(SQLModel, table=True):
    """What an expo asks its visitors, and when; one row per expo (absent: defaults, open)."""

    expo_id: int = Field(foreign_key="expo.id", primary_key=True, ondelete="CASCADE")
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    approval_required: bool = False
    consent_text: str = Field(default="", sa_type=sa.Text)
    # {"zh_Hans": {"consent_text": ...}}; questions carry their own (see expo.registration.forms).
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # Built-in questions ({"key": "company", "mode": "required"|"optional"|"off"}) and custom ones
    # ({"key", "label", "kind", "required", "options"}), in the order the visitor sees them.
    fields: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    updated_at: datetime = Field(default_factory=utcnow)


class Registration(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("expo_id", "user_id", name="uq_registration_expo_id_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    status: str = Field(default=RegistrationStatus.PENDING.value, max_length=16, index=True)
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    consent_at: datetime | None = None
    badge_code: str = Field(max_length=64, unique=True)
    short_code: str = Field(default_factory=new_short_code, max_length=SHORT_CODE_LENGTH, unique=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    decided_at: datetime | None = None
    decided_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    checked_in_at: datetime | None = Field(default=None, index=True)
    checked_in_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
