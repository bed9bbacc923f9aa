"""The ``expo`` command, run in-process on a temporary config, and once as the real console script."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, text
from sqlmodel import SQLModel, col, select

from booths.models import Booth, Category, Hall, Product
from booths.search import search
from booths.services import booth_role, booths_of, list_booths
from expo.accounts.models import Role, User
from expo.accounts.services import authenticate
from expo.agenda.models import Program
from expo.cli import main
from expo.config import SETTINGS
from expo.db import Database
from expo.demo import DEMO_LOGINS, seed_demo
from expo.expos.models import Expo
from expo.meetings.models import AvailabilityWindow
from expo.migrations import ensure_schema, head_revision
from expo.permissions import BoothRole, is_admin
from expo.promotion.models import (
    PromotionCirculation,
    PromotionDepartment,
    PromotionProject,
    PromotionSection,
)
from streaming.models import Room, Stream, StreamStatus
from tests.conftest import free_port

SECRET = "cli-test-secret-" + "s" * 32


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config.toml whose store lives under tmp_path; no stray EXPO_* or ./config.toml applies."""
    for key in list(os.environ):
        if key.startswith("EXPO_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\nsecret_key = "{SECRET}"\nlog_format = "text"\n')
    return path


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """`serve` configures logging onto the captured stderr; put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def store(config: Path) -> Database:
    return Database(f"sqlite+aiosqlite:///{config.parent / 'data' / 'expo.db'}")


async def _login(config: Path, email: str, password: str) -> User:
    db = store(config)
    try:
        async with db.session() as session:
            return await authenticate(session, email, password)
    finally:
        await db.dispose()


def test_users_create_makes_an_account_that_can_log_in(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run(
        capsys, monkeypatch, "users", "create", "--email", "Ann@Example.org", "--role", "exhibitor",
        "--name", "Ann", "--config", str(config), stdin="correct horse battery\nignored second line\n",
    )  # fmt: skip
    assert (status, err) == (0, "")
    created = json.loads(out)
    assert created == {"id": created["id"], "email": "ann@example.org", "role": "exhibitor", "name": "Ann"}
    user = asyncio.run(_login(config, "ann@example.org", "correct horse battery"))
    assert user.id == created["id"]


def test_users_create_makes_a_platform_administrator(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--role admin``: the account that sees and manages every expo, whoever's team runs it."""
    args = ("--config", str(config), "users", "create", "--email", "root@example.org", "--role", "admin")
    status, out, _ = run(capsys, monkeypatch, *args, stdin="correct horse battery\n")
    assert status == 0 and json.loads(out)["role"] == "admin"
    user = asyncio.run(_login(config, "root@example.org", "correct horse battery"))
    assert is_admin(user)


def test_users_create_refuses_a_taken_email(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("--config", str(config), "users", "create", "--email", "bob@example.org", "--role", "visitor")
    assert run(capsys, monkeypatch, *args, stdin="first password\n")[0] == 0
    status, out, err = run(capsys, monkeypatch, *args, stdin="second password\n")
    assert status == 1
    assert out == ""
    assert err == "error: An account with this e-mail already exists.\n"


def test_users_create_refuses_an_unknown_role(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, err = run(
        capsys, monkeypatch, "users", "create", "--email", "c@example.org", "--role", "root",
        "--config", str(config), stdin="long enough password\n",
    )  # fmt: skip
    assert status == 2
    assert "invalid choice: 'root'" in err
    assert not (config.parent / "data").exists()  # nothing was created


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("short\n", "Passwords need at least 8 characters."), ("", "no password given")],
)
def test_users_create_refuses_a_short_or_missing_password(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str,
    message: str,
) -> None:
    status, out, err = run(
        capsys, monkeypatch, "users", "create", "--email", "d@example.org", "--role", "visitor",
        "--config", str(config), stdin=stdin,
    )  # fmt: skip
    assert (status, out) == (2, "")
    assert err.startswith("error: ") and message in err
    assert not (config.parent / "data").exists()


def test_db_upgrade_reports_the_revisions(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = run(capsys, monkeypatch, "db", "upgrade", "--config", str(config))
    assert status == 0
    assert out == f"upgraded the store from revision (empty) to {head_revision()}\n"
    # --config before the command name works too.
    status, out, _ = run(capsys, monkeypatch, "--config", str(config), "db", "upgrade")
    assert status == 0
    assert out == f"the store is already at revision {head_revision()} (head)\n"


def test_settings_lists_every_key_and_hides_the_secret(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPO_LOGIN_ATTEMPTS", "7")
    status, out, _ = run(capsys, monkeypatch, "settings", "--config", str(config))
    assert status == 0
    for spec in SETTINGS:
        assert f"\n{spec.name} = " in out
        assert spec.metadata["help"] in out
    assert "\nlogin_attempts = 7\n" in out
    assert f'\ndata_dir = "{config.parent / "data"}"\n' in out
    assert SECRET not in out
    assert '\nsecret_key = "********"\n' in out


def test_public_url_left_at_its_default_follows_the_port(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # So that `expo demo --port 9000` prints links that work.
    monkeypatch.setenv("EXPO_PORT", "9000")
    out = run(capsys, monkeypatch, "settings", "--config", str(config))[1]
    assert '\npublic_url = "http://127.0.0.1:9000"\n' in out
    monkeypatch.setenv("EXPO_PUBLIC_URL", "https://expo.example.org")
    out = run(capsys, monkeypatch, "settings", "--config", str(config))[1]
    assert '\npublic_url = "https://expo.example.org"\n' in out


def test_a_bad_setting_stops_serve_with_the_key_named(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPO_PORT", "abc")
    status, _, err = run(capsys, monkeypatch, "serve", "--config", str(config))
    assert status == 2
    assert err == "error: setting 'port' (env EXPO_PORT): expected an integer, got 'abc'\n"


def test_serve_refuses_an_outdated_store(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, keep_logging: None
) -> None:
    async def stamp_old_revision() -> None:
        db = store(config)
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO alembic_version VALUES ('0000_older')"))
        await db.dispose()

    asyncio.run(stamp_old_revision())
    status, _, err = run(capsys, monkeypatch, "serve", "--port", str(free_port()), "--config", str(config))
    assert status == 2
    assert "error: the store's schema is at revision 0000_older" in err
    assert "run `expo db upgrade`" in err
    assert "Traceback" not in err


def test_demo_store_behind_the_code_is_upgraded_not_refused(config: Path) -> None:
    """`scripts/demo` after a code update: the demo carries its store along instead of stopping."""
    from expo.cli import run_on_store
    from expo.config import load_settings
    from expo.migrations import current_revision, upgrade

    settings = load_settings(config, {})
    asyncio.run(upgrade(settings.database, "0001_initial"))
    info = run_on_store(settings, seed_demo, upgrade=True)
    assert info.expo.slug == "demo"

    async def revision() -> str | None:
        db = store(config)
        try:
            return await current_revision(db)
        finally:
            await db.dispose()

    assert asyncio.run(revision()) == head_revision()


async def test_seed_demo_is_idempotent(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}")

    async def counts() -> dict[str, int]:
        tables: dict[str, type[SQLModel]] = {
            "users": User,
            "expos": Expo,
            "halls": Hall,
            "categories": Category,
            "booths": Booth,
            "products": Product,
            "streams": Stream,
            "programs": Program,
            "rooms": Room,
            "meeting windows": AvailabilityWindow,
            "promotion sections": PromotionSection,
            "projects": PromotionProject,
            "departments": PromotionDepartment,
            "circulation steps": PromotionCirculation,
        }
        async with db.session() as session:
            return {
                name: (await session.exec(select(func.count()).select_from(table))).one()
                for name, table in tables.items()
            }

    try:
        await ensure_schema(db)
        first = await seed_demo(db)
        after_first = await counts()
        second = await seed_demo(db)
        assert await counts() == after_first
        assert after_first == {
            "users": 3,
            "expos": 1,
            "halls": 3,
            "categories": 7,
            "booths": 7,
            "products": 30,
            "streams": 3,
            "programs": 5,
            "rooms": 1,
            "meeting windows": 1,
            "promotion sections": 2,
            "projects": 1,
            "departments": 2,
            "circulation steps": 0,  # sent (and e-mailed) with settings only, like the question
        }
        assert second.logins == first.logins == DEMO_LOGINS
        assert second.expo.id == first.expo.id and second.room.id == first.room.id
        assert [b.id for b in second.floor.booths] == [b.id for b in first.floor.booths]
        assert [s.id for s in second.schedule] == [s.id for s in first.schedule]
        assert (second.expo.slug, second.expo.title) == ("demo", "Demo Expo")
        assert second.expo.languages == "en,zh_Hans"
        assert second.expo.starts_on is not None and second.expo.ends_on is not None
        for login in DEMO_LOGINS:
            async with db.session() as session:
                user = await authenticate(session, login.email, login.password)
            assert user.role == login.role.value

        async with db.session() as session:
            expo = second.expo
            # Every booth is public, placed in a hall, and has products with a price and a translation.
            total, approved = await list_booths(session, expo)
            assert total == 7 and all(b.hall_id is not None and b.number for b in approved)
            products = (await session.exec(select(Product))).all()
            assert all(p.currency and p.price_min and p.moq and p.tags for p in products)
            assert all(p.translations["zh_Hans"]["name"] for p in products)
            # Visitors find products by an English word and by a fragment of the Chinese name.
            english = await search(session, expo, "earbuds")
            assert [(h.kind, h.name) for h in english.items] == [
                ("product", "Wireless noise-cancelling earbuds"),
                ("booth", "Shenzhen Brightwave Electronics"),  # its description mentions earbuds
            ]
            chinese = await search(session, expo, "不锈", lang="zh_Hans")
            assert ("product", "不锈钢炊具套装") in [(h.kind, h.name) for h in chinese.items]
            # The exhibitor login owns a booth, and one of the scheduled broadcasts presents it.
            exhibitor = second.users[Role.EXHIBITOR]
            staffed = await booths_of(session, exhibitor)
            assert [b.name for b in staffed] == ["Shenzhen Brightwave Electronics"]
            assert await booth_role(session, staffed[0].id or 0, exhibitor) == BoothRole.OWNER
            streams = (await session.exec(select(Stream).order_by(col(Stream.id)))).all()
            assert streams[0].title == "Opening ceremony"
            presented = [s for s in streams[1:] if s.booth_id == staffed[0].id]
            assert len(presented) == 1 and presented[0].owner_id == exhibitor.id
            # The live broadcast presents that booth too, so that its page shows it live.
            assert streams[0].booth_id == staffed[0].id
            assert all(s.scheduled_start is not None for s in streams[1:])
            assert {s.status for s in streams[1:]} == {StreamStatus.SCHEDULED.value}
    finally:
        await db.dispose()


def test_expo_serve_runs_as_a_real_process(config: Path) -> None:
    port = free_port()
    expo = Path(sys.executable).parent / "expo"
    process = subprocess.Popen(
        [str(expo), "serve", "--port", str(port), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while status != 200:
            assert process.poll() is None, f"expo serve exited: {process.communicate()[1]}"
            assert time.monotonic() < deadline, "expo serve did not answer /healthz within 30 s"
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                status = response.status_code
            except httpx.TransportError:
                time.sleep(0.1)  # not listening yet; poll again
        assert response.json() == {"status": "ok"}
        # The server migrated the empty store on its own.
        assert asyncio.run(_revision(config)) == head_revision()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    # A clean shutdown: uvicorn finishes the lifespan, then re-raises the SIGTERM it caught.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Application shutdown complete" in stderr


async def _revision(config: Path) -> str | None:
    from expo.migrations import current_revision

    db = store(config)
    try:
        return await current_revision(db)
    finally:
        await db.dispose()


async def test_demo_agenda_links_its_broadcasts_and_has_limited_seats(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}")
    try:
        await ensure_schema(db)
        info = await seed_demo(db)
        async with db.session() as session:
            programs = {p.title: p for p in (await session.exec(select(Program))).all()}
        streams = {s.title: s.id for s in (info.broadcast, *info.schedule)}
        # Every demo broadcast is on the timetable, linked to its watch page.
        for title, stream_id in streams.items():
            assert programs[title].stream_id == stream_id
        seated = sorted(p.capacity for p in programs.values() if p.capacity is not None)
        assert seated == [2, 30]
        assert all(p.ends_at > p.starts_at for p in programs.values())
    finally:
        await db.dispose()
