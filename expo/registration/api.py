"""Registration API: the form, a visitor's own registration, the organizers' list, decisions and
CSV export, and check-in for scanner apps.

Thin handlers: :mod:`expo.registration.services` decides who may do what (401 signed out, 403 not
this expo's organizer, 404 unknown, 409 duplicate or state clash, 422 bad answers or forged badge).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from anyio import to_thread
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from expo import events
from expo.accounts.models import User
from expo.auth import platform
from expo.db import utcnow
from expo.errors import N_, NotFound, UnsupportedMediaType
from expo.expos.services import get_expo
from expo.http.api import Endpoint, Schema, path_int
from expo.http.bodies import media_type, read_body
from expo.permissions import Perm
from expo.ratelimit import RateLimiter
from expo.registration import badges, exports, forms, scan, services
from expo.registration.mail import Mailer
from expo.registration.models import Registration, RegistrationForm, RegistrationStatus
from expo.registration.services import CheckIn

TAGS = ["registration"]


class QuestionOut(Schema):
    key: str
    label: str
    kind: str
    required: bool
    options: list[str]
    translations: dict[str, forms.QuestionText] = Field(
        default_factory=dict, description="The label and options in the expo's other languages."
    )


class FormOut(Schema):
    opens_at: datetime | None
    closes_at: datetime | None
    state: Literal["open", "not_yet", "closed"]
    approval_required: bool
    consent_text: str
    fields: list[QuestionOut] = Field(description="In the order the visitor sees them.")

    @classmethod
    def of(cls, form: RegistrationForm) -> FormOut:
        return cls(
            opens_at=form.opens_at,
            closes_at=form.closes_at,
            state=services.window_state(form, utcnow()),
            approval_required=form.approval_required,
            consent_text=form.consent_text,
            fields=[QuestionOut(**{**q, "label": forms.label_of(q)}) for q in form.fields],
        )


class RegisterIn(Schema):
    answers: dict[str, str | list[str] | bool] = Field(
        default_factory=dict, max_length=forms.MAX_QUESTIONS * 2
    )
    consent: bool = False


class RegistrationOut(Schema):
    id: int
    expo_id: int
    user_id: int
    status: str
    answers: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None
    checked_in_at: datetime | None

    @classmethod
    def of(cls, registration: Registration) -> RegistrationOut:
        return cls.model_validate(
            registration.model_dump(
                include={
                    "id",
                    "expo_id",
                    "user_id",
                    "status",
                    "answers",
                    "created_at",
                    "decided_at",
                    "checked_in_at",
                }
            )
        )


class MyRegistrationOut(RegistrationOut):
    badge: str | None = Field(
        description="The signed badge code (approved registrations): the QR code's text."
    )
    badge_url: str | None


class RegistrationRow(RegistrationOut):
    name: str
    email: str


class RegistrationList(Schema):
    total: int
    counts: dict[str, int] = Field(description="Registrations of the expo per status.")
    items: list[RegistrationRow]


class ListQuery(Schema):
    status: Literal["pending", "approved", "rejected", "cancelled"] | None = None
    q: str = Field(default="", max_length=200)
    page: int = Field(default=1, ge=1, le=100000)


class DecisionIn(Schema):
    status: Literal["approved", "rejected"]


class CheckInIn(Schema):
    code: str = Field(min_length=1, max_length=badges.MAX_CODE)


class CheckInOut(Schema):
    result: Literal["checked_in", "already_checked_in"]
    checked_in_at: datetime = Field(description="When the visitor was first checked in.")
    checked_in_by: str | None = Field(description="Who checked them in first (their name).")
    registration_id: int
    name: str
    email: str
    company: str


class ScanOut(Schema):
    found: bool = Field(description="Whether the frame showed a QR code.")
    check_in: CheckInOut | None = Field(description="The check-in of the code found.")


class DeskQuery(Schema):
    q: str = Field(default="", max_length=200)


class DeskRowOut(Schema):
    registration_id: int
    name: str
    email: str
    company: str
    status: str
    checked_in_at: datetime | None
    checked_in_by: str | None


class DeskSearchOut(Schema):
    items: list[DeskRowOut] = Field(description="At most 20, approved first, then by name.")


def mailer(request: Request) -> Mailer:
    return Mailer(platform(request).settings)


async def figures_changed(request: Request, expo_id: int | None) -> None:
    """After a committed registration or check-in: the expo's live dashboard shows it at once."""
    if expo_id is not None:
        await events.figures_changed(platform(request).bus, expo_id)


