"""Registration API: the form, registering (closed, duplicate, bad answers), decisions, CSV export,
check-in (twice, forged, another expo), check-in staff who may do nothing else, and another
organizer's expo, each a JSON 4xx."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from expo.db import utcnow
from expo.permissions import TeamRole
from tests.booths.web import make_account
from tests.registration.conftest import bearer, make_fair, outbox, registrations, team_member

FORM = {
    "approval_required": True,
    "consent_text": "We keep your answers for this expo only.",
    "fields": [
        {"key": "company", "required": True},
        {"key": "country"},
        {"key": "interests", "options": ["Lighting", "Solar"], "required": True},
        {"key": "diet", "label": "Dietary needs", "kind": "select", "options": ["none", "vegetarian"]},
        {"key": "newsletter", "label": "Send me the newsletter", "kind": "checkbox"},
    ],
}


async def test_a_form_with_translated_questions_is_served(app: Starlette, client: httpx.AsyncClient) -> None:
    """Regression (found by the fuzzer on the demo): a question's stored translations made the
    form's JSON a 500 instead of part of the answer."""
    fair = await make_fair(app)
    org = await bearer(client, fair.organizer.email)
    diet = {
        "key": "diet",
        "label": "Dietary needs",
        "kind": "select",
        "options": ["none", "vegetarian"],
        "translations": {"zh_Hans": {"label": "饮食", "options": ["无", "素食"]}},
    }
    saved = await client.put("/api/expos/fair/registration/form", json={"fields": [diet]}, headers=org)
    assert saved.status_code == 200, saved.text
    public = await client.get("/api/expos/fair/registration/form")
    assert public.status_code == 200, public.text
    assert public.json()["fields"][0]["translations"] == {
        "zh_Hans": {"label": "饮食", "options": ["无", "素食"]}
    }


