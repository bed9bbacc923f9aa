"""Who is who in an expo, for the streaming tests: organizers on its team, exhibitors on the staff
of one of its booths (the facts :mod:`expo.permissions` weighs)."""

from __future__ import annotations

import httpx
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from booths.models import Booth, BoothStaff, BoothStatus
from expo.accounts.models import User
from expo.db import Database
from expo.expos.models import Expo
from expo.expos.services import ensure_expo
from expo.expos.team import add_member
from expo.permissions import BoothRole, TeamRole
from tests.conftest import signup_and_login

Headers = dict[str, str]


def db_of(client: httpx.AsyncClient) -> Database:
    app: Starlette = client._transport.app  # type: ignore[attr-defined]
    db: Database = app.state.platform.db
    return db


async def find_user(session: AsyncSession, email: str) -> User:
    user = (await session.exec(select(User).where(User.email == email))).one()
    return user


async def _expo(session: AsyncSession, slug: str) -> Expo:
    return await ensure_expo(session, slug, slug.title())


async def join_team(db: Database, email: str, slug: str, role: TeamRole = TeamRole.OWNER) -> Expo:
    """Put the account ``email`` on the team of the expo ``slug`` (created when missing)."""
    async with db.session() as session:
        user = await find_user(session, email)
        expo = await _expo(session, slug)
        await add_member(session, expo, user, role, actor=None)
        return expo


async def give_booth(db: Database, email: str, slug: str, status: BoothStatus = BoothStatus.APPROVED) -> int:
    """A booth in the expo ``slug`` (created when missing) owned by ``email``, approved unless
    ``status`` says otherwise; its id."""
    async with db.session() as session:
        user = await find_user(session, email)
        expo = await _expo(session, slug)
        assert expo.id is not None and user.id is not None
        name = f"Booth of {email} ({status.value})"
        booth = Booth(expo_id=expo.id, name=name, status=status.value)
        session.add(booth)
        await session.flush()
        assert booth.id is not None
        session.add(BoothStaff(booth_id=booth.id, user_id=user.id, role=BoothRole.OWNER.value))
        await session.commit()
        return booth.id


async def organizer_of(client: httpx.AsyncClient, email: str, slug: str = "main") -> Headers:
    """An organizer account that owns the expo ``slug``: bearer headers."""
    headers = await signup_and_login(client, email, "organizer")
    await join_team(db_of(client), email, slug)
    return headers


async def exhibitor_in(client: httpx.AsyncClient, email: str, slug: str = "main") -> Headers:
    """An exhibitor account on the staff of a booth in the expo ``slug``: bearer headers."""
    headers = await signup_and_login(client, email, "exhibitor")
    await give_booth(db_of(client), email, slug)
    return headers
