"""Sign-up is rate limited per client address, on the API and the page alike (issue 12, finding 10):
over the allowance, 429 with ``Retry-After``, and no account is created."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette

from expo.accounts.models import User
from expo.app import create_app
from tests.booths.web import PASSWORD, csrf_of
from tests.conftest import create_schema, make_settings

ALLOWANCE = 5  # login_attempts (1) x 5, the per-address login allowance


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    settings = make_settings(tmp_path, login_attempts=1)
    await create_schema(settings.database)
    application = create_app(settings, check_schema=False)
    async with application.router.lifespan_context(application):
        yield application


def client_at(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def accounts(app: Starlette) -> int:
    async with app.state.platform.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(User))).one())


async def test_signups_over_the_allowance_of_an_address_are_refused(app: Starlette) -> None:
    async with client_at(app, "203.0.113.7") as client:
        for n in range(ALLOWANCE):
            body = {"email": f"bulk{n}@example.com", "password": PASSWORD}
            assert (await client.post("/api/auth/signup", json=body)).status_code == 201
        over = await client.post(
            "/api/auth/signup", json={"email": "one-more@example.com", "password": PASSWORD}
        )
        assert over.status_code == 429
        assert over.json()["error"]["code"] == "rate_limited"
        assert int(over.headers["retry-after"]) >= 1

        # The sign-up page shares the allowance: the form comes back with what was typed.
        form = await client.get("/signup")
        data = {
            "csrf_token": csrf_of(form.text),
            "name": "Late Larry",
            "email": "larry@example.com",
            "password": PASSWORD,
            "role": "visitor",
        }
        page = await client.post("/signup", data=data)
        assert page.status_code == 429
        assert int(page.headers["retry-after"]) >= 1
        assert "Too many attempts. Try again in" in page.text
        assert 'value="larry@example.com"' in page.text and 'value="Late Larry"' in page.text
    assert await accounts(app) == ALLOWANCE

    # Another address is not held back.
    async with client_at(app, "198.51.100.20") as other:
        body = {"email": "neighbour@example.com", "password": PASSWORD}
        assert (await other.post("/api/auth/signup", json=body)).status_code == 201
