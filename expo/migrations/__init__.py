"""Schema migrations (Alembic), run from code: no ``alembic.ini``, so they work from an installed copy.

``expo db upgrade`` calls :func:`upgrade`; the app's lifespan calls :func:`ensure_schema`, which
creates the schema on an empty store and refuses to start on an outdated one.

Writing a migration: change the models, then ``expo db revision --message "add booth"``
autogenerates ``versions/NNNN_add_booth.py`` (the difference between the models and the schema at
head); review it by hand (SQLite runs it in batch mode, so ALTERs are fine), and
``tests/test_migrations.py`` checks that the migrated schema matches the models.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from expo.db import Database
from expo.errors import ConfigError

log = logging.getLogger("expo.migrations")
MIGRATIONS_DIR = Path(__file__).resolve().parent
# Any constant works; it only has to be the same in every process that migrates this database.
_PG_LOCK_KEY = 0x6578706F  # "expo"


def alembic_config(url: str = "") -> Config:
    """An Alembic ``Config`` built in code, pointing at this package's scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Revision ids are readable ("0002_add_booth"), so the file name is just the id.
    config.set_main_option("file_template", "%%(rev)s")
    # Kept out of the ini options, where "%" in a password would be read as interpolation.
    config.attributes["url"] = url
    return config


def head_revision() -> str:
    """The revision this code expects the store to be at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "expo/migrations/versions holds no revision"
    return head


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _table_names(connection: Connection) -> list[str]:
    return inspect(connection).get_table_names()


async def current_revision(db: Database) -> str | None:
    """The store's schema revision, or ``None`` when it was never migrated."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(_read_revision)


async def _lock(conn: AsyncConnection) -> None:
    """Start the migration transaction holding the store's write lock.

    Two processes starting at once on a fresh store must not both create the tables: the second
    waits here, then finds the store at head (Alembic reads the version after this) and does nothing.
    """
    if conn.dialect.name == "sqlite":
        # Batch mode rebuilds tables (copy, drop, rename); with foreign keys on, dropping the old
        # table would cascade-delete rows that reference it. The pragma is ignored inside a
        # transaction, so it comes first. An explicit BEGIN makes the DDL transactional on SQLite
        # too: a migration that fails half-way leaves nothing behind.
        await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


async def _upgrade(engine: AsyncEngine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def run(connection: Connection) -> tuple[str | None, str | None]:
        # env.py runs on this connection, inside the transaction opened by _lock.
        before = _read_revision(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        return before, _read_revision(connection)

    async with engine.connect() as conn:
        await _lock(conn)
        try:
            before, after = await conn.run_sync(run)
            await conn.commit()
            if before != after:
                where = engine.url.render_as_string(hide_password=True)
                log.info("schema upgraded", extra={"fields": {"store": where, "from": before, "to": after}})
        finally:
            if conn.dialect.name == "sqlite":
                await conn.rollback()
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the store at ``url`` to ``revision`` (default: the newest)."""
    db = Database(url)
    try:
        await _upgrade(db.engine, revision)
    finally:
        await db.dispose()


async def ensure_schema(db: Database) -> None:
    """Create the schema on an empty store; refuse (:class:`ConfigError`) a store that is not at head."""
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(_table_names)
        current = await conn.run_sync(_read_revision) if tables else None
    if not tables:
        await _upgrade(db.engine, "head")
        return
    expected = head_revision()
    if current == expected:
        return
    where = db.engine.url.render_as_string(hide_password=True)
    if current is None:
        raise ConfigError(
            f"the store {where} has tables but no schema revision, and this code expects revision "
            f"{expected}: point database_url at an empty database or at one created by `expo db upgrade`"
        )
    known = current in _known_revisions()
    hint = "" if known else f" ({current} is not a revision this version of expo knows)"
    raise ConfigError(
        f"the store's schema is at revision {current}{hint}, this code expects revision {expected}: "
        "run `expo db upgrade`"
    )


def _next_revision_id(config: Config, message: str) -> str:
    numbers = [
        int(script.revision.split("_", 1)[0])
        for script in ScriptDirectory.from_config(config).walk_revisions()
        if script.revision[:4].isdigit()
    ]
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    return f"{max(numbers, default=0) + 1:04d}_{slug}"


async def make_revision(message: str) -> Path:
    """Autogenerate the next revision: the difference between the models and the head schema.

    The head schema is built in a scratch SQLite file, so no store is needed or touched.
    Returns the new script's path; review it before committing.
    """
    with tempfile.TemporaryDirectory(prefix="expo-revision-") as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'head.db'}"
        db = Database(url)
        config = alembic_config(url)
        rev_id = _next_revision_id(config, message)
        scripts: list[Any] = []

        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            scripts.append(command.revision(config, message=message, autogenerate=True, rev_id=rev_id))

        try:
            await _upgrade(db.engine, "head")
            async with db.engine.connect() as conn:
                await conn.run_sync(run)
        finally:
            await db.dispose()
    return Path(scripts[0].path)
