"""Invitation letters in-process: a hostile CSV is reported line by line and nothing is sent; a clean
one sends a personal letter each through the outbox in the investor's language; the letter's
signed link greets them by name and records the funnel (sent, opened, registered, filed), a
tampered link is refused; addresses are invited once per expo; the organizer downloads the funnel;
other expos' organizers are refused; the API says the same."""

from __future__ import annotations

import base64
import csv
import io
import re
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.accounts import services as accounts
from expo.expos.services import find_expo
from expo.mail.models import OutboxMessage
from expo.promotion import invitations as inv
from expo.promotion.invitations_csv import read_invitees
from expo.promotion.models import PromotionInvitation
from tests.booths.web import PASSWORD, browser, post_form
from tests.promotion.conftest import SITE, seed_expos

PAGE = "/organizer/expos/city/invitations"
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
CLEAN = (
    "name,email,company,language\n"
    "Ann Lee,ann@invest.example,Lee Capital,en\n"
    "王伟,wang@invest.example,深创投,zh\n"
).encode()
HOSTILE = (
    "\ufeffEmail,Name,Company,Language\n"  # a byte-order mark and columns in another order
    "good@invest.example,Good Investor,Good Fund,en\n"
    "not-an-address,Bad Mail,,en\n"
    "nameless@invest.example,,,zh\n"
    "fr@invest.example,Jean,,fr\n"
    "GOOD@invest.example,Twice,,en\n"
    "ctl@invest.example,Bell\x07,,en\n"
    "short@invest.example,Short\n"
    "\n"
    "last@invest.example,Last Good,,ZH\n"
).encode()
LINK = re.compile(r"http://\S+/expos/city/invest/invited/(\S+)")


async def letters(app: Starlette) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def stored(app: Starlette) -> list[PromotionInvitation]:
    async with app.state.platform.db.session() as session:
        query = select(PromotionInvitation).order_by(col(PromotionInvitation.id))
        return list((await session.exec(query)).all())


async def upload(client: httpx.AsyncClient, data: bytes, **kwargs: Any) -> httpx.Response:
    files = {"file": ("investors.csv", data, "text/csv")}
    return await post_form(client, PAGE, PAGE + "/preview", files=files, **kwargs)


def sent_form(preview: httpx.Response) -> dict[str, str]:
    """The preview's send form as the browser submits it."""
    match = re.search(r'<input type="hidden" name="csv" value="([^"]*)">', preview.text)
    assert match, "the preview has no send form"
    data = {"csv": match.group(1)}
    if 'name="good_only" value="1"' in preview.text:
        data["good_only"] = "1"
    return data


