"""The booth editor's leads inbox (each lead's page with its thread, replies, status and notes; CSV
export) and analytics tab, and the visitor's own messages to booths with the booths' replies."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booths import analytics, floor, leads
from booths.editor_pages import editable_booth, editor_url
from booths.mail import BoothMailer
from booths.models import LeadStatus
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, Conflict, Invalid
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
        threads = await leads.replies_of(session, [lead.id for lead in found if lead.id is not None])
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "leads": found,
        "replies": {lead_id: len(thread) for lead_id, thread in threads.items()},
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


async def _lead_page(
    request: Request, user: User, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    async with platform(request).db.session() as session:
        booth, expo = await editable_booth(session, request, user)
        lead = await leads.get_lead(session, booth, path_int(request, "lead_id"), user)
        await leads.open_lead(session, booth, lead, user)
        thread = (await leads.replies_of(session, [lead.id or 0])).get(lead.id or 0, [])
        names = await leads.product_names(session, [lead])
    context: dict[str, Any] = {
        "booth": booth,
        "expo": expo,
        "lead": lead,
        "thread": thread,
        "product_names": names,
        "statuses": [s.value for s in LeadStatus],
        "max_reply": leads.MAX_REPLY,
        "tab": "leads",
    }
    context.update(extra or {})
    return await render(request, "lead.html", context, status=status)


async def lead_page(request: Request) -> Response:
    """``/booths/{id}/leads/{lead_id}``: one lead, its thread and the reply form; opening it marks
    it read for the booth's staff."""
    user = await require_page_user(request)
    return await _lead_page(request, user)


async def update_lead(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    lead_id = path_int(request, "lead_id")
    values = {
        "status": form_str(form, "status", max_length=16),
        "notes": form_str(form, "notes", max_length=leads.MAX_NOTES),
    }
    try:
        async with platform(request).db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            lead = await leads.get_lead(session, booth, lead_id, user)
            await leads.update_lead(session, booth, lead, user, values["status"], values["notes"])
    except Invalid as exc:
        extra = {"status_error": exc.message, "status_values": values}
        return await _lead_page(request, user, extra, exc.status)
    response = redirect(editor_url(path_int(request, "booth_id"), f"leads/{lead_id}") + "#status")
    flash(response, request, N_("The lead was updated."), "success")
    return response


async def reply(request: Request) -> Response:
    """The reply form of a lead's page: stored, e-mailed to the visitor, shown in the thread."""
    form = await read_form(request)
    user = await require_page_user(request)
    lead_id = path_int(request, "lead_id")
    # Read generously: the service refuses a reply that is too long, and the form shows it again.
    body = form_str(form, "body", max_length=2 * leads.MAX_REPLY)
    try:
        async with platform(request).db.session() as session:
            booth, _ = await editable_booth(session, request, user)
            lead = await leads.get_lead(session, booth, lead_id, user)
            mailer = BoothMailer(platform(request).settings)
            answer = await leads.reply(session, booth, lead, user, body, mailer)
    except (Invalid, Conflict) as exc:
        return await _lead_page(request, user, {"form_error": exc.message, "reply_body": body}, exc.status)
    response = redirect(editor_url(path_int(request, "booth_id"), f"leads/{lead_id}") + f"#reply-{answer.id}")
    flash(response, request, N_("Your reply was sent to the visitor."), "success")
    return response


async def my_messages(request: Request) -> Response:
    """``/my/messages``: the messages and cards one left at booths, with the booths' replies."""
    user = await require_page_user(request)
    async with platform(request).db.session() as session:
        threads = await leads.my_threads(session, user)
    return await render(request, "my_messages.html", {"threads": threads})


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
    Route("/booths/{booth_id:int}/leads/{lead_id:int}", lead_page, methods=["GET"]),
    Route("/booths/{booth_id:int}/leads/{lead_id:int}", update_lead, methods=["POST"]),
    Route("/booths/{booth_id:int}/leads/{lead_id:int}/reply", reply, methods=["POST"]),
    Route("/my/messages", my_messages, methods=["GET"]),
    Route("/booths/{booth_id:int}/analytics", analytics_page, methods=["GET"]),
]
