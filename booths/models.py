"""Expo floor tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from expo.db import utcnow


class Expo(SQLModel, table=True):
    """One event: the Canton Fair's 138th session, a city's investment week."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="")
    timezone: str = Field(default="UTC", max_length=64)
    languages: str = Field(default="en,zh_Hans", max_length=64)
    starts_on: date | None = None
    ends_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
