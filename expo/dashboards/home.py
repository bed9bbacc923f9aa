"""The organizer's home (``/organizer``): each expo the user helps run, with the figures that call for
attention now and links to the work they lead to.

It lives with the dashboards because it reads every domain's tables (registrations, booths,
broadcasts, the outbox), which the core may not import. One aggregate query per figure covers all
the expos listed; which figures and links an expo shows follows the user's standing there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from booths.models import Booth, BoothStatus
from expo.accounts.models import User
from expo.dashboards.registrations import COUNTED
from expo.expos.models import Expo
from expo.expos.services import team_standings
from expo.mail.models import OutboxMessage, OutboxStatus
from expo.permissions import Perm, Standing
from expo.platform import Platform
from expo.registration.models import Registration, RegistrationStatus
from streaming.audience import Audience
from streaming.models import Stream, StreamStatus

MAX_EXPOS = 100
"""Expos listed on the page (an administrator sees every expo of the platform)."""


@dataclass
class ExpoCard:
    """One expo on the organizer's home, with what ``viewer`` may see and do there."""

    expo: Expo
    viewer: Standing
    registrations: int = 0
    pending_registrations: int = 0
    checked_in: int = 0
    live_broadcasts: int = 0
    watching: int = 0
    pending_booths: int = 0
    failing_messages: int = 0
    live_titles: list[str] = field(default_factory=list)
    live_ids: list[int] = field(default_factory=list)

    def may(self, perm: str) -> bool:
        return self.viewer.has(Perm(perm))


async def _grouped(session: AsyncSession, query: Select[int, int] | Select[None, int]) -> dict[int, int]:
    """``{expo_id: count}`` from a query grouped by expo."""
    rows = await session.exec(query)
    return {int(expo_id): int(count) for expo_id, count in rows.all() if expo_id is not None}


async def expo_cards(p: Platform, user: User) -> tuple[list[ExpoCard], int]:
    """The cards of the expos ``user`` is on the team of (every expo for an administrator), by
    title, at most :data:`MAX_EXPOS`; and how many expos there are in all."""
    async with p.db.session() as session:
        standings = await team_standings(session, user)
        shown = standings[:MAX_EXPOS]
        cards = [ExpoCard(expo, st) for expo, st in shown if expo.id is not None]
        ids = [c.expo.id for c in cards if c.expo.id is not None]
        if ids:
            await _fill(session, cards, ids)
    audience = p.get(Audience)
    for card in cards:
        for sid in card.live_ids:
            card.watching += await audience.live_viewers(sid)
    return cards, len(standings)


async def _fill(session: AsyncSession, cards: Sequence[ExpoCard], ids: list[int]) -> None:
    in_ids = col(Registration.expo_id).in_(ids)
    registered = await _grouped(
        session,
        select(Registration.expo_id, func.count())
        .where(in_ids, col(Registration.status).in_(COUNTED))
        .group_by(col(Registration.expo_id)),
    )
    pending = await _grouped(
        session,
        select(Registration.expo_id, func.count())
        .where(in_ids, Registration.status == RegistrationStatus.PENDING.value)
        .group_by(col(Registration.expo_id)),
    )
    checked_in = await _grouped(
        session,
        select(Registration.expo_id, func.count(col(Registration.checked_in_at)))
        .where(in_ids, col(Registration.status).in_(COUNTED))
        .group_by(col(Registration.expo_id)),
    )
    booths = await _grouped(
        session,
        select(Booth.expo_id, func.count())
        .where(col(Booth.expo_id).in_(ids), Booth.status == BoothStatus.PENDING.value)
        .group_by(col(Booth.expo_id)),
    )
    failing = await _grouped(
        session,
        select(OutboxMessage.expo_id, func.count())
        .where(col(OutboxMessage.expo_id).in_(ids), OutboxMessage.status == OutboxStatus.FAILED.value)
        .group_by(col(OutboxMessage.expo_id)),
    )
    live = (
        await session.exec(
            select(Stream.expo_id, Stream.id, Stream.title)
            .where(col(Stream.expo_id).in_(ids), Stream.status == StreamStatus.LIVE.value)
            .order_by(col(Stream.id))
        )
    ).all()
    for card in cards:
        eid = card.expo.id or 0
        card.registrations = registered.get(eid, 0)
        card.pending_registrations = pending.get(eid, 0)
        card.checked_in = checked_in.get(eid, 0)
        card.pending_booths = booths.get(eid, 0)
        card.failing_messages = failing.get(eid, 0)
        mine = [(sid, title) for expo_id, sid, title in live if expo_id == eid and sid is not None]
        card.live_broadcasts = len(mine)
        card.live_titles = [title for _, title in mine]
        card.live_ids = [sid for sid, _ in mine]
