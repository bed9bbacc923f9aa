"""Helpers for the floor's page tests: a seeded floor in the app's store, and browsers signed in as
each role (each its own client with its own cookies)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from booths.models import Booth
from expo.accounts import services as accounts
from expo.accounts.models import User
from tests.booths.conftest import Floor, seed_floor

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def floor_of(app: Starlette) -> Floor:
    return await seed_floor(app.state.platform.db)


async def make_account(app: Starlette, email: str, role: str, name: str = "") -> User:
    async with app.state.platform.db.session() as session:
        user = await accounts.create_user(session, email=email, password=PASSWORD, role=role)
        if name:
            user.name = name
            session.add(user)
            await session.commit()
        return user


@asynccontextmanager
async def browser(app: Starlette, email: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, signed in through the login form when ``email`` is given."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        if email is not None:
            page = await client.get("/login")
            data = {"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD}
            response = await client.post("/login", data=data)
            assert response.status_code == 303, response.text
        yield client


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, Any] | None = None, **kwargs: Any
) -> httpx.Response:
    """Open ``page`` and submit ``data`` (and ``files``) to ``action`` with the page's CSRF token."""
    opened = await client.get(page)
    token = csrf_of(opened.text) if opened.status_code == 200 else "none"
    return await client.post(action, data={"csrf_token": token, **(data or {})}, **kwargs)


async def add_owner(app: Starlette, booth: Booth, user: User) -> None:
    """Make ``user`` the booth's owner (as if they had applied for it)."""
    from booths.models import BoothStaff
    from expo.permissions import BoothRole

    async with app.state.platform.db.session() as session:
        assert booth.id is not None and user.id is not None
        session.add(BoothStaff(booth_id=booth.id, user_id=user.id, role=BoothRole.OWNER.value))
        await session.commit()
