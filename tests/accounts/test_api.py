"""The account API over HTTP: login, sign-up, tokens, roles, CSRF, rate limits and the audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from expo import audit
from expo.accounts import services
from expo.accounts.models import TokenKind, User
from expo.app import create_app
from expo.auth import SESSION_COOKIE
from expo.config import Settings
from expo.security import CSRF_COOKIE, csrf_token
from tests.conftest import create_schema, make_settings, signup_and_login

PASSWORD = "correct horse battery"


def app_of(client: httpx.AsyncClient) -> Starlette:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def user_count(client: httpx.AsyncClient) -> int:
    async with app_of(client).state.platform.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(User))).one())


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, str] = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


async def signup(client: httpx.AsyncClient, email: str, **extra: str) -> httpx.Response:
    return await client.post("/api/auth/signup", json={"email": email, "password": PASSWORD, **extra})


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


# -- the same core flows on SQLite and PostgreSQL ----------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


@pytest.fixture
async def store_client(store_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    await create_schema(store_settings.database)
    app = create_app(store_settings, check_schema=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_signup_login_and_me(store_client: httpx.AsyncClient) -> None:
    created = await signup(store_client, "Ada@Example.com", name="Ada", locale="zh_Hans")
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "ada@example.com" and created.json()["role"] == "visitor"
    response = await login(store_client, "ada@example.COM")
    assert response.status_code == 200
    token = response.json()["token"]
    me = await store_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["name"] == "Ada" and me.json()["locale"] == "zh_Hans"
    assert me.json()["id"] == created.json()["id"]


async def test_duplicate_email_in_another_case_is_409_and_writes_nothing(
    store_client: httpx.AsyncClient,
) -> None:
    assert (await signup(store_client, "bob@example.com")).status_code == 201
    before = await user_count(store_client)
    assert_error(await signup(store_client, "BOB@example.com"), 409, "account.email_taken")
    assert await user_count(store_client) == before


async def test_concurrent_duplicate_signups_create_one_account(store_client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(signup(store_client, "race@example.com") for _ in range(5)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
    assert await user_count(store_client) == 1


# -- login -------------------------------------------------------------------------


async def test_wrong_password_and_unknown_email_get_the_same_answer(client: httpx.AsyncClient) -> None:
    await signup_and_login(client, "carol@example.com")
    wrong = assert_error(await login(client, "carol@example.com", "not the password"), 401)
    unknown = assert_error(await login(client, "nobody@example.com"), 401)
    malformed = assert_error(await login(client, "not-an-email"), 401)
    assert wrong == unknown == malformed
    assert wrong["code"] == "auth.bad_credentials"


async def test_repeated_failures_lock_the_email_for_the_window(client: httpx.AsyncClient) -> None:
    await signup_and_login(client, "dave@example.com")
    attempts = app_of(client).state.platform.settings.login_attempts
    for _ in range(attempts):
        assert_error(await login(client, "dave@example.com", "guess guess"), 401)
    locked = await login(client, "dave@example.com", "guess guess")
    assert_error(locked, 429, "rate_limited")
    window = app_of(client).state.platform.settings.login_window_seconds
    assert 1 <= int(locked.headers["retry-after"]) <= window
    # Even the right password waits: otherwise guessing would just continue.
    assert_error(await login(client, "dave@example.com"), 429, "rate_limited")
    # Other accounts on the same address are not locked out.
    await signup_and_login(client, "erin@example.com")


async def test_successful_logins_do_not_use_up_attempts(client: httpx.AsyncClient) -> None:
    await signup_and_login(client, "frank@example.com")
    attempts = app_of(client).state.platform.settings.login_attempts
    for _ in range(attempts + 2):
        assert (await login(client, "frank@example.com")).status_code == 200


# -- tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer exp_" + "A" * 43,  # well-formed, never issued
        "Bearer ses_" + "A" * 43,  # a session token is not an API token
        "Bearer ",
        "Basic Zm9vOmJhcg==",
        "Bearer exp_" + "x" * 200,
        "token-without-scheme",
    ],
)
async def test_forged_and_malformed_bearer_tokens_are_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/api/me", headers={"Authorization": authorization})
    assert_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_session_token_is_not_accepted_as_bearer(client: httpx.AsyncClient) -> None:
    async with app_of(client).state.platform.db.session() as session:
        user = await services.create_user(session, email="gina@example.com", password=PASSWORD)
        raw, _ = await services.issue_token(session, user, TokenKind.SESSION)
    assert_error(await client.get("/api/me", headers={"Authorization": f"Bearer {raw}"}), 401)


async def test_expired_tokens_and_disabled_accounts_are_401(client: httpx.AsyncClient) -> None:
    async with app_of(client).state.platform.db.session() as session:
        user = await services.create_user(session, email="olga@example.com", password=PASSWORD)
        expired, _ = await services.issue_token(session, user, TokenKind.API, lifetime=timedelta(seconds=-1))
        live, _ = await services.issue_token(session, user, TokenKind.API)
    assert_error(await client.get("/api/me", headers={"Authorization": f"Bearer {expired}"}), 401)
    assert (await client.get("/api/me", headers={"Authorization": f"Bearer {live}"})).status_code == 200
    async with app_of(client).state.platform.db.session() as session:
        user.is_active = False
        session.add(user)
        await session.commit()
    # Whoever changes a user tells the processes that remember its tokens (expo.accounts.authcache).
    await app_of(client).state.platform.auth_cache.forget_user(user.id)
    assert_error(await client.get("/api/me", headers={"Authorization": f"Bearer {live}"}), 401)
    assert_error(await login(client, "olga@example.com"), 401, "auth.bad_credentials")


async def test_token_create_list_revoke_round_trip(client: httpx.AsyncClient) -> None:
    auth = await signup_and_login(client, "hank@example.com")
    created = await client.post("/api/auth/tokens", json={"name": "ci", "expires_in_days": 30}, headers=auth)
    assert created.status_code == 201, created.text
    ci = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await client.get("/api/me", headers=ci)).json()["email"] == "hank@example.com"
    listed = (await client.get("/api/auth/tokens", headers=auth)).json()["items"]
    assert {t["name"] for t in listed} == {"ci", "API login"}
    ci_info = next(t for t in listed if t["name"] == "ci")
    assert created.json()["token"].startswith(ci_info["prefix"]) and "token" not in ci_info
    assert ci_info["expires_at"] is not None
    revoked = await client.delete(f"/api/auth/tokens/{created.json()['id']}", headers=auth)
    assert revoked.status_code == 204
    assert_error(await client.get("/api/me", headers=ci), 401, "auth.invalid_token")
    assert [t["name"] for t in (await client.get("/api/auth/tokens", headers=auth)).json()["items"]] == [
        "API login"
    ]
    assert_error(await client.delete(f"/api/auth/tokens/{created.json()['id']}", headers=auth), 404)


async def test_tokens_of_others_cannot_be_revoked(client: httpx.AsyncClient) -> None:
    owner = await signup_and_login(client, "ivy@example.com")
    other = await signup_and_login(client, "jack@example.com")
    token_id = (await client.get("/api/auth/tokens", headers=owner)).json()["items"][0]["id"]
    assert_error(await client.delete(f"/api/auth/tokens/{token_id}", headers=other), 404)
    assert (await client.get("/api/me", headers=owner)).status_code == 200


async def test_logout_revokes_the_token(client: httpx.AsyncClient) -> None:
    auth = await signup_and_login(client, "kim@example.com")
    assert (await client.post("/api/auth/logout", headers=auth)).status_code == 204
    assert_error(await client.get("/api/me", headers=auth), 401)


# -- roles -------------------------------------------------------------------------


async def test_only_administrators_create_users(client: httpx.AsyncClient) -> None:
    new_user = {"email": "exhibitor@example.com", "password": PASSWORD, "role": "exhibitor"}
    assert_error(await client.post("/api/users", json=new_user), 401)
    visitor = await signup_and_login(client, "visitor@example.com")
    assert_error(await client.post("/api/users", json=new_user, headers=visitor), 403, "auth.forbidden")
    # An organizer runs their own expos; accounts across the platform are the administrators'.
    organizer = await signup_and_login(client, "organizer@example.com", role="organizer")
    assert_error(await client.post("/api/users", json=new_user, headers=organizer), 403, "auth.forbidden")
    admin = await signup_and_login(client, "admin@example.com", role="admin")
    created = await client.post("/api/users", json=new_user, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "exhibitor"


async def test_signup_cannot_choose_organizer(client: httpx.AsyncClient) -> None:
    response = await signup(client, "sneaky@example.com", role="organizer")
    error = assert_error(response, 422)
    assert "role" in error["message"]
    assert await user_count(client) == 0


# -- cookie sessions and CSRF ------------------------------------------------------


async def test_cookie_session_needs_csrf_token_for_unsafe_requests(client: httpx.AsyncClient) -> None:
    platform = app_of(client).state.platform
    async with platform.db.session() as session:
        user = await services.create_user(session, email="lena@example.com", password=PASSWORD)
        raw, _ = await services.issue_token(session, user, TokenKind.SESSION)
    client.cookies.set(SESSION_COOKIE, raw)
    client.cookies.set(CSRF_COOKIE, "browser-nonce")
    assert (await client.get("/api/me")).json()["email"] == "lena@example.com"
    body = {"name": "from the page"}
    assert_error(await client.post("/api/auth/tokens", json=body), 403, "auth.csrf_failed")
    forged = await client.post("/api/auth/tokens", json=body, headers={"X-CSRF-Token": "made-up"})
    assert_error(forged, 403, "auth.csrf_failed")
    # What the page embeds for this browser (the token pages render from its nonce cookie).
    page = HTTPConnection({"type": "http", "headers": [(b"cookie", f"{CSRF_COOKIE}=browser-nonce".encode())]})
    token = csrf_token(page, platform.secret)
    ok = await client.post("/api/auth/tokens", json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201, ok.text


async def test_forged_delete_put_and_patch_with_the_session_cookie_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    platform = app_of(client).state.platform
    async with platform.db.session() as session:
        user = await services.create_user(
            session, email="olga@example.com", password=PASSWORD, role="organizer"
        )
        raw, _ = await services.issue_token(session, user, TokenKind.SESSION)
        api_raw, api_token = await services.issue_token(session, user, TokenKind.API, name="scripts")
    bearer = {"Authorization": f"Bearer {api_raw}"}
    created = await client.post("/api/expos", json={"slug": "fair", "title": "Fair"}, headers=bearer)
    assert created.status_code == 201, created.text
    # Another site's page makes Olga's browser send these with her cookies, but without the token.
    client.cookies.set(SESSION_COOKIE, raw)
    client.cookies.set(CSRF_COOKIE, "browser-nonce")
    forged = [
        await client.delete(f"/api/auth/tokens/{api_token.id}"),
        await client.patch("/api/expos/fair", json={"title": "Hijacked"}),
        await client.put(f"/api/expos/fair/team/{user.id}", json={"role": "moderator"}),
    ]
    for response in forged:
        assert_error(response, 403, "auth.csrf_failed")
    # Her scripts' token still works, the expo keeps its title and she still owns it.
    mine = await client.get("/api/me/expos", headers=bearer)
    assert mine.status_code == 200, mine.text
    assert [(e["expo"]["title"], e["role"]) for e in mine.json()["items"]] == [("Fair", "owner")]


# -- audit -------------------------------------------------------------------------


async def test_account_actions_are_audited(client: httpx.AsyncClient) -> None:
    assert (await signup(client, "mia@example.com")).status_code == 201
    assert (await login(client, "mia@example.com", "wrong password")).status_code == 401
    token = (await login(client, "mia@example.com")).json()
    auth = {"Authorization": f"Bearer {token['token']}"}
    assert (await client.delete(f"/api/auth/tokens/{token['id']}", headers=auth)).status_code == 204
    async with app_of(client).state.platform.db.session() as session:
        events = await audit.recent(session)
    actions = [e.action for e in reversed(events)]
    assert actions == [
        "account.created",
        "auth.login_failed",
        "auth.login",
        "auth.token_created",
        "auth.token_revoked",
    ]
    by_action = {e.action: e for e in events}
    user_id = token["user_id"]
    assert by_action["auth.login"].actor_id == user_id
    assert by_action["auth.login"].ip == "127.0.0.1"
    assert by_action["auth.login_failed"].target == "mia@example.com"
    assert by_action["auth.token_revoked"].target == f"token:{token['id']}"


async def test_a_signed_out_request_is_told_to_sign_in(client: httpx.AsyncClient) -> None:
    error = assert_error(await client.get("/api/me"), 401, "auth.required")
    assert error["message"] == "Sign in first."