async def test_a_visitor_registers_is_approved_and_checked_in_once(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    org = await bearer(client, fair.organizer.email)
    ann = await bearer(client, "ann@example.com")

    saved = await client.put("/api/expos/fair/registration/form", json=FORM, headers=org)
    assert saved.status_code == 200, saved.text
    assert [q["label"] for q in saved.json()["fields"]][:3] == ["Company", "Country or region", "Interests"]
    public = (await client.get("/api/expos/fair/registration/form")).json()
    assert public["state"] == "open" and public["approval_required"] is True

    bad = await client.post(
        "/api/expos/fair/registration",
        json={"answers": {"interests": ["Boats"]}, "consent": True},
        headers=ann,
    )
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert fields == {"company", "interests"}
    no_consent = await client.post(
        "/api/expos/fair/registration",
        json={"answers": {"company": "Lumen", "interests": ["Solar"]}},
        headers=ann,
    )
    assert no_consent.status_code == 422
    assert no_consent.json()["error"]["code"] == "registration.consent_required"
    assert await registrations(app) == []

    answers = {
        "company": "Lumen",
        "country": "pt",
        "interests": ["Solar"],
        "diet": "vegetarian",
        "newsletter": True,
    }
    made = await client.post(
        "/api/expos/fair/registration", json={"answers": answers, "consent": True}, headers=ann
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "pending" and body["badge"] is None
    assert body["answers"] == {**answers, "country": "PT", "newsletter": True}
    again = await client.post(
        "/api/expos/fair/registration", json={"answers": answers, "consent": True}, headers=ann
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "registration.exists"

    listed = (await client.get("/api/expos/fair/registrations?status=pending", headers=org)).json()
    assert listed["counts"]["pending"] == 1 and listed["items"][0]["email"] == "ann@example.com"
    decided = await client.put(
        f"/api/expos/fair/registrations/{body['id']}/decision", json={"status": "approved"}, headers=org
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    mine = (await client.get("/api/expos/fair/registration", headers=ann)).json()
    assert mine["badge"] and mine["badge_url"] == "http://testserver/expos/fair/badge"
    subjects = [m.subject for m in await outbox(app)]
    assert subjects == [
        "We received your registration for Spring Fair",
        "Your registration for Spring Fair is approved",
    ]

    first = await client.post("/api/expos/fair/check-in", json={"code": mine["badge"]}, headers=org)
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "checked_in" and first.json()["name"] == "Ann Lee"
    assert first.json()["company"] == "Lumen"
    second = await client.post("/api/expos/fair/check-in", json={"code": mine["badge"]}, headers=org)
    assert second.status_code == 200 and second.json()["result"] == "already_checked_in"
    assert second.json()["checked_in_at"] == first.json()["checked_in_at"]


async def test_forged_and_altered_badge_codes_are_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor")
    org = await bearer(client, fair.organizer.email)
    ann = await bearer(client, "ann@example.com")
    made = await client.post("/api/expos/fair/registration", json={"answers": {}}, headers=ann)
    assert made.status_code == 201 and made.json()["status"] == "approved"
    code = made.json()["badge"]
    payload, _, mac = code.rpartition(".")
    for forged in ("hello", payload + ".AAAA", payload[:-2] + "xx." + mac, "x" * 5000):
        response = await client.post("/api/expos/fair/check-in", json={"code": forged}, headers=org)
        assert response.status_code == 422, forged
        assert response.json()["error"]["code"] in ("badge.invalid", "validation.invalid")
    assert (await registrations(app))[0].checked_in_at is None
    # A genuine code stops working once the registration is cancelled.
    assert (await client.delete("/api/expos/fair/registration", headers=ann)).json()["status"] == "cancelled"
    cancelled = await client.post("/api/expos/fair/check-in", json={"code": code}, headers=org)
    assert cancelled.status_code == 409 and cancelled.json()["error"]["code"] == "badge.not_approved"
    await client.post("/api/expos/fair/registration", json={"answers": {}}, headers=ann)
    stale = await client.post("/api/expos/fair/check-in", json={"code": code}, headers=org)
    assert stale.status_code == 404 and stale.json()["error"]["code"] == "badge.unknown"


async def test_closed_and_not_yet_open_registration(app: Starlette, client: httpx.AsyncClient) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor")
    org = await bearer(client, fair.organizer.email)
    ann = await bearer(client, "ann@example.com")
    now = utcnow()
    closed = {
        "opens_at": (now - timedelta(days=2)).isoformat(),
        "closes_at": (now - timedelta(days=1)).isoformat(),
    }
    assert (
        await client.put("/api/expos/fair/registration/form", json=closed, headers=org)
    ).status_code == 200
    assert (await client.get("/api/expos/fair/registration/form")).json()["state"] == "closed"
    refused = await client.post("/api/expos/fair/registration", json={"answers": {}}, headers=ann)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "registration.closed"
    later = {"opens_at": (now + timedelta(days=1)).isoformat()}
    assert (await client.put("/api/expos/fair/registration/form", json=later, headers=org)).status_code == 200
    early = await client.post("/api/expos/fair/registration", json={"answers": {}}, headers=ann)
    assert early.status_code == 403 and early.json()["error"]["code"] == "registration.not_open"
    backwards = {**closed, "closes_at": (now - timedelta(days=3)).isoformat()}
    wrong = await client.put("/api/expos/fair/registration/form", json=backwards, headers=org)
    assert wrong.status_code == 422 and wrong.json()["error"]["details"][0]["field"] == "closes_at"
    assert await registrations(app) == []


async def test_another_organizers_expo_is_out_of_reach(app: Starlette, client: httpx.AsyncClient) -> None:
    fair = await make_fair(app)
    await make_fair(app, "autumn")
    await make_account(app, "ann@example.com", "visitor")
    other = await bearer(client, fair.other_organizer.email)  # an organizer on no team
    autumn_org = await bearer(client, "org-autumn@example.com")  # the owner of another expo
    ann = await bearer(client, "ann@example.com")
    made = (await client.post("/api/expos/fair/registration", json={"answers": {}}, headers=ann)).json()
    for headers in (other, autumn_org, ann):
        attempts = [
            client.put("/api/expos/fair/registration/form", json={}, headers=headers),
            client.get("/api/expos/fair/registrations", headers=headers),
            client.get("/api/expos/fair/registrations.csv", headers=headers),
            client.put(
                f"/api/expos/fair/registrations/{made['id']}/decision",
                json={"status": "rejected"},
                headers=headers,
            ),
            client.post("/api/expos/fair/check-in", json={"code": made["badge"]}, headers=headers),
        ]
        for attempt in attempts:
            response = await attempt
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "registration.not_organizer"
        dashboard = await client.get("/api/expos/fair/dashboard", headers=headers)
        assert dashboard.status_code == 403 and "Ann" not in dashboard.text
    # The badge of one expo does not check anyone in at another, even for its own organizer.
    wrong = await client.post("/api/expos/autumn/check-in", json={"code": made["badge"]}, headers=autumn_org)
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "badge.wrong_expo"
    assert (await client.get("/api/expos/nowhere/registration/form")).status_code == 404
    assert (await client.post("/api/expos/fair/registration", json={"answers": {}})).status_code == 401
    assert (await client.get("/api/expos/fair/registrations")).status_code == 401
    [registration] = await registrations(app)
    assert registration.status == "approved" and registration.checked_in_at is None


async def test_checkin_staff_check_visitors_in_and_read_nothing_else(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    fair = await make_fair(app)
    await make_fair(app, "autumn")
    # A visitor account on the team as check-in staff: the team role decides, not the account.
    staff = await team_member(app, fair.expo, "desk@example.com", "visitor", TeamRole.CHECKIN)
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    desk = await bearer(client, "desk@example.com")
    ann = await bearer(client, "ann@example.com")
    made = (await client.post("/api/expos/fair/registration", json={"answers": {}}, headers=ann)).json()

    done = await client.post("/api/expos/fair/check-in", json={"code": made["badge"]}, headers=desk)
    assert done.status_code == 200, done.text
    assert done.json()["result"] == "checked_in" and done.json()["name"] == "Ann Lee"
    [registration] = await registrations(app)
    assert registration.checked_in_by == staff.id

    start = utcnow() + timedelta(days=1)
    program = {
        "title": "Mine",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=1)).isoformat(),
    }
    refused = [
        client.get("/api/expos/fair/registrations", headers=desk),
        client.get("/api/expos/fair/registrations.csv", headers=desk),
        client.put("/api/expos/fair/registration/form", json={}, headers=desk),
        client.put(
            f"/api/expos/fair/registrations/{made['id']}/decision", json={"status": "rejected"}, headers=desk
        ),
        client.get("/api/expos/fair/dashboard", headers=desk),
        client.get("/api/expos/fair/dashboard/live", headers=desk),
        client.post("/api/expos/fair/programs", json=program, headers=desk),
        # Staff of one expo's desk check no one in at another.
        client.post("/api/expos/autumn/check-in", json={"code": made["badge"]}, headers=desk),
    ]
    for attempt in refused:
        response = await attempt
        assert response.status_code == 403, response.text
        assert "ann@example.com" not in response.text
    assert (await registrations(app))[0].status == "approved"


async def test_csv_export_has_one_column_per_question_and_defuses_formulas(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor", name="=HYPERLINK(1)")
    org = await bearer(client, fair.organizer.email)
    ann = await bearer(client, "ann@example.com")
    await client.put(
        "/api/expos/fair/registration/form", json=FORM | {"approval_required": False}, headers=org
    )
    answers = {"company": "@SUM(A1)", "interests": ["Solar", "Lighting"], "diet": "none"}
    await client.post("/api/expos/fair/registration", json={"answers": answers, "consent": True}, headers=ann)
    response = await client.get("/api/expos/fair/registrations.csv", headers=org)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [
        "id", "created_at", "status", "name", "email", "checked_in_at",
        "Company", "Country or region", "Interests", "Dietary needs", "Send me the newsletter",
    ]  # fmt: skip
    assert rows[1][2:5] == ["approved", "'=HYPERLINK(1)", "ann@example.com"]
    assert rows[1][6:] == ["'@SUM(A1)", "", "Solar; Lighting", "none", ""]


async def test_every_registration_route_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    for path in (
        "/api/expos/{slug}/registration/form",
        "/api/expos/{slug}/registration",
        "/api/expos/{slug}/registrations",
        "/api/expos/{slug}/registrations.csv",
        "/api/expos/{slug}/check-in",
    ):
        assert path in paths, path
