"""The per-process token cache: known tokens cost no store round trip, and signing out anywhere is
honoured everywhere."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlmodel import select
from starlette.applications import Starlette

from expo.accounts.authcache import AuthCache
from expo.accounts.models import AuthToken, TokenKind, User
from expo.accounts.services import hash_token
from expo.app import create_app
from expo.bus import connect_bus
from expo.db import utcnow
from tests.conftest import create_schema, make_settings, signup_and_login
from tests.test_realtime import share_redis_namespace


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_known_token_is_not_looked_up_again(client: httpx.AsyncClient) -> None:
    auth = await signup_and_login(client, "cache@example.com")
    assert (await client.get("/api/me", headers=auth)).status_code == 200
    engine = client._transport.app.state.platform.db.engine.sync_engine  # type: ignore[attr-defined]
    token_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "auth_token.token_hash =" in statement:
            token_reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            response = await client.get("/api/me", headers=auth)
            assert response.json()["email"] == "cache@example.com"
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # The first request's answer was remembered: none of the next three asked the store who this is.
    assert token_reads == []


async def test_revoking_takes_effect_at_once(client: httpx.AsyncClient) -> None:
    auth = await signup_and_login(client, "gone@example.com")
    assert (await client.get("/api/me", headers=auth)).status_code == 200
    assert (await client.post("/api/auth/logout", headers=auth)).status_code == 204
    response = await client.get("/api/me", headers=auth)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.invalid_token"


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_signing_out_in_one_process_signs_out_in_the_other(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path, bus_url=redis_url)
    await create_schema(settings.database)
    namespace = f"test-{secrets.token_hex(6)}:"
    one, two = (create_app(settings, check_schema=False) for _ in range(2))
    for app in (one, two):
        share_redis_namespace(app, redis_url, namespace)
    async with running(one) as on_one, running(two) as on_two:
        auth = await signup_and_login(on_one, "roams@example.com")
        for http in (on_one, on_two):
            assert (await http.get("/api/me", headers=auth)).status_code == 200
        cache_two: AuthCache = two.state.platform.auth_cache
        key = hash_token(token_of(auth))
        assert cache_two.get(key) is not None
        assert (await on_one.post("/api/auth/logout", headers=auth)).status_code == 204
        # The invalidation travels over Redis; wait for it rather than for a fixed time.
        async with asyncio.timeout(5):
            while cache_two.get(key) is not None:
                await asyncio.sleep(0.01)
        assert (await on_two.get("/api/me", headers=auth)).status_code == 401


def remembered(cache: AuthCache, *, expires_in: timedelta | None) -> str:
    user = User(id=7, email="u@example.com", name="U", role="visitor", password_hash="x")
    expires_at = None if expires_in is None else utcnow() + expires_in
    token = AuthToken(
        id=3, user_id=7, kind=TokenKind.API.value, token_hash="h", prefix="p", expires_at=expires_at
    )
    cache.put("h", user, token)
    return "h"


async def test_an_expired_token_is_not_answered_from_memory() -> None:
    cache = AuthCache(connect_bus("memory://"))
    key = remembered(cache, expires_in=timedelta(seconds=-1))
    assert cache.get(key) is None and len(cache) == 0


async def test_forgetting_a_user_drops_all_their_tokens_and_zero_ttl_remembers_nothing() -> None:
    bus = connect_bus("memory://")
    await bus.connect()
    cache = AuthCache(bus)
    await cache.start()
    try:
        key = remembered(cache, expires_in=None)
        assert cache.get(key) is not None
        await cache.forget_user(7)
        assert cache.get(key) is None
    finally:
        await cache.stop()
        await bus.close()
    off = AuthCache(bus, ttl=0)
    assert off.get(remembered(off, expires_in=None)) is None


async def test_token_use_is_recorded_after_the_request_not_during_it(client: httpx.AsyncClient) -> None:
    auth = await signup_and_login(client, "used@example.com")
    platform = client._transport.app.state.platform  # type: ignore[attr-defined]
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE AUTH_TOKEN"):
            writes.append(statement)

    event.listen(platform.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        assert (await client.get("/api/me", headers=auth)).status_code == 200
        assert writes == []  # the request itself wrote nothing
        await platform.token_use.flush()
        assert len(writes) == 1
    finally:
        event.remove(platform.db.engine.sync_engine, "before_cursor_execute", count)
    async with platform.db.session() as session:
        token = (
            await session.exec(select(AuthToken).where(AuthToken.token_hash == hash_token(token_of(auth))))
        ).one()
    assert token.last_used_at is not None
    listed = (await client.get("/api/auth/tokens", headers=auth)).json()["items"]
    assert listed[0]["last_used_at"] is not None
