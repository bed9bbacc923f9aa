"""Account administration, the platform administrators' work: list and search accounts, change an
account's type, disable and enable it, and page through the audit log.

Every change is audited in its own transaction. Administrators may not change or disable their own
account, so the platform always keeps at least one active administrator. Disabling signs the
account out everywhere (its sessions are revoked) and its API tokens stop working while it stays
disabled (:func:`~expo.accounts.services.resolve_token` refuses inactive accounts); callers must
then drop the cached answers with :func:`expo.auth.forget_auth`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import AuthToken, TokenKind, User
from expo.accounts.services import Client, parse_role
from expo.audit import AuditEvent
from expo.db import utcnow
from expo.errors import N_, Invalid, NotFound

USERS_PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 100
T = TypeVar("T")
NO_CLIENT = Client()


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list: its items, the total count and the page number (from 1)."""

    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def _like(text: str) -> str:
    """``text`` as a case-insensitive LIKE pattern matching it anywhere, its wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_users(
    session: AsyncSession, *, q: str = "", page: int = 1, size: int = USERS_PAGE_SIZE
) -> Page[User]:
    """Accounts whose name or e-mail contains ``q`` (any case), newest first."""
    query = select(User)
    count = select(func.count()).select_from(User)
    if q.strip():
        pattern = _like(q.strip())
        match = or_(
            func.lower(col(User.name)).like(pattern, escape="\\"),
            func.lower(col(User.email)).like(pattern, escape="\\"),
        )
        query = query.where(match)
        count = count.where(match)
    total = int((await session.exec(count)).one())
    page = max(1, min(page, max(1, math.ceil(total / size))))
    rows = await session.exec(query.order_by(col(User.id).desc()).offset((page - 1) * size).limit(size))
    return Page(list(rows.all()), total, page, size)


async def _other_account(session: AsyncSession, user_id: int, actor: User) -> User:
    target = await session.get(User, user_id)
    if target is None:
        raise NotFound(N_("No such account."), code="account.unknown")
    if target.id == actor.id:
        # Also what keeps one active administrator: nobody can demote or disable themselves.
        raise Invalid(N_("You cannot change your own account here."), code="account.own_account")
    return target


async def change_role(
    session: AsyncSession, user_id: int, role: str, actor: User, client: Client = NO_CLIENT
) -> User:
    """Give another account a new type (visitor, exhibitor, organizer, admin); commit and audit."""
    new_role = parse_role(role)
    target = await _other_account(session, user_id, actor)
    old = target.role
    if old != new_role.value:
        target.role = new_role.value
        session.add(target)
        audit.record(
            session,
            "account.role_changed",
            actor_id=actor.id,
            target=f"user:{target.id}",
            ip=client.ip,
            before=old,
            after=new_role.value,
        )
        await session.commit()
    return target


async def set_active(
    session: AsyncSession, user_id: int, active: bool, actor: User, client: Client = NO_CLIENT
) -> User:
    """Disable (sign out everywhere, refuse logins and tokens) or enable another account."""
    target = await _other_account(session, user_id, actor)
    if target.is_active != active:
        target.is_active = active
        session.add(target)
        if not active:
            await session.exec(
                update(AuthToken)
                .where(
                    col(AuthToken.user_id) == target.id,
                    col(AuthToken.kind) == TokenKind.SESSION.value,
                    col(AuthToken.revoked_at).is_(None),
                )
                .values(revoked_at=utcnow())
            )
        action = "account.enabled" if active else "account.disabled"
        audit.record(session, action, actor_id=actor.id, target=f"user:{target.id}", ip=client.ip)
        await session.commit()
    return target


async def audit_page(
    session: AsyncSession, *, action: str | None = None, page: int = 1, size: int = AUDIT_PAGE_SIZE
) -> Page[AuditEvent]:
    """The audit log newest first, one page of ``size`` events (only ``action`` when given)."""
    query = select(AuditEvent)
    count = select(func.count()).select_from(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
        count = count.where(AuditEvent.action == action)
    total = int((await session.exec(count)).one())
    page = max(1, min(page, max(1, math.ceil(total / size))))
    rows = await session.exec(query.order_by(col(AuditEvent.id).desc()).offset((page - 1) * size).limit(size))
    return Page(list(rows.all()), total, page, size)
