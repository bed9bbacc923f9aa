"""Shared fixtures: settings on a temporary store, the app in-process, a real server on loopback,
and the real PostgreSQL and Redis services (skipped with a reason outside CI, required in CI)."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from sqlmodel import SQLModel
from starlette.applications import Starlette

from booths import search
from expo.app import create_app
from expo.config import Settings
from expo.db import Database, import_models
from expo.platform import Platform
from expo.wsprotocol import uvicorn_websocket_options

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get("EXPO_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("EXPO_TEST_REDIS", "redis://127.0.0.1:6379/0")


def service_unavailable(what: str, error: Exception) -> None:
    """Skip outside CI with a visible reason; in CI a missing service is a failure."""
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: the real service is required)")
    pytest.skip(message)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": str(tmp_path / "data"),
        "secret_key": "test-secret-" + "x" * 32,
        "access_log": False,
        "public_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


async def create_schema(url: str) -> None:
    """Tables straight from the models (fast). Migrations have their own tests."""
    import_models()
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
        await conn.run_sync(search.install)  # the search index is not a model
    await db.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app with its lifespan running, on a fresh SQLite store."""
    await create_schema(settings.database)
    application = create_app(settings, check_schema=False)
    hold_rate_limit_windows(application.state.platform)
    async with application.router.lifespan_context(application):
        yield application


def hold_rate_limit_windows(platform: Platform) -> None:
    """Hold the platform's login and sign-up limiters in the middle of the present window. Their
    windows are aligned on the wall clock, so a test's attempts that straddled a boundary (now and
    then, for the slower ones: 50 sign-ups take seconds) would start counting afresh and the
    limit would never be reached."""
    for limiter in (platform.login_by_email, platform.login_by_ip, platform.signup_by_ip):
        middle = (math.floor(time.time() / limiter.window) + 0.5) * limiter.window
        limiter.clock = lambda middle=middle: middle


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving an app on a loopback port, in a thread with its own event loop."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **uvicorn_websocket_options(),  # as expo serve runs it
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        # What Server.run does, keeping hold of the loop so tests can reach the app's resources.
        with asyncio.Runner(loop_factory=self.server.config.get_loop_factory()) as runner:
            self.loop = runner.get_loop()
            runner.run(self.server.serve())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's event loop (where the app's bus and store live)."""
        assert self.loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=20)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """The real server (uvicorn, lifespan, sockets) on a fresh SQLite store."""
    asyncio.run(create_schema(settings.database))
    with LiveServer(create_app(settings, check_schema=False)) as server:
        yield server


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        service_unavailable("Redis", exc)
    yield REDIS_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import asyncpg

    name = "expo_test_" + secrets.token_hex(6)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        service_unavailable("PostgreSQL", exc)
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def signup_and_login(
    client: httpx.AsyncClient, email: str, role: str = "visitor", password: str = "correct horse battery"
) -> dict[str, str]:
    """Create an account through the service layer and return bearer headers for it."""
    from expo.accounts import services

    app: Starlette = client._transport.app  # type: ignore[attr-defined]
    async with app.state.platform.db.session() as session:
        await services.create_user(session, email=email, password=password, role=role)
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
