"""The expo's registration figures, read from :mod:`expo.registration`'s table.

Kept here rather than in the registration package: these are the dashboard's questions
(how many, per day, checked in today), answered with a few aggregate queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.dashboards.figures import DayCount
from expo.dashboards.history import per_day
from expo.registration.models import Registration, RegistrationStatus

# Registrations that count: a cancelled or rejected one is not an attendee.
COUNTED = (RegistrationStatus.PENDING.value, RegistrationStatus.APPROVED.value)


@dataclass
class RegistrationCounts:
    registrations: int
    check_ins_today: int
    check_ins_total: int


async def counts(session: AsyncSession, expo_id: int, today_start: datetime) -> RegistrationCounts:
    """Registrations (pending or approved), check-ins since ``today_start`` and in total."""
    registered, checked_in, today = (
        await session.exec(
            select(
                func.count(),
                func.count(col(Registration.checked_in_at)),
                func.count(col(Registration.checked_in_at)).filter(
                    col(Registration.checked_in_at) >= today_start
                ),
            ).where(Registration.expo_id == expo_id, col(Registration.status).in_(COUNTED))
        )
    ).one()
    return RegistrationCounts(
        registrations=int(registered), check_ins_today=int(today), check_ins_total=int(checked_in)
    )


async def per_day_counts(session: AsyncSession, expo_id: int) -> list[DayCount]:
    """Registrations per UTC day of their creation (pending or approved ones), oldest first."""
    created = (
        await session.exec(
            select(Registration.created_at).where(
                Registration.expo_id == expo_id, col(Registration.status).in_(COUNTED)
            )
        )
    ).all()
    return per_day([_day(moment) for moment in created])


def _day(moment: datetime) -> date:
    return moment.date()