def _mine(request: Request, registration: Registration, slug: str) -> MyRegistrationOut:
    approved = registration.status == RegistrationStatus.APPROVED.value
    p = platform(request)
    return MyRegistrationOut(
        **RegistrationOut.of(registration).model_dump(),
        badge=badges.badge_payload(p.secret, registration) if approved else None,
        badge_url=p.settings.url(f"/expos/{slug}/badge") if approved else None,
    )


def check_in_out(done: CheckIn) -> CheckInOut:
    assert done.registration.id is not None and done.registration.checked_in_at is not None
    return CheckInOut(
        result="already_checked_in" if done.already else "checked_in",
        checked_in_at=done.registration.checked_in_at,
        checked_in_by=done.by.name if done.by else None,
        registration_id=done.registration.id,
        name=done.visitor.name,
        email=done.visitor.email,
        company=str(done.registration.answers.get("company", "")),
    )


async def registration_form(request: Request) -> FormOut:
    """The expo's registration form and whether registration is open (public)."""
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        return FormOut.of(await services.get_form(session, expo))


async def save_registration_form(request: Request, body: forms.FormSpec, user: User) -> FormOut:
    """Set the questions, dates, approval and consent text (this expo's organizers)."""
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        return FormOut.of(await services.save_form(session, expo, body, user))


async def my_registration(request: Request, user: User) -> MyRegistrationOut:
    """The signed-in user's registration for the expo (404 when they have none)."""
    slug = request.path_params["slug"]
    async with platform(request).db.session() as session:
        expo = await get_expo(session, slug)
        registration = await services.find_registration(session, expo, user)
    if registration is None:
        raise NotFound("You have no registration for this expo.", code="registration.unknown")
    return _mine(request, registration, slug)


async def register_for_expo(request: Request, body: RegisterIn, user: User) -> MyRegistrationOut:
    """Register for the expo, answering its form (``consent`` when it has privacy terms)."""
    slug = request.path_params["slug"]
    raw = {k: ("on" if v else "") if isinstance(v, bool) else v for k, v in body.answers.items()}
    async with platform(request).db.session() as session:
        expo = await get_expo(session, slug)
        registration = await services.register(
            session, expo, user, raw, consent=body.consent, mailer=mailer(request)
        )
    await figures_changed(request, expo.id)
    return _mine(request, registration, slug)


async def cancel_registration(request: Request, user: User) -> MyRegistrationOut:
    """Cancel the signed-in user's registration."""
    slug = request.path_params["slug"]
    async with platform(request).db.session() as session:
        expo = await get_expo(session, slug)
        registration = await services.find_registration(session, expo, user)
        if registration is None:
            raise NotFound("You have no registration for this expo.", code="registration.unknown")
        await services.cancel(session, registration, user, mailer(request))
    await figures_changed(request, expo.id)
    return _mine(request, registration, slug)


async def list_registrations(request: Request, query: ListQuery, user: User) -> RegistrationList:
    """The expo's registrations, newest first, 50 a page (this expo's organizers)."""
    status = RegistrationStatus(query.status) if query.status else None
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        page = await services.list_registrations(
            session, expo, user, status=status, q=query.q, page=query.page
        )
    items = [
        RegistrationRow(**RegistrationOut.of(r).model_dump(), name=u.name, email=u.email)
        for r, u in page.rows
    ]
    return RegistrationList(total=page.total, counts=page.counts, items=items)


async def decide_registration(request: Request, body: DecisionIn, user: User) -> RegistrationOut:
    """Approve or reject a registration (this expo's organizers); the visitor is e-mailed."""
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        registration = await services.decide(
            session,
            expo,
            path_int(request, "registration_id"),
            body.status == "approved",
            user,
            mailer(request),
        )
    await figures_changed(request, expo.id)
    return RegistrationOut.of(registration)


async def export_registrations(request: Request, user: User) -> Response:
    """Every registration as CSV, one column per question (this expo's organizers)."""
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        page = await services.list_registrations(session, expo, user, limit=None)
        form = await services.get_form(session, expo)
    return csv_response(exports.export_csv(page.rows, form.fields), expo.slug)


def csv_response(body: str, slug: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-registrations.csv"'},
    )


async def check_in_badge(request: Request, body: CheckInIn, user: User) -> CheckInOut:
    """Check a visitor in by their badge code (this expo's organizers); twice is not an error."""
    p = platform(request)
    async with p.db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        done = await services.check_in(session, expo, body.code, p.secret, user)
    if not done.already:
        await figures_changed(request, expo.id)
    return check_in_out(done)


