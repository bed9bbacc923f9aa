"""Registration rules: the form an expo's organizers set, visitors registering and cancelling,
approvals, and checking visitors in with their badge.

Each writing function checks first, then changes the registration, queues its e-mail in the
outbox and writes the audit record in one transaction. Status changes are conditional updates
(``... WHERE status IN (...)``): when an organizer approves while the visitor cancels, one of the
two wins and the other gets a :class:`Conflict`, never a silently overwritten decision.

Who may do what is :mod:`expo.permissions`' answer, asked through
:func:`require_expo_permission`: members of the expo's team with
:attr:`~expo.permissions.Perm.MANAGE_REGISTRATION` manage its form and registrations, those with
:attr:`~expo.permissions.Perm.CHECK_IN` (check-in staff too, whatever their account type) check
visitors in. Organizers of other expos do neither.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound
from expo.expos.models import Expo
from expo.permissions import Perm, require_permission, standing
from expo.registration import badges, forms, mail
from expo.registration.models import Registration, RegistrationForm, RegistrationStatus, new_short_code

PAGE_SIZE = 50
Status = RegistrationStatus


async def holds(session: AsyncSession, expo: Expo, user: User | None, perm: Perm) -> bool:
    """Whether ``user`` holds ``perm`` in ``expo`` (what pages offer them)."""
    assert expo.id is not None
    return (await standing(session, user, expo.id)).has(perm)


async def require_expo_permission(session: AsyncSession, expo: Expo, user: User, perm: Perm) -> None:
    """``user`` holds ``perm`` in ``expo``, or :class:`Forbidden` (``registration.not_organizer``)."""
    assert expo.id is not None
    message = N_("Only this expo's organizers may do this.")
    await require_permission(session, user, expo.id, perm, message, "registration.not_organizer")


# The form ------------------------------------------------------------------------------------------------


async def get_form(session: AsyncSession, expo: Expo) -> RegistrationForm:
    """The expo's form; an expo whose organizers never set one is open, with the default questions."""
    assert expo.id is not None
    form = await session.get(RegistrationForm, expo.id)
    if form is None:
        form = RegistrationForm(expo_id=expo.id, fields=[dict(f) for f in forms.DEFAULT_FIELDS])
    return form


async def save_form(session: AsyncSession, expo: Expo, spec: forms.FormSpec, actor: User) -> RegistrationForm:
    await require_expo_permission(session, expo, actor, Perm.MANAGE_REGISTRATION)
    stored = forms.check_spec(spec)
    form = await get_form(session, expo)
    form.opens_at, form.closes_at = spec.opens_at, spec.closes_at
    form.approval_required = spec.approval_required
    form.consent_text = spec.consent_text.strip()
    form.translations = {
        lang: {"consent_text": text.consent_text.strip()}
        for lang, text in spec.translations.items()
        if text.consent_text.strip() and lang in expo.language_list
    }
    form.fields = stored
    form.updated_at = utcnow()
    session.add(form)
    audit.record(
        session, "registration.form_saved", actor_id=actor.id, target=f"expo:{expo.id}", questions=len(stored)
    )
    await session.commit()
    return form


WindowState = Literal["open", "not_yet", "closed"]


def window_state(form: RegistrationForm, now: datetime) -> WindowState:
    """``"open"``, ``"not_yet"`` or ``"closed"``."""
    if form.opens_at is not None and now < form.opens_at:
        return "not_yet"
    if form.closes_at is not None and now >= form.closes_at:
        return "closed"
    return "open"


# Visitors ------------------------------------------------------------------------------------------------


async def find_registration(session: AsyncSession, expo: Expo, user: User) -> Registration | None:
    query = select(Registration).where(Registration.expo_id == expo.id, Registration.user_id == user.id)
    return (await session.exec(query)).first()


