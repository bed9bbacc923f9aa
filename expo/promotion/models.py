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
    # The bureau's own questions on the filing form, stored as the registration form's custom
    # questions are (expo.registration.forms.check_spec); see expo.promotion.filing_questions.
    filing_questions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)


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


class PromotionProject(SQLModel, table=True):
    """A project an investor filed with the expo's bureau, moved along the pipeline by its team
    (``stage`` is a key of :data:`expo.promotion.projects.STAGES`).

    ``version`` grows with every change the bureau makes: a change names the version it was made
    from, so of two organizers moving the same project at once one wins and the other is told.
    """

    __tablename__ = "promotion_project"

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    investor_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    company: str = Field(max_length=200)
    sector: str = Field(max_length=120)
    country: str = Field(max_length=2)  # ISO 3166-1 alpha-2
    amount: int = Field(sa_type=sa.BigInteger)  # whole units of ``currency``
    currency: str = Field(max_length=3)
    land_sqm: int | None = None
    office_sqm: int | None = None
    jobs: int = 0
    timeline: str = Field(default="", max_length=200)
    description: str = Field(default="", sa_type=sa.Text)
    stage: str = Field(default="filed", max_length=16)
    owner_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    due_date: date | None = None
    # The due date its owner was last reminded of: one reminder per due date (expo.promotion.reminders).
    reminded_due_date: date | None = None
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # The cloud-signing ceremony opened for it at the "signing" stage (expo.promotion.project_rooms_signing);
    # its completion moves the project to "signed", and its certificate is the signed record.
    ceremony_id: int | None = Field(default=None, foreign_key="signing_ceremony.id", ondelete="SET NULL")
    # The investor's answers to the bureau's own questions, by question key (check_answers).
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class PromotionProjectFile(SQLModel, table=True):
    """A PDF attached to a project: a stored upload (:mod:`expo.uploads`) under its sender's name."""

    __tablename__ = "promotion_project_file"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="promotion_project.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    filename: str = Field(default="", max_length=200)
    size: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class PromotionProjectComment(SQLModel, table=True):
    """A note of the bureau's team on a project (investors do not see them)."""

    __tablename__ = "promotion_project_comment"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="promotion_project.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)


class ProjectMeeting(SQLModel, table=True):
    """An online meeting the bureau scheduled with a project's investor, in a negotiation room of
    the expo (``room_id``: the team's host link, the investor's guest link). Times are aware UTC,
    entered and shown in the expo's timezone. ``reminder_id`` is the investor's reminder waiting in
    the outbox (withdrawn when the meeting moves or is cancelled); a cancelled meeting keeps its row
    (``cancelled_at``) and its room is ended."""

    __tablename__ = "project_meeting"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="promotion_project.id", index=True, ondelete="CASCADE")
    room_id: int = Field(foreign_key="room.id", ondelete="CASCADE")
    title: str = Field(max_length=200)
    agenda: str = Field(default="", sa_type=sa.Text)
    starts_at: datetime
    minutes: int
    reminder_id: int | None = Field(default=None, foreign_key="outboxmessage.id", ondelete="SET NULL")
    created_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    cancelled_at: datetime | None = None


class ConsultingThread(SQLModel, table=True):
    """An investor's question to the expo's bureau (``category`` is a key of
    :data:`expo.promotion.consulting.CATEGORIES`) and the conversation that follows.

    ``first_answered_at`` is when the team first answered (response times for the dashboards);
    ``last_message_at`` orders the inbox. ``answered`` is ``True`` while the team spoke last.
    """

    __tablename__ = "consulting_thread"

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    investor_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    category: str = Field(max_length=16)
    subject: str = Field(max_length=200)
    answered: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    first_answered_at: datetime | None = None
    last_message_at: datetime = Field(default_factory=utcnow)


class ConsultingMessage(SQLModel, table=True):
    """One message of a consulting thread, from the investor or from the bureau's team."""

    __tablename__ = "consulting_message"

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="consulting_thread.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    from_team: bool = False
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)


class PromotionInvitation(SQLModel, table=True):
    """An invitation letter to one investor and how far it got: sent, opened (the signed link was
    followed), registered (signed up or in through it; ``user_id`` is that account) and filed (that
    account filed a project). Each moment is written once, the first time it happens."""

    __tablename__ = "promotion_invitation"
    __table_args__ = (sa.UniqueConstraint("expo_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=254)
    name: str = Field(max_length=120)
    company: str = Field(default="", max_length=200)
    language: str = Field(default="en", max_length=8)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True, ondelete="SET NULL")
    sent_at: datetime = Field(default_factory=utcnow)
    opened_at: datetime | None = None
    registered_at: datetime | None = None
    filed_at: datetime | None = None


class PromotionDepartment(SQLModel, table=True):
    """A department of an expo's bureau that projects circulate to ("Land planning", "Tax
    bureau"): its name in English with a ``translations`` JSON column, ``{"zh_Hans": {"name": ...}}``.
    """

    __tablename__ = "promotion_department"
    __table_args__ = (sa.UniqueConstraint("expo_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    expo_id: int = Field(foreign_key="expo.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    translations: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow)


class PromotionDepartmentMember(SQLModel, table=True):
    """An account working in a department: it sees the projects circulated to the department (and
    nothing else of the expo's back office), whether or not it is on the expo's team."""

    __tablename__ = "promotion_department_member"

    department_id: int = Field(foreign_key="promotion_department.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class PromotionCirculation(SQLModel, table=True):
    """One step of a project's circulation: the project is with ``department_id`` to do ``note``
    by ``due_date``. ``status`` is a key of :data:`expo.promotion.departments_views.STATUSES`;
    a step handed over names the step it came from (``from_step_id``). ``reminded_due_date`` is the
    due date its members were reminded of (:mod:`expo.promotion.reminders`).

    ``version`` grows with every change of the step: of two people handing the same step over at
    once, one wins and the other is told (409).
    """

    __tablename__ = "promotion_circulation"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="promotion_project.id", index=True, ondelete="CASCADE")
    department_id: int = Field(foreign_key="promotion_department.id", index=True, ondelete="CASCADE")
    from_step_id: int | None = Field(
        default=None, foreign_key="promotion_circulation.id", ondelete="SET NULL"
    )
    note: str = Field(default="", sa_type=sa.Text)
    due_date: date | None = None
    status: str = Field(default="assigned", max_length=16)
    assigned_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    reminded_due_date: date | None = None  # the due date its members were last reminded of


class PromotionCirculationNote(SQLModel, table=True):
    """A comment written on a circulation step, read by the bureau and the project's departments."""

    __tablename__ = "promotion_circulation_note"

    id: int | None = Field(default=None, primary_key=True)
    step_id: int = Field(foreign_key="promotion_circulation.id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow)