def test_every_bad_line_is_reported_with_its_reasons() -> None:
    reading = read_invitees(HOSTILE)
    assert [(i.line, i.email, i.language) for i in reading.invitees] == [
        (2, "good@invest.example", "en"),
        (10, "last@invest.example", "zh_Hans"),
    ]
    reasons = {p.line: " ".join(p.reasons) for p in reading.problems}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert "'not-an-address' is not an e-mail address" in reasons[3]
    assert "the name is empty" in reasons[4]
    assert "language 'fr' is not en or zh" in reasons[5]
    assert "good@invest.example is already on an earlier line" in reasons[6]
    assert "name contains a control character" in reasons[7]
    assert "2 fields where the header has 4" in reasons[8]
    assert not reading.clean
    for data, expected in [
        (b"", "the file is empty"),
        (b"name,phone\nAnn,1\n", "unknown columns: phone"),
        (b"name,company\nAnn,X\n", "missing columns: email"),
        (b"name,email\n", "the file lists nobody to invite"),
        (b"name,email\nAnn,\xff@x.example\n", "not UTF-8"),
        (b'name,email\n"Ann,ann@x.example\n', "not valid CSV"),
        (b"name,email\nAnn,a@x.example\x00\n", "NUL bytes"),
        (b"name,email\n" + b"A,a@x.example\n" * 40000, "larger than 512 KiB"),
    ]:
        problems = read_invitees(data).problems
        assert problems and expected in " ".join(problems[0].reasons), (data[:30], problems)


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_a_file_with_problems_sends_nothing_unless_the_good_rows_are_chosen(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        preview = await upload(org, HOSTILE, headers=EN)
        assert preview.status_code == 422
        assert "nothing was sent" in preview.text
        assert "<strong>Line 3</strong>: &#39;not-an-address&#39; is not an e-mail address" in preview.text
        assert "<strong>Line 8</strong>: 2 fields where the header has 4" in preview.text
        assert "Send the good rows only (2)" in preview.text
        assert await letters(app) == [] and await stored(app) == []
        # The whole file, without choosing the good rows, is refused again with the same report.
        refused = await post_form(
            org, PAGE, PAGE + "/send", {"csv": base64.b64encode(HOSTILE).decode()}, headers=EN
        )
        assert refused.status_code == 422 and "<strong>Line 5</strong>" in refused.text
        assert await letters(app) == [] and await stored(app) == []
        sent = await post_form(org, PAGE, PAGE + "/send", sent_form(preview))
        assert sent.status_code == 303
    assert [i.email for i in await stored(app)] == ["good@invest.example", "last@invest.example"]
    assert sorted(m.to_address for m in await letters(app)) == ["good@invest.example", "last@invest.example"]


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_personal_letters_go_out_in_each_language_and_once_per_address(app: Starlette) -> None:
    await seed_expos(app)
    letter = {"letter_title": "Dear investors", "letter_body": "Shenzhen welcomes you."}
    letter |= {"letter_body_zh_Hans": "深圳欢迎您。"}
    async with browser(app, "org@example.com") as org:
        assert (await post_form(org, SITE, SITE + "/letter", letter)).status_code == 303
        preview = await upload(org, CLEAN, headers=EN)
        assert preview.status_code == 200 and "Send the letters (2)" in preview.text
        assert "王伟" in preview.text and "nothing was sent" not in preview.text
        assert await letters(app) == []  # a preview sends nothing
        assert (await post_form(org, PAGE, PAGE + "/send", sent_form(preview))).status_code == 303
        # The same addresses again: refused by line, nothing sent twice.
        again = await upload(org, CLEAN, headers=EN)
        assert again.status_code == 422
        assert "<strong>Line 2</strong>: ann@invest.example was invited already" in again.text
        funnel = await org.get(PAGE, headers=EN)
        assert 'data-stage="sent"><span class="value">2</span>' in funnel.text
    ann, wang = await letters(app)
    assert (ann.to_address, wang.to_address) == ("ann@invest.example", "wang@invest.example")
    assert ann.subject == "Ann Lee, you are invited to Shenzhen Invest"
    assert "Dear Ann Lee," in ann.body and "Lee Capital" in ann.body and "Shenzhen welcomes you." in ann.body
    assert (
        wang.subject.startswith("王伟")
        and "诚邀您参加" in wang.subject
        and "深圳欢迎您。" in wang.body
        and "深创投" in wang.body
    )
    ann_link, wang_link = (LINK.search(m.body) for m in (ann, wang))
    assert ann_link and wang_link and ann_link.group(1) != wang_link.group(1)
    assert len(await stored(app)) == 2


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_the_signed_link_records_the_funnel_and_a_tampered_one_is_refused(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "org@example.com") as org:
        preview = await upload(org, CLEAN)
        await post_form(org, PAGE, PAGE + "/send", sent_form(preview))
    ann_mail, wang_mail = await letters(app)
    ann_match, wang_match = LINK.search(ann_mail.body), LINK.search(wang_mail.body)
    assert ann_match and wang_match
    ann_token, wang_token = ann_match.group(1), wang_match.group(1)
    ann_path, wang_path = (
        f"/expos/city/invest/invited/{ann_token}",
        f"/expos/city/invest/invited/{wang_token}",
    )
    async with browser(app, "org@example.com") as org:  # trying the link records nothing
        assert "Welcome, Ann Lee" in (await org.get(ann_path, headers=EN)).text
    async with browser(app) as anon:
        payload, mac = ann_token.rsplit(".", 1)
        for forged in [
            f"{payload}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # the signature altered
            f"{wang_token.rsplit('.', 1)[0]}.{mac}",  # another invitation's id under Ann's signature
            "eyJlIjoxLCJpIjoxfQ.forged",
            "中文",
        ]:
            refused = await anon.get(f"/expos/city/invest/invited/{forged}", headers=EN)
            assert refused.status_code == 404, forged
        # A good link under another expo's address is refused too.
        assert (await anon.get(f"/expos/zone/invest/invited/{ann_token}")).status_code == 404
        assert all(i.opened_at is None for i in await stored(app))

        welcome = await anon.get(ann_path, headers=EN)
        assert welcome.status_code == 200 and "Welcome, Ann Lee" in welcome.text
        assert 'value="ann@invest.example"' in welcome.text  # the sign-up form, filled in
        chinese = await anon.get(wang_path, headers=ZH)
        assert "王伟" in chinese.text and "诚邀您了解" in chinese.text
    ann, wang = await stored(app)
    assert inv.stage_of(ann) is inv.Stage.OPENED and ann.registered_at is None
    opened_at = ann.opened_at

    # Ann signs up from her welcome page: registered, with her new account.
    async with browser(app) as ann_browser:
        short = await post_form(
            ann_browser,
            ann_path,
            ann_path + "/signup",
            {"name": "Ann Lee", "email": "ann@invest.example", "password": "x"},
        )
        assert short.status_code == 422 and 'id="err-password"' in short.text
        joined = await post_form(
            ann_browser,
            ann_path,
            ann_path + "/signup",
            {"name": "Ann Lee", "email": "ann@invest.example", "password": PASSWORD},
        )
        assert joined.status_code == 303
        signed_in = await ann_browser.get(ann_path, headers=EN)
        assert "You are signed in" in signed_in.text
    # Wang already has an account: he signs in through his link and comes back to it.
    async with app.state.platform.db.session() as session:
        await accounts.create_user(session, email="wang.wei@invest.example", password=PASSWORD, name="王伟")
    async with browser(app) as wang_browser:
        page = await wang_browser.get(wang_path)
        assert f'href="/login?next={wang_path}"' in page.text
        form = await wang_browser.get(f"/login?next={wang_path}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        login = {"csrf_token": token.group(1), "email": "wang.wei@invest.example", "password": PASSWORD}
        signed = await wang_browser.post("/login", data={**login, "next": wang_path})
        assert signed.status_code == 303 and signed.headers["location"] == wang_path
        await wang_browser.get(wang_path)
    ann, wang = await stored(app)
    assert inv.stage_of(ann) is inv.Stage.REGISTERED and ann.opened_at == opened_at and ann.user_id
    assert inv.stage_of(wang) is inv.Stage.REGISTERED and wang.user_id and wang.user_id != ann.user_id

    # Project filing reports Ann's project: filed. Only forward, each moment written once.
    async with app.state.platform.db.session() as session:
        expo = await find_expo(session, "city")
        assert expo is not None and expo.id is not None and ann.user_id is not None
        assert await inv.mark_invitation(session, expo.id, ann.user_id, "filed") is True
        await session.commit()
        assert await inv.mark_invitation(session, expo.id, ann.user_id, "filed") is False
        assert await inv.mark_invitation(session, expo.id, 999999, "filed") is False
    ann, wang = await stored(app)
    assert inv.stage_of(ann) is inv.Stage.FILED and ann.registered_at is not None
    async with browser(app, "org@example.com") as org:
        page = await org.get(PAGE, headers=EN)
        for stage, count in [("sent", 2), ("opened", 2), ("registered", 2), ("filed", 1)]:
            assert f'data-stage="{stage}"><span class="value">{count}</span>' in page.text
        download = await org.get("/organizer/expos/city/invitations.csv")
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(download.text))}
    assert rows["ann@invest.example"]["stage"] == "filed" and rows["ann@invest.example"]["filed_at"]
    assert (
        rows["wang@invest.example"]["stage"] == "registered" and rows["wang@invest.example"]["filed_at"] == ""
    )


