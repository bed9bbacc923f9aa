"""Fixtures for registration: an expo with its organizer, visitors, and API clients for each."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.accounts.models import User
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.expos.team import add_member
from expo.mail.models import OutboxMessage
from expo.permissions import TeamRole
from expo.registration.models import Registration
from tests.booths.web import PASSWORD, make_account


@dataclass
class Fair:
    expo: Expo
    organizer: User
    other_organizer: User


async def make_fair(app: Starlette, slug: str = "fair") -> Fair:
    """An expo created by one organizer, and a second organizer who does not organize it."""
    organizer = await make_account(app, f"org-{slug}@example.com", "organizer", name="Olga Organizer")
    other = await make_account(app, f"other-{slug}@example.com", "organizer", name="Oscar Other")
    async with app.state.platform.db.session() as session:
        expo = await expos.ensure_expo(session, slug, "Spring Fair", created_by=organizer.id)
    return Fair(expo=expo, organizer=organizer, other_organizer=other)


async def team_member(app: Starlette, expo: Expo, email: str, account: str, role: TeamRole) -> User:
    """A new account of kind ``account`` put on ``expo``'s team as ``role`` (check-in staff, say)."""
    user = await make_account(app, email, account, name=email.split("@")[0].title())
    async with app.state.platform.db.session() as session:
        await add_member(session, expo, user, role, actor=None)
    return user


async def bearer(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def registrations(app: Starlette) -> list[Registration]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(Registration).order_by(col(Registration.id)))).all())


async def outbox(app: Starlette) -> list[OutboxMessage]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())