async def check_in_registration(request: Request, user: User) -> CheckInOut:
    """Check in a registration found by name at the desk (check-in staff); twice is not an error."""
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        done = await services.check_in_registration(session, expo, path_int(request, "registration_id"), user)
    if not done.already:
        await figures_changed(request, expo.id)
    return check_in_out(done)


# A desk sends a few frames a second while it waits for a badge; more than this is not a camera.
SCAN_LIMIT = (40, 10.0)


async def scan_badge(request: Request, user: User) -> ScanOut:
    """Check in the badge whose QR code a camera frame shows (PNG, JPEG or WebP, at most 2 MiB):
    for browsers that cannot read QR codes themselves. A frame without a code finds nothing."""
    p = platform(request)
    async with p.db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        await services.require_expo_permission(session, expo, user, Perm.CHECK_IN)
    await RateLimiter(p.bus, "checkin-scan", *SCAN_LIMIT).hit(str(user.id))
    if media_type(request) not in scan.MEDIA_TYPES:
        raise UnsupportedMediaType(N_("Send the camera picture as PNG, JPEG or WebP."))
    frame = await read_body(request, scan.MAX_FRAME_BYTES)
    code = await to_thread.run_sync(scan.read_qr, frame)
    if code is None:
        return ScanOut(found=False, check_in=None)
    async with p.db.session() as session:
        done = await services.check_in(session, expo, code, p.secret, user)
    if not done.already:
        await figures_changed(request, expo.id)
    return ScanOut(found=True, check_in=check_in_out(done))


async def desk_search(request: Request, query: DeskQuery, user: User) -> DeskSearchOut:
    """Registrations by part of the visitor's name, e-mail or company (2 letters or more), for
    checking in a visitor without their badge (check-in staff)."""
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        rows = await services.desk_search(session, expo, user, query.q)
    return DeskSearchOut(items=[desk_row_out(row) for row in rows])


def desk_row_out(row: services.DeskRow) -> DeskRowOut:
    assert row.registration.id is not None
    return DeskRowOut(
        registration_id=row.registration.id,
        name=row.visitor.name,
        email=row.visitor.email,
        company=str(row.registration.answers.get("company", "")),
        status=row.registration.status,
        checked_in_at=row.registration.checked_in_at,
        checked_in_by=row.by.name if row.by else None,
    )


EXPO = "/api/expos/{slug}"


def _endpoint(path: str, handler: Any, method: str = "GET", **kwargs: Any) -> Endpoint:
    return Endpoint(path, handler, method=method, tags=TAGS, **kwargs)


ROUTES = [
    _endpoint(f"{EXPO}/registration/form", registration_form, response=FormOut),
    _endpoint(
        f"{EXPO}/registration/form",
        save_registration_form,
        "PUT",
        auth="user",
        body=forms.FormSpec,
        response=FormOut,
    ),
    _endpoint(f"{EXPO}/registration", my_registration, auth="user", response=MyRegistrationOut),
    _endpoint(
        f"{EXPO}/registration",
        register_for_expo,
        "POST",
        auth="user",
        body=RegisterIn,
        response=MyRegistrationOut,
        status=201,
    ),
    _endpoint(f"{EXPO}/registration", cancel_registration, "DELETE", auth="user", response=MyRegistrationOut),
    _endpoint(
        f"{EXPO}/registrations", list_registrations, auth="user", query=ListQuery, response=RegistrationList
    ),
    _endpoint(
        EXPO + "/registrations/{registration_id:int}/decision",
        decide_registration,
        "PUT",
        auth="user",
        body=DecisionIn,
        response=RegistrationOut,
    ),
    _endpoint(f"{EXPO}/registrations.csv", export_registrations, auth="user", response_media="text/csv"),
    _endpoint(f"{EXPO}/check-in", check_in_badge, "POST", auth="user", body=CheckInIn, response=CheckInOut),
    _endpoint(
        f"{EXPO}/check-in/scan", scan_badge, "POST", auth="user", body_media="image/jpeg", response=ScanOut
    ),
    _endpoint(f"{EXPO}/check-in/search", desk_search, auth="user", query=DeskQuery, response=DeskSearchOut),
    _endpoint(
        EXPO + "/registrations/{registration_id:int}/check-in",
        check_in_registration,
        "POST",
        auth="user",
        response=CheckInOut,
    ),
]
