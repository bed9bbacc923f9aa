"""Migrations: an empty store upgrades to head on SQLite and PostgreSQL, the result matches the models
exactly (a model change without a migration fails here), and the app refuses an outdated store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlmodel import SQLModel

from booths import search
from expo.db import Database, import_models
from expo.errors import ConfigError
from expo.migrations import current_revision, ensure_schema, head_revision, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store' / 'expo.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _differences(connection: Connection) -> list[Any]:
    import_models()
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True, "include_name": search.include_name},
    )
    return list(compare_metadata(context, SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_builds_exactly_the_models_schema(store_url: str) -> None:
    await upgrade(store_url)

    db = Database(store_url)
    try:
        assert await current_revision(db) == head_revision()
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(_tables)
            differences = await conn.run_sync(_differences)
    finally:
        await db.dispose()
    assert {"user", "auth_token", "audit_event", "expo", "alembic_version"} <= tables
    # Anything listed here is a model change that no migration carries: write one
    # (`expo db revision --message ...`) and review it.
    assert differences == []


async def test_upgrade_twice_changes_nothing(store_url: str) -> None:
    await upgrade(store_url)
    await upgrade(store_url)
    db = Database(store_url)
    try:
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()


async def test_ensure_schema_creates_a_fresh_store(store_url: str) -> None:
    db = Database(store_url)
    try:
        assert await current_revision(db) is None
        await ensure_schema(db)
        assert await current_revision(db) == head_revision()
        async with db.engine.connect() as conn:
            assert "user" in await conn.run_sync(_tables)
        await ensure_schema(db)  # at head: nothing to do, no error
    finally:
        await db.dispose()


async def test_processes_starting_together_on_a_fresh_store_both_succeed(store_url: str) -> None:
    # Several workers started at once must not race to create the same tables.
    stores = [Database(store_url) for _ in range(3)]
    try:
        # The store exists but has no tables. (SQLite's switch of a brand-new file to WAL, on the
        # first connection, is a separate race: expo.db's connection set-up owns it.)
        assert await stores[0].ping()
        await asyncio.gather(*(ensure_schema(db) for db in stores))
        assert await current_revision(stores[0]) == head_revision()
    finally:
        for db in stores:
            await db.dispose()


async def _stamp(db: Database, revision: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:rev)"), {"rev": revision})


async def test_ensure_schema_refuses_a_store_at_another_revision(store_url: str) -> None:
    db = Database(store_url)
    try:
        await _stamp(db, "0000_older")
        with pytest.raises(ConfigError) as caught:
            await ensure_schema(db)
        message = str(caught.value)
        assert "0000_older" in message
        assert head_revision() in message
        assert "expo db upgrade" in message
        # Refusing must not touch the store.
        assert await current_revision(db) == "0000_older"
    finally:
        await db.dispose()


async def test_ensure_schema_refuses_tables_without_a_revision(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE something_else (id INTEGER PRIMARY KEY)"))
        with pytest.raises(ConfigError, match="no schema revision"):
            await ensure_schema(db)
    finally:
        await db.dispose()


async def test_sqlite_foreign_keys_are_back_on_after_migrating(tmp_path: Path) -> None:
    # Migrations switch them off (batch mode copies tables); the app's connections need them on.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}")
    try:
        await ensure_schema(db)
        async with db.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await db.dispose()


async def test_teams_migration_makes_each_creator_the_owner(store_url: str) -> None:
    """Existing stores: an expo's creator owns it; an expo without a creator gets no team (only
    administrators manage it), so no organizer keeps access to an expo they did not create."""
    await upgrade(store_url, "0010_meeting_rooms")
    db = Database(store_url)
    try:
        async with db.engine.begin() as conn:
            for uid, email in [(1, "a@example.com"), (2, "b@example.com")]:
                await conn.execute(
                    text(
                        'INSERT INTO "user" (id, email, name, role, password_hash, is_active, created_at) '
                        "VALUES (:id, :email, 'x', 'organizer', 'x', true, CURRENT_TIMESTAMP)"
                    ),
                    {"id": uid, "email": email},
                )
            for eid, slug, creator in [(1, "mine", 1), (2, "theirs", 2), (3, "cli", None)]:
                await conn.execute(
                    text(
                        "INSERT INTO expo (id, slug, title, description, timezone, languages, created_at, "
                        "created_by, applications_open) VALUES (:id, :slug, :slug, '', 'UTC', 'en', "
                        "CURRENT_TIMESTAMP, :creator, true)"
                    ),
                    {"id": eid, "slug": slug, "creator": creator},
                )
        await upgrade(store_url)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT expo_id, user_id, role FROM expo_member"))).all()
    finally:
        await db.dispose()
    assert sorted(tuple(r) for r in rows) == [(1, 1, "owner"), (2, 2, "owner")]
