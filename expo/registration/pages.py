"""Visitor pages: the registration form (drawn from the organizer's questions), its status with a
cancel button, and the badge with its QR code.

A refused submission is drawn again with the visitor's answers kept and each error beside its
question (the service's ``details``).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from expo.accounts.models import User
from expo.auth import platform
from expo.db import utcnow
from expo.errors import N_, ExpoError, Invalid, NotFound
from expo.expos.models import Expo
from expo.expos.services import get_expo
from expo.http.pages import flash, page_locale, read_form, redirect, render
from expo.i18n import country_choices
from expo.permissions import require_page_user
from expo.registration import badges, forms, services
from expo.registration.api import figures_changed
from expo.registration.mail import Mailer
from expo.registration.models import Registration, RegistrationStatus


def register_url(slug: str) -> str:
    return f"/expos/{slug}/register"


async def _register_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        form = await services.get_form(session, expo)
        registration = await services.find_registration(session, expo, user)
    active = registration is not None and registration.status != RegistrationStatus.CANCELLED.value
    context: dict[str, Any] = {
        "expo": expo,
        "form": form,
        "window": services.window_state(form, utcnow()),
        "registration": registration if active else None,
        "questions": form.fields,
        "label_of": forms.label_of,
        "question_label": lambda q: forms.question_label(q, locale),
        "option_label": lambda q, option: forms.option_label(q, option, locale),
        "countries": country_choices(locale),
        "values": {},
        "errors": {},
    }
    context.update(extra or {})
    return await render(request, "registration.html", context, status=status)


async def register_page(request: Request) -> Response:
    """``/expos/{slug}/register``: the form, or the visitor's registration and what comes next."""
    user = await require_page_user(request)
    return await _register_page(request, user)


def _answers(form: FormData) -> dict[str, list[str]]:
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form if key != "csrf_token"}


async def register(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    slug = request.path_params["slug"]
    raw = _answers(form)
    try:
        async with platform(request).db.session() as session:
            expo = await get_expo(session, slug)
            registration = await services.register(
                session,
                expo,
                user,
                raw,
                consent=form.get("consent") == "on",
                mailer=Mailer(platform(request).settings),
            )
    except Invalid as exc:
        errors = {d["field"]: d["message"] for d in exc.extra.get("details") or []}
        context = {"values": raw, "errors": errors, "form_error": N_("Some answers need your attention.")}
        return await _register_page(request, user, context, exc.status)
    except ExpoError as exc:
        if exc.status == 404:
            raise
        return await _register_page(request, user, {"form_error": exc.message}, exc.status)
    await figures_changed(request, expo.id)
    response = redirect(register_url(slug))
    if registration.status == RegistrationStatus.APPROVED.value:
        flash(response, request, N_("You are registered. Your badge is ready."), "success")
    else:
        flash(response, request, N_("Thank you. The organizers will review your registration."), "success")
    return response


async def cancel(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    slug = request.path_params["slug"]
    try:
        async with platform(request).db.session() as session:
            expo = await get_expo(session, slug)
            registration = await services.find_registration(session, expo, user)
            if registration is None:
                raise NotFound(N_("You have no registration for this expo."), code="registration.unknown")
            await services.cancel(session, registration, user, Mailer(platform(request).settings))
    except ExpoError as exc:
        if exc.status == 404:
            raise
        return await _register_page(request, user, {"form_error": exc.message}, exc.status)
    await figures_changed(request, expo.id)
    response = redirect(register_url(slug))
    flash(response, request, N_("Your registration is cancelled."), "success")
    return response


async def approved_registration(request: Request, user: User) -> tuple[Expo, Registration]:
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        registration = await services.find_registration(session, expo, user)
    if registration is None or registration.status != RegistrationStatus.APPROVED.value:
        raise NotFound(N_("You have no approved registration for this expo."), code="registration.no_badge")
    return expo, registration


async def badge(request: Request) -> Response:
    """``/expos/{slug}/badge``: name, company, expo and the QR code staff scan at the entrance."""
    user = await require_page_user(request)
    expo, registration = await approved_registration(request, user)
    payload = badges.badge_payload(platform(request).secret, registration)
    context = {
        "expo": expo,
        "registration": registration,
        "visitor": user,
        "company": registration.answers.get("company", ""),
        "payload": payload,
        "short_code": badges.show_short_code(registration.short_code),
        "qr_svg": badges.qr_svg(payload),
    }
    return await render(request, "badge.html", context)


ROUTES: list[BaseRoute] = [
    Route("/expos/{slug}/register", register_page, methods=["GET"]),
    Route("/expos/{slug}/register", register, methods=["POST"]),
    Route("/expos/{slug}/register/cancel", cancel, methods=["POST"]),
    Route("/expos/{slug}/badge", badge, methods=["GET"]),
]
