"""Booth analytics: page views, distinct visitors and leads per booth and UTC day.

A booth page view costs two small statements in one transaction: remember the visitor for the
day (``INSERT ... ON CONFLICT DO NOTHING``, which also says whether they are new today) and add to
the day's row (an upsert). Both are exact across server processes and restarts, unlike counters
kept in memory. Booth staff looking at their own booth are not counted.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothDay, BoothVisitor
from booths.services import booth_role
from expo.accounts.models import User
from expo.db import utcnow

DAYS_SHOWN = 30


def visitor_key(user: User | None, address: str, user_agent: str, secret: str) -> str:
    """Who is looking: the account, or for signed-out browsers a keyed hash of address and browser
    (the address itself is not stored)."""
    if user is not None and user.id is not None:
        return f"u{user.id}"
    digest = hashlib.sha256(f"{secret}\0{address}\0{user_agent[:300]}".encode()).hexdigest()
    return "a" + digest[:40]


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def _add(session: AsyncSession, booth_id: int, day: date, **amounts: int) -> None:
    table = BoothDay.__table__  # type: ignore[attr-defined]
    statement = _insert(session, table).values(
        booth_id=booth_id, day=day, **{name: amounts.get(name, 0) for name in ("views", "visitors", "leads")}
    )
    statement = statement.on_conflict_do_update(
        index_elements=["booth_id", "day"],
        set_={name: table.c[name] + amount for name, amount in amounts.items()},
    )
    await (await session.connection()).execute(statement)


async def record_view(session: AsyncSession, booth: Booth, user: User | None, visitor: str) -> bool:
    """Count one view of the booth page (and a visitor, the first time today); commits.

    Returns whether the view was counted (staff viewing their own booth are not).
    """
    assert booth.id is not None
    if await booth_role(session, booth.id, user) is not None:
        return False
    today = utcnow().date()
    table = BoothVisitor.__table__  # type: ignore[attr-defined]
    inserted = await (await session.connection()).execute(
        _insert(session, table).values(booth_id=booth.id, day=today, visitor=visitor).on_conflict_do_nothing()
    )
    new_visitor = inserted.rowcount == 1
    await _add(session, booth.id, today, views=1, visitors=1 if new_visitor else 0)
    await session.commit()
    return True


async def count_lead(session: AsyncSession, booth_id: int) -> None:
    """Add a lead to today's figures, in the caller's transaction (the caller commits)."""
    await _add(session, booth_id, utcnow().date(), leads=1)


async def daily(session: AsyncSession, booth: Booth, days: int = DAYS_SHOWN) -> list[BoothDay]:
    """The last ``days`` days, oldest first, with zero rows for days without any activity."""
    end = utcnow().date()
    start = end - timedelta(days=days - 1)
    query = select(BoothDay).where(BoothDay.booth_id == booth.id, col(BoothDay.day) >= start)
    found = {row.day: row for row in (await session.exec(query)).all()}
    assert booth.id is not None
    return [
        found.get(day) or BoothDay(booth_id=booth.id, day=day)
        for day in (start + timedelta(days=n) for n in range(days))
    ]
