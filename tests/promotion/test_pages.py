"""The promotion site in-process: the organizer writes the letter and a module's section in both
languages and uploads the poster, film and subtitles; visitors read it in their language; other
expos' organizers are refused; hostile text is shown as text; the sitemap lists every page."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from expo.expos.services import find_expo
from expo.promotion import services as promo
from tests.booths.web import browser, post_form
from tests.promotion.conftest import MP4, SITE, VTT_EN, VTT_ZH, make_png, seed_expos

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
LETTER = {
    "letter_title": "Dear investors",
    "letter_body": "Shenzhen welcomes you.\n\nWe will serve you well.",
    "letter_signatory": "Bureau of Commerce",
    "letter_date": (date.today() - timedelta(days=7)).isoformat(),
    "letter_title_zh_Hans": "致投资者的一封信",
    "letter_body_zh_Hans": "深圳欢迎您。",
    "letter_signatory_zh_Hans": "深圳市商务局",
}
SECTION = {
    "heading": "A market of 17 million",
    "body": "Consumers, suppliers and ports.",
    "figure_value": "3.6 trillion",
    "figure_label": "GDP in yuan",
    "heading_zh_Hans": "一千七百万人的市场",
    "body_zh_Hans": "消费者、供应商与港口。",
    "figure_label_zh_Hans": "地区生产总值",
}
ADVANTAGES = SITE + "/advantages"


async def upload(
    client: httpx.AsyncClient, page: str, action: str, slot: str, name: str, data: bytes
) -> httpx.Response:
    return await post_form(
        client, page, action, {"slot": slot}, files={"file": (name, data, "application/octet-stream")}
    )


async def write_site(org: httpx.AsyncClient) -> int:
    """The letter, a section of the advantages page with its picture, the poster, film and subtitles."""
    saved = await post_form(org, SITE, SITE + "/letter", LETTER)
    assert saved.status_code == 303, saved.text
    added = await post_form(org, ADVANTAGES, ADVANTAGES + "/sections", SECTION)
    assert added.status_code == 303, added.text
    section_id = int(added.headers["location"].rsplit("-", 1)[1])
    for slot, name, data in [
        ("poster", "poster.png", make_png()),
        ("film", "film.mp4", MP4),
        ("subtitles_en", "en.vtt", VTT_EN.encode()),
        ("subtitles_zh_Hans", "zh.vtt", VTT_ZH.encode()),
    ]:
        answer = await upload(org, SITE, SITE + "/film", slot, name, data)
        assert answer.status_code == 303, (slot, answer.text)
    action = f"{ADVANTAGES}/sections/{section_id}/upload"
    assert (await upload(org, ADVANTAGES, action, "picture", "p.png", make_png("navy"))).status_code == 303
    return section_id


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_the_organizers_site_shows_in_each_visitors_language(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        await write_site(org)
        editor = await org.get(SITE)
        assert 'value="致投资者的一封信"' in editor.text and "Sections: 1" in editor.text
    async with browser(app) as anon:
        chinese = await anon.get("/expos/city/invest", headers=ZH)
        assert chinese.status_code == 200
        assert "致投资者的一封信" in chinese.text and "深圳市商务局" in chinese.text
        assert "Dear investors" not in chinese.text
        english = await anon.get("/expos/city/invest", headers=EN)
        assert "Dear investors" in english.text and "致投资者" not in english.text
        # Two paragraphs, the film with its poster and both subtitle tracks (the reader's by default).
        assert "<p>Shenzhen welcomes you.</p><p>We will serve you well.</p>" in english.text
        assert '<video controls preload="metadata" playsinline src="/media/' in english.text
        assert 'poster="/media/' in english.text
        assert (
            'srclang="en" label="English" src="/expos/city/invest/subtitles/en.vtt" default' in english.text
        )
        assert (
            'srclang="zh-Hans" label="简体中文" src="/expos/city/invest/subtitles/zh_Hans.vtt" default'
            in chinese.text
        )
        vtt = await anon.get("/expos/city/invest/subtitles/zh_Hans.vtt")
        assert vtt.headers["content-type"] == "text/vtt; charset=utf-8" and "欢迎来到深圳" in vtt.text
        module_zh = await anon.get("/expos/city/invest/advantages", headers=ZH)
        assert "一千七百万人的市场" in module_zh.text and "地区生产总值" in module_zh.text
        assert "3.6 trillion" in module_zh.text and 'class="promo-picture" src="/media/' in module_zh.text
        module_en = await anon.get("/expos/city/invest/advantages", headers=EN)
        assert "A market of 17 million" in module_en.text and "一千七百万" not in module_en.text
        # A module without sections says so; an unknown module is not a page.
        assert "This page has no content yet." in (await anon.get("/expos/city/invest/city", headers=EN)).text
        assert (await anon.get("/expos/city/invest/casino")).status_code == 404
        assert (await anon.get("/expos/nowhere/invest")).status_code == 404


async def test_an_empty_translation_falls_back_to_english(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        english_only = {k: v for k, v in SECTION.items() if not k.endswith("zh_Hans")}
        assert (await post_form(org, ADVANTAGES, ADVANTAGES + "/sections", english_only)).status_code == 303
    async with browser(app) as anon:
        page = await anon.get("/expos/city/invest/advantages", headers=ZH)
        assert "A market of 17 million" in page.text and "投资优势" in page.text


async def test_another_expos_organizer_is_refused(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        section_id = await write_site(org)
    section = f"{ADVANTAGES}/sections/{section_id}"
    async with browser(app, "other@example.com") as other:
        token_page = await other.get("/organizer/expos/zone/invest")  # their own expo's editor
        assert token_page.status_code == 200
        assert (await other.get(SITE)).status_code == 403
        assert (await other.get(ADVANTAGES)).status_code == 403
        for action, data in [
            (SITE + "/letter", {**LETTER, "letter_title": "Hijacked"}),
            (ADVANTAGES + "/sections", SECTION),
            (section, {**SECTION, "heading": "Hijacked"}),
            (section + "/remove", {}),
            (SITE + "/film/remove", {"slot": "film"}),
        ]:
            answer = await post_form(other, "/organizer/expos/zone/invest", action, data)
            assert answer.status_code == 403, action
        refused = await upload(
            other, "/organizer/expos/zone/invest", SITE + "/film", "poster", "x.png", make_png("red")
        )
        assert refused.status_code == 403
    async with browser(app, "visitor@example.com") as visitor:
        assert (await visitor.get(SITE)).status_code == 403
    async with browser(app) as anon:
        to_login = await anon.get(SITE)
        assert to_login.status_code in (302, 303) and to_login.headers["location"].startswith("/login")
        page = await anon.get("/expos/city/invest/advantages", headers=EN)
        assert "Hijacked" not in page.text and "A market of 17 million" in page.text


async def test_hostile_text_is_shown_as_text(app: Starlette) -> None:
    await seed_expos(app)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with browser(app, "org@example.com") as org:
        letter = {**LETTER, "letter_title": hostile, "letter_body_zh_Hans": hostile}
        assert (await post_form(org, SITE, SITE + "/letter", letter)).status_code == 303
        section = {**SECTION, "heading": hostile, "figure_value": "<b>9</b>"}
        assert (await post_form(org, ADVANTAGES, ADVANTAGES + "/sections", section)).status_code == 303
        editor = await org.get(ADVANTAGES)
        assert "<script>alert" not in editor.text
    async with browser(app) as anon:
        for path, headers in [
            ("/expos/city/invest", EN),
            ("/expos/city/invest", ZH),
            ("/expos/city/invest/advantages", EN),
        ]:
            page = await anon.get(path, headers=headers)
            assert (
                "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>9" not in page.text
            )
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


async def test_mistakes_show_beside_their_fields_and_nothing_is_stored(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        bad = {**LETTER, "letter_title": "", "letter_date": "June 1st"}
        answer = await post_form(org, SITE, SITE + "/letter", bad)
        assert answer.status_code == 422
        assert 'id="err-letter_title">This is required.' in answer.text
        assert 'id="err-letter_date">Give dates as year-month-day' in answer.text
        assert "深圳欢迎您。</textarea>" in answer.text  # what was typed is kept
        no_label = {**SECTION, "figure_label": "", "position": "first"}
        answer = await post_form(org, ADVANTAGES, ADVANTAGES + "/sections", no_label, headers=ZH)
        assert answer.status_code == 422
        assert 'id="err-new-figure_label">' in answer.text and 'id="err-new-position">' in answer.text
        assert "This is required." not in answer.text  # in Chinese: the page is the reader's language
        not_vtt = await upload(
            org, SITE, SITE + "/film", "subtitles_en", "en.vtt", b"1\n00:00 --> 00:01\nhi\n"
        )
        assert not_vtt.status_code == 422 and "Subtitles are a WebVTT file in UTF-8." in not_vtt.text
        image_as_film = await upload(org, SITE, SITE + "/film", "film", "film.mp4", make_png())
        assert image_as_film.status_code == 422 and "The film is an MP4 or WebM video." in image_as_film.text
        html_as_poster = await upload(
            org, SITE, SITE + "/film", "poster", "p.png", b"<html><script>x</script>"
        )
        assert html_as_poster.status_code == 415
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "city")
        assert expo is not None
        assert await promo.find_site(session, expo) is None
        assert await promo.sections(session, expo) == []


async def test_the_sitemap_lists_every_page(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        await write_site(org)
    async with browser(app) as anon:
        sitemap = await anon.get("/expos/city/invest/sitemap.xml")
    assert sitemap.status_code == 200 and sitemap.headers["content-type"].startswith("application/xml")
    base = app.state.platform.settings.base_url
    for path in promo.page_paths("city"):
        assert f"<loc>{base}{path}</loc>" in sitemap.text
    assert sitemap.text.count("<url>") == 7 and sitemap.text.count("<lastmod>") == 2
