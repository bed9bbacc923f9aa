"""Audit log: security-relevant and organizer actions, written in the same transaction as the change."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.db import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id", index=True, ondelete="SET NULL")
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=200)
    ip: str | None = Field(default=None, max_length=64)
    detail: str = Field(default="{}")


def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None = None,
    target: str = "",
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to ``session``; it is stored when the caller commits its change."""
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        target=target,
        ip=ip,
        detail=json.dumps(detail, default=str, sort_keys=True),
    )
    session.add(event)
    return event


async def recent(session: AsyncSession, limit: int = 100, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list((await session.exec(query)).all())
