"""The check-in desk's API: a camera frame read on the server (a QR code drawn here with segno),
the short code typed, a visitor found by part of their name, e-mail or company, and the answer to a
repeat saying when and by whom the visitor was first checked in; pictures that are not pictures and
staff of no check-in get a JSON 4xx."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
import segno
from PIL import Image
from starlette.applications import Starlette

from expo.config import Settings
from expo.permissions import TeamRole
from expo.registration import badges
from tests.booths.web import make_account
from tests.conftest import make_settings
from tests.registration.conftest import bearer, make_fair, outbox, registrations, team_member


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Both stores: the name search reads the company out of the JSON answers."""
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


def qr_png(text: str, scale: int = 6) -> bytes:
    """A camera-like frame: the QR code of ``text`` on a grey page, in a larger picture."""
    code = io.BytesIO()
    segno.make(text, error="m").save(code, kind="png", scale=scale, border=4)
    frame = Image.new("RGB", (640, 480), (200, 200, 200))
    qr = Image.open(io.BytesIO(code.getvalue())).convert("RGB")
    frame.paste(qr, (120, 40))
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=85)
    return out.getvalue()


async def _ann(app: Starlette, client: httpx.AsyncClient) -> dict[str, str]:
    """Ann Lee (of Lumen Lighting) registered for the fair; returns her registration as the API shows it."""
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    ann = await bearer(client, "ann@example.com")
    made = await client.post(
        "/api/expos/fair/registration", json={"answers": {"company": "Lumen Lighting"}}, headers=ann
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_a_camera_frame_checks_the_badge_in_and_a_second_says_since_when(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    fair = await make_fair(app)
    mine = await _ann(app, client)
    staff = await team_member(app, fair.expo, "desk@example.com", "visitor", TeamRole.CHECKIN)
    desk = await bearer(client, staff.email) | {"Content-Type": "image/jpeg"}

    first = await client.post("/api/expos/fair/check-in/scan", content=qr_png(mine["badge"]), headers=desk)
    assert first.status_code == 200, first.text
    assert first.json()["found"] is True
    checked = first.json()["check_in"]
    assert checked["result"] == "checked_in" and checked["name"] == "Ann Lee"
    assert checked["company"] == "Lumen Lighting" and checked["checked_in_by"] == "Desk"

    org = await bearer(client, fair.organizer.email) | {"Content-Type": "image/jpeg"}
    again = await client.post("/api/expos/fair/check-in/scan", content=qr_png(mine["badge"], 4), headers=org)
    assert again.status_code == 200
    repeat = again.json()["check_in"]
    assert repeat["result"] == "already_checked_in"
    assert repeat["checked_in_at"] == checked["checked_in_at"] and repeat["checked_in_by"] == "Desk"

    # A frame without a code finds nothing, and is no error: the desk sends the next one.
    blank = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 90, 90)).save(blank, "PNG")
    empty = await client.post(
        "/api/expos/fair/check-in/scan",
        content=blank.getvalue(),
        headers=desk | {"Content-Type": "image/png"},
    )
    assert empty.status_code == 200 and empty.json() == {"found": False, "check_in": None}


async def test_what_is_not_a_picture_and_who_is_not_at_the_desk_are_refused(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    fair = await make_fair(app)
    mine = await _ann(app, client)
    org = await bearer(client, fair.organizer.email)
    scan = "/api/expos/fair/check-in/scan"

    garbage = await client.post(
        scan, content=b"\xff\xd8\xff not a jpeg", headers=org | {"Content-Type": "image/jpeg"}
    )
    assert garbage.status_code == 422 and garbage.json()["error"]["code"] == "checkin.not_an_image"
    html = await client.post(scan, content=b"<html></html>", headers=org | {"Content-Type": "text/html"})
    assert html.status_code == 415 and "error" in html.json()
    huge = await client.post(
        scan, content=b"\0" * (3 * 1024 * 1024), headers=org | {"Content-Type": "image/png"}
    )
    assert huge.status_code == 413

    # Another expo's organizer and a booth exhibitor are no check-in staff of this expo.
    for email in (fair.other_organizer.email, (await make_account(app, "ex@example.com", "exhibitor")).email):
        other = await bearer(client, email) | {"Content-Type": "image/jpeg"}
        refused = await client.post(scan, content=qr_png(mine["badge"]), headers=other)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "registration.not_organizer"
        assert (await client.get("/api/expos/fair/check-in/search?q=ann", headers=other)).status_code == 403
    assert (await registrations(app))[0].checked_in_at is None


async def test_the_short_code_on_the_badge_and_in_the_letter_checks_in(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    fair = await make_fair(app)
    await _ann(app, client)
    [registration] = await registrations(app)
    shown = badges.show_short_code(registration.short_code)
    assert len(shown) == 9 and shown[4] == "-"
    assert shown in (await outbox(app))[-1].body  # the confirmation carries it
    org = await bearer(client, fair.organizer.email)

    typed = shown.lower().replace("-", " ")  # as someone types it off the badge
    first = await client.post("/api/expos/fair/check-in", json={"code": typed}, headers=org)
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "checked_in" and first.json()["name"] == "Ann Lee"
    again = await client.post("/api/expos/fair/check-in", json={"code": shown}, headers=org)
    assert again.json()["result"] == "already_checked_in"
    assert again.json()["checked_in_by"] == "Olga Organizer"

    wrong = "22222222" if registration.short_code != "22222222" else "33333333"
    unknown = await client.post("/api/expos/fair/check-in", json={"code": wrong}, headers=org)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "badge.unknown_code"


async def test_staff_find_a_visitor_by_part_of_a_name_email_or_company_and_check_them_in(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    fair = await make_fair(app)
    await _ann(app, client)
    await make_account(app, "bo@example.com", "visitor", name="Bo Chen")
    bo = await bearer(client, "bo@example.com")
    await client.post(
        "/api/expos/fair/registration", json={"answers": {"company": "Annex 50% Ltd"}}, headers=bo
    )
    staff = await team_member(app, fair.expo, "desk@example.com", "visitor", TeamRole.CHECKIN)
    desk = await bearer(client, staff.email)

    async def names(q: str) -> list[str]:
        found = await client.get("/api/expos/fair/check-in/search", params={"q": q}, headers=desk)
        assert found.status_code == 200, found.text
        return [item["name"] for item in found.json()["items"]]

    assert await names("nn le") == ["Ann Lee"]
    assert await names("ANN") == ["Ann Lee", "Bo Chen"]  # Ann by name, Bo by company (Annex)
    assert await names("lumen") == ["Ann Lee"]
    assert await names("bo@exa") == ["Bo Chen"]
    assert await names("50%") == ["Bo Chen"]  # a % is a character, not a wildcard
    assert await names("a") == []  # two letters at least

    [item] = (await client.get("/api/expos/fair/check-in/search?q=lee", headers=desk)).json()["items"]
    assert item["status"] == "approved" and item["checked_in_at"] is None
    url = f"/api/expos/fair/registrations/{item['registration_id']}/check-in"
    done = await client.post(url, headers=desk)
    assert done.status_code == 200 and done.json()["result"] == "checked_in"
    again = await client.post(url, headers=desk)
    assert again.json()["result"] == "already_checked_in" and again.json()["checked_in_by"] == "Desk"
    [item] = (await client.get("/api/expos/fair/check-in/search?q=lee", headers=desk)).json()["items"]
    assert item["checked_in_at"] == done.json()["checked_in_at"] and item["checked_in_by"] == "Desk"
    missing = await client.post("/api/expos/fair/registrations/999999/check-in", headers=desk)
    assert missing.status_code == 404
