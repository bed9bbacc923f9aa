"""Expo floor tables: expos, their halls and category tree, booths with their staff, and products.

Multilingual text: each text field has a column in the expo's first language (``name``,
``description``, ...; what lists, sorting and fallbacks use) and a ``translations`` JSON object for
the others, ``{"zh_Hans": {"name": "...", "description": "..."}}``. One row per product keeps the
2.76-million-product catalogue at one row each, and :mod:`booths.search` indexes every language.

Prices are integer hundredths of the currency unit (``price_min=1999`` with ``currency="USD"`` is
19.99 USD): exact, comparable in SQL, and the same on SQLite and PostgreSQL, unlike floats.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from expo.db import utcnow
from expo.permissions import BoothRole


class BoothStatus(enum.StrEnum):
    """An exhibitor's application is ``pending`` until an organizer approves or rejects it; only
    approved booths (and their products) are public and searchable."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Hall(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    position: int = 0


class Category(SQLModel, table=True):
    """A node of an expo's product category tree (``parent_id`` is ``None`` at the top)."""

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    parent_id: int | None = Field(default=None, foreign_key="category.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    position: int = 0


class Booth(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("expo_id", "name", name="uq_booth_expo_id_name"),)

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    hall_id: int | None = Field(default=None, foreign_key="hall.id", index=True, ondelete="SET NULL")
    number: str | None = Field(default=None, max_length=32)
    tier: str = Field(default="standard", max_length=16)
    name: str = Field(max_length=200)
    tagline: str = Field(default="", max_length=300)
    description: str = Field(default="", sa_type=sa.Text)
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    country: str | None = Field(default=None, max_length=2, index=True)
    contact_name: str = Field(default="", max_length=120)
    contact_email: str = Field(default="", max_length=254)
    contact_phone: str = Field(default="", max_length=40)
    website: str = Field(default="", max_length=500)
    links: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    logo_path: str | None = Field(default=None, max_length=300)
    banner_path: str | None = Field(default=None, max_length=300)
    status: str = Field(default=BoothStatus.PENDING.value, max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BoothStaff(SQLModel, table=True):
    __tablename__ = "booth_staff"

    booth_id: int = Field(foreign_key="booth.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True, ondelete="CASCADE")
    role: str = Field(default=BoothRole.STAFF.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class Product(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    booth_id: int = Field(foreign_key="booth.id", index=True, ondelete="CASCADE")
    # The booth's expo, repeated so a catalogue can be listed or counted per expo without a join.
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    category_id: int | None = Field(default=None, foreign_key="category.id", index=True, ondelete="SET NULL")
    name: str = Field(max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    price_min: int | None = Field(default=None, sa_type=sa.BigInteger)
    price_max: int | None = Field(default=None, sa_type=sa.BigInteger)
    currency: str | None = Field(default=None, max_length=3)
    moq: int | None = None
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# Media, leads, favourites and booth analytics (migration 0004_leads) ------------------------------------


class BoothMedia(SQLModel, table=True):
    """An upload shown on a booth page (``product_id`` ``None``) or a product page.

    ``name`` is the stored file's name (``<sha256>.<ext>``, see :mod:`expo.uploads`), never the
    uploader's file name, which is kept only as ``title`` for display.
    """

    __tablename__ = "booth_media"

    id: int | None = Field(default=None, primary_key=True)
    booth_id: int = Field(foreign_key="booth.id", index=True, ondelete="CASCADE")
    product_id: int | None = Field(default=None, foreign_key="product.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    name: str = Field(max_length=100)
    thumb_name: str | None = Field(default=None, max_length=100)
    content_type: str = Field(max_length=100)
    size: int = Field(sa_type=sa.BigInteger)
    title: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class LeadKind(enum.StrEnum):
    INQUIRY = "inquiry"
    CARD = "card"


class LeadStatus(enum.StrEnum):
    NEW = "new"
    ANSWERED = "answered"
    CLOSED = "closed"


class Lead(SQLModel, table=True):
    """A visitor's inquiry to a booth, or a business card they left there.

    ``card`` holds only the profile fields the visitor chose to share, copied at the time: the
    booth keeps what it was given even if the visitor edits their profile later.
    """

    id: int | None = Field(default=None, primary_key=True)
    booth_id: int = Field(foreign_key="booth.id", index=True, ondelete="CASCADE")
    product_id: int | None = Field(default=None, foreign_key="product.id", ondelete="SET NULL")
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True, ondelete="SET NULL")
    kind: str = Field(max_length=16)
    message: str = Field(default="", sa_type=sa.Text)
    card: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=LeadStatus.NEW.value, max_length=16, index=True)
    notes: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # When one of the booth's staff first opened it (migration 0015_lead_replies); None: new to them.
    opened_at: datetime | None = None


class LeadReply(SQLModel, table=True):
    """The booth's answer to a lead, written by one of its staff: e-mailed to the visitor and shown
    in the lead's thread on both sides (migration 0015_lead_replies)."""

    __tablename__ = "lead_reply"

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)


class VisitorCard(SQLModel, table=True):
    """The business-card fields a visitor keeps beside their account (name and e-mail are the
    account's own), remembered so the next exchange is prefilled."""

    __tablename__ = "visitor_card"

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    company: str = Field(default="", max_length=200)
    job_title: str = Field(default="", max_length=120)
    phone: str = Field(default="", max_length=40)
    updated_at: datetime = Field(default_factory=utcnow)


class FavouriteKind(enum.StrEnum):
    BOOTH = "booth"
    PRODUCT = "product"


class Favourite(SQLModel, table=True):
    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    kind: str = Field(max_length=16, primary_key=True)
    target_id: int = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class BoothDay(SQLModel, table=True):
    """One booth's figures for one UTC day: page views, distinct visitors, leads received."""

    __tablename__ = "booth_day"

    booth_id: int = Field(foreign_key="booth.id", primary_key=True, ondelete="CASCADE")
    day: date = Field(primary_key=True)
    views: int = 0
    visitors: int = 0
    leads: int = 0


class BoothVisitor(SQLModel, table=True):
    """Who has been counted among a booth's visitors on a day (a user id or a hashed address), so
    each is counted once; kept in the store so the figure is exact across processes and restarts."""

    __tablename__ = "booth_visitor"

    booth_id: int = Field(foreign_key="booth.id", primary_key=True, ondelete="CASCADE")
    day: date = Field(primary_key=True)
    visitor: str = Field(max_length=64, primary_key=True)


# Meetings (migration 0007_meetings) ----------------------------------------------------------------------


# Catalogue imports (migration 0018_catalog_imports) ------------------------------------------------------


class ImportStatus(enum.StrEnum):
    """``checking`` (reading the file), ``writing`` (in one transaction; rows done are counted on
    the bus), then ``done`` or ``failed``."""

    CHECKING = "checking"
    WRITING = "writing"
    DONE = "done"
    FAILED = "failed"


class CatalogImport(SQLModel, table=True):
    """A catalogue file being imported for a booth in the background, so that any server process
    can answer how far it got. ``error`` holds ``{"message", "details": [{"line", "message"}]}``."""

    __tablename__ = "catalog_import"

    id: int | None = Field(default=None, primary_key=True)
    booth_id: int = Field(foreign_key="booth.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    status: str = Field(default=ImportStatus.CHECKING.value, max_length=16)
    rows_total: int | None = None
    products_created: int = 0
    error: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
