"""Expo teams: the creator owns the expo, owners invite by e-mail and manage roles, the last owner
stays, and an organizer off the team can do nothing to the expo (API and pages)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.config import Settings
from expo.db import utcnow
from expo.expos.models import TeamInvite
from expo.mail.models import OutboxMessage
from tests.booths.web import browser, make_account, post_form
from tests.conftest import make_settings, signup_and_login


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


def app_of(client: httpx.AsyncClient) -> Starlette:
    return client._transport.app  # type: ignore[attr-defined,no-any-return]


async def invite_link(app: Starlette, address: str) -> str:
    """The accept link of the newest invitation e-mailed to ``address``."""
    async with app.state.platform.db.session() as session:
        query = select(OutboxMessage).where(OutboxMessage.to_address == address)
        message = (await session.exec(query.order_by(col(OutboxMessage.id).desc()))).first()
    assert message is not None, f"no letter to {address}"
    found = re.search(r"http://\S+/team/invites/(\S+)", message.body)
    assert found, message.body
    return found.group(1)


async def make_expo(client: httpx.AsyncClient, headers: dict[str, str], slug: str) -> None:
    created = await client.post("/api/expos", json={"slug": slug, "title": slug.title()}, headers=headers)
    assert created.status_code == 201, created.text


async def test_the_creator_owns_and_invites_and_the_invitee_joins(client: httpx.AsyncClient) -> None:
    app = app_of(client)
    owner = await signup_and_login(client, "owner@example.com", "organizer")
    await make_expo(client, owner, "fair")
    mine = (await client.get("/api/me/expos", headers=owner)).json()["items"]
    assert [(i["expo"]["slug"], i["role"]) for i in mine] == [("fair", "owner")]
    assert "team.manage" in mine[0]["permissions"]

    # A check-in volunteer with a visitor account is invited; the letter carries the link.
    desk = await signup_and_login(client, "Desk@Example.com", "visitor")
    invited = await client.post(
        "/api/expos/fair/team/invites", json={"email": "desk@example.com", "role": "checkin"}, headers=owner
    )
    assert invited.status_code == 201, invited.text
    token = await invite_link(app, "desk@example.com")
    assert token not in invited.text  # the link travels only by e-mail

    # Someone else who got hold of the link cannot use it.
    stranger = await signup_and_login(client, "stranger@example.com", "organizer")
    refused = await client.post(f"/api/team/invites/{token}/accept", headers=stranger)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "team.invite_other_address"

    joined = await client.post(f"/api/team/invites/{token}/accept", headers=desk)
    assert joined.status_code == 200, joined.text
    assert joined.json()["role"] == "checkin" and joined.json()["permissions"] == ["checkin"]
    again = await client.post(f"/api/team/invites/{token}/accept", headers=desk)
    assert again.status_code == 404  # used up

    team = (await client.get("/api/expos/fair/team", headers=owner)).json()
    assert {(m["email"], m["role"]) for m in team["members"]} == {
        ("owner@example.com", "owner"),
        ("desk@example.com", "checkin"),
    }
    assert team["invites"] == []
    # Check-in staff do not change the expo or its team.
    assert (await client.patch("/api/expos/fair", json={"title": "X"}, headers=desk)).status_code == 403
    assert (await client.get("/api/expos/fair/team", headers=desk)).status_code == 403


async def test_an_organizer_off_the_team_can_do_nothing_to_the_expo(client: httpx.AsyncClient) -> None:
    owner = await signup_and_login(client, "owner@example.com", "organizer")
    rival = await signup_and_login(client, "rival@example.com", "organizer")
    await make_expo(client, owner, "fair")
    for method, path, body in [
        ("PATCH", "/api/expos/fair", {"title": "Mine now"}),
        ("POST", "/api/expos/fair/halls", {"name": "Hall Z"}),
        ("POST", "/api/expos/fair/categories", {"name": "Z"}),
        ("GET", "/api/expos/fair/team", None),
        ("POST", "/api/expos/fair/team/invites", {"email": "rival@example.com", "role": "owner"}),
        ("GET", "/api/expos/fair/booths?status=pending", None),
    ]:
        response = await client.request(method, path, json=body, headers=rival)
        assert response.status_code == 403, (method, path, response.text)
    assert (await client.get("/api/expos/fair")).json()["title"] == "Fair"
    assert (await client.get("/api/expos/fair/halls")).json()["items"] == []
    assert (await client.get("/api/me/expos", headers=rival)).json()["items"] == []


async def test_roles_change_and_the_last_owner_stays(client: httpx.AsyncClient) -> None:
    app = app_of(client)
    owner = await signup_and_login(client, "owner@example.com", "organizer")
    await make_expo(client, owner, "fair")
    me = (await client.get("/api/me", headers=owner)).json()["id"]
    last = await client.put(f"/api/expos/fair/team/{me}", json={"role": "organizer"}, headers=owner)
    assert last.status_code == 409 and last.json()["error"]["code"] == "team.last_owner"
    assert (await client.delete(f"/api/expos/fair/team/{me}", headers=owner)).status_code == 409

    colleague = await signup_and_login(client, "colleague@example.com", "organizer")
    await client.post(
        "/api/expos/fair/team/invites",
        json={"email": "colleague@example.com", "role": "organizer"},
        headers=owner,
    )
    token = await invite_link(app, "colleague@example.com")
    assert (await client.post(f"/api/team/invites/{token}/accept", headers=colleague)).status_code == 200
    them = (await client.get("/api/me", headers=colleague)).json()["id"]
    # An organizer runs the expo but not its team.
    assert (
        await client.patch("/api/expos/fair", json={"title": "Fair 2"}, headers=colleague)
    ).status_code == 200
    refused = await client.put(f"/api/expos/fair/team/{me}", json={"role": "moderator"}, headers=colleague)
    assert refused.status_code == 403
    # Promoted to owner, they may let the first owner step down.
    promoted = await client.put(f"/api/expos/fair/team/{them}", json={"role": "owner"}, headers=owner)
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    stepped = await client.put(f"/api/expos/fair/team/{me}", json={"role": "moderator"}, headers=colleague)
    assert stepped.status_code == 200
    assert (await client.patch("/api/expos/fair", json={"title": "x"}, headers=owner)).status_code == 403
    # Anyone may leave; removed members lose access at once.
    assert (await client.delete(f"/api/expos/fair/team/{me}", headers=owner)).status_code == 204
    assert (await client.get("/api/me/expos", headers=owner)).json()["items"] == []
    bad = await client.put(f"/api/expos/fair/team/{them}", json={"role": "king"}, headers=colleague)
    assert bad.status_code == 422


async def test_withdrawn_and_expired_invitations_do_not_work(client: httpx.AsyncClient) -> None:
    app = app_of(client)
    owner = await signup_and_login(client, "owner@example.com", "organizer")
    guest = await signup_and_login(client, "guest@example.com", "visitor")
    await make_expo(client, owner, "fair")
    body = {"email": "guest@example.com", "role": "moderator"}
    await client.post("/api/expos/fair/team/invites", json=body, headers=owner)
    old_token = await invite_link(app, "guest@example.com")
    # Inviting again replaces the link.
    await client.post("/api/expos/fair/team/invites", json=body, headers=owner)
    new_token = await invite_link(app, "guest@example.com")
    assert new_token != old_token
    assert (await client.post(f"/api/team/invites/{old_token}/accept", headers=guest)).status_code == 404
    invites = (await client.get("/api/expos/fair/team", headers=owner)).json()["invites"]
    assert len(invites) == 1
    withdrawn = await client.delete(f"/api/expos/fair/team/invites/{invites[0]['id']}", headers=owner)
    assert withdrawn.status_code == 204
    assert (await client.post(f"/api/team/invites/{new_token}/accept", headers=guest)).status_code == 404
    # An invitation past its lifetime is as good as none.
    await client.post("/api/expos/fair/team/invites", json=body, headers=owner)
    late_token = await invite_link(app, "guest@example.com")
    async with app.state.platform.db.session() as session:
        await session.exec(update(TeamInvite).values(expires_at=utcnow() - timedelta(minutes=1)))
        await session.commit()
    assert (await client.post(f"/api/team/invites/{late_token}/accept", headers=guest)).status_code == 404
    assert (await client.get("/api/me/expos", headers=guest)).json()["items"] == []
    for bad in [{"email": "not-an-address", "role": "organizer"}, {"email": "a@b.c", "role": "emperor"}]:
        response = await client.post("/api/expos/fair/team/invites", json=bad, headers=owner)
        assert response.status_code == 422, response.text


async def test_the_team_pages_invite_and_accept(app: Starlette) -> None:
    await make_account(app, "owner@example.com", "organizer", "Olga Owner")
    await make_account(app, "mod@example.com", "exhibitor", "Mo Moderator")
    await make_account(app, "rival@example.com", "organizer")
    async with browser(app, "owner@example.com") as owner:
        created = await post_form(
            owner,
            "/organizer/expos",
            "/organizer/expos",
            {"slug": "fair", "title": "Fair", "timezone": "UTC"},
        )
        assert created.status_code == 303
        page = await owner.get("/organizer/expos/fair/team")
        assert page.status_code == 200 and "Olga Owner" in page.text and 'id="i-email"' in page.text
        sent = await post_form(
            owner,
            "/organizer/expos/fair/team",
            "/organizer/expos/fair/team/invite",
            {"email": "mod@example.com", "role": "moderator"},
        )
        assert sent.status_code == 303
        assert "mod@example.com" in (await owner.get("/organizer/expos/fair/team")).text
    token = await invite_link(app, "mod@example.com")
    async with browser(app, "rival@example.com") as rival:
        assert (await rival.get("/organizer/expos/fair/team")).status_code == 403
        assert (await rival.get("/organizer/expos/fair")).status_code == 403
    async with browser(app) as anonymous:
        opened = await anonymous.get(f"/team/invites/{token}")
        assert opened.status_code == 303 and opened.headers["location"].startswith("/login")
    async with browser(app, "mod@example.com") as mod:
        offer = await mod.get(f"/team/invites/{token}")
        assert offer.status_code == 200 and "Fair" in offer.text
        accepted = await post_form(mod, f"/team/invites/{token}", f"/team/invites/{token}")
        assert accepted.status_code == 303 and accepted.headers["location"] == "/organizer/expos/fair/team"
        team = await mod.get("/organizer/expos/fair/team")
        # A moderator sees the team but manages none of it.
        assert team.status_code == 200 and "Mo Moderator" in team.text and 'id="i-email"' not in team.text
        assert "/organizer/expos/fair" in (await mod.get("/organizer/expos")).text