async def register(
    session: AsyncSession,
    expo: Expo,
    user: User,
    raw_answers: Mapping[str, str | Sequence[str]],
    *,
    consent: bool,
    mailer: mail.Mailer | None,
) -> Registration:
    """Register ``user`` for ``expo`` (approved at once unless the form asks for approval) and
    queue their confirmation (``mailer`` ``None`` sends none: the demo's seeded attendees).

    403 ``registration.closed`` outside the form's dates, 409 ``registration.exists`` for a second
    registration (a cancelled one may register again), 422 for answers the form refuses.
    """
    assert expo.id is not None and user.id is not None
    form = await get_form(session, expo)
    state = window_state(form, utcnow())
    if state == "not_yet":
        raise Forbidden(N_("Registration for this expo has not opened yet."), code="registration.not_open")
    if state == "closed":
        raise Forbidden(N_("Registration for this expo is closed."), code="registration.closed")
    consent_missing = bool(form.consent_text) and not consent
    consent_error = {"field": "consent", "message": N_("Agree to the privacy terms to register.")}
    try:
        answers = forms.check_answers(form.fields, raw_answers)
    except Invalid as exc:
        if consent_missing:  # one answer lists every problem, the consent box among them
            exc.extra["details"] = [*exc.extra["details"], consent_error]
        raise
    if consent_missing:
        raise Invalid(consent_error["message"], code="registration.consent_required", details=[consent_error])
    registration = await find_registration(session, expo, user)
    if registration is not None and registration.status != Status.CANCELLED.value:
        raise Conflict(N_("You are registered for this expo already."), code="registration.exists")
    now = utcnow()
    status = Status.PENDING if form.approval_required else Status.APPROVED
    if registration is None:
        registration = Registration(expo_id=expo.id, user_id=user.id, badge_code="")
    registration.status = status.value
    registration.answers = answers
    registration.consent_at = now if form.consent_text else None
    # A new code each time: a badge printed before a cancellation no longer checks anyone in.
    registration.badge_code = secrets.token_urlsafe(24)
    registration.short_code = new_short_code()
    registration.created_at = now
    registration.decided_at = now if status is Status.APPROVED else None
    registration.decided_by = None
    registration.checked_in_at = registration.checked_in_by = None
    session.add(registration)
    try:
        await session.flush()
    except IntegrityError:  # the same visitor registering twice at once: the other request won
        await session.rollback()
        raise Conflict(N_("You are registered for this expo already."), code="registration.exists") from None
    if mailer is not None:
        await mailer.registered(session, expo, user, registration)
    audit.record(
        session, "registration.created", actor_id=user.id, target=f"expo:{expo.id}", status=status.value
    )
    await session.commit()
    return registration


async def _transition(
    session: AsyncSession, registration: Registration, allowed: Sequence[Status], changes: dict[str, object]
) -> bool:
    """Apply ``changes`` if the stored status is still one of ``allowed``; False when it was not."""
    result = await session.exec(
        update(Registration)
        .where(
            col(Registration.id) == registration.id, col(Registration.status).in_([s.value for s in allowed])
        )
        .values(**changes)
    )
    if result.rowcount != 1:
        return False
    await session.refresh(registration)
    return True


async def cancel(
    session: AsyncSession, registration: Registration, user: User, mailer: mail.Mailer
) -> Registration:
    """The visitor withdraws their own registration (pending or approved)."""
    if registration.user_id != user.id:
        raise NotFound(N_("You have no registration for this expo."), code="registration.unknown")
    changed = await _transition(
        session, registration, (Status.PENDING, Status.APPROVED), {"status": Status.CANCELLED.value}
    )
    if not changed:
        await session.rollback()
        raise Conflict(N_("This registration cannot be cancelled now."), code="registration.not_cancellable")
    expo = await session.get(Expo, registration.expo_id)
    assert expo is not None
    await mailer.cancelled(session, expo, user, registration)
    audit.record(
        session, "registration.cancelled", actor_id=user.id, target=f"registration:{registration.id}"
    )
    await session.commit()
    return registration


