"""The tenant's tables: an expo, the members of its team and the invitations to join it.

An expo is run by its team, modelled on pretix's organizer teams: each member holds one
:class:`~expo.permissions.TeamRole`, a named set of permissions. Whoever creates an expo owns it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from expo.db import utcnow


class Expo(SQLModel, table=True):
    """One event: the Canton Fair's 138th session, a city's investment week."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="")
    # {"zh_Hans": {"title": ..., "description": ...}}: the text in the expo's other languages.
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    timezone: str = Field(default="UTC", max_length=64)
    languages: str = Field(default="en,zh_Hans", max_length=64)
    starts_on: date | None = None
    ends_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    # Stored media path relative to the uploads directory, set by the upload service only.
    banner_path: str | None = Field(default=None, max_length=300)
    applications_open: bool = True

    @property
    def zone(self) -> ZoneInfo:
        """The expo's timezone; UTC when this machine does not know its name."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @property
    def language_list(self) -> list[str]:
        return [lang for lang in self.languages.split(",") if lang]


class ExpoMember(SQLModel, table=True):
    """A user on an expo's team, with one team role (``owner``, ``organizer``, ``checkin``, ...)."""

    __tablename__ = "expo_member"

    expo_id: int = Field(foreign_key="expo.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True, ondelete="CASCADE")
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class TeamInvite(SQLModel, table=True):
    """An invitation by e-mail to join an expo's team. The accept link carries a random token of
    which only the SHA-256 is stored; accepting or withdrawing it ends it."""

    __tablename__ = "team_invite"
    __table_args__ = (sa.UniqueConstraint("expo_id", "email", name="uq_team_invite_expo_id_email"),)

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=254)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    invited_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
