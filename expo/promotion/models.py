"""Promotion tables: one site per expo (the letter and the film) and the sections of its modules.

Text is stored in the expo's main language (English) with a ``translations`` JSON column,
``{"zh_Hans": {"heading": ...}}``, as every other piece of organizer content
(see :func:`expo.i18n.localized`); an empty translation falls back to the English text.
Files are stored uploads (:mod:`expo.uploads`), referred to by their content-hash names.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from expo.db import utcnow


class PromotionSite(SQLModel, table=True):
    """An expo's promotion site: the letter to investors and the promotional film.

    ``film_name`` and ``poster_name`` are stored uploads; the WebVTT subtitles are small text
    documents kept here, checked on upload and served as ``<track>`` files.
    """

    __tablename__ = "promotion_site"

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", unique=True, ondelete="CASCADE")
    letter_title: str = Field(default="", max_length=200)
    letter_body: str = Field(default="", sa_type=sa.Text)
    letter_signatory: str = Field(default="", max_length=200)
    letter_date: date | None = None
    # {"zh_Hans": {"letter_title": ..., "letter_body": ..., "letter_signatory": ...}}
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    film_name: str | None = Field(default=None, max_length=100)
    poster_name: str | None = Field(default=None, max_length=100)
    subtitles_en: str = Field(default="", sa_type=sa.Text)
    subtitles_zh: str = Field(default="", sa_type=sa.Text)
    updated_at: datetime = Field(default_factory=utcnow)


class PromotionSection(SQLModel, table=True):
    """One section of a module page (``module`` is a key of :data:`expo.promotion.services.MODULES`):
    a heading and text, optionally a figure ("120 billion" / "GDP, yuan"), a picture and a PDF."""

    __tablename__ = "promotion_section"

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    module: str = Field(max_length=32)
    position: int = 0
    heading: str = Field(max_length=200)
    body: str = Field(default="", sa_type=sa.Text)
    figure_value: str = Field(default="", max_length=40)
    figure_label: str = Field(default="", max_length=120)
    # {"zh_Hans": {"heading": ..., "body": ..., "figure_label": ..., "attachment_title": ...}}
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    picture_name: str | None = Field(default=None, max_length=100)
    attachment_name: str | None = Field(default=None, max_length=100)
    attachment_title: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