async def decide(
    session: AsyncSession,
    expo: Expo,
    registration_id: int,
    approve: bool,
    actor: User,
    mailer: mail.Mailer,
) -> Registration:
    """An organizer approves or rejects a registration (and may change their mind, until it is
    cancelled); the visitor is told by e-mail."""
    await require_expo_permission(session, expo, actor, Perm.MANAGE_REGISTRATION)
    registration = await get_registration(session, expo, registration_id)
    target = Status.APPROVED if approve else Status.REJECTED
    allowed = (Status.PENDING, Status.REJECTED) if approve else (Status.PENDING, Status.APPROVED)
    if registration.status == target.value:
        return registration  # deciding twice the same way changes nothing and sends nothing
    changed = await _transition(
        session,
        registration,
        allowed,
        {"status": target.value, "decided_at": utcnow(), "decided_by": actor.id},
    )
    if not changed:
        await session.rollback()
        raise Conflict(
            N_("The visitor cancelled this registration; it cannot be decided."),
            code="registration.cancelled",
        )
    visitor = await session.get(User, registration.user_id)
    assert visitor is not None
    await mailer.decided(session, expo, visitor, registration)
    audit.record(
        session, f"registration.{target.value}", actor_id=actor.id, target=f"registration:{registration.id}"
    )
    await session.commit()
    return registration


# Organizers ----------------------------------------------------------------------------------------------


async def get_registration(session: AsyncSession, expo: Expo, registration_id: int) -> Registration:
    registration = await session.get(Registration, registration_id)
    if registration is None or registration.expo_id != expo.id:
        raise NotFound(N_("This expo has no such registration."), code="registration.unknown")
    return registration


@dataclass
class RegistrationPage:
    total: int
    rows: list[tuple[Registration, User]]
    counts: dict[str, int]


async def list_registrations(
    session: AsyncSession,
    expo: Expo,
    actor: User,
    *,
    status: Status | None = None,
    q: str = "",
    page: int = 1,
    limit: int | None = PAGE_SIZE,
) -> RegistrationPage:
    """Registrations newest first with their visitors, filtered by status and a name/e-mail search;
    ``counts`` are per status over the whole expo."""
    await require_expo_permission(session, expo, actor, Perm.MANAGE_REGISTRATION)
    query = (
        select(Registration, User)
        .join(User, col(User.id) == col(Registration.user_id))
        .where(Registration.expo_id == expo.id)
    )
    if status is not None:
        query = query.where(Registration.status == status.value)
    if q.strip():
        pattern = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(User.name).like(pattern), func.lower(User.email).like(pattern)))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    ordered = query.order_by(col(Registration.id).desc())
    if limit is not None:
        ordered = ordered.offset((page - 1) * limit).limit(limit)
    rows = [(r, u) for r, u in (await session.exec(ordered)).all()]
    counted = await session.exec(
        select(Registration.status, func.count())
        .where(Registration.expo_id == expo.id)
        .group_by(Registration.status)
    )
    counts = {s.value: 0 for s in Status} | {name: int(n) for name, n in counted.all()}
    return RegistrationPage(total=int(total), rows=rows, counts=counts)


# Check-in ------------------------------------------------------------------------------------------------


@dataclass
class CheckIn:
    """A check-in's answer: who, and whether they were in already (``by``: who checked them in
    first, ``None`` when that account is gone)."""

    registration: Registration
    visitor: User
    already: bool
    by: User | None


async def _badge_holder(session: AsyncSession, expo: Expo, payload: str, secret: str) -> Registration:
    """The registration a typed short code or a scanned (or typed) signed code names."""
    short = badges.read_short_code(payload)
    if short is not None:
        found = await session.exec(
            select(Registration).where(Registration.expo_id == expo.id, Registration.short_code == short)
        )
        registration = found.first()
        if registration is None:
            raise NotFound(N_("No registration of this expo has this code."), code="badge.unknown_code")
        return registration
    claim = badges.read_payload(secret, payload)
    registration = await session.get(Registration, claim.registration_id)
    if registration is None or not secrets.compare_digest(registration.badge_code, claim.badge_code):
        raise NotFound(N_("This badge is no longer valid."), code="badge.unknown")
    if registration.expo_id != expo.id:
        raise Conflict(N_("This badge belongs to another expo."), code="badge.wrong_expo")
    return registration


