"""Fixtures for the agenda: a store of either kind with the schema, an expo with an organizer,
programs, and many visitor accounts made in one statement (no argon2 per account)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from expo.accounts import services as accounts
from expo.accounts.models import AuthToken, TokenKind, User
from expo.accounts.services import TOKEN_PREFIX, hash_token
from expo.agenda.models import Program
from expo.config import Settings
from expo.db import Database, utcnow
from expo.expos import services as expos
from expo.expos.models import Expo
from tests.conftest import create_schema


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    """The URL of a fresh store: SQLite, then the real PostgreSQL."""
    if request.param == "sqlite":
        return settings.database
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    await create_schema(store_url)
    database = Database(store_url)
    yield database
    await database.dispose()


@dataclass
class Fair:
    expo: Expo
    organizer: User


async def make_fair(db: Database, slug: str = "fair", timezone: str = "Asia/Shanghai") -> Fair:
    async with db.session() as s:
        organizer = await accounts.create_user(
            s, email=f"org@{slug}.example", password="correct horse battery", role="organizer"
        )
        expo = await expos.ensure_expo(s, slug, "Fair", timezone=timezone, created_by=organizer.id)
    return Fair(expo, organizer)


async def make_program(db: Database, expo: Expo, capacity: int | None, title: str = "Keynote") -> int:
    start = utcnow() + timedelta(days=1)
    async with db.session() as s:
        assert expo.id is not None
        program = Program(
            expo_id=expo.id,
            title=title,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            capacity=capacity,
        )
        s.add(program)
        await s.commit()
        assert program.id is not None
        return program.id


async def make_visitors(db: Database, count: int, prefix: str = "v") -> list[int]:
    """``count`` visitor accounts (unusable password), inserted at once; their ids in order."""
    table = User.__table__  # type: ignore[attr-defined]
    now = utcnow()
    rows = [
        {
            "email": f"{prefix}{i}@example.com",
            "name": f"Visitor {i}",
            "role": "visitor",
            "password_hash": "!",
            "is_active": True,
            "created_at": now,
        }
        for i in range(count)
    ]
    async with db.engine.begin() as conn:
        await conn.execute(table.insert(), rows)
        found = await conn.execute(
            sa.select(table.c.id).where(table.c.email.like(f"{prefix}%@example.com")).order_by(table.c.id)
        )
        return [int(r) for r in found.scalars()]


@pytest.fixture
async def fair(db: Database) -> Fair:
    return await make_fair(db)


async def make_tokens(db: Database, user_ids: list[int]) -> list[str]:
    """An API token for each user, inserted at once and marked used just now, so a burst of first
    requests measures seats rather than every token's first-use bookkeeping write."""
    table = AuthToken.__table__  # type: ignore[attr-defined]
    now = utcnow()
    raws = [TOKEN_PREFIX[TokenKind.API] + secrets.token_urlsafe(32) for _ in user_ids]
    rows = [
        {
            "user_id": uid,
            "kind": TokenKind.API.value,
            "name": "test",
            "token_hash": hash_token(raw),
            "prefix": raw[:10],
            "created_at": now,
            "last_used_at": now,
        }
        for uid, raw in zip(user_ids, raws, strict=True)
    ]
    async with db.engine.begin() as conn:
        await conn.execute(table.insert(), rows)
    return raws
