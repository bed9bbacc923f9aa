"""Account tables.

A user has one role. Login sessions (cookie) and API tokens (bearer) are both rows of
``AuthToken``: a random secret handed to the client once, stored only as its SHA-256, revocable.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from expo.db import utcnow


class Role(enum.StrEnum):
    """An account's kind (what it may do in an expo is its team role there: :mod:`expo.permissions`)."""

    ADMIN = "admin"
    ORGANIZER = "organizer"
    EXHIBITOR = "exhibitor"
    VISITOR = "visitor"


class TokenKind(enum.StrEnum):
    SESSION = "session"
    API = "api"


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=120)
    role: str = Field(max_length=16, index=True)
    password_hash: str = Field(max_length=255)
    locale: str | None = Field(default=None, max_length=16)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class AuthToken(SQLModel, table=True):
    __tablename__ = "auth_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class PasswordReset(SQLModel, table=True):
    """A "forgot password" link: a random token e-mailed to the account's address, of which only
    the SHA-256 is stored. It works once, for :data:`expo.accounts.recovery.RESET_LIFETIME`."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