async def check_in(session: AsyncSession, expo: Expo, payload: str, secret: str, actor: User) -> CheckIn:
    """Check in the visitor whose badge staff scanned or typed: the signed code of the QR code or
    the short code printed under it.

    422 ``badge.invalid`` for a forged or altered code; 404 ``badge.unknown_code`` for a short code
    of no registration and ``badge.unknown`` for a signed code that names none any more (cancelled
    and made again); 409 ``badge.wrong_expo`` for a badge of
    another expo and ``badge.not_approved`` for a registration that is not approved.
    Checking in twice is not an error: the answer says since when the visitor is in, and by whom.
    """
    await require_expo_permission(session, expo, actor, Perm.CHECK_IN)
    registration = await _badge_holder(session, expo, payload, secret)
    return await _check_in(session, registration, actor)


async def check_in_registration(
    session: AsyncSession, expo: Expo, registration_id: int, actor: User
) -> CheckIn:
    """Check in a registration that staff found by name at the desk (same answers as
    :func:`check_in`)."""
    await require_expo_permission(session, expo, actor, Perm.CHECK_IN)
    return await _check_in(session, await get_registration(session, expo, registration_id), actor)


async def _check_in(session: AsyncSession, registration: Registration, actor: User) -> CheckIn:
    if registration.status != Status.APPROVED.value:
        raise Conflict(N_("This registration is not approved."), code="badge.not_approved")
    visitor = await session.get(User, registration.user_id)
    assert visitor is not None
    # Conditional: two desks scanning the same badge at once check it in once.
    result = await session.exec(
        update(Registration)
        .where(col(Registration.id) == registration.id, col(Registration.checked_in_at).is_(None))
        .values(checked_in_at=utcnow(), checked_in_by=actor.id)
    )
    already = result.rowcount != 1
    if not already:
        audit.record(
            session, "registration.checked_in", actor_id=actor.id, target=f"registration:{registration.id}"
        )
    await session.commit()
    await session.refresh(registration)
    by = await session.get(User, registration.checked_in_by) if registration.checked_in_by else None
    return CheckIn(registration=registration, visitor=visitor, already=already, by=by)


DESK_RESULTS = 20


@dataclass
class DeskRow:
    registration: Registration
    visitor: User
    by: User | None


async def desk_search(session: AsyncSession, expo: Expo, actor: User, q: str) -> list[DeskRow]:
    """The expo's registrations whose visitor's name, e-mail or company contains ``q`` (2 letters
    or more; fewer finds nothing), best first: approved before the others, then by name."""
    await require_expo_permission(session, expo, actor, Perm.CHECK_IN)
    text = q.strip().lower()
    if len(text) < 2:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    company = func.lower(col(Registration.answers)["company"].as_string())
    query = (
        select(Registration, User)
        .join(User, col(User.id) == col(Registration.user_id))
        .where(
            Registration.expo_id == expo.id,
            or_(
                func.lower(User.name).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
                company.like(pattern, escape="\\"),
            ),
        )
        .order_by(
            (col(Registration.status) != Status.APPROVED.value), func.lower(User.name), col(Registration.id)
        )
        .limit(DESK_RESULTS)
    )
    rows = (await session.exec(query)).all()
    staff_ids = {r.checked_in_by for r, _ in rows if r.checked_in_by is not None}
    staff = {}
    if staff_ids:
        staff = {u.id: u for u in (await session.exec(select(User).where(col(User.id).in_(staff_ids)))).all()}
    return [DeskRow(r, u, staff.get(r.checked_in_by)) for r, u in rows]
