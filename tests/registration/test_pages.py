"""Registration pages: the organizer builds the form, a visitor fills it in (errors beside fields,
answers kept), waits for approval, gets a badge with a QR code, cancels; the registrations list,
CSV, the outbox pages, exhibitor application e-mails, check-in staff at the desk and nowhere else,
and organizers of other expos kept out."""

from __future__ import annotations

import re

from starlette.applications import Starlette

from booths.models import Booth
from expo.permissions import TeamRole
from expo.registration import badges
from tests.booths.web import browser, make_account, post_form
from tests.registration.conftest import make_fair, outbox, registrations, team_member

BUILDER = "/organizer/expos/fair/registration/form"
REGISTRATIONS = "/organizer/expos/fair/registrations"
DESK = "/organizer/expos/fair/check-in"


async def build_form(app: Starlette, email: str) -> None:
    async with browser(app, email) as org:
        data = {
            "approval_required": "on",
            "consent_text": "We keep your answers for this expo only.",
            "company_mode": "required",
            "company_pos": "2",
            "country_mode": "optional",
            "country_pos": "3",
            "job_role_mode": "off",
            "interests_mode": "off",
            "new_label": "How did you hear of us?",
            "new_kind": "select",
            "new_options": "Friend\nMagazine",
            "new_required": "on",
            "new_pos": "1",
        }
        saved = await post_form(org, BUILDER, BUILDER, data)
        assert saved.status_code == 303, saved.text
        page = (await org.get(BUILDER)).text
        assert "The registration form was saved." in page
        assert 'value="How did you hear of us?"' in page


async def test_the_organizer_builds_a_form_and_a_visitor_registers_through_it(app: Starlette) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    await build_form(app, fair.organizer.email)
    async with browser(app, "ann@example.com") as ann:
        form = await ann.get("/expos/fair/register")
        assert form.status_code == 200
        html = form.text
        # The custom question comes first (position 1), then company and country.
        order = [html.index(label) for label in ("How did you hear of us?", "Company", "Country or region")]
        assert order == sorted(order)
        assert "Job role" not in html and "We keep your answers for this expo only." in html

        refused = await post_form(ann, "/expos/fair/register", "/expos/fair/register", {"country": "PT"})
        assert refused.status_code == 422
        assert 'id="err-company"' in refused.text and 'id="err-how_did_you_hear_of_us"' in refused.text
        assert 'id="err-consent"' in refused.text
        assert re.search(r'<option value="PT" selected>', refused.text)  # the answer is kept
        assert await registrations(app) == []

        answers = {"company": "Lumen", "country": "PT", "how_did_you_hear_of_us": "Friend", "consent": "on"}
        done = await post_form(ann, "/expos/fair/register", "/expos/fair/register", answers)
        assert done.status_code == 303
        status = (await ann.get("/expos/fair/register")).text
        assert (
            "Pending approval" in status
            and "Thank you. The organizers will review your registration." in status
        )
        assert (await ann.get("/expos/fair/badge")).status_code == 404
        [registration] = await registrations(app)
        assert registration.answers == {
            "company": "Lumen",
            "country": "PT",
            "how_did_you_hear_of_us": "Friend",
        }
        assert registration.consent_at is not None

    async with browser(app, fair.organizer.email) as org:
        listed = await org.get("/organizer/expos/fair/registrations?status=pending")
        assert (
            "Ann Lee" in listed.text and "Lumen" in listed.text and 'data-count="pending">1<' in listed.text
        )
        action = f"/organizer/expos/fair/registrations/{registration.id}/decision"
        approved = await post_form(org, "/organizer/expos/fair/registrations", action, {"status": "approved"})
        assert approved.status_code == 303
        after = (await org.get(approved.headers["location"])).text
        assert "The registration was approved." in after and 'data-count="approved">1<' in after
        exported = await org.get("/organizer/expos/fair/registrations.csv")
        assert exported.status_code == 200 and "How did you hear of us?" in exported.text.splitlines()[0]

    async with browser(app, "ann@example.com") as ann:
        assert "See your badge" in (await ann.get("/expos/fair/register")).text
        badge = await ann.get("/expos/fair/badge")
        assert badge.status_code == 200
        assert "Ann Lee" in badge.text and "Lumen" in badge.text and "Spring Fair" in badge.text
        assert "<svg" in badge.text and "qrline" in badge.text
        cancelled = await post_form(ann, "/expos/fair/register", "/expos/fair/register/cancel")
        assert cancelled.status_code == 303
        again = (await ann.get("/expos/fair/register")).text
        assert "Your registration is cancelled." in again and 'name="company"' in again
    assert [m.to_address for m in await outbox(app)] == ["ann@example.com"] * 3


