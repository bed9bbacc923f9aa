"""The administrators' account list (search, pages, account type, disable and enable) and the audit
log's pages, as an administrator and as the people whose accounts change."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import col, select

from expo import audit
from expo.accounts import admin, services
from expo.accounts.models import Role, TokenKind, User
from expo.audit import AuditEvent
from expo.auth import SESSION_COOKIE
from tests.accounts.test_pages import PASSWORD, app_of, csrf_of, form_post


async def make(client: httpx.AsyncClient, email: str, role: Role = Role.VISITOR, name: str = "") -> User:
    async with app_of(client).state.platform.db.session() as session:
        return await services.create_user(session, email=email, password=PASSWORD, role=role, name=name)


async def make_many(client: httpx.AsyncClient, emails: list[str]) -> None:
    """Accounts nobody signs in to, stored directly (hashing a password each would be slow)."""
    async with app_of(client).state.platform.db.session() as session:
        for email in emails:
            session.add(User(email=email, name=email.split("@")[0], role="visitor", password_hash="-"))
        await session.commit()


async def sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    client.cookies.delete(SESSION_COOKIE)
    return await form_post(client, "/login", "/login", {"email": email, "password": PASSWORD})


async def actions(client: httpx.AsyncClient, action: str) -> list[AuditEvent]:
    async with app_of(client).state.platform.db.session() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        return list((await session.exec(query)).all())


@pytest.fixture
async def admin_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await make(client, "root@example.com", Role.ADMIN, "Root")
    await sign_in(client, "root@example.com")
    return client


async def test_the_list_searches_by_name_or_email_and_pages(admin_client: httpx.AsyncClient) -> None:
    client = admin_client
    await make(client, "ann@example.com", name="Ann Lee")
    await make(client, "bob@shop.example", Role.EXHIBITOR, "Bob 100%_Lamps")
    page = await client.get("/organizer/users")
    assert page.status_code == 200
    for text in ("Ann Lee", "ann@example.com", "bob@shop.example", "root@example.com"):
        assert text in page.text
    found = await client.get("/organizer/users", params={"q": "SHOP"})
    assert "bob@shop.example" in found.text and "ann@example.com" not in found.text
    # LIKE wildcards typed in the search are plain characters.
    wild = await client.get("/organizer/users", params={"q": "%_"})
    assert "bob@shop.example" in wild.text and "ann@example.com" not in wild.text
    nobody = await client.get("/organizer/users", params={"q": "zzz"})
    assert "No account matches." in nobody.text

    await make_many(client, [f"many{i:03d}@example.com" for i in range(admin.USERS_PAGE_SIZE)])
    first = await client.get("/organizer/users")
    assert "many049@example.com" in first.text and "ann@example.com" not in first.text
    assert "Page 1 of 2" in first.text
    second = await client.get("/organizer/users", params={"page": "2"})
    assert "ann@example.com" in second.text and "many049@example.com" not in second.text
    # A page past the end shows the last one, not an error.
    assert "ann@example.com" in (await client.get("/organizer/users?page=99")).text


async def test_changing_the_account_type_takes_effect_and_is_audited(admin_client: httpx.AsyncClient) -> None:
    client = admin_client
    ann = await make(client, "ann@example.com", name="Ann Lee")
    changed = await form_post(
        client, "/organizer/users", f"/organizer/users/{ann.id}/role", {"role": "organizer", "q": "ann"}
    )
    assert (
        changed.status_code == 303 and changed.headers["location"] == f"/organizer/users?q=ann#user-{ann.id}"
    )
    page = await client.get(changed.headers["location"])
    assert "Account type changed." in page.text
    [event] = await actions(client, "account.role_changed")
    assert event.target == f"user:{ann.id}" and '"after": "organizer"' in event.detail

    # Ann now lands on the organizer's home and may open it.
    landed = await sign_in(client, "ann@example.com")
    assert landed.headers["location"] == "/organizer"
    assert (await client.get("/organizer")).status_code == 200

    await sign_in(client, "root@example.com")
    bad = await form_post(client, "/organizer/users", f"/organizer/users/{ann.id}/role", {"role": "king"})
    assert bad.status_code == 422 and "Role must be organizer, exhibitor or visitor." in bad.text
    assert (
        await form_post(client, "/organizer/users", "/organizer/users/999999/role", {"role": "visitor"})
    ).status_code == 404


async def test_administrators_cannot_change_or_disable_themselves(admin_client: httpx.AsyncClient) -> None:
    client = admin_client
    async with app_of(client).state.platform.db.session() as session:
        root = (await session.exec(select(User).where(User.email == "root@example.com"))).one()
    page = await client.get("/organizer/users")
    assert f'action="/organizer/users/{root.id}/active"' not in page.text
    for path, data in (("role", {"role": "visitor"}), ("active", {"active": "0"})):
        refused = await form_post(client, "/organizer/users", f"/organizer/users/{root.id}/{path}", data)
        assert refused.status_code == 422 and "You cannot change your own account here." in refused.text
    assert (await client.get("/organizer/users")).status_code == 200  # still an administrator


async def test_a_disabled_account_is_signed_out_everywhere_and_cannot_sign_in(
    admin_client: httpx.AsyncClient,
) -> None:
    client = admin_client
    ann = await make(client, "ann@example.com", name="Ann Lee")
    # Ann has a browser session and an API token, both working (and remembered by the auth cache).
    async with app_of(client).state.platform.db.session() as session:
        session_raw, _ = await services.issue_token(session, ann, TokenKind.SESSION)
        api_raw, _ = await services.issue_token(session, ann, TokenKind.API, name="script")
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as ann_browser:
        ann_browser.cookies.set(SESSION_COOKIE, session_raw)
        assert (await ann_browser.get("/account")).status_code == 200
        bearer = {"Authorization": f"Bearer {api_raw}"}
        assert (await ann_browser.get("/api/me", headers=bearer)).status_code == 200

        page = await client.get("/organizer/users")
        assert 'data-confirm="Disable ann@example.com?' in page.text
        disabled = await client.post(
            f"/organizer/users/{ann.id}/active", data={"csrf_token": csrf_of(page.text), "active": "0"}
        )
        assert disabled.status_code == 303
        listed = await client.get("/organizer/users")
        assert "Account disabled: it is signed out everywhere." in listed.text
        assert f'id="user-{ann.id}" data-user="{ann.id}" data-active="false"' in listed.text

        # Her open session and her token stop working at once.
        gone = await ann_browser.get("/account")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        assert (await ann_browser.get("/api/me", headers=bearer)).status_code == 401
        # And she cannot sign in again.
        ann_browser.cookies.clear()
        refused = await form_post(
            ann_browser, "/login", "/login", {"email": "ann@example.com", "password": PASSWORD}
        )
        assert refused.status_code == 401 and "Wrong e-mail or password." in refused.text
        api_login = await ann_browser.post(
            "/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
        )
        assert api_login.status_code == 401

        enabled = await form_post(
            client, "/organizer/users", f"/organizer/users/{ann.id}/active", {"active": "1"}
        )
        assert enabled.status_code == 303
        signed_in = await form_post(
            ann_browser, "/login", "/login", {"email": "ann@example.com", "password": PASSWORD}
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/visitor"
        # The API token works again; the session revoked by disabling stays revoked.
        assert (await ann_browser.get("/api/me", headers=bearer)).status_code == 200
    assert [e.target for e in await actions(client, "account.disabled")] == [f"user:{ann.id}"]
    assert [e.target for e in await actions(client, "account.enabled")] == [f"user:{ann.id}"]


async def test_a_failed_create_shows_the_form_again_with_what_was_typed(
    admin_client: httpx.AsyncClient,
) -> None:
    client = admin_client
    data = {"name": "Org Two", "email": "not-an-address", "password": PASSWORD, "role": "organizer"}
    failed = await form_post(client, "/organizer/users", "/organizer/users", data)
    assert failed.status_code == 422
    assert "Enter a valid e-mail address." in failed.text and 'value="not-an-address"' in failed.text
    assert 'value="Org Two"' in failed.text and PASSWORD not in failed.text


async def test_the_audit_log_pages(admin_client: httpx.AsyncClient) -> None:
    client = admin_client
    async with app_of(client).state.platform.db.session() as session:
        for i in range(admin.AUDIT_PAGE_SIZE + 5):
            audit.record(session, "account.created", target=f"user:{1000 + i}")
        await session.commit()
    first = await client.get("/organizer/audit", params={"action": "account.created"})
    assert first.status_code == 200 and "Page 1 of 2" in first.text
    second = await client.get("/organizer/audit", params={"action": "account.created", "page": "2"})
    assert second.status_code == 200 and "Page 2 of 2" in second.text
    assert second.text.count("<code>account.created</code>") == 6  # root's account and the first five
