"""The booth editor's leads inbox (status, notes, CSV export) and analytics tab."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import analytics, floor, leads
from booths.editor_pages import editable_booth, editor_url
from booths.models import LeadStatus
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, Invalid
from expo.http.api import path_int
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.permissions import require_page_user


def _status_filter(request: Request) -> LeadStatus | None:
    raw = request.query_params.get("status", "")
    if not raw:
        return None
    try:
        return LeadStatus(raw)
    except ValueError:
        raise Invalid(N_("Choose a status from the list."), code="lead.invalid_status") from None


async def _inbox(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    status_filter = _status_filter(request)
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
        found = await leads.list_leads(session, booth, user, status_filter)
        names = await leads.product_names(session, found)
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "leads": found,
        "product_names": names,
        "status_filter": status_filter.value if status_filter else "",
        "statuses": [s.value for s in LeadStatus],
        "tab": "leads",
    }
    context.update(extra or {})
    return await render(request, "leads.html", context, status=status)


async def inbox(request: Request) -> Response:
    """``/booths/{id}/leads``: inquiries and business cards, newest first, filterable by status."""
    user = await require_page_user(request)
    return await _inbox(request, user)


async def update_lead(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    lead_id = path_int(request, "lead_id")
    try:
        async with platform(request).db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            lead = await leads.get_lead(session, booth, lead_id, user)
            await leads.update_lead(
                session,
                booth,
                lead,
                user,
                form_str(form, "status", max_length=16),
                form_str(form, "notes", max_length=leads.MAX_NOTES),
            )
    except Invalid as exc:
        return await _inbox(request, user, {"form_error": exc.message, "failed_lead": lead_id}, exc.status)
    response = redirect(editor_url(path_int(request, "booth_id"), "leads") + f"#lead-{lead_id}")
    flash(response, request, N_("The lead was updated."), "success")
    return response


async def export(request: Request) -> Response:
    """``/booths/{id}/leads.csv``: the inbox as CSV, safe to open in a spreadsheet."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        booth, _ = await editable_booth(session, request, user)
        found = await leads.list_leads(session, booth, user, _status_filter(request))
        body = leads.export_csv(found, await leads.product_names(session, found))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="booth-{booth.id}-leads.csv"'},
    )


async def analytics_page(request: Request) -> Response:
    """``/booths/{id}/analytics``: views, distinct visitors and leads per day (staff not counted)."""
    user = await require_page_user(request)
    locale = await page_locale(request)
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
        days = await analytics.daily(session, booth)
    peak = max([d.views for d in days] + [1])
    totals = {name: sum(getattr(d, name) for d in days) for name in ("views", "visitors", "leads")}
    context = {
        "booth": booth,
        "expo": expo,
        "days": days,
        "peak": peak,
        "totals": totals,
        "tab": "analytics",
        "number": lambda n: floor.number(n, locale),
    }
    return await render(request, "editor_analytics.html", context)


ROUTES: list[BaseRoute] = [
    Route("/booths/{booth_id:int}/leads", inbox, methods=["GET"]),
    Route("/booths/{booth_id:int}/leads.csv", export, methods=["GET"]),
    Route("/booths/{booth_id:int}/leads/{lead_id:int}", update_lead, methods=["POST"]),
    Route("/booths/{booth_id:int}/analytics", analytics_page, methods=["GET"]),
]
