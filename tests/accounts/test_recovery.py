"""Changing one's password and e-mail, and "forgot password" by e-mail: the old secrets stop
working, other sessions are signed out, and a reset link works once, for an hour, for its owner."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.accounts.models import PasswordReset
from expo.db import utcnow
from expo.mail.models import OutboxMessage
from tests.booths.web import PASSWORD, browser, csrf_of, make_account, post_form
from tests.conftest import signup_and_login

NEW = "a brand new passphrase"


async def letters_to(app: Starlette, address: str) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.to_address == address)
        return list((await session.exec(query.order_by(col(OutboxMessage.id)))).all())


async def login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    return (await client.post("/api/auth/login", json={"email": email, "password": password})).status_code


def app_of(client: httpx.AsyncClient) -> Starlette:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def test_the_api_changes_a_password_with_the_current_one(client: httpx.AsyncClient) -> None:
    me = await signup_and_login(client, "ann@example.com")
    wrong = await client.post("/api/me/password", json={"current": "not it", "new": NEW}, headers=me)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "account.wrong_password"
    short = await client.post("/api/me/password", json={"current": PASSWORD, "new": "short"}, headers=me)
    assert short.status_code == 422
    assert await login_status(client, "ann@example.com", PASSWORD) == 200
    done = await client.post("/api/me/password", json={"current": PASSWORD, "new": NEW}, headers=me)
    assert done.status_code == 204
    assert await login_status(client, "ann@example.com", PASSWORD) == 401
    assert await login_status(client, "ann@example.com", NEW) == 200
    assert (await client.get("/api/me", headers=me)).status_code == 200  # API tokens keep working


async def test_changing_the_password_signs_other_sessions_out(app: Starlette) -> None:
    await make_account(app, "ann@example.com", "visitor", "Ann")
    async with browser(app, "ann@example.com") as laptop, browser(app, "ann@example.com") as phone:
        refused = await post_form(laptop, "/account", "/account/password", {"current": "nope", "new": NEW})
        assert refused.status_code == 422 and "Your current password is not right." in refused.text
        short = await post_form(laptop, "/account", "/account/password", {"current": PASSWORD, "new": "x"})
        assert short.status_code == 422 and "Passwords need at least 8 characters." in short.text
        changed = await post_form(laptop, "/account", "/account/password", {"current": PASSWORD, "new": NEW})
        assert changed.status_code == 303
        assert (await laptop.get("/account")).status_code == 200  # this session stays
        signed_out = await phone.get("/account")
        assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")


async def test_the_email_changes_with_the_password_and_stays_unique(app: Starlette) -> None:
    await make_account(app, "ann@example.com", "visitor")
    await make_account(app, "bob@example.com", "visitor")
    async with browser(app, "ann@example.com") as ann:
        data = {"email": "bob@example.com", "password": PASSWORD}
        taken = await post_form(ann, "/account", "/account/email", data)
        assert taken.status_code == 409 and 'value="bob@example.com"' in taken.text
        wrong = await post_form(
            ann, "/account", "/account/email", {"email": "ann@new.example", "password": "x"}
        )
        assert wrong.status_code == 422
        moved = await post_form(
            ann, "/account", "/account/email", {"email": "Ann@New.Example", "password": PASSWORD}
        )
        assert moved.status_code == 303
        assert "ann@new.example" in (await ann.get("/account")).text
    async with browser(app, "ann@new.example") as again:
        assert (await again.get("/account")).status_code == 200


async def test_a_reset_link_works_once_for_an_hour(app: Starlette) -> None:
    await make_account(app, "ann@example.com", "visitor")
    async with browser(app) as anonymous:
        # An unknown address gets the same answer and no letter.
        for address in ("nobody@example.com", "ann@example.com"):
            sent = await post_form(anonymous, "/password/forgot", "/password/forgot", {"email": address})
            assert sent.status_code == 200 and "If an account uses this address" in sent.text
        assert await letters_to(app, "nobody@example.com") == []
        (letter,) = await letters_to(app, "ann@example.com")
        found = re.search(r"http://\S+(/password/reset/\S+)", letter.body)
        assert found, letter.body
        link = found.group(1)
    async with browser(app, "ann@example.com") as signed_in:
        async with browser(app) as anonymous:
            short = await post_form(anonymous, link, link, {"new": "short"})
            assert short.status_code == 422
            done = await post_form(anonymous, link, link, {"new": NEW})
            assert done.status_code == 303 and done.headers["location"] == "/login"
            assert (await anonymous.get(link)).status_code == 404  # used up
        # Every session was signed out, and the new password works.
        assert (await signed_in.get("/account")).status_code == 303
    async with browser(app) as login:
        page = await login.get("/login")
        data = {"csrf_token": csrf_of(page.text), "email": "ann@example.com", "password": NEW}
        assert (await login.post("/login", data=data)).status_code == 303

    # A link past its hour is as good as none.
    async with browser(app) as anonymous:
        await post_form(anonymous, "/password/forgot", "/password/forgot", {"email": "ann@example.com"})
    letter = (await letters_to(app, "ann@example.com"))[-1]
    late = re.search(r"(/password/reset/\S+)", letter.body)
    assert late
    async with app.state.platform.db.session() as session:
        await session.exec(update(PasswordReset).values(expires_at=utcnow() - timedelta(minutes=1)))
        await session.commit()
    async with browser(app) as anonymous:
        assert (await anonymous.get(late.group(1))).status_code == 404


async def test_asking_for_links_is_rate_limited(app: Starlette) -> None:
    await make_account(app, "ann@example.com", "visitor")
    limit = app.state.platform.settings.login_attempts
    async with browser(app) as anonymous:
        answers = [
            (await post_form(anonymous, "/password/forgot", "/password/forgot", {"email": "ann@example.com"}))
            for _ in range(limit + 1)
        ]
    assert [a.status_code for a in answers[:limit]] == [200] * limit
    assert answers[-1].status_code == 429
    assert len(await letters_to(app, "ann@example.com")) == limit
