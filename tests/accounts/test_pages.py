"""The account pages through the in-process app: forms, sessions, CSRF, roles, languages."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlmodel import func, select
from starlette.applications import Starlette

from expo.accounts import services
from expo.accounts.models import Role, TokenKind, User
from expo.auth import SESSION_COOKIE
from expo.i18n import LANG_COOKIE

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def app_of(client: httpx.AsyncClient) -> Starlette:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def form_post(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str], **kwargs: object
) -> httpx.Response:
    """Open ``page`` like a browser, then submit ``data`` to ``action`` with the page's CSRF token."""
    opened = await client.get(page)
    assert opened.status_code == 200, opened.text
    return await client.post(action, data={"csrf_token": csrf_of(opened.text), **data}, **kwargs)  # type: ignore[arg-type]


async def sign_up(
    client: httpx.AsyncClient, email: str, *, name: str = "Ann Lee", role: str = "visitor"
) -> httpx.Response:
    data = {"name": name, "email": email, "password": PASSWORD, "role": role}
    return await form_post(client, "/signup", "/signup", data)


async def count_users(client: httpx.AsyncClient) -> int:
    async with app_of(client).state.platform.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(User))).one())


async def test_signup_signs_in_and_lands_on_the_role_page(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "ann@example.com", name="Ann Lee")
    assert response.status_code == 303
    assert response.headers["location"] == "/visitor"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/" in attributes
    assert "max-age=1209600" in attributes  # session_days = 14

    page = await client.get("/visitor")
    assert page.status_code == 200
    assert "Welcome, Ann Lee" in page.text
    assert "Your account is ready. Welcome!" in page.text  # the flash message, shown once
    assert "Your account is ready" not in (await client.get("/visitor")).text
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/visitor"


async def test_exhibitor_signup_gets_the_exhibitor_navigation(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "booth@example.com", name="Acme Ltd", role="exhibitor")
    assert response.headers["location"] == "/exhibitor"
    page = await client.get("/exhibitor")
    assert "Welcome, Acme Ltd" in page.text
    for label in ("My booth", "Go live", "Leads"):
        assert f">{label}</a>" in page.text
    assert ">Audit log</a>" not in page.text


async def test_signup_cannot_choose_organizer(client: httpx.AsyncClient) -> None:
    before = await count_users(client)
    response = await sign_up(client, "boss@example.com", role="organizer")
    assert response.status_code == 422
    assert "Choose visitor or exhibitor." in response.text
    assert await count_users(client) == before


async def test_signup_error_keeps_typed_values_but_not_the_password(client: httpx.AsyncClient) -> None:
    await sign_up(client, "taken@example.com")
    await client.post("/logout", data={"csrf_token": csrf_of((await client.get("/visitor")).text)})
    response = await sign_up(client, "TAKEN@example.com", name="Second Person")
    assert response.status_code == 409
    assert "An account with this e-mail already exists." in response.text
    assert 'value="TAKEN@example.com"' in response.text
    assert 'value="Second Person"' in response.text
    assert PASSWORD not in response.text


