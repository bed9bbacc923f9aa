"""The demo's meeting slots: the exhibitor's booth takes meetings on the expo's second day, two at a
time in half-hour slots, so a visitor can book one from the booth page at once.

Idempotent like the rest of ``expo demo``: a booth that has published any window is left as it is;
and once that day has passed (a demo seeded long ago), nothing is published.
"""

from __future__ import annotations

from datetime import time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth
from expo.accounts.models import User
from expo.errors import Invalid
from expo.expos.models import Expo
from expo.meetings import slots

DEMO_WINDOW = (1, time(10, 0), time(12, 0))  # the expo's second day, 10:00-12:00 in its timezone
SLOT_MINUTES = 30
CAPACITY = 2


async def seed_availability(session: AsyncSession, expo: Expo, booth: Booth, staff: User) -> None:
    """Publish the demo window for ``booth`` (as ``staff``) unless it has one already."""
    if await slots.windows_of(session, booth, upcoming=False) or expo.starts_on is None:
        return
    day, start, end = DEMO_WINDOW
    fields = slots.WindowFields(
        day=expo.starts_on + timedelta(days=day),
        start=start,
        end=end,
        slot_minutes=SLOT_MINUTES,
        capacity=CAPACITY,
    )
    try:
        await slots.publish(session, booth, staff, fields)
    except Invalid:  # the day has passed: nothing to book any more
        await session.rollback()
