"""The consulting service in-process: an investor asks the bureau in a category, the team answers in
the thread, both are told through the outbox; investors see only their own threads, other expos'
organizers nothing; each message keeps its time and the thread the time of its first answer;
mistakes show beside their fields with nothing stored; the JSON API says the same."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.mail.models import OutboxMessage
from expo.promotion.models import ConsultingMessage, ConsultingThread
from tests.booths.web import PASSWORD, browser, make_account, post_form
from tests.conftest import LiveServer, signup_and_login
from tests.promotion.conftest import seed_expos

MINE = "/expos/city/invest/consulting/questions"
TEAM = "/organizer/expos/city/consulting"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
DEADLINE_MS = 15_000
QUESTION = {"category": "land", "subject": "工业用地", "body": "我们需要五十亩工业用地。价格是多少"}


async def outbox(app: Starlette) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return list(rows.all())


async def threads(app: Starlette) -> list[ConsultingThread]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(ConsultingThread).order_by(col(ConsultingThread.id)))).all())


async def ask(client: httpx.AsyncClient, question: dict[str, str] = QUESTION) -> int:
    asked = await post_form(client, MINE, MINE, question)
    assert asked.status_code == 303, asked.text
    return int(asked.headers["location"].rsplit("/", 1)[1])


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_the_bureau_answers_an_investors_question_and_both_are_told(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "visitor@example.com") as investor:
        thread_id = await ask(investor)
        page = await investor.get(f"{MINE}/{thread_id}", headers=ZH)
        assert "我们需要五十亩工业用地" in page.text and "等待" in page.text  # waiting, in Chinese
    told = await outbox(app)
    assert [m.to_address for m in told] == ["org@example.com"]
    assert "工业用地" in told[0].subject and f"{TEAM}/{thread_id}" in told[0].body

    async with browser(app, "org@example.com") as org:
        inbox = await org.get(TEAM, headers=EN)
        assert "工业用地" in inbox.text and "Waiting for an answer: 1" in inbox.text
        answered = await post_form(
            org, f"{TEAM}/{thread_id}", f"{TEAM}/{thread_id}/reply", {"body": "Up to 50 mu in the east zone."}
        )
        assert answered.status_code == 303
        assert "Waiting for an answer: 0" in (await org.get(TEAM, headers=EN)).text
        # A second answer leaves the time of the first one as it was.
        first = (await threads(app))[0].first_answered_at
        await post_form(org, f"{TEAM}/{thread_id}", f"{TEAM}/{thread_id}/reply", {"body": "And more later."})
    told = await outbox(app)
    assert [m.to_address for m in told[1:]] == ["visitor@example.com", "visitor@example.com"]
    assert "Up to 50 mu in the east zone." in told[1].body and f"{MINE}/{thread_id}" in told[1].body

    async with browser(app, "visitor@example.com") as investor:
        page = await investor.get(f"{MINE}/{thread_id}", headers=EN)
        assert "Up to 50 mu in the east zone." in page.text and "Investment bureau" in page.text
        mine = await investor.get(MINE, headers=EN)
        assert "工业用地" in mine.text and "Answered" in mine.text
        # The investor writes again: the thread waits for the bureau again, and the team is told.
        again = await post_form(
            investor, f"{MINE}/{thread_id}", f"{MINE}/{thread_id}/reply", {"body": "Thanks!"}
        )
        assert again.status_code == 303
    [thread] = await threads(app)
    assert thread.answered is False and thread.first_answered_at == first is not None
    assert (await outbox(app))[-1].to_address == "org@example.com"
    async with app.state.platform.db.session() as session:
        query = select(ConsultingMessage).where(ConsultingMessage.thread_id == thread.id)
        written = list((await session.exec(query.order_by(col(ConsultingMessage.id)))).all())
    assert [m.from_team for m in written] == [False, True, True, False]
    times = [m.created_at for m in written]
    assert times == sorted(times) and thread.created_at <= first <= times[2]


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_investors_see_only_their_own_threads(app: Starlette) -> None:
    await seed_expos(app)
    await make_account(app, "rival@example.com", "visitor")
    async with browser(app, "visitor@example.com") as investor:
        thread_id = await ask(investor)
    async with browser(app, "rival@example.com") as rival:
        assert (await rival.get(f"{MINE}/{thread_id}")).status_code == 404
        refused = await post_form(rival, MINE, f"{MINE}/{thread_id}/reply", {"body": "Me too"})
        assert refused.status_code == 404
        mine = await rival.get(MINE, headers=EN)
        assert "工业用地" not in mine.text and "You have not asked anything yet." in mine.text
        assert (await rival.get(TEAM)).status_code == 403
        assert (await rival.get(f"{TEAM}/{thread_id}")).status_code == 403
    async with browser(app, "other@example.com") as other:  # another expo's organizer
        assert (await other.get(TEAM)).status_code == 403
        assert (await other.get(f"{TEAM}/{thread_id}")).status_code == 403
        refused = await post_form(other, MINE, f"{TEAM}/{thread_id}/reply", {"body": "Hijacked"})
        assert refused.status_code == 403
        # The thread does not exist under their own expo either.
        assert (await other.get(f"/organizer/expos/zone/consulting/{thread_id}")).status_code == 404
    async with browser(app) as anon:
        to_login = await anon.get(MINE)
        assert to_login.status_code in (302, 303) and to_login.headers["location"].startswith("/login")
    assert len(await outbox(app)) == 1  # only the question's letter to the bureau


async def test_mistakes_show_beside_their_fields_and_nothing_is_stored(app: Starlette) -> None:
    await seed_expos(app)
    async with browser(app, "visitor@example.com") as investor:
        bad = {"category": "casino", "subject": "", "body": "x" * 5001}
        answer = await post_form(investor, MINE, MINE, bad, headers=EN)
        assert answer.status_code == 422
        assert 'id="err-category">Choose a category from the list.' in answer.text
        assert 'id="err-subject">Say in a few words what it is about.' in answer.text
        assert 'id="err-body">This is too long.' in answer.text
        chinese = await post_form(investor, MINE, MINE, {**QUESTION, "subject": ""}, headers=ZH)
        assert chinese.status_code == 422 and "Say in a few words" not in chinese.text
        assert "我们需要五十亩工业用地。价格是多少</textarea>" in chinese.text  # kept as typed
        thread_id = await ask(investor)
        empty = await post_form(investor, f"{MINE}/{thread_id}", f"{MINE}/{thread_id}/reply", {"body": "  "})
        assert empty.status_code == 422 and 'id="err-body">Write your message.' in empty.text
    assert len(await threads(app)) == 1 and len(await outbox(app)) == 1


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_the_api_asks_lists_and_answers(app: Starlette, client: httpx.AsyncClient) -> None:
    await seed_expos(app)
    investor = await signup_and_login(client, "investor@example.com")
    rival = await signup_and_login(client, "rival@example.com")
    login = await client.post("/api/auth/login", json={"email": "org@example.com", "password": PASSWORD})
    org = {"Authorization": f"Bearer {login.json()['token']}"}
    api = "/api/expos/city/consulting"
    bad = await client.post(
        f"{api}/threads", json={"category": "tax", "subject": " ", "body": "?"}, headers=investor
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "subject"
    wrong = await client.post(
        f"{api}/threads", json={"category": "casino", "subject": "s", "body": "b"}, headers=investor
    )
    assert wrong.status_code == 422
    asked = await client.post(
        f"{api}/threads", json={"category": "tax", "subject": "VAT", "body": "Which rate?"}, headers=investor
    )
    assert asked.status_code == 201 and asked.json()["first_answered_at"] is None
    thread_id = asked.json()["id"]
    assert [t["id"] for t in (await client.get(f"{api}/threads", headers=investor)).json()["items"]] == [
        thread_id
    ]
    assert (await client.get(f"{api}/threads", headers=rival)).json()["items"] == []
    assert (await client.get(f"{api}/threads/{thread_id}", headers=rival)).status_code == 404
    assert (await client.get(f"{api}/inbox", headers=investor)).status_code == 403
    inbox = (await client.get(f"{api}/inbox", headers=org)).json()["items"]
    assert [(t["id"], t["answered"]) for t in inbox] == [(thread_id, False)]
    answer = await client.post(f"{api}/threads/{thread_id}/messages", json={"body": "13 %."}, headers=org)
    assert answer.status_code == 201 and answer.json()["from_team"] is True
    thread = (await client.get(f"{api}/threads/{thread_id}", headers=investor)).json()
    assert [m["body"] for m in thread["messages"]] == ["Which rate?", "13 %."]
    assert thread["answered"] is True and thread["first_answered_at"] == thread["messages"][1]["created_at"]
    assert (await client.get("/api/expos/nowhere/consulting/threads", headers=investor)).status_code == 404


async def test_in_chromium_an_investor_asks_in_chinese_and_reads_the_answer(
    live_server: LiveServer, browser: Browser
) -> None:
    live_server.call(seed_expos(live_server.app))
    base = live_server.url
    errors: list[str] = []

    async def signed_in(email: str, locale: str) -> tuple[BrowserContext, Page]:
        context = await browser.new_context(locale=locale, viewport={"width": 390, "height": 844})
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{base}/login")
        await page.fill('input[name="email"]', email)
        await page.fill('input[name="password"]', PASSWORD)
        await page.locator('form[action="/login"] button[type="submit"]').click()
        await page.wait_for_url(lambda url: "/login" not in url, timeout=DEADLINE_MS)
        return context, page

    investor_context, investor = await signed_in("visitor@example.com", "zh-CN")
    await investor.goto(f"{base}/expos/city/invest/consulting")
    await investor.get_by_role("link", name="我要咨询").click()
    await investor.select_option("#category", "land")
    await investor.fill("#subject", "工业用地")
    await investor.fill("#body", "我们需要五十亩工业用地。价格是多少")
    await investor.get_by_role("button", name="提交问题").click()
    await expect(investor.locator(".message").first).to_contain_text("您的问题已发送给投资促进局。")
    await expect(investor.locator(".thread-item")).to_have_count(1)
    await expect(investor.locator("main")).to_contain_text("等待投资促进局答复。")

    org_context, org = await signed_in("org@example.com", "en-US")
    await org.goto(f"{base}/organizer/expos/city/consulting")
    await expect(org.locator("main")).to_contain_text("Waiting for an answer: 1")
    await org.get_by_role("link", name="工业用地").click()
    await expect(org.locator(".thread-body").first).to_have_text("我们需要五十亩工业用地。价格是多少")
    await org.fill("#body", "East zone plots of 50 mu start at 300,000 yuan per mu.")
    await org.get_by_role("button", name="Send the answer").click()
    await expect(org.locator(".message").first).to_contain_text("Your message was sent.")
    await org_context.close()

    await investor.reload()
    answer = investor.locator('.thread-item[data-from="team"]')
    await expect(answer).to_contain_text("East zone plots of 50 mu start at 300,000 yuan per mu.")
    await expect(answer).to_contain_text("投资促进局")
    await investor.goto(f"{base}/expos/city/invest/consulting/questions")
    await expect(investor.locator(".consulting-threads li")).to_contain_text("已回答")
    assert await investor.evaluate("document.documentElement.scrollWidth") <= 390
    await investor_context.close()
    assert errors == []
