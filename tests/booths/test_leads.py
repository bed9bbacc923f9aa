"""Leads (inquiries, business cards), the inbox with status and notes, CSV export, favourites, and
booth analytics (views, distinct visitors without the booth's staff, leads per day)."""

from __future__ import annotations

import csv
import io

from sqlmodel import col, select
from starlette.applications import Starlette

from booths.leads import safe_cell
from booths.models import Booth, BoothDay, Lead
from expo.db import utcnow
from tests.booths.web import add_owner, browser, floor_of, make_account, post_form


async def setup(app: Starlette) -> Booth:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    owner = await make_account(app, "owner@example.com", "exhibitor", name="Owner")
    await add_owner(app, booth, owner)
    await make_account(app, "ann@example.com", "visitor", name="Ann Lee")
    return booth


async def leads_of(app: Starlette) -> list[Lead]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(Lead).order_by(col(Lead.id)))).all())


async def test_an_inquiry_reaches_the_inbox_and_is_worked_through(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    async with browser(app, "ann@example.com") as ann:
        sent = await post_form(
            ann, page, f"{page}/inquiry", {"message": "Do you ship to Lisbon? <b>soon</b>"}
        )
        assert sent.status_code == 303 and sent.headers["location"] == page + "#contact"
        assert "Your message was sent to the exhibitor." in (await ann.get(page)).text
        empty = await post_form(ann, page, f"{page}/inquiry", {"message": "   "})
        assert empty.status_code == 422 and "Write a message to the exhibitor." in empty.text
        assert (await ann.get(f"/booths/{booth.id}/leads")).status_code == 403
    async with browser(app, "owner@example.com") as owner:
        inbox = await owner.get(f"/booths/{booth.id}/leads")
        assert inbox.status_code == 200
        assert "Ann Lee" in inbox.text and "ann@example.com" in inbox.text
        assert "Do you ship to Lisbon? &lt;b&gt;soon&lt;/b&gt;" in inbox.text
        lead = (await leads_of(app))[0]
        url = f"/booths/{booth.id}/leads/{lead.id}"
        done = await post_form(
            owner, f"/booths/{booth.id}/leads", url, {"status": "answered", "notes": "Quoted"}
        )
        assert done.status_code == 303
        bogus = await post_form(owner, f"/booths/{booth.id}/leads", url, {"status": "lost", "notes": "x"})
        assert bogus.status_code == 422
        answered = await owner.get(f"/booths/{booth.id}/leads", params={"status": "answered"})
        assert "Quoted" in answered.text
        assert "Ann Lee" not in (await owner.get(f"/booths/{booth.id}/leads", params={"status": "new"})).text
    stored = (await leads_of(app))[0]
    assert (stored.status, stored.notes, stored.kind) == ("answered", "Quoted", "inquiry")


async def test_a_product_inquiry_names_the_product(app: Starlette) -> None:
    booth = await setup(app)
    async with app.state.platform.db.session() as session:
        from booths.models import Product

        lamp = (await session.exec(select(Product).where(Product.name == "LED desk lamp"))).one()
    async with browser(app, "ann@example.com") as ann:
        page = f"/expos/fair/products/{lamp.id}"
        sent = await post_form(
            ann,
            page,
            f"/expos/fair/booths/{booth.id}/inquiry",
            {"message": "MOQ?", "product_id": str(lamp.id)},
        )
        assert sent.status_code == 303 and sent.headers["location"] == page + "#contact"
    async with browser(app, "owner@example.com") as owner:
        assert "about LED desk lamp" in (await owner.get(f"/booths/{booth.id}/leads")).text


async def test_a_business_card_shares_only_the_chosen_fields(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    async with browser(app, "ann@example.com") as ann:
        card = {
            "share": ["name", "company"],
            "company": "Lee Trading",
            "job_title": "Buyer",
            "phone": "+351 1",
        }
        left = await post_form(ann, page, f"{page}/card", card)
        assert left.status_code == 303
        again = await ann.get(page)
        assert 'value="Lee Trading"' in again.text and 'value="Buyer"' in again.text  # remembered
        nothing = await post_form(ann, page, f"{page}/card", {"share": ["phone"], "phone": ""})
        assert nothing.status_code == 422
        unknown = await post_form(ann, page, f"{page}/card", {"share": ["password"]})
        assert unknown.status_code == 422
    leads = await leads_of(app)
    assert len(leads) == 1
    assert leads[0].kind == "card" and leads[0].card == {"name": "Ann Lee", "company": "Lee Trading"}
    async with browser(app, "owner@example.com") as owner:
        inbox = (await owner.get(f"/booths/{booth.id}/leads")).text
        assert "Lee Trading" in inbox and "ann@example.com" not in inbox and "Buyer" not in inbox


async def test_signed_out_visitors_are_sent_to_log_in(app: Starlette) -> None:
    booth = await setup(app)
    async with browser(app) as anonymous:
        page = await anonymous.get(f"/expos/fair/booths/{booth.id}")
        assert "Log in to contact the exhibitor" in page.text
        response = await post_form(
            anonymous,
            f"/expos/fair/booths/{booth.id}",
            f"/expos/fair/booths/{booth.id}/inquiry",
            {"message": "hi"},
        )
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert await leads_of(app) == []


async def test_leads_export_as_csv_safe_for_spreadsheets(app: Starlette) -> None:
    booth = await setup(app)
    page = f"/expos/fair/booths/{booth.id}"
    async with browser(app, "ann@example.com") as ann:
        await post_form(ann, page, f"{page}/inquiry", {"message": '=HYPERLINK("http://evil","x"), "quoted"'})
        await post_form(ann, page, f"{page}/card", {"share": ["name", "company"], "company": "+1 Corp"})
    async with browser(app, "owner@example.com") as owner:
        exported = await owner.get(f"/booths/{booth.id}/leads.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 2
    card, inquiry = rows  # newest first
    assert inquiry["message"] == '\'=HYPERLINK("http://evil","x"), "quoted"'
    assert (
        inquiry["name"] == "Ann Lee" and inquiry["email"] == "ann@example.com" and inquiry["status"] == "new"
    )
    assert card["company"] == "'+1 Corp" and card["email"] == ""
    assert [safe_cell(v) for v in ("-2", "@x", "ok", "\t=1", None)] == ["'-2", "'@x", "ok", "'\t=1", ""]
    async with browser(app, "ann@example.com") as ann:
        assert (await ann.get(f"/booths/{booth.id}/leads.csv")).status_code == 403


async def test_favourites_are_added_listed_and_removed(app: Starlette) -> None:
    booth = await setup(app)
    async with app.state.platform.db.session() as session:
        from booths.models import Product

        lamp = (await session.exec(select(Product).where(Product.name == "LED desk lamp"))).one()
    async with browser(app, "ann@example.com") as ann:
        page = f"/expos/fair/booths/{booth.id}"
        added = await post_form(ann, page, f"{page}/favourite", {"on": "1"})
        assert added.status_code == 303
        assert 'aria-pressed="true"' in (await ann.get(page)).text
        product_page = f"/expos/fair/products/{lamp.id}"
        assert (
            await post_form(ann, product_page, f"{product_page}/favourite", {"on": "1"})
        ).status_code == 303
        listed = await ann.get("/favourites")
        assert "Lumen Works" in listed.text and "LED desk lamp" in listed.text
        await post_form(ann, page, f"{page}/favourite", {"on": "0"})
        listed = await ann.get("/favourites")
        assert f'href="{page}"' not in listed.text and "LED desk lamp" in listed.text
        missing = await post_form(ann, page, "/expos/fair/booths/9999/favourite", {"on": "1"})
        assert missing.status_code == 404


async def test_analytics_count_views_and_visitors_but_not_staff(app: Starlette) -> None:
    booth = await setup(app)
    await make_account(app, "bob@example.com", "visitor")
    page = f"/expos/fair/booths/{booth.id}"
    async with browser(app, "ann@example.com") as ann:
        for _ in range(3):
            assert (await ann.get(page)).status_code == 200
        await post_form(ann, page, f"{page}/inquiry", {"message": "Hello"})  # opening the page counts too
    async with browser(app, "bob@example.com") as bob:
        await bob.get(page)
    async with browser(app) as anonymous:
        await anonymous.get(page)
    async with browser(app, "owner@example.com") as owner:
        for _ in range(5):
            await owner.get(page)  # staff: not counted
        tab = await owner.get(f"/booths/{booth.id}/analytics")
        assert tab.status_code == 200
    async with app.state.platform.db.session() as session:
        today = (await session.exec(select(BoothDay).where(BoothDay.booth_id == booth.id))).one()
    assert today.day == utcnow().date()
    assert (today.views, today.visitors, today.leads) == (6, 3, 1)  # ann 4, bob 1, anonymous 1
    assert '<span class="value" id="total-views">6</span>' in tab.text
    assert '<span class="value" id="total-visitors">3</span>' in tab.text
    assert '<span class="value" id="total-leads">1</span>' in tab.text
    assert f'data-day="{today.day.isoformat()}"' in tab.text