async def test_the_outbox_page_shows_messages_readably(app: Starlette) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor", name="Ann <b>Lee</b>")
    async with browser(app, "ann@example.com") as ann:
        done = await post_form(ann, "/expos/fair/register", "/expos/fair/register", {})
        assert done.status_code == 303
    [message] = await outbox(app)
    async with browser(app, fair.organizer.email) as org:
        page = await org.get("/organizer/outbox?status=queued&q=ann")
        assert page.status_code == 200 and "You are registered for Spring Fair" in page.text
        assert "No mail server is configured" in page.text
        assert "You are registered" not in (await org.get("/organizer/outbox?status=sent")).text
        shown = await org.get(f"/organizer/outbox/{message.id}")
        assert (
            "Hello Ann &lt;b&gt;Lee&lt;/b&gt;," in shown.text
            and "http://testserver/expos/fair/badge" in shown.text
        )
    async with browser(app, fair.other_organizer.email) as other:  # on no team: no outbox at all
        refused = await other.get("/organizer/outbox")
        assert refused.status_code == 403 and "Spring Fair" not in refused.text
        assert (await other.get(f"/organizer/outbox/{message.id}")).status_code == 404
    async with browser(app, "ann@example.com") as ann:
        assert (await ann.get("/organizer/outbox")).status_code == 403


async def test_another_organizer_cannot_open_this_expos_registration_pages(app: Starlette) -> None:
    fair = await make_fair(app)
    await make_fair(app, "autumn")
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    async with browser(app, "ann@example.com") as ann:
        assert (await post_form(ann, "/expos/fair/register", "/expos/fair/register", {})).status_code == 303
    [message] = await outbox(app)
    # An organizer on no team, and the owner of another expo: neither reads anything of this one.
    for email in (fair.other_organizer.email, "org-autumn@example.com"):
        async with browser(app, email) as other:
            for url in (
                BUILDER,
                REGISTRATIONS,
                DESK,
                f"{REGISTRATIONS}.csv",
                "/organizer/expos/fair/dashboard",
            ):
                response = await other.get(url)
                assert response.status_code == 403, url
                assert "ann@example.com" not in response.text
            refused = await post_form(other, "/organizer/outbox", BUILDER, {"company_mode": "off"})
            assert refused.status_code == 403
            # Forms posted with a valid CSRF token (from a page of their own) are refused all the same.
            assert (await post_form(other, "/my/agenda", DESK, {"code": "x"})).status_code == 403
            assert (await other.get(f"/organizer/outbox/{message.id}")).status_code == 404
            retried = await post_form(other, "/my/agenda", f"/organizer/outbox/{message.id}/retry")
            assert retried.status_code == 404
    async with browser(app, "org-autumn@example.com") as autumn:
        listed = await autumn.get(f"/organizer/outbox?expo={fair.expo.id}")
        assert listed.status_code == 200 and f'href="/organizer/outbox/{message.id}"' not in listed.text
        assert "ann@example.com" not in listed.text and message.subject not in listed.text
    async with browser(app, fair.organizer.email) as org:
        assert (await org.get("/organizer/expos/nowhere/registrations")).status_code == 404


