"""Leads: visitors' inquiries ("contact exhibitor") and the business cards they leave at booths.

A visitor decides what a booth learns about them: an inquiry carries their name and e-mail (so the
exhibitor can answer) and the message; a business card carries exactly the fields they tick among
name, e-mail, company, job title and phone. Each new lead is e-mailed to the booth's staff. Staff
work through their inbox: a lead counts as new on the exhibitor's home until one of them opens it;
they reply (stored, e-mailed to the visitor and shown on both sides of the thread), move it from
``new`` to ``answered`` or ``closed`` with private notes, and export the inbox as CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import analytics
from booths.models import Booth, Lead, LeadKind, LeadReply, LeadStatus, Product, VisitorCard
from booths.services import booth_role, require_booth_editor
from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid, NotFound
from expo.expos.models import Expo

if TYPE_CHECKING:
    from booths.mail import BoothMailer

CARD_FIELDS = ("name", "email", "company", "job_title", "phone")
MAX_MESSAGE = 5000
MAX_NOTES = 5000
MAX_REPLY = 5000
INBOX_LIMIT = 500
CSV_COLUMNS = ("id", "created_at", "kind", "status", "product", *CARD_FIELDS, "message", "notes")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def visitor_card(session: AsyncSession, user: User) -> VisitorCard:
    """The card fields the user keeps beside their account (empty when never filled in)."""
    assert user.id is not None
    return await session.get(VisitorCard, user.id) or VisitorCard(user_id=user.id)


def _text(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if len(value) > limit:
        raise Invalid(N_("A field is too long."), code="lead.too_long", field=what)
    # Plain text: control characters other than line breaks and tabs have no place in it.
    return "".join(c for c in value if c in "\n\t" or c >= " ")


async def _product_of(session: AsyncSession, booth: Booth, product_id: int | None) -> int | None:
    if product_id is None:
        return None
    product = await session.get(Product, product_id)
    if product is None or product.booth_id != booth.id:
        raise NotFound(N_("This booth has no such product."), code="product.unknown")
    return product_id


async def _add_lead(
    session: AsyncSession, booth: Booth, lead: Lead, actor: User, mailer: BoothMailer | None
) -> Lead:
    session.add(lead)
    await session.flush()
    await analytics.count_lead(session, lead.booth_id)
    audit.record(
        session, f"lead.{lead.kind}", actor_id=actor.id, target=f"booth:{lead.booth_id}", lead=lead.id
    )
    if mailer is not None:
        expo = await session.get(Expo, booth.expo_id)
        assert expo is not None
        await mailer.new_lead(session, expo, booth, lead)
    await session.commit()
    return lead


async def send_inquiry(
    session: AsyncSession,
    booth: Booth,
    visitor: User,
    message: str,
    product_id: int | None = None,
    mailer: BoothMailer | None = None,
) -> Lead:
    """A question to the booth (about one of its products, or in general); with a ``mailer``, the
    booth's staff are told by e-mail in the same transaction."""
    assert booth.id is not None
    message = _text(message, MAX_MESSAGE, "message")
    if not message:
        raise Invalid(N_("Write a message to the exhibitor."), code="lead.empty_message")
    lead = Lead(
        booth_id=booth.id,
        product_id=await _product_of(session, booth, product_id),
        user_id=visitor.id,
        kind=LeadKind.INQUIRY.value,
        message=message,
        card={"name": visitor.name, "email": visitor.email},
    )
    return await _add_lead(session, booth, lead, visitor, mailer)


async def exchange_card(
    session: AsyncSession,
    booth: Booth,
    visitor: User,
    share: Iterable[str],
    *,
    company: str = "",
    job_title: str = "",
    phone: str = "",
    mailer: BoothMailer | None = None,
) -> Lead:
    """Leave a business card with the fields in ``share``; the card fields are remembered. With a
    ``mailer``, the booth's staff are told by e-mail."""
    assert booth.id is not None
    chosen = set(share)
    if chosen - set(CARD_FIELDS):
        raise Invalid(N_("Choose fields from the list."), code="lead.unknown_field")
    card = await visitor_card(session, visitor)
    card.company = _text(company, 200, "company")
    card.job_title = _text(job_title, 120, "job_title")
    card.phone = _text(phone, 40, "phone")
    card.updated_at = utcnow()
    session.add(card)
    values = {
        "name": visitor.name,
        "email": visitor.email,
        "company": card.company,
        "job_title": card.job_title,
        "phone": card.phone,
    }
    shared = {name: values[name] for name in CARD_FIELDS if name in chosen and values[name]}
    if not shared:
        raise Invalid(N_("Choose at least one filled-in field to share."), code="lead.nothing_shared")
    lead = Lead(booth_id=booth.id, user_id=visitor.id, kind=LeadKind.CARD.value, card=shared)
    return await _add_lead(session, booth, lead, visitor, mailer)


async def list_leads(
    session: AsyncSession, booth: Booth, actor: User, status: LeadStatus | None = None
) -> list[Lead]:
    """The booth's leads, newest first (booth staff and organizers only)."""
    await require_booth_editor(session, booth, actor)
    query = select(Lead).where(Lead.booth_id == booth.id)
    if status is not None:
        query = query.where(Lead.status == status.value)
    return list((await session.exec(query.order_by(col(Lead.id).desc()).limit(INBOX_LIMIT))).all())


async def get_lead(session: AsyncSession, booth: Booth, lead_id: int, actor: User) -> Lead:
    await require_booth_editor(session, booth, actor)
    lead = await session.get(Lead, lead_id)
    if lead is None or lead.booth_id != booth.id:
        raise NotFound(N_("This booth has no such lead."), code="lead.unknown")
    return lead


