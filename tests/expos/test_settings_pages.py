"""The organizer's back office for an expo: its settings in both languages (page and API), and
halls and categories renamed, reordered and deleted (refused while in use, unless told where what
is in them goes), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from starlette.applications import Starlette

from booths.models import Booth, Category, Hall, Product
from expo.config import Settings
from expo.expos.models import Expo
from expo.expos.services import find_expo
from tests.booths.web import browser, floor_of, make_account, post_form
from tests.conftest import make_settings

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
SETTINGS = "/organizer/expos/fair/settings"


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


async def _expo(app: Starlette) -> Expo:
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "fair")
        assert expo is not None
        return expo


def _form(**changes: str | list[str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "title": "Lighting Fair",
        "title_zh_Hans": "照明展",
        "description": "Lamps from everywhere.",
        "description_zh_Hans": "来自各地的灯具。",
        "starts_on": "2027-04-15",
        "ends_on": "2027-04-19",
        "timezone": "Asia/Shanghai",
        "languages": ["en", "zh_Hans"],
        "applications_open": "on",
    }
    form.update(changes)
    return form


async def test_organizers_edit_the_expo_in_both_languages(app: Starlette) -> None:
    await floor_of(app)
    async with browser(app, "org@example.com") as org:
        page = await org.get(SETTINGS)
        assert page.status_code == 200
        assert 'name="title_zh_Hans"' in page.text and '<option value="Asia/Shanghai"' in page.text
        saved = await post_form(org, SETTINGS, SETTINGS, _form())
        assert saved.status_code == 303
        again = await org.get(SETTINGS)
        assert "The expo&#39;s settings were saved." in again.text
        assert 'value="照明展"' in again.text and 'value="Asia/Shanghai" selected' in again.text
    expo = await _expo(app)
    assert (expo.title, expo.timezone, expo.starts_on) == (
        "Lighting Fair",
        "Asia/Shanghai",
        date(2027, 4, 15),
    )
    assert expo.translations == {"zh_Hans": {"title": "照明展", "description": "来自各地的灯具。"}}
    async with browser(app, "org@example.com") as org:
        org.headers.update(ZH)
        listed = await org.get("/organizer/expos")
        assert "照明展" in listed.text and "Lighting Fair" not in listed.text
        english = await org.get("/organizer/expos", headers={"Accept-Language": "en"})
        assert "Lighting Fair" in english.text


async def test_a_bad_date_keeps_what_was_typed_and_stores_nothing(app: Starlette) -> None:
    await floor_of(app)
    async with browser(app, "org@example.com") as org:
        backwards = await post_form(org, SETTINGS, SETTINGS, _form(ends_on="2027-04-01"))
        assert backwards.status_code == 422
        assert "An expo cannot end before it starts." in backwards.text
        assert 'value="照明展"' in backwards.text and 'value="2027-04-01"' in backwards.text
        garbled = await post_form(org, SETTINGS, SETTINGS, _form(starts_on="15/04/2027"))
        assert garbled.status_code == 422 and "year-month-day" in garbled.text
        zone = await post_form(org, SETTINGS, SETTINGS, _form(timezone="Mars/Olympus"))
        assert zone.status_code == 422 and "Choose a time zone from the list." in zone.text
        untitled = await post_form(org, SETTINGS, SETTINGS, _form(title=" "))
        assert untitled.status_code == 422 and "An expo needs a title." in untitled.text
    expo = await _expo(app)
    assert expo.title == "Fair" and expo.translations == {} and expo.timezone == "UTC"


async def test_only_the_expos_organizers_open_or_save_its_settings(app: Starlette) -> None:
    await floor_of(app)
    await make_account(app, "other@example.com", "organizer")
    async with browser(app, "other@example.com") as other:
        assert (await other.get(SETTINGS)).status_code == 403
        refused = await post_form(other, "/organizer/expos", SETTINGS, _form(title="Taken over"))
        assert refused.status_code == 403
    async with browser(app) as anonymous:
        assert (await anonymous.get(SETTINGS)).status_code in (302, 303)
    assert (await _expo(app)).title == "Fair"


async def test_the_api_patches_translations_and_refuses_bad_dates(app: Starlette) -> None:
    await floor_of(app)
    async with browser(app) as api:
        login = await api.post(
            "/api/auth/login", json={"email": "org@example.com", "password": "correct horse battery"}
        )
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"
        patched = await api.patch(
            "/api/expos/fair",
            json={"translations": {"zh_Hans": {"title": "博览会"}}, "timezone": "Europe/Berlin"},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["translations"] == {"zh_Hans": {"title": "博览会"}}
        bad = await api.patch("/api/expos/fair", json={"starts_on": "2027-05-02", "ends_on": "2027-05-01"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "expo.invalid_dates"
        zone = await api.patch("/api/expos/fair", json={"timezone": "Nowhere/City"})
        assert zone.status_code == 422 and zone.json()["error"]["code"] == "expo.invalid_timezone"
        unknown = await api.patch("/api/expos/fair", json={"translations": {"fr": {"title": "Foire"}}})
        assert unknown.status_code == 422
    assert (await _expo(app)).timezone == "Europe/Berlin"


async def test_a_new_expo_can_have_a_chinese_title(app: Starlette) -> None:
    await make_account(app, "maker@example.com", "organizer")
    async with browser(app, "maker@example.com") as org:
        data = {**_form(title="Tea Week", title_zh_Hans="茶叶周"), "slug": "tea-week"}
        created = await post_form(org, "/organizer/expos", "/organizer/expos", data)
        assert created.status_code == 303
        data["slug"] = "Bad Slug!"
        refused = await post_form(org, "/organizer/expos", "/organizer/expos", data)
        assert refused.status_code == 422 and 'value="茶叶周"' in refused.text
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "tea-week")
        assert expo is not None and expo.translations["zh_Hans"]["title"] == "茶叶周"


# Halls and categories ---------------------------------------------------------------------------------

FLOOR = "/organizer/expos/fair"


async def test_halls_are_renamed_in_both_languages_and_reordered(app: Starlette) -> None:
    floor = await floor_of(app)
    hall_a, hall_b = floor.halls["Hall A"].id, floor.halls["Hall B"].id
    async with browser(app, "org@example.com") as org:
        renamed = await post_form(
            org, FLOOR, f"{FLOOR}/halls/{hall_b}", {"name": "Hall B (Textiles)", "name_zh_Hans": "B馆"}
        )
        assert renamed.status_code == 303
        moved = await post_form(org, FLOOR, f"{FLOOR}/halls/{hall_b}/move", {"direction": "up"})
        assert moved.status_code == 303
        page = await org.get(FLOOR, headers=ZH)
        assert page.text.index("B馆") < page.text.index("Hall A")
        english = (await org.get(FLOOR)).text
        assert english.index("Hall B (Textiles)") < english.index("Hall A")
        agenda_form = await org.get(f"{FLOOR}/agenda", headers=ZH)
        assert "B馆" in agenda_form.text
    async with app.state.platform.db.session() as session:
        b = await session.get(Hall, hall_b)
        a = await session.get(Hall, hall_a)
        assert b is not None and a is not None and b.position < a.position


async def test_a_hall_with_booths_is_deleted_only_when_told_where_they_go(app: Starlette) -> None:
    floor = await floor_of(app)
    hall_a, hall_b = floor.halls["Hall A"].id, floor.halls["Hall B"].id
    async with browser(app, "org@example.com") as org:
        page = await org.get(FLOOR)
        assert f'action="{FLOOR}/halls/{hall_a}/delete" data-confirm=' in page.text
        refused = await post_form(org, FLOOR, f"{FLOOR}/halls/{hall_a}/delete", {"move_to": ""})
        assert refused.status_code == 409
        assert "Booths in this hall: 2. Choose where they go, then delete the hall." in refused.text
        refused_zh = await post_form(org, FLOOR, f"{FLOOR}/halls/{hall_a}/delete", {}, headers=ZH)
        assert refused_zh.status_code == 409 and "该展馆有 2 个展位。" in refused_zh.text
        deleted = await post_form(org, FLOOR, f"{FLOOR}/halls/{hall_a}/delete", {"move_to": str(hall_b)})
        assert deleted.status_code == 303
    async with app.state.platform.db.session() as session:
        assert await session.get(Hall, hall_a) is None
        lumen = await session.get(Booth, floor.booths["Lumen Works"].id)
        assert lumen is not None and lumen.hall_id == hall_b


async def test_categories_in_use_are_refused_with_a_count_then_moved(app: Starlette) -> None:
    floor = await floor_of(app)
    electronics, lighting = floor.categories["electronics"].id, floor.categories["lighting"].id
    textiles = floor.categories["textiles"].id
    async with browser(app, "org@example.com") as org:
        parent = await post_form(org, FLOOR, f"{FLOOR}/categories/{electronics}/delete", {"move_to": "none"})
        assert parent.status_code == 409 and "Subcategories of this category: 1." in parent.text
        used = await post_form(org, FLOOR, f"{FLOOR}/categories/{lighting}/delete", {})
        assert used.status_code == 409 and "Products in this category: 2." in used.text
        renamed = await post_form(
            org, FLOOR, f"{FLOOR}/categories/{textiles}", {"name": "Fabrics", "name_zh_Hans": "面料"}
        )
        assert renamed.status_code == 303
        moved = await post_form(org, FLOOR, f"{FLOOR}/categories/{textiles}/move", {"direction": "up"})
        assert moved.status_code == 303
        page = await org.get(FLOOR, headers=ZH)
        assert page.text.index("面料") < page.text.index("Electronics")
        gone = await post_form(
            org, FLOOR, f"{FLOOR}/categories/{lighting}/delete", {"move_to": str(electronics)}
        )
        assert gone.status_code == 303
    async with app.state.platform.db.session() as session:
        assert await session.get(Category, lighting) is None
        lamp = await session.get(Product, floor.products["LED desk lamp"].id)
        assert lamp is not None and lamp.category_id == electronics


async def test_the_api_refuses_deleting_a_hall_in_use_and_moves_its_booths_when_told(app: Starlette) -> None:
    floor = await floor_of(app)
    hall_a = floor.halls["Hall A"].id
    async with browser(app) as api:
        login = await api.post(
            "/api/auth/login", json={"email": "org@example.com", "password": "correct horse battery"}
        )
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"
        refused = await api.delete(f"/api/expos/fair/halls/{hall_a}")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "hall.in_use"
        bad = await api.delete(f"/api/expos/fair/halls/{hall_a}", params={"move_to": "elsewhere"})
        assert bad.status_code == 422
        done = await api.delete(f"/api/expos/fair/halls/{hall_a}", params={"move_to": "none"})
        assert done.status_code == 204
        category = floor.categories["textiles"].id
        refused = await api.delete(f"/api/expos/fair/categories/{category}")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "category.in_use"
    async with app.state.platform.db.session() as session:
        lumen = await session.get(Booth, floor.booths["Lumen Works"].id)
        assert lumen is not None and lumen.hall_id is None


# Organizer content in Chinese ---------------------------------------------------------------------------


async def test_a_chinese_reader_sees_the_chinese_program_and_hall_names(app: Starlette) -> None:
    floor = await floor_of(app)
    hall = floor.halls["Hall A"].id
    async with browser(app, "org@example.com") as org:
        await post_form(org, FLOOR, f"{FLOOR}/halls/{hall}", {"name": "Hall A", "name_zh_Hans": "A馆"})
        form = {
            "title": "Opening ceremony",
            "title_zh_Hans": "开幕式",
            "track": "Main stage",
            "track_zh_Hans": "主舞台",
            "description": "Welcome.",
            "hall_id": str(hall),
            "starts_at": "2030-05-01T10:00",
            "ends_at": "2030-05-01T11:00",
        }
        added = await post_form(org, f"{FLOOR}/agenda", f"{FLOOR}/agenda", form)
        assert added.status_code == 303, added.text
        chinese = (await org.get(f"{FLOOR}/agenda", headers=ZH)).text
        assert "开幕式" in chinese and "主舞台" in chinese and "A馆" in chinese
        english = (await org.get(f"{FLOOR}/agenda")).text
        assert "Opening ceremony" in english and "开幕式" not in english
        program_id = added.headers["location"].rsplit("/", 1)[1]
        edit = await org.get(f"{FLOOR}/agenda/{program_id}")
        assert 'name="title_zh_Hans"' in edit.text and 'value="开幕式"' in edit.text
    async with browser(app) as visitor:
        public = await visitor.get(f"/expos/fair/agenda/{program_id}", headers=ZH)
        assert "A馆" in public.text
        api = await visitor.get(f"/api/programs/{program_id}")
        assert api.json()["translations"]["zh_Hans"]["title"] == "开幕式"


async def test_the_registration_form_speaks_the_visitors_language(app: Starlette) -> None:
    await floor_of(app)
    form = {
        "company_mode": "optional",
        "country_mode": "off",
        "job_role_mode": "off",
        "interests_mode": "off",
        "new_label": "How did you hear of us?",
        "new_label_zh_Hans": "您是如何了解到我们的",
        "new_kind": "select",
        "new_options": "A friend\nThe press",
        "new_options_zh_Hans": "朋友\n媒体",
        "consent_text": "We keep your details for this expo.",
        "consent_text_zh_Hans": "我们仅为本届展会保存您的信息。",
    }
    builder = f"{FLOOR}/registration/form"
    async with browser(app, "org@example.com") as org:
        saved = await post_form(org, builder, builder, form)
        assert saved.status_code == 303, saved.text
        again = await org.get(builder)
        assert 'value="您是如何了解到我们的"' in again.text and "朋友\n媒体" in again.text
        too_many = await post_form(
            org, builder, builder, {**form, "new_label": "Size", "new_options_zh_Hans": "大\n中\n小"}
        )
        assert too_many.status_code == 422
    await make_account(app, "visitor@example.com", "visitor")
    async with browser(app, "visitor@example.com") as visitor:
        page = (await visitor.get("/expos/fair/register", headers=ZH)).text
        assert "您是如何了解到我们的" in page and ">朋友</option>" in page
        assert 'value="A friend"' in page and "我们仅为本届展会保存您的信息。" in page
        english = (await visitor.get("/expos/fair/register", headers={"Accept-Language": "en"})).text
        assert "How did you hear of us?" in english and "朋友" not in english


async def test_a_broadcast_has_a_chinese_title(app: Starlette) -> None:
    await floor_of(app)
    data = {
        "title": "Factory tour",
        "title_zh_Hans": "工厂参观",
        "expo": "fair",
        "visibility": "public",
    }
    async with browser(app, "org@example.com") as org:
        created = await post_form(org, "/streams", "/streams", data)
        assert created.status_code == 303, created.text
        listed = (await org.get("/streams", headers=ZH)).text
        assert "工厂参观" in listed
        stream_id = created.headers["location"].split("/")[2]
    async with browser(app) as visitor:
        watch = (await visitor.get(f"/watch/{stream_id}", headers=ZH)).text
        assert "工厂参观" in watch
        assert "Factory tour" in (await visitor.get(f"/watch/{stream_id}")).text


async def test_a_room_has_a_chinese_title(app: Starlette) -> None:
    await floor_of(app)
    async with browser(app, "org@example.com") as org:
        data = {"title": "Contract signing", "title_zh_Hans": "签约仪式", "expo": "fair"}
        opened = await post_form(org, "/rooms", "/rooms", data)
        assert opened.status_code == 303, opened.text
        assert "签约仪式" in (await org.get("/rooms", headers=ZH)).text
        assert "签约仪式" not in (await org.get("/rooms")).text
