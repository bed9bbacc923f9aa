"""The store: one async SQLAlchemy engine per app, SQLite (WAL) by default, PostgreSQL to scale out.

Services take an ``AsyncSession`` and own their transactions; routes get one from
:meth:`Database.session`. Every model module registers its tables on ``SQLModel.metadata``;
:func:`import_models` imports them all so migrations and tests see the full schema.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

# Constraint names derived from table and columns, identical on SQLite and PostgreSQL, so a
# migration can name the constraint it alters (SQLite's batch mode cannot drop an unnamed one).
# Set before any model module defines its tables: names are fixed when a table is declared.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# Every module that defines tables. Alembic's env and the test fixtures import these.
MODEL_MODULES = (
    "expo.accounts.models",
    "expo.audit",
    "expo.expos.models",
    "expo.mail.models",
    "booths.models",
    "streaming.models",
    "expo.meetings.models",
    "expo.registration.models",
    "expo.agenda.models",
    "expo.signing.models",
    "expo.promotion.models",
)


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; the busy timeout makes a second writer wait
    # instead of failing at once; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    # busy_timeout first: switching a brand-new file to WAL needs a lock that a process starting
    # at the same moment may hold.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Session settings of the app's PostgreSQL connections. JIT compiles any plan whose estimated cost
# is high, such as counting a common prefix's matches at Canton Fair scale: ~35 ms of compiling
# per process of the scan, for a plan that gains nothing from it. The server's other settings are
# the operator's.
POSTGRES_SETTINGS = {"jit": "off"}


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``; for SQLite, creates the file's directory and sets pragmas."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 10})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"server_settings": POSTGRES_SETTINGS},
    )


class Database:
    """Owns the engine. Created in the app's lifespan and disposed on shutdown."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; commit explicitly, anything uncommitted is rolled back on exit."""
        async with self._sessions() as session:
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def seconds_between(session: AsyncSession, start: Any, end: Any) -> sa.ColumnElement[float]:
    """SQL for ``end - start`` in seconds, two time columns of ``session``'s store (the one
    expression of elapsed time that SQLite and PostgreSQL do not share)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.extract("epoch", end - start), sa.Float)
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0


def utcnow() -> datetime:
    """Aware UTC. SQLModel's datetime columns (``UTCDateTime``: timestamptz on PostgreSQL) refuse
    naive values, and read back aware UTC on SQLite too, so comparisons never mix the two."""
    return datetime.now(UTC)