async def test_wrong_password_shows_an_error_and_sets_no_session(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    client.cookies.delete(SESSION_COOKIE)
    wrong = {"email": "ann@example.com", "password": "wrong pass"}
    response = await form_post(client, "/login", "/login", wrong)
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.text
    assert 'value="ann@example.com"' in response.text
    assert not any(c.startswith(SESSION_COOKIE) for c in response.headers.get_list("set-cookie"))
    assert SESSION_COOKIE not in client.cookies
    assert (await client.get("/visitor")).status_code == 303


async def test_login_returns_to_a_local_next_page(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    client.cookies.delete(SESSION_COOKIE)
    signed_out = await client.get("/account?tab=tokens")
    assert signed_out.status_code == 303
    target = urlsplit(signed_out.headers["location"])
    assert target.path == "/login" and parse_qs(target.query) == {"next": ["/account?tab=tokens"]}

    page = await client.get(signed_out.headers["location"])
    assert 'name="next" value="/account?tab=tokens"' in page.text
    data = {
        "csrf_token": csrf_of(page.text),
        "email": "ann@example.com",
        "password": PASSWORD,
        "next": "/account?tab=tokens",
    }
    response = await client.post("/login", data=data)
    assert response.status_code == 303
    assert response.headers["location"] == "/account?tab=tokens"


async def test_login_ignores_next_pointing_elsewhere(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    elsewhere = (
        "//evil.example",
        "https://evil.example/x",
        "/\\evil.example",
        "//evil.example/%2F..",
        "/\t/evil",
    )
    for evil in elsewhere:
        client.cookies.delete(SESSION_COOKIE)
        data = {"email": "ann@example.com", "password": PASSWORD, "next": evil}
        response = await form_post(client, "/login", "/login", data)
        assert response.status_code == 303, evil
        assert response.headers["location"] == "/visitor", evil
    page = await client.get("/login?next=//evil.example")
    assert page.status_code == 303 and page.headers["location"] == "/visitor"


async def test_logout_revokes_the_session(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    stolen = client.cookies[SESSION_COOKIE]
    page = await client.get("/visitor")
    response = await client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert SESSION_COOKIE not in client.cookies
    assert "You are logged out." in (await client.get("/")).text

    # A copy of the old cookie no longer signs anyone in.
    client.cookies.set(SESSION_COOKIE, stolen)
    again = await client.get("/visitor")
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


async def test_posts_without_a_valid_csrf_token_are_refused(client: httpx.AsyncClient) -> None:
    await client.get("/signup")  # the browser has its CSRF cookie, as a victim's would
    before = await count_users(client)
    data = {"name": "Mallory", "email": "mallory@example.com", "password": PASSWORD, "role": "visitor"}
    for token in (None, "forged-token"):
        body = dict(data) if token is None else {**data, "csrf_token": token}
        response = await client.post("/signup", data=body)
        assert response.status_code == 403
        assert "The form expired or did not come from this site." in response.text
    assert await count_users(client) == before

    await sign_up(client, "ann@example.com")
    renamed = await client.post("/account", data={"name": "Hijacked", "locale": ""})
    assert renamed.status_code == 403
    assert "Hijacked" not in (await client.get("/visitor")).text


async def test_forged_or_expired_session_cookie_means_signed_out(client: httpx.AsyncClient) -> None:
    client.cookies.set(SESSION_COOKIE, "ses_" + "A" * 43)
    assert (await client.get("/visitor")).status_code == 303
    home = await client.get("/")
    assert home.status_code == 200 and ">Log in</a>" in home.text

    app = app_of(client)
    async with app.state.platform.db.session() as session:
        user = await services.create_user(session, email="old@example.com", password=PASSWORD)
        raw, _ = await services.issue_token(session, user, TokenKind.SESSION, lifetime=timedelta(seconds=-1))
    client.cookies.set(SESSION_COOKIE, raw)
    response = await client.get("/visitor")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_visitor_cannot_open_the_organizer_dashboard(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    response = await client.get("/organizer")
    assert response.status_code == 403
    assert "Your account is not allowed to do this." in response.text
    assert 'href="/"' in response.text
    assert (await client.get("/exhibitor")).status_code == 403


async def test_admin_dashboard_shows_figures_and_can_add_accounts(client: httpx.AsyncClient) -> None:
    app = app_of(client)
    async with app.state.platform.db.session() as session:
        await services.create_user(session, email="org@example.com", password=PASSWORD, role=Role.ADMIN)
    await sign_up(client, "v1@example.com")
    client.cookies.delete(SESSION_COOKIE)
    await form_post(client, "/login", "/login", {"email": "org@example.com", "password": PASSWORD})

    page = await client.get("/organizer")
    assert page.status_code == 200
    assert 'id="stat-users">2<' in page.text and 'id="stat-visitor">1<' in page.text
    # The audit log and the accounts are behind links, not on the home page.
    assert 'href="/organizer/audit"' in page.text and 'href="/organizer/users"' in page.text
    assert "auth.login" not in page.text

    data = {"name": "Org Two", "email": "org2@example.com", "password": PASSWORD, "role": "organizer"}
    created = await form_post(client, "/organizer/users", "/organizer/users", data)
    assert created.status_code == 303
    page = await client.get("/organizer/users")
    assert "Account created." in page.text and "org2@example.com" in page.text
    page = await client.get("/organizer")
    assert 'id="stat-organizer">1<' in page.text

    audit = await client.get("/organizer/audit?action=account.created")
    assert audit.status_code == 200 and "user:" in audit.text and "auth.login<" not in audit.text

    # The organizer it made runs only the expos whose team they are on: no platform figures,
    # accounts or audit log.
    client.cookies.delete(SESSION_COOKIE)
    await form_post(client, "/login", "/login", {"email": "org2@example.com", "password": PASSWORD})
    page = await client.get("/organizer")
    assert (
        page.status_code == 200 and 'id="stat-users"' not in page.text and "account.created" not in page.text
    )
    assert 'href="/organizer/users"' not in page.text
    assert (await client.get("/organizer/users")).status_code == 403
    assert (await client.get("/organizer/audit")).status_code == 403


async def test_account_page_creates_and_revokes_api_tokens(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    form = {"name": "catalog sync", "expires_in_days": "30"}
    created = await form_post(client, "/account", "/account/tokens", form)
    assert created.status_code == 200
    secret = re.search(r'id="new-token">(exp_[^<]+)<', created.text)
    assert secret, created.text
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert (await client.get("/api/me", headers=bearer)).json()["email"] == "ann@example.com"
    listing = await client.get("/account")
    assert "catalog sync" in listing.text and secret.group(1) not in listing.text  # shown once

    action = re.search(r'action="(/account/tokens/\d+/revoke)"', listing.text)
    assert action
    revoked = await client.post(action.group(1), data={"csrf_token": csrf_of(listing.text)})
    assert revoked.status_code == 303
    assert "Token revoked." in (await client.get("/account")).text
    assert (await client.get("/api/me", headers=bearer)).status_code == 401


async def test_account_profile_update(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    saved = await form_post(client, "/account", "/account", {"name": "Ann Lee-Wong", "locale": "en"})
    assert saved.status_code == 303
    page = await client.get("/account")
    assert "Profile saved." in page.text and 'value="Ann Lee-Wong"' in page.text
    empty = await form_post(client, "/account", "/account", {"name": "  ", "locale": ""})
    assert empty.status_code == 422 and "Enter a name." in empty.text


async def test_accept_language_chinese_renders_chinese(client: httpx.AsyncClient) -> None:
    page = await client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans">' in page.text
    assert "登录" in page.text and "密码" in page.text
    failed = await client.post(
        "/login",
        headers={"Accept-Language": "zh-CN"},
        data={"csrf_token": csrf_of(page.text), "email": "nobody@example.com", "password": "whatever1"},
    )
    assert failed.status_code == 401 and "邮箱或密码错误。" in failed.text


async def test_language_switcher_overrides_the_browser(client: httpx.AsyncClient) -> None:
    chinese_browser = {"Accept-Language": "zh-CN"}
    page = await client.get("/login", headers=chinese_browser)
    form = {"csrf_token": csrf_of(page.text), "locale": "en", "next": "/login"}
    switched = await client.post("/language", headers=chinese_browser, data=form)
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert client.cookies[LANG_COOKIE] == "en"
    page = await client.get("/login", headers=chinese_browser)
    assert '<html lang="en">' in page.text and "Password" in page.text and "密码" not in page.text

    bad = await client.post("/language", data={"csrf_token": csrf_of(page.text), "locale": "xx", "next": "/"})
    assert bad.status_code == 422


async def test_signed_in_language_choice_is_kept_on_the_account(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    page = await client.get("/visitor")
    switched = await client.post("/language", data={"csrf_token": csrf_of(page.text), "locale": "zh_Hans"})
    assert switched.status_code == 303
    client.cookies.delete(LANG_COOKIE)  # another browser: only the session cookie
    page = await client.get("/visitor", headers={"Accept-Language": "en"})
    assert "展厅" in page.text and "欢迎，Ann Lee"  # noqa: RUF001 (the Chinese comma is the translation's) in page.text


async def test_language_switch_returns_only_to_local_pages(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    token = csrf_of(page.text)
    form = {"csrf_token": token, "locale": "en", "next": "//evil.example"}
    evil = await client.post("/language", data=form, headers={"Referer": "https://evil.example/page"})
    assert evil.headers["location"] == "/"
    back = await client.post(
        "/language",
        data={"csrf_token": token, "locale": "en"},
        headers={"Referer": "http://testserver/signup?x=1"},
    )
    assert back.headers["location"] == "/signup?x=1"


async def test_markup_in_a_display_name_is_shown_as_text(client: httpx.AsyncClient) -> None:
    await sign_up(client, "eve@example.com", name="<script>alert(1)</script>")
    page = await client.get("/visitor")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_pages_carry_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/", "/login", "/no-such-page"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text and "style=" not in response.text  # nothing inline
    missing = await client.get("/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.text


async def test_login_is_rate_limited_per_email(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ann@example.com")
    client.cookies.delete(SESSION_COOKIE)
    attempts = app_of(client).state.platform.settings.login_attempts
    page = await client.get("/login")
    data = {"csrf_token": csrf_of(page.text), "email": "ann@example.com", "password": "wrong pass"}
    for _ in range(attempts):
        assert (await client.post("/login", data=data)).status_code == 401
    blocked = await client.post("/login", data={**data, "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert "Too many attempts. Try again in" in blocked.text
    assert SESSION_COOKIE not in client.cookies
