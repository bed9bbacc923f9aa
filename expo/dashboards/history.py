"""Figures over time: registrations and check-ins per day, each broadcast's audience, the booth
ranking.

Every figure is read from what the other domains already store, never kept twice: broadcast
figures come from :class:`streaming.audience.Audience` (the same numbers as the public
``/api/streams/{id}/stats``), booth figures from the tables of :mod:`booths.analytics` and the
leads and meetings themselves, registrations from :mod:`expo.registration`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothDay, BoothVisitor, Lead
from expo.dashboards.figures import BoothFigures, BroadcastFigures, DayCount
from expo.db import utcnow
from expo.meetings.models import Meeting, MeetingStatus
from streaming.audience import Audience
from streaming.models import Stream

TREND_DAYS = 14
"""Days of each booth's visits shown as a sparkline beside its totals."""


async def broadcasts(
    session: AsyncSession,
    audience: Audience,
    expo_id: int,
    booth_ids: Iterable[int] | None = None,
    owner_id: int | None = None,
) -> list[BroadcastFigures]:
    """The expo's broadcasts by start time; with ``booth_ids``, only those presented by these
    booths or (with ``owner_id``) owned by that user."""
    query = select(Stream).where(Stream.expo_id == expo_id)
    if booth_ids is not None:
        mine = col(Stream.booth_id).in_(list(booth_ids))
        query = query.where(or_(mine, col(Stream.owner_id) == owner_id) if owner_id is not None else mine)
    streams = (await session.exec(query.order_by(col(Stream.scheduled_start), col(Stream.id)))).all()
    found = []
    for stream in streams:
        assert stream.id is not None
        stats = await audience.stats(stream.id)
        found.append(
            BroadcastFigures(
                id=stream.id,
                title=stream.title,
                status=stats["status"],
                booth_id=stream.booth_id,
                scheduled_start=stream.scheduled_start,
                live_viewers=stats["live_viewers"],
                peak_viewers=stats["peak_viewers"],
                total_views=stats["total_views"],
                unique_viewers=stats["unique_viewers"],
                average_watch_seconds=round(await audience.average_watch_seconds(stream.id), 1),
                series=await audience.series(stream.id),
            )
        )
    return found


async def booth_ranking(
    session: AsyncSession, expo_id: int, booth_ids: Iterable[int] | None = None
) -> list[BoothFigures]:
    """Every booth of the expo (or only ``booth_ids``), most visited first.

    ``unique_visitors`` counts each visitor once over the whole expo (``BoothDay.visitors`` counts
    them once per day); ``leads`` counts the leads received; ``meetings_requested`` every meeting
    request received (held, declined and cancelled ones included), ``meetings_held`` those held.
    """
    query = select(Booth.id, Booth.name).where(Booth.expo_id == expo_id)
    if booth_ids is not None:
        query = query.where(col(Booth.id).in_(list(booth_ids)))
    names = {bid: name for bid, name in (await session.exec(query)).all() if bid is not None}
    if not names:
        return []
    ids = list(names)
    visits = dict(
        (
            await session.exec(
                select(BoothDay.booth_id, func.sum(BoothDay.views))
                .where(col(BoothDay.booth_id).in_(ids))
                .group_by(col(BoothDay.booth_id))
            )
        ).all()
    )
    visitors = dict(
        (
            await session.exec(
                select(BoothVisitor.booth_id, func.count(func.distinct(BoothVisitor.visitor)))
                .where(col(BoothVisitor.booth_id).in_(ids))
                .group_by(col(BoothVisitor.booth_id))
            )
        ).all()
    )
    leads = dict(
        (
            await session.exec(
                select(Lead.booth_id, func.count())
                .where(col(Lead.booth_id).in_(ids))
                .group_by(col(Lead.booth_id))
            )
        ).all()
    )
    requested: dict[int, int] = {}
    held: dict[int, int] = {}
    meetings = await session.exec(
        select(Meeting.booth_id, Meeting.status, func.count())
        .where(col(Meeting.booth_id).in_(ids))
        .group_by(col(Meeting.booth_id), col(Meeting.status))
    )
    for bid, status, count in meetings.all():
        requested[bid] = requested.get(bid, 0) + count
        if status == MeetingStatus.HELD.value:
            held[bid] = count
    first_day = utcnow().date() - timedelta(days=TREND_DAYS - 1)
    daily: dict[int, list[int]] = {bid: [0] * TREND_DAYS for bid in ids}
    recent = await session.exec(
        select(col(BoothDay.booth_id), col(BoothDay.day), col(BoothDay.views)).where(
            col(BoothDay.booth_id).in_(ids), col(BoothDay.day) >= first_day
        )
    )
    for bid, day, views in recent.all():
        daily[bid][(day - first_day).days] = views
    rows = [
        BoothFigures(
            id=bid,
            name=name,
            visits=int(visits.get(bid) or 0),
            unique_visitors=int(visitors.get(bid) or 0),
            leads=int(leads.get(bid) or 0),
            meetings_requested=requested.get(bid, 0),
            meetings_held=held.get(bid, 0),
            daily_visits=daily[bid],
        )
        for bid, name in names.items()
    ]
    rows.sort(key=lambda b: (-b.visits, -b.unique_visitors, -b.leads, b.name))
    return rows


def per_day(days: Sequence[date]) -> list[DayCount]:
    """Count the dates, one entry per day from the first to the last (days without any are 0)."""
    if not days:
        return []
    counts: dict[date, int] = {}
    for day in days:
        counts[day] = counts.get(day, 0) + 1
    first, last = min(counts), max(counts)
    return [
        DayCount(day=date.fromordinal(n), count=counts.get(date.fromordinal(n), 0))
        for n in range(first.toordinal(), last.toordinal() + 1)
    ]
