"""PostgreSQL drops every connection of the app (issue 12, "Fault tests"): the next request
reconnects.

An administrator's ``pg_terminate_backend`` on every backend of the app's database stands in for
a database restart or a failover: the pool is then full of connections to nothing. The next page,
the next API write and the next seat taken through the agenda's group-committing desk (which keeps
no connection of its own on PostgreSQL, but decides on pooled ones) must succeed, and each write
must be applied exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, func, select
from starlette.applications import Starlette

from expo.agenda.models import ProgramRegistration
from expo.app import create_app
from expo.db import Database
from expo.expos.models import Expo
from expo.registration.models import Registration
from tests.agenda.conftest import make_program
from tests.conftest import create_schema, make_settings, signup_and_login

TERMINATE_ALL = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


async def terminate_backends(database_url: str) -> int:
    """From a separate admin connection, end every other backend on the app's database."""
    url = make_url(database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    try:
        terminated: int = await conn.fetchval(TERMINATE_ALL)
    finally:
        await conn.close()
    return terminated


@pytest.fixture
async def pg_app(tmp_path: Path, postgres_url: str) -> AsyncIterator[Starlette]:
    await create_schema(postgres_url)
    application = create_app(make_settings(tmp_path, database_url=postgres_url), check_schema=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def pg_client(pg_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=pg_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def count(db: Database, model: type[Registration] | type[ProgramRegistration], user_id: int) -> int:
    async with db.session() as session:
        found = await session.exec(
            select(func.count()).select_from(model).where(col(model.user_id) == user_id)
        )
        return int(found.one())


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    me = await client.get("/api/me", headers=headers)
    assert me.status_code == 200, me.text
    return int(me.json()["id"])


async def test_requests_after_postgres_dropped_every_connection_succeed_once(
    pg_app: Starlette, pg_client: httpx.AsyncClient, postgres_url: str
) -> None:
    db: Database = pg_app.state.platform.db
    org = await signup_and_login(pg_client, "org@example.com", role="organizer")
    created = await pg_client.post("/api/expos", json={"slug": "fair", "title": "Fair"}, headers=org)
    assert created.status_code == 201, created.text
    expo_id = created.json()["id"]
    async with db.session() as session:
        expo = await session.get(Expo, expo_id)
    assert expo is not None
    program = await make_program(db, expo, capacity=10)
    visitors = [await signup_and_login(pg_client, f"v{n}@example.com") for n in range(3)]
    ids = [await user_id(pg_client, headers) for headers in visitors]
    # Warm the pool, the seat desk and the auth cache, as a serving process would be.
    assert (await pg_client.get("/expos/fair")).status_code == 200
    seat = await pg_client.post(f"/api/programs/{program}/registration", headers=visitors[0])
    assert seat.status_code == 200 and seat.json()["status"] == "confirmed", seat.text

    assert await terminate_backends(postgres_url) >= 1

    # A page: a read on a pooled connection that is gone.
    page = await pg_client.get("/expos/fair")
    assert page.status_code == 200, page.text[:300]
    assert (await pg_client.get("/healthz")).json() == {"status": "ok"}

    # An API write, applied once.
    registered = await pg_client.post("/api/expos/fair/registration", json={}, headers=visitors[1])
    assert registered.status_code == 201, registered.text
    assert await count(db, Registration, ids[1]) == 1

    assert await terminate_backends(postgres_url) >= 1

    # A seat through the group-committing desk, first thing after the connections went: once.
    seat = await pg_client.post(f"/api/programs/{program}/registration", headers=visitors[2])
    assert seat.status_code == 200 and seat.json()["status"] == "confirmed", seat.text
    assert await count(db, ProgramRegistration, ids[2]) == 1
    assert (await pg_client.get(f"/api/programs/{program}")).json()["seats_left"] == 8