async def test_other_organizers_are_refused_and_the_api_reports_lines(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_expos(app)
    async with browser(app, "other@example.com") as other:
        assert (await other.get(PAGE)).status_code == 403
        assert (await other.get("/organizer/expos/city/invitations.csv")).status_code == 403
        refused = await post_form(
            other,
            "/organizer/expos/zone/invitations",
            PAGE + "/send",
            {"csv": base64.b64encode(CLEAN).decode()},
        )
        assert refused.status_code == 403
    async with browser(app, "visitor@example.com") as visitor:
        assert (await visitor.get(PAGE)).status_code == 403
    assert await letters(app) == []

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}

    async def token_of(email: str) -> str:
        answer = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        return str(answer.json()["token"])

    org, stranger = bearer(await token_of("org@example.com")), bearer(await token_of("other@example.com"))
    api = "/api/expos/city/invitations"
    assert (await client.post(api, content=CLEAN, headers=stranger)).status_code == 403
    bad = await client.post(api, content=HOSTILE, headers=org)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invitation.invalid"
    assert [d["line"] for d in bad.json()["error"]["details"]] == [3, 4, 5, 6, 7, 8]
    assert await letters(app) == []
    good = await client.post(api + "?good_rows_only=true", content=HOSTILE, headers=org)
    assert good.status_code == 201 and good.json()["sent"] == 2 and len(good.json()["skipped"]) == 6
    funnel = (await client.get(api, headers=org)).json()
    assert funnel["funnel"] == {"sent": 2, "opened": 0, "registered": 0, "filed": 0}
    assert {i["email"] for i in funnel["items"]} == {"good@invest.example", "last@invest.example"}
    assert len(await letters(app)) == 2
