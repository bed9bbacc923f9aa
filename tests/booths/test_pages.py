"""The floor's pages in-process: the floor with search and filters, booth and product pages, the booth
editor (profile, products, catalogue upload, staff), the organizer pages, and who may open what."""

from __future__ import annotations

import re

import httpx
from sqlmodel import func, select
from starlette.applications import Starlette

from booths import services
from booths.models import Booth, BoothStatus, Category, Hall, Product
from booths.services import BoothFields, ProductFields
from expo.expos import services as expos
from expo.expos.models import Expo
from tests.booths.web import add_owner, browser, csrf_of, floor_of, make_account, post_form


async def _booth(app: Starlette, booth_id: int | None) -> Booth:
    async with app.state.platform.db.session() as session:
        booth: Booth | None = await session.get(Booth, booth_id)
        assert booth is not None
        return booth


async def _count(app: Starlette, model: type) -> int:
    async with app.state.platform.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


# Visitor pages ----------------------------------------------------------------------------------------------


async def test_the_floor_shows_halls_categories_and_booth_cards(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await floor_of(app)
    page = await client.get("/expos/fair")
    assert page.status_code == 200
    for text in (
        "Hall A",
        "Hall B",
        "Electronics",
        "Lighting",
        "Textiles",
        "Lumen Works",
        "Silk Road Weavers",
    ):
        assert text in page.text
    assert "Booths: 3" in page.text
    assert "Germany" in page.text  # Harbor Electric's country, by name
    index = await client.get("/expos")
    assert 'href="/expos/fair"' in index.text


async def test_search_results_link_to_pages_that_open(app: Starlette, client: httpx.AsyncClient) -> None:
    floor = await floor_of(app)
    page = await client.get("/expos/fair", params={"q": "lamp"})
    assert page.status_code == 200
    links = re.findall(r'<a href="(/expos/fair/(?:booths|products)/\d+)">', page.text)
    assert f"/expos/fair/products/{floor.products['LED desk lamp'].id}" in links
    for link in links:
        opened = await client.get(link)
        assert opened.status_code == 200, link
    api = (await client.get("/api/expos/fair/search", params={"q": "lamp"})).json()
    for item in api["items"]:
        assert (await client.get(item["url"])).status_code == 200


async def test_filters_narrow_the_floor(app: Starlette, client: httpx.AsyncClient) -> None:
    floor = await floor_of(app)
    by_country = await client.get("/expos/fair", params={"country": "DE"})
    assert "Harbor Electric" in by_country.text and "Lumen Works" not in by_country.text
    by_hall = await client.get("/expos/fair", params={"hall": floor.halls["Hall B"].id})
    assert "Silk Road Weavers" in by_hall.text and "Harbor Electric" not in by_hall.text
    # A category without words lists its products, subcategories included.
    electronics = await client.get("/expos/fair", params={"category": floor.categories["electronics"].id})
    assert "LED desk lamp" in electronics.text and "Stainless steel switch" in electronics.text
    assert "Silk scarf" not in electronics.text
    searched = await client.get("/expos/fair", params={"q": "lumen", "country": "DE"})
    assert "Harbor Electric" in searched.text and "Lumen Works</a>" not in searched.text
    assert (await client.get("/expos/fair", params={"hall": "x"})).status_code == 400
    assert (await client.get("/expos/fair", params={"country": "XX"})).status_code == 422
    assert (await client.get("/expos/fair", params={"hall": 999})).status_code == 404
    assert (await client.get("/expos/nope")).status_code == 404


async def test_booth_page_shows_profile_products_and_forms(app: Starlette, client: httpx.AsyncClient) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    page = await client.get(f"/expos/fair/booths/{booth.id}")
    assert page.status_code == 200
    assert "Lumen Works" in page.text and "Lamps and lanterns for every home" in page.text
    assert "LED desk lamp" in page.text and "Paper lantern" in page.text
    assert "Log in to contact the exhibitor" in page.text
    await make_account(app, "v@example.com", "visitor")
    async with browser(app, "v@example.com") as visitor:
        signed_in = await visitor.get(f"/expos/fair/booths/{booth.id}")
        assert f'action="/expos/fair/booths/{booth.id}/inquiry"' in signed_in.text
        assert f'action="/expos/fair/booths/{booth.id}/card"' in signed_in.text
        assert "Add to favourites" in signed_in.text
        assert "Edit booth" not in signed_in.text


async def test_script_in_a_description_is_shown_as_text(app: Starlette, client: httpx.AsyncClient) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with app.state.platform.db.session() as session:
        await services.update_booth(
            session,
            await session.get(Booth, booth.id),
            BoothFields(description=evil, tagline=evil),
            floor.organizer,
        )
        product = await session.get(Product, floor.products["LED desk lamp"].id)
        await services.update_product(
            session,
            product,
            await session.get(Booth, booth.id),
            ProductFields(description=evil),
            floor.organizer,
        )
    for url in (f"/expos/fair/booths/{booth.id}", f"/expos/fair/products/{product.id}", "/expos/fair"):
        page = await client.get(url)
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, url
    booth_page = await client.get(f"/expos/fair/booths/{booth.id}")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in booth_page.text


async def test_product_page_formats_the_price_per_language(app: Starlette, client: httpx.AsyncClient) -> None:
    floor = await floor_of(app)
    lamp = floor.products["LED desk lamp"]
    async with app.state.platform.db.session() as session:
        product = await session.get(Product, lamp.id)
        booth = await session.get(Booth, product.booth_id)
        fields = ProductFields(
            price_min=123450, price_max=200000, currency="USD", moq=500, tags=["led", "desk"]
        )
        await services.update_product(session, product, booth, fields, floor.organizer)
    english = await client.get(f"/expos/fair/products/{lamp.id}")
    assert "$1,234.50 \u2013 $2,000.00" in english.text
    assert (
        '<dd class="product-moq">500</dd>' in english.text
        and "Lighting" in english.text
        and ">led<" in english.text
    )
    chinese = await client.get(f"/expos/fair/products/{lamp.id}", headers={"Accept-Language": "zh-CN"})
    assert "US$1,234.50 \u2013 US$2,000.00" in chinese.text
    assert "LED台灯" in chinese.text  # the product's Chinese name


async def test_short_booth_links_redirect_and_pending_booths_stay_private(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Harbor Electric"]
    moved = await client.get(f"/booths/{booth.id}")
    assert moved.status_code == 301 and moved.headers["location"] == f"/expos/fair/booths/{booth.id}"
    owner = await make_account(app, "own@example.com", "exhibitor")
    async with app.state.platform.db.session() as session:
        expo = await session.get(Expo, floor.expo.id)
        pending = await services.create_booth(session, expo, BoothFields(name="Quiet Co"), owner)
    assert (await client.get(f"/expos/fair/booths/{pending.id}")).status_code == 404
    assert (await client.get(f"/booths/{pending.id}")).status_code == 404
    async with browser(app, "own@example.com") as own:
        page = await own.get(f"/expos/fair/booths/{pending.id}")
        assert page.status_code == 200 and "Not public yet" in page.text
    # A booth of one expo is not shown under another expo's address.
    async with app.state.platform.db.session() as session:
        await expos.ensure_expo(session, "other", "Other")
    assert (await client.get(f"/expos/other/booths/{booth.id}")).status_code == 404


# Booth editor -----------------------------------------------------------------------------------------------


async def test_exhibitor_applies_and_edits_the_profile_in_two_languages(app: Starlette) -> None:
    await floor_of(app)
    await make_account(app, "ex@example.com", "exhibitor")
    async with browser(app, "ex@example.com") as ex:
        applied = await post_form(ex, "/my/booths", "/expos/fair/apply", {"name": "Panda Lamps"})
        assert applied.status_code == 303
        edit_url = applied.headers["location"]
        booth_id = int(edit_url.split("/")[2])
        form = {
            "name": "Panda Lamps",
            "tagline": "Bright ideas",
            "description": "Lamps since 1990",
            "name_zh_Hans": "熊猫灯具",
            "tagline_zh_Hans": "好主意",
            "description_zh_Hans": "自1990年起",
            "country": "CN",
            "contact_name": "Li Wei",
            "contact_email": "li@example.com",
            "contact_phone": "+86 20 1234",
            "website": "https://panda.example",
            "links": "Catalogue | https://panda.example/catalogue",
        }
        saved = await post_form(ex, edit_url, edit_url, form)
        assert saved.status_code == 303, saved.text
        page = await ex.get(f"/expos/fair/booths/{booth_id}")
        assert "Bright ideas" in page.text and "Li Wei" in page.text
        assert 'href="https://panda.example/catalogue"' in page.text
        chinese = await ex.get(f"/expos/fair/booths/{booth_id}", headers={"Accept-Language": "zh"})
        # The account's locale is unset, so Accept-Language decides.
        assert "熊猫灯具" in chinese.text and "自1990年起" in chinese.text
        bad = await post_form(
            ex, edit_url, edit_url, {**form, "website": "javascript:alert(1)", "tagline": "Kept"}
        )
        assert bad.status_code == 422
        assert 'value="Kept"' in bad.text  # what was typed is shown again
    booth = await _booth(app, booth_id)
    assert booth.website == "https://panda.example" and booth.tagline == "Bright ideas"
    assert booth.status == BoothStatus.PENDING.value


async def test_editing_another_exhibitors_booth_is_refused(app: Starlette) -> None:
    floor = await floor_of(app)
    mine, theirs = floor.booths["Lumen Works"], floor.booths["Silk Road Weavers"]
    me = await make_account(app, "me@example.com", "exhibitor")
    await add_owner(app, mine, me)
    async with browser(app, "me@example.com") as ex:
        assert (await ex.get(f"/booths/{theirs.id}/edit")).status_code == 403
        token = csrf_of((await ex.get(f"/booths/{mine.id}/edit")).text)
        response = await ex.post(f"/booths/{theirs.id}/edit", data={"csrf_token": token, "name": "Hijacked"})
        assert response.status_code == 403
        product = await ex.post(f"/booths/{theirs.id}/products", data={"csrf_token": token, "name": "Fake"})
        assert product.status_code == 403
        no_csrf = await ex.post(f"/booths/{mine.id}/edit", data={"name": "No token"})
        assert no_csrf.status_code == 403
    assert (await _booth(app, theirs.id)).name == "Silk Road Weavers"
    assert (await _booth(app, mine.id)).name == "Lumen Works"


async def test_products_are_created_edited_and_deleted_from_the_editor(app: Starlette) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    me = await make_account(app, "me@example.com", "exhibitor")
    await add_owner(app, booth, me)
    base = f"/booths/{booth.id}/products"
    async with browser(app, "me@example.com") as ex:
        data = {
            "name": "Lava lamp",
            "name_zh_Hans": "熔岩灯",
            "description": "Relaxing",
            "price_min": "12.50",
            "price_max": "15",
            "currency": "usd",
            "moq": "100",
            "category_id": str(floor.categories["lighting"].id),
            "tags": "retro, glow",
        }
        created = await post_form(ex, base, base, data)
        assert created.status_code == 303, created.text
        product_id = int(created.headers["location"].rsplit("/", 1)[1])
        shown = await ex.get(f"/expos/fair/products/{product_id}")
        assert "$12.50 \u2013 $15.00" in shown.text and '<dd class="product-moq">100</dd>' in shown.text
        bad = await post_form(ex, base, base, {**data, "name": "Second", "price_min": "12.345"})
        assert bad.status_code == 422 and "A price is a number like 19.99 or 19,99." in bad.text
        assert 'value="Second"' in bad.text
        # A decimal comma is a decimal comma: 9,80 is 9.80, never 980.
        comma = await post_form(
            ex, base, base, {**data, "name": "Night light", "price_min": "9,80", "price_max": "1.234,50"}
        )
        assert comma.status_code == 303, comma.text
        night = int(comma.headers["location"].rsplit("/", 1)[1])
        assert "$9.80 \u2013 $1,234.50" in (await ex.get(f"/expos/fair/products/{night}")).text
        listing = await ex.get(base)  # deleting asks first
        assert f'action="{base}/{night}/delete" data-confirm="Delete this product for good?' in listing.text
        assert (await post_form(ex, f"{base}/{night}", f"{base}/{night}/delete")).status_code == 303
        mine = await ex.get("/my/booths")  # every inbox of the booth is a click away
        assert f'href="/booths/{booth.id}/meetings"' in mine.text
        inverted = await post_form(
            ex, base, base, {**data, "name": "Third", "price_min": "20", "price_max": "10"}
        )
        assert inverted.status_code == 422
        url = f"{base}/{product_id}"
        saved = await post_form(ex, url, url, {**data, "name": "Lava lamp XL", "currency": "EUR"})
        assert saved.status_code == 303
        assert "€12.50" in (await ex.get(f"/expos/fair/products/{product_id}")).text
        deleted = await post_form(ex, url, f"{url}/delete")
        assert deleted.status_code == 303
        assert (await ex.get(f"/expos/fair/products/{product_id}")).status_code == 404
    async with app.state.platform.db.session() as session:
        names = set((await session.exec(select(Product.name).where(Product.booth_id == booth.id))).all())
    assert names == {"LED desk lamp", "Paper lantern"}


async def test_catalogue_upload_imports_or_reports_each_bad_line(app: Starlette) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    me = await make_account(app, "me@example.com", "exhibitor")
    await add_owner(app, booth, me)
    page = f"/booths/{booth.id}/products"
    action = f"/booths/{booth.id}/catalog"
    header = "booth,product,description,category,price_min,price_max,currency,moq\n"
    good = (
        header + "Lumen Works,Candle,Wax,Electronics > Lighting,1.00,2.00,USD,10\nLumen Works,Torch,,,,,,\n"
    )
    bad = (
        header
        + "Lumen Works,Candle,,,1,2,USD,10\nLumen Works,Scarf,,,1,2,XYZ,\nLumen Works,Lamp,,,3,1,USD,\n"
    )
    other_booth = header + "Lumen Works,Candle,,,,,,\nSilk Road Weavers,Scarf,,,,,,\n"
    before = await _count(app, Product)
    async with browser(app, "me@example.com") as ex:
        refused = await post_form(ex, page, action, files={"file": ("cat.csv", bad.encode(), "text/csv")})
        assert refused.status_code == 422, refused.text[-3000:]
        assert "Line 3:" in refused.text and "Line 4:" in refused.text
        assert await _count(app, Product) == before  # nothing of the file was imported
        files = {"file": ("cat.csv", other_booth.encode(), "text/csv")}
        wrong_booth = await post_form(ex, page, action, files=files)
        assert wrong_booth.status_code == 422 and "Line 3:" in wrong_booth.text
        assert "this upload is for" in wrong_booth.text
        assert await _count(app, Product) == before
        imported = await post_form(ex, page, action, files={"file": ("cat.csv", good.encode(), "text/csv")})
        assert imported.status_code == 303, imported.text
    assert await _count(app, Product) == before + 2


async def test_owners_invite_staff_by_email(app: Starlette) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    owner = await make_account(app, "owner@example.com", "exhibitor")
    await add_owner(app, booth, owner)
    await make_account(app, "colleague@example.com", "exhibitor", name="Colleague")
    await make_account(app, "visitor@example.com", "visitor")
    url = f"/booths/{booth.id}/edit"
    async with browser(app, "owner@example.com") as ex:
        added = await post_form(ex, url, f"/booths/{booth.id}/staff", {"email": "colleague@example.com"})
        assert added.status_code == 303
        assert "colleague@example.com" in (await ex.get(url)).text
        refused = await post_form(ex, url, f"/booths/{booth.id}/staff", {"email": "visitor@example.com"})
        assert refused.status_code == 422 and "Only exhibitor accounts" in refused.text
        unknown = await post_form(ex, url, f"/booths/{booth.id}/staff", {"email": "nobody@example.com"})
        assert unknown.status_code == 404
    async with browser(app, "colleague@example.com") as colleague:
        assert (await colleague.get(url)).status_code == 200
        assert (await colleague.get("/my/booths")).text.count(f"/booths/{booth.id}/edit") == 1


# Organizer pages --------------------------------------------------------------------------------------------


async def test_organizer_sets_up_an_expo_and_approves_an_application(app: Starlette) -> None:
    await make_account(app, "org@example.com", "organizer")
    applicant = await make_account(app, "ex@example.com", "exhibitor")
    async with browser(app, "org@example.com") as org:
        created = await post_form(
            org, "/organizer/expos", "/organizer/expos", {"slug": "spring", "title": "Spring Fair"}
        )
        assert created.status_code == 303 and created.headers["location"] == "/organizer/expos/spring"
        base = "/organizer/expos/spring"
        assert (await post_form(org, base, f"{base}/halls", {"name": "Hall 1"})).status_code == 303
        assert (await post_form(org, base, f"{base}/categories", {"name": "Tools"})).status_code == 303
        taken = await post_form(
            org, "/organizer/expos", "/organizer/expos", {"slug": "spring", "title": "Again"}
        )
        assert taken.status_code == 409
        async with app.state.platform.db.session() as session:
            expo = await expos.get_expo(session, "spring")
            booth = await services.create_booth(session, expo, BoothFields(name="Applicant Co"), applicant)
            hall = (await session.exec(select(Hall).where(Hall.expo_id == expo.id))).one()
            assert (
                await session.exec(select(Category).where(Category.expo_id == expo.id))
            ).one().name == "Tools"
        page = await org.get(base)
        assert "Applicant Co" in page.text
        approved = await post_form(org, base, f"{base}/booths/{booth.id}/status", {"status": "approved"})
        assert approved.status_code == 303
        placed = await post_form(
            org,
            base,
            f"{base}/booths/{booth.id}/place",
            {"hall_id": str(hall.id), "number": "1.2A", "tier": "premium"},
        )
        assert placed.status_code == 303
    stored = await _booth(app, booth.id)
    assert (stored.status, stored.hall_id, stored.number, stored.tier) == (
        "approved",
        hall.id,
        "1.2A",
        "premium",
    )
    async with browser(app) as anonymous:
        assert "Applicant Co" in (await anonymous.get("/expos/spring")).text


async def test_non_organizers_cannot_approve_or_create_expos(app: Starlette) -> None:
    floor = await floor_of(app)
    applicant = await make_account(app, "ex@example.com", "exhibitor")
    async with app.state.platform.db.session() as session:
        expo = await session.get(Expo, floor.expo.id)
        booth = await services.create_booth(session, expo, BoothFields(name="Applicant Co"), applicant)
    async with browser(app, "ex@example.com") as ex:
        token = csrf_of((await ex.get("/my/booths")).text)
        mine = await ex.get("/organizer/expos")  # the expos whose team they are on: none
        assert mine.status_code == 200 and "/organizer/expos/fair" not in mine.text
        assert 'action="/organizer/expos"' not in mine.text  # no form to create one
        approve = await ex.post(
            f"/organizer/expos/fair/booths/{booth.id}/status",
            data={"csrf_token": token, "status": "approved"},
        )
        assert approve.status_code == 403
        create = await ex.post(
            "/organizer/expos", data={"csrf_token": token, "slug": "mine", "title": "Mine"}
        )
        assert create.status_code == 403
    assert (await _booth(app, booth.id)).status == "pending"


# Access: every booth page route as each role ----------------------------------------------------------------


async def test_every_booth_route_as_each_role(app: Starlette) -> None:
    """GET pages: anonymous is sent to log in, strangers (an organizer of another expo too) get 403 (or
    404 for a pending booth they may not see), staff and the expo's organizers get the page. POSTs
    without the right role never change anything."""
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    product = floor.products["LED desk lamp"]
    staff = await make_account(app, "staff@example.com", "exhibitor")
    await add_owner(app, booth, staff)
    await make_account(app, "other@example.com", "exhibitor")
    await make_account(app, "visitor@example.com", "visitor")
    await make_account(app, "org2@example.com", "organizer")
    b = booth.id
    editor_gets = [
        f"/booths/{b}/edit",
        f"/booths/{b}/products",
        f"/booths/{b}/products/{product.id}",
        f"/booths/{b}/leads",
        f"/booths/{b}/leads.csv",
        f"/booths/{b}/analytics",
    ]
    editor_posts = [
        f"/booths/{b}/edit",
        f"/booths/{b}/products",
        f"/booths/{b}/products/{product.id}",
        f"/booths/{b}/products/{product.id}/delete",
        f"/booths/{b}/staff",
        f"/booths/{b}/staff/{staff.id}/remove",
        f"/booths/{b}/media/1/delete",
        f"/booths/{b}/leads/1",
        f"/booths/{b}/upload",
        f"/booths/{b}/catalog",
    ]
    public = [f"/expos/fair/booths/{b}", f"/expos/fair/products/{product.id}", "/expos/fair", f"/booths/{b}"]
    expected = {
        None: 303,
        "visitor@example.com": 403,
        "other@example.com": 403,
        "staff@example.com": 200,
        "org@example.com": 200,  # the expo's owner
        "org2@example.com": 403,  # an organizer off this expo's team reads no more than a visitor
    }
    products_before = await _count(app, Product)
    for email, status in expected.items():
        async with browser(app, email) as who:
            for url in public:
                assert (await who.get(url)).status_code in (200, 301), (email, url)
            for url in editor_gets:
                response = await who.get(url)
                assert response.status_code == status, (email, url, response.status_code)
            if status == 200:
                continue
            token = csrf_of((await who.get("/expos/fair")).text)
            for url in editor_posts:
                response = await who.post(
                    url, data={"csrf_token": token, "name": "X", "email": "x@example.com"}
                )
                assert response.status_code == (303 if email is None else 403), (email, url)
                if email is None:
                    assert response.headers["location"] == "/login"
    assert await _count(app, Product) == products_before
    assert (await _booth(app, b)).name == "Lumen Works"