async def update_lead(
    session: AsyncSession, booth: Booth, lead: Lead, actor: User, status: str, notes: str
) -> Lead:
    """Set a lead's status and notes (booth staff and organizers only)."""
    await require_booth_editor(session, booth, actor)
    try:
        lead.status = LeadStatus(status).value
    except ValueError:
        raise Invalid(N_("Choose a status from the list."), code="lead.invalid_status") from None
    lead.notes = _text(notes, MAX_NOTES, "notes")
    lead.updated_at = utcnow()
    if lead.opened_at is None and await booth_role(session, booth.id or 0, actor) is not None:
        lead.opened_at = lead.updated_at
    session.add(lead)
    audit.record(session, "lead.updated", actor_id=actor.id, target=f"lead:{lead.id}", status=lead.status)
    await session.commit()
    return lead


async def open_lead(session: AsyncSession, booth: Booth, lead: Lead, actor: User) -> None:
    """Mark the lead read when one of the booth's own staff opens it (an organizer looking in
    leaves it new for them). Conditional, so two staff opening it at once both succeed."""
    assert booth.id is not None and lead.id is not None
    if lead.opened_at is not None or await booth_role(session, booth.id, actor) is None:
        return
    now = utcnow()
    await session.exec(
        update(Lead).where(col(Lead.id) == lead.id, col(Lead.opened_at).is_(None)).values(opened_at=now)
    )
    await session.commit()
    await session.refresh(lead)


async def reply(
    session: AsyncSession, booth: Booth, lead: Lead, actor: User, body: str, mailer: BoothMailer
) -> LeadReply:
    """The booth answers a lead (booth staff and organizers): the reply is stored, e-mailed to the
    visitor in their language, and a new lead becomes answered, all in one transaction."""
    await require_booth_editor(session, booth, actor)
    body = _text(body, MAX_REPLY, "body")
    if not body:
        raise Invalid(N_("Write a reply to the visitor."), code="lead.empty_reply", field="body")
    visitor = await session.get(User, lead.user_id) if lead.user_id is not None else None
    if visitor is None or not visitor.is_active:
        raise Conflict(
            N_("This visitor's account was closed: they cannot get a reply."), code="lead.no_visitor"
        )
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and lead.id is not None
    answer = LeadReply(lead_id=lead.id, author_id=actor.id, body=body)
    session.add(answer)
    now = utcnow()
    if lead.status == LeadStatus.NEW.value:
        lead.status = LeadStatus.ANSWERED.value
    if lead.opened_at is None and await booth_role(session, booth.id or 0, actor) is not None:
        lead.opened_at = now
    lead.updated_at = now
    session.add(lead)
    await session.flush()
    await mailer.lead_replied(session, expo, booth, visitor, body)
    audit.record(session, "lead.replied", actor_id=actor.id, target=f"lead:{lead.id}", reply=answer.id)
    await session.commit()
    return answer


Thread = list[tuple[LeadReply, User | None]]


async def replies_of(session: AsyncSession, lead_ids: Iterable[int]) -> dict[int, Thread]:
    """The replies of each lead, oldest first, with their authors (``None`` once deleted)."""
    ids = list(set(lead_ids))
    if not ids:
        return {}
    query = (
        select(LeadReply, User)
        .join(User, col(User.id) == col(LeadReply.author_id), isouter=True)
        .where(col(LeadReply.lead_id).in_(ids))
        .order_by(col(LeadReply.id))
    )
    out: dict[int, Thread] = {}
    for answer, author in (await session.exec(query)).all():
        out.setdefault(answer.lead_id, []).append((answer, author))
    return out


async def new_counts(session: AsyncSession, booth_ids: Iterable[int]) -> dict[int, int]:
    """How many leads of each booth none of its staff has opened yet (booths without any left out)."""
    ids = list(set(booth_ids))
    if not ids:
        return {}
    query = (
        select(Lead.booth_id, func.count())
        .where(col(Lead.booth_id).in_(ids), col(Lead.opened_at).is_(None))
        .group_by(col(Lead.booth_id))
    )
    return {booth_id: count for booth_id, count in (await session.exec(query)).all()}


async def my_threads(session: AsyncSession, user: User) -> list[tuple[Lead, Booth, Expo, Thread]]:
    """The leads ``user`` left at booths, newest first, each with the booth's replies."""
    query = (
        select(Lead, Booth, Expo)
        .join(Booth, col(Booth.id) == col(Lead.booth_id))
        .join(Expo, col(Expo.id) == col(Booth.expo_id))
        .where(Lead.user_id == user.id)
        .order_by(col(Lead.id).desc())
        .limit(INBOX_LIMIT)
    )
    rows = list((await session.exec(query)).all())
    threads = await replies_of(session, [lead.id for lead, _, _ in rows if lead.id is not None])
    return [(lead, booth, expo, threads.get(lead.id or 0, [])) for lead, booth, expo in rows]


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(leads: Sequence[Lead], product_names: dict[int, str]) -> str:
    """The leads as CSV (a header row, one row per lead), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for lead in leads:
        row: list[object] = [
            lead.id,
            lead.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            lead.kind,
            lead.status,
            product_names.get(lead.product_id, "") if lead.product_id else "",
            *(lead.card.get(name, "") for name in CARD_FIELDS),
            lead.message,
            lead.notes,
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


async def product_names(session: AsyncSession, leads: Sequence[Lead]) -> dict[int, str]:
    ids = {lead.product_id for lead in leads if lead.product_id}
    if not ids:
        return {}
    found = (await session.exec(select(Product.id, Product.name).where(col(Product.id).in_(ids)))).all()
    return {pid: name for pid, name in found if pid is not None}