async def test_checkin_staff_work_the_desk_and_open_nothing_else(app: Starlette) -> None:
    fair = await make_fair(app)
    await team_member(app, fair.expo, "desk@example.com", "visitor", TeamRole.CHECKIN)
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    async with browser(app, "ann@example.com") as ann:
        assert (await post_form(ann, "/expos/fair/register", "/expos/fair/register", {})).status_code == 303
    [registration] = await registrations(app)
    code = badges.badge_payload(app.state.platform.secret, registration)
    async with browser(app, "desk@example.com") as desk:
        page = await desk.get(DESK)
        assert page.status_code == 200 and "Check-in desk" in page.text
        assert f'href="{REGISTRATIONS}"' not in page.text  # no link to a page they may not open
        done = await post_form(desk, DESK, DESK, {"code": code})
        assert done.status_code == 200 and "Ann Lee" in done.text
        for url in (
            BUILDER,
            REGISTRATIONS,
            f"{REGISTRATIONS}.csv",
            "/organizer/expos/fair/dashboard",
            "/organizer/expos/fair/agenda",
            "/organizer/outbox",
        ):
            assert (await desk.get(url)).status_code == 403, url
    assert (await registrations(app))[0].checked_in_at is not None


async def test_registration_closes_on_its_date(app: Starlette) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor")
    async with browser(app, fair.organizer.email) as org:
        data = {"closes_at": "2020-01-01T00:00", "opens_at": "2019-12-01T09:30", "company_mode": "optional"}
        assert (await post_form(org, BUILDER, BUILDER, data)).status_code == 303
        assert 'value="2019-12-01T09:30"' in (await org.get(BUILDER)).text
        backwards = await post_form(org, BUILDER, BUILDER, {**data, "closes_at": "2019-11-01T00:00"})
        assert backwards.status_code == 422 and "Registration must close after it opens." in backwards.text
    async with browser(app, "ann@example.com") as ann:
        assert "Registration for this expo is closed." in (await ann.get("/expos/fair/register")).text
        refused = await post_form(ann, "/expos/fair/register", "/expos/fair/register", {"company": "X"})
        assert refused.status_code == 403 and "Registration for this expo is closed." in refused.text
    assert await registrations(app) == []


async def test_exhibitor_applications_email_the_organizers_and_the_applicant(app: Starlette) -> None:
    fair = await make_fair(app)
    await make_account(app, "exhibitor@example.com", "exhibitor", name="Eve Exhibitor")
    async with browser(app, "exhibitor@example.com") as eve:
        applied = await post_form(eve, "/expos/fair", "/expos/fair/apply", {"name": "Lumen Works"})
        assert applied.status_code == 303, applied.text
    [received] = await outbox(app)
    assert received.to_address == fair.organizer.email
    assert received.subject == "New exhibitor application: Lumen Works"
    async with app.state.platform.db.session() as session:
        from sqlmodel import select

        booth = (await session.exec(select(Booth).where(Booth.name == "Lumen Works"))).one()
    async with browser(app, fair.organizer.email) as org:
        listed = await org.get("/organizer/expos/fair/registrations")
        assert "Lumen Works" in listed.text and "/organizer/expos/fair#applications" in listed.text
        action = f"/organizer/expos/fair/booths/{booth.id}/status"
        decided = await post_form(org, "/organizer/expos/fair", action, {"status": "approved"})
        assert decided.status_code == 303
    messages = await outbox(app)
    assert [(m.to_address, m.subject) for m in messages[1:]] == [
        ("exhibitor@example.com", "Your booth Lumen Works at Spring Fair is approved")
    ]


async def test_the_desk_without_script_finds_by_name_and_checks_in_from_the_list(app: Starlette) -> None:
    fair = await make_fair(app)
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    async with browser(app, "ann@example.com") as ann:
        assert (await post_form(ann, "/expos/fair/register", "/expos/fair/register", {})).status_code == 303
    [registration] = await registrations(app)
    async with browser(app, fair.organizer.email) as org:
        found = await org.get(f"{DESK}?q=nn+l")
        assert found.status_code == 200 and "Ann Lee" in found.text and "ann@example.com" in found.text
        assert f'name="registration_id" value="{registration.id}"' in found.text
        done = await post_form(org, f"{DESK}?q=nn+l", DESK, {"registration_id": str(registration.id)})
        assert done.status_code == 200 and 'data-outcome="checked_in"' in done.text
        again = await post_form(org, DESK, DESK, {"registration_id": str(registration.id)})
        assert 'data-outcome="already"' in again.text and "by Olga Organizer" in again.text
        bad = await post_form(org, DESK, DESK, {"registration_id": "ann"})
        assert bad.status_code == 422 and "Choose a registration from the list." in bad.text
        none = await org.get(f"{DESK}?q=zz")
        assert "No registration matches." in none.text
