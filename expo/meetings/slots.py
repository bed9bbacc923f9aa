"""Meeting slots: booth staff publish when they take meetings, visitors book a place in a slot.

A booth's staff publish :class:`~expo.meetings.models.AvailabilityWindow` rows: a day, a start and
an end in the expo's timezone, cut into slots of ``slot_minutes``, each taking ``capacity``
meetings at once. A visitor who books a free slot gets an accepted meeting at once, with its video
room, an ``.ics`` invitation in the confirmation e-mail and a reminder queued in the outbox for
:data:`REMINDER_BEFORE` the start: staff said yes when they published the slot, so nobody waits
for an answer (the propose-a-time requests of :mod:`expo.meetings.services` still do).

Rules that hold whatever the timing, on SQLite and PostgreSQL alike:

- every booking and every edit of a window first moves the window's ``updated_at``: that write
  takes the window's row lock (PostgreSQL) or the single write lock (SQLite), so bookings of one
  window and its edits take turns, and the places counted afterwards are exact;
- a booking holds one place number (1..capacity) of its slot, and ``(window, start, place)`` is
  unique: two visitors can never hold the same place, even if the lock above were missing; a
  cancelled meeting's place is set to NULL and becomes free again;
- a slot with booked meetings never disappears silently: an edit that would drop it (or leave it
  fewer places than it has bookings) and the removal of its window are refused (409
  ``slot.booked``, listing the slots), so staff cancel or move those meetings first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.mail import BoothMailer
from booths.models import Booth
from expo import audit, events
from expo.accounts.models import User
from expo.bus import Bus
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid, NotFound
from expo.expos.models import Expo
from expo.i18n import translations
from expo.mail.outbox import Attachment, enqueue
from expo.meetings import services as meetings
from expo.meetings.invitation import MEDIA_TYPE, Invitation
from expo.meetings.models import AvailabilityWindow, Meeting, MeetingStatus
from streaming import room_services
from streaming.models import Room, RoomKind
from streaming.room_services import RoomRole

SLOT_MINUTES = (15, 20, 30, 45, 60, 90, 120)
"""Slot lengths staff may choose."""
MAX_CAPACITY = 20
"""Meetings at once in one slot: a booth's tables, not an auditorium."""
MAX_WINDOWS = 200
"""Windows a booth may have at once (each day of an expo is one or two)."""
REMINDER_BEFORE = timedelta(hours=1)
MAX_AHEAD = timedelta(days=731)
"""How far ahead a window may lie."""
LIST_LIMIT = 2000
"""Slots listed at most (a booth open 10 days, 10 hours a day in 15-minute slots is 400)."""


@dataclass(frozen=True, slots=True)
class WindowFields:
    """A window as staff enter it: wall-clock times of one day in the expo's timezone."""

    day: date
    start: time
    end: time
    slot_minutes: int = 30
    capacity: int = 1


@dataclass(frozen=True, slots=True)
class Slot:
    """One bookable stretch of a window, with how many of its places are taken."""

    window_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    taken: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.taken, 0)


def slot_starts(window: AvailabilityWindow) -> list[datetime]:
    """The starts of the window's slots, in order (a tail shorter than a slot is not offered)."""
    step = timedelta(minutes=window.slot_minutes)
    starts, at = [], window.starts_at
    while at + step <= window.ends_at:
        starts.append(at)
        at += step
    return starts


def check_fields(fields: WindowFields, expo: Expo) -> tuple[datetime, datetime]:
    """The window's times in UTC, or :class:`Invalid` naming the field that breaks a rule."""
    if fields.slot_minutes not in SLOT_MINUTES:
        raise invalid(N_("Choose a slot length from the list."), code="slot.bad_length", field="slot_minutes")
    if not 1 <= fields.capacity <= MAX_CAPACITY:
        raise invalid(
            N_("A slot takes from 1 to 20 meetings at once."), code="slot.bad_capacity", field="capacity"
        )
    today = utcnow().date()
    if not today - timedelta(days=1) <= fields.day <= today + MAX_AHEAD:
        # Also keeps the arithmetic below far from the ends of the calendar.
        raise invalid(N_("Choose a day within the next two years."), code="slot.bad_day", field="day")
    zone = expo.zone
    starts_at = datetime.combine(fields.day, fields.start, zone).astimezone(UTC)
    ends_at = datetime.combine(fields.day, fields.end, zone).astimezone(UTC)
    if ends_at - starts_at < timedelta(minutes=fields.slot_minutes):
        raise invalid(
            N_("The end must leave room for at least one slot."), code="slot.too_short", field="end"
        )
    if ends_at <= utcnow():
        raise invalid(N_("Choose a time in the future."), code="slot.in_past", field="day")
    return starts_at, ends_at


def invalid(message: str, code: str, field: str) -> Invalid:
    """A 422 about one field: pages show it beside the field, the API names it in ``details``."""
    return Invalid(message, code=code, field=field, details={"field": field})


# Reading -------------------------------------------------------------------------------------------------


async def get_window(session: AsyncSession, window_id: int) -> tuple[AvailabilityWindow, Booth, Expo]:
    window = await session.get(AvailabilityWindow, window_id)
    booth = await session.get(Booth, window.booth_id) if window is not None else None
    expo = await session.get(Expo, booth.expo_id) if booth is not None else None
    if window is None or booth is None or expo is None:
        raise NotFound(N_("There is no such availability."), code="slot.unknown_window")
    return window, booth, expo


async def windows_of(
    session: AsyncSession, booth: Booth, *, upcoming: bool = True
) -> list[AvailabilityWindow]:
    """The booth's windows in time order (``upcoming``: those not over yet)."""
    query = select(AvailabilityWindow).where(AvailabilityWindow.booth_id == booth.id)
    if upcoming:
        query = query.where(col(AvailabilityWindow.ends_at) > utcnow())
    query = query.order_by(col(AvailabilityWindow.starts_at), col(AvailabilityWindow.id)).limit(MAX_WINDOWS)
    return list((await session.exec(query)).all())


async def _taken(session: AsyncSession, window_ids: list[int]) -> Counter[tuple[int, datetime]]:
    """Places held per (window, slot start)."""
    if not window_ids:
        return Counter()
    query = select(Meeting.window_id, Meeting.starts_at).where(
        col(Meeting.window_id).in_(window_ids), col(Meeting.slot_place).is_not(None)
    )
    return Counter((wid, start.astimezone(UTC)) for wid, start in (await session.exec(query)).all() if wid)


async def slots_of(session: AsyncSession, windows: list[AvailabilityWindow]) -> list[Slot]:
    """Every slot of ``windows`` still ahead, with its places taken."""
    taken = await _taken(session, [w.id for w in windows if w.id is not None])
    now, out = utcnow(), []
    for window in windows:
        assert window.id is not None
        step = timedelta(minutes=window.slot_minutes)
        for start in slot_starts(window):
            if start > now:
                used = taken[(window.id, start)]
                out.append(Slot(window.id, start, start + step, window.capacity, used))
    return out[:LIST_LIMIT]


async def free_slots(session: AsyncSession, booth: Booth) -> list[Slot]:
    """The booth's bookable slots ahead (with at least one free place), soonest first."""
    return [s for s in await slots_of(session, await windows_of(session, booth)) if s.free > 0]


# Publishing ----------------------------------------------------------------------------------------------


async def _lock_window(session: AsyncSession, window_id: int) -> bool:
    """Take the window's lock (see the module's rules); False when it no longer exists."""
    result = await session.exec(
        update(AvailabilityWindow).where(col(AvailabilityWindow.id) == window_id).values(updated_at=utcnow())
    )
    return result.rowcount == 1


async def _check_overlap(
    session: AsyncSession, booth: Booth, starts_at: datetime, ends_at: datetime, window_id: int | None
) -> None:
    query = select(AvailabilityWindow.id).where(
        AvailabilityWindow.booth_id == booth.id,
        col(AvailabilityWindow.starts_at) < ends_at,
        col(AvailabilityWindow.ends_at) > starts_at,
    )
    if window_id is not None:
        query = query.where(col(AvailabilityWindow.id) != window_id)
    if (await session.exec(query.limit(1))).first() is not None:
        await session.rollback()
        raise invalid(
            N_("This time overlaps availability the booth already published."),
            code="slot.window_overlap",
            field="start",
        )


async def _booked_slots(session: AsyncSession, window_id: int) -> Counter[datetime]:
    """Places held in each slot of the window by accepted meetings still ahead."""
    query = select(Meeting.starts_at).where(
        Meeting.window_id == window_id,
        col(Meeting.slot_place).is_not(None),
        Meeting.status == MeetingStatus.ACCEPTED.value,
        col(Meeting.ends_at) > utcnow(),
    )
    return Counter(start.astimezone(UTC) for start in (await session.exec(query)).all())


def _still_booked(expo: Expo, lost: list[datetime]) -> Conflict:
    times = [f"{start.astimezone(expo.zone):%Y-%m-%d %H:%M}" for start in sorted(lost)]
    return Conflict(
        N_("Slots with booked meetings cannot be removed. Cancel those meetings first or keep these slots."),
        code="slot.booked",
        details={"slots": times, "timezone": expo.timezone},
    )


async def publish(
    session: AsyncSession, booth: Booth, actor: User, fields: WindowFields, bus: Bus | None = None
) -> AvailabilityWindow:
    """Publish a window of slots for ``booth`` (its staff, the expo's booth managers)."""
    assert booth.id is not None
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and expo.id is not None
    await meetings.require_staff(session, booth, expo, actor)
    starts_at, ends_at = check_fields(fields, expo)
    await meetings.lock_booth(session, booth.id)
    window = AvailabilityWindow(
        booth_id=booth.id,
        expo_id=expo.id,
        starts_at=starts_at,
        ends_at=ends_at,
        slot_minutes=fields.slot_minutes,
        capacity=fields.capacity,
        created_by=actor.id,
    )
    session.add(window)
    await session.flush()  # the write lock (SQLite) is held from here: the reads below are exact
    await _check_overlap(session, booth, starts_at, ends_at, window.id)
    if len(await windows_of(session, booth)) > MAX_WINDOWS:
        await session.rollback()
        raise Conflict(
            N_("This booth has published as many windows as it may."), code="slot.too_many_windows"
        )
    audit.record(
        session, "meeting.window_published", actor_id=actor.id, target=f"booth:{booth.id}", window=window.id
    )
    await session.commit()
    if bus is not None:
        await events.figures_changed(bus, expo.id)
    return window


async def edit_window(
    session: AsyncSession, window_id: int, actor: User, fields: WindowFields
) -> AvailabilityWindow:
    """Change a window; 409 ``slot.booked`` if a slot with booked meetings would go or shrink."""
    window, booth, expo = await get_window(session, window_id)
    await meetings.require_staff(session, booth, expo, actor)
    starts_at, ends_at = check_fields(fields, expo)
    # The booth first, as publishing does, so a new window and this change cannot overlap unseen.
    await meetings.lock_booth(session, booth.id or 0)
    if not await _lock_window(session, window_id):
        raise NotFound(N_("There is no such availability."), code="slot.unknown_window")
    await session.refresh(window)
    await _check_overlap(session, booth, starts_at, ends_at, window_id)
    future = AvailabilityWindow(
        booth_id=booth.id or 0,
        expo_id=expo.id or 0,
        starts_at=starts_at,
        ends_at=ends_at,
        slot_minutes=fields.slot_minutes,
        capacity=fields.capacity,
    )
    kept = set(slot_starts(future))
    booked = await _booked_slots(session, window_id)
    lost = [start for start, n in booked.items() if start not in kept or n > fields.capacity]
    if lost:
        refused = _still_booked(expo, lost)  # before the rollback expires ``expo``
        await session.rollback()
        raise refused
    window.starts_at, window.ends_at = starts_at, ends_at
    window.slot_minutes, window.capacity = fields.slot_minutes, fields.capacity
    session.add(window)
    audit.record(
        session, "meeting.window_changed", actor_id=actor.id, target=f"booth:{booth.id}", window=window_id
    )
    await session.commit()
    return window


async def remove_window(session: AsyncSession, window_id: int, actor: User) -> None:
    """Remove a window; 409 ``slot.booked`` while any of its slots ahead has a booked meeting."""
    window, booth, expo = await get_window(session, window_id)
    await meetings.require_staff(session, booth, expo, actor)
    if not await _lock_window(session, window_id):
        raise NotFound(N_("There is no such availability."), code="slot.unknown_window")
    booked = await _booked_slots(session, window_id)
    if booked:
        refused = _still_booked(expo, list(booked))
        await session.rollback()
        raise refused
    await session.delete(window)
    audit.record(
        session, "meeting.window_removed", actor_id=actor.id, target=f"booth:{booth.id}", window=window_id
    )
    await session.commit()


# Booking -------------------------------------------------------------------------------------------------


def _utc(value: datetime, expo: Expo) -> datetime:
    """A time without a zone is a wall-clock time in the expo's timezone."""
    try:
        return (value if value.tzinfo is not None else value.replace(tzinfo=expo.zone)).astimezone(UTC)
    except OverflowError:  # at the ends of the calendar: no slot is there anyway
        raise invalid(
            N_("The booth offers no slot at this time."), code="slot.unknown", field="starts_at"
        ) from None


async def _window_at(session: AsyncSession, booth: Booth, start: datetime) -> AvailabilityWindow:
    """The booth's window that has a slot starting at ``start``, else :class:`Invalid`."""
    query = select(AvailabilityWindow).where(
        AvailabilityWindow.booth_id == booth.id,
        col(AvailabilityWindow.starts_at) <= start,
        col(AvailabilityWindow.ends_at) > start,
    )
    for window in (await session.exec(query)).all():
        if start in slot_starts(window):
            return window
    raise invalid(N_("The booth offers no slot at this time."), code="slot.unknown", field="starts_at")


async def book(
    session: AsyncSession,
    booth: Booth,
    visitor: User,
    starts_at: datetime,
    message: str,
    settings: Settings,
    bus: Bus | None = None,
) -> Meeting:
    """Book a place in the booth's slot starting at ``starts_at``: an accepted meeting with its room,
    confirmation (with the ``.ics``) and reminder queued. 409 ``slot.full`` when no place is left,
    ``slot.already_booked`` when the visitor holds one already."""
    assert booth.id is not None and visitor.id is not None
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and expo.id is not None
    await meetings.check_requester(session, booth, visitor)
    start = _utc(starts_at, expo)
    if start <= utcnow():
        raise invalid(N_("This slot has already started."), code="slot.started", field="starts_at")
    message = meetings.clean_text(message, meetings.MAX_MESSAGE, "message")
    window = await _window_at(session, booth, start)
    assert window.id is not None
    # From here this transaction holds the window: bookings and edits of it wait for its commit.
    if not await _lock_window(session, window.id):
        raise Conflict(N_("The booth no longer offers this slot."), code="slot.gone")
    await session.refresh(window)
    if start not in slot_starts(window):
        await session.rollback()
        raise Conflict(N_("The booth no longer offers this slot."), code="slot.gone")
    holders = (
        await session.exec(
            select(Meeting.slot_place, Meeting.requester_id).where(
                Meeting.window_id == window.id,
                Meeting.starts_at == start,
                col(Meeting.slot_place).is_not(None),
            )
        )
    ).all()
    if any(who == visitor.id for _, who in holders):
        await session.rollback()
        raise Conflict(N_("You have already booked this slot."), code="slot.already_booked")
    free = sorted(set(range(1, window.capacity + 1)) - {place for place, _ in holders})
    if len(holders) >= window.capacity or not free:
        await session.rollback()
        raise full()
    if await meetings.open_count(session, booth.id, visitor.id) >= meetings.MAX_OPEN:
        await session.rollback()
        raise meetings.too_many()
    now = utcnow()
    meeting = Meeting(
        booth_id=booth.id,
        expo_id=expo.id,
        requester_id=visitor.id,
        status=MeetingStatus.ACCEPTED.value,
        starts_at=start,
        ends_at=start + timedelta(minutes=window.slot_minutes),
        message=message,
        decided_at=now,
        window_id=window.id,
        slot_place=free[0],
    )
    publisher = await session.get(User, window.created_by) if window.created_by else None
    title = f"{booth.name} · {meetings.local(start, expo):%Y-%m-%d %H:%M}"
    room = await room_services.add_room(
        session,
        expo=expo,
        title=title[: room_services.TITLE_MAX],
        owner=publisher,
        booth_id=booth.id,
        kind=RoomKind.BOOTH_MEETING,
    )
    meeting.room_id = room.id
    session.add(meeting)
    try:
        await session.flush()
    except IntegrityError:  # the unique place: only reachable if the window lock were bypassed
        await session.rollback()
        raise full() from None
    await _confirm(session, settings, meeting, booth, expo, visitor, room)
    audit.record(
        session, "meeting.booked", actor_id=visitor.id, target=f"booth:{booth.id}", meeting=meeting.id
    )
    await session.commit()
    if bus is not None:
        await events.figures_changed(bus, expo.id)
    return meeting


def full() -> Conflict:
    return Conflict(N_("This slot is full. Choose another one."), code="slot.full")


# Letters -------------------------------------------------------------------------------------------------


def invitation(
    meeting: Meeting,
    booth: Booth,
    expo: Expo,
    settings: Settings,
    room: Room | None,
    role: RoomRole,
    *,
    locale: str | None,
    requester: User | None = None,
) -> Invitation:
    """The ``.ics`` invitation of ``meeting`` for one side: the requester's (``GUEST``: the room's
    guest link) or the booth staff's (``HOST``: its host link, and who booked)."""
    tr = translations(locale or settings.default_locale)
    open_room = room is not None and room.ended_at is None
    room_url = settings.url(room_services.room_path(room, role)) if room is not None and open_room else ""
    params = {"booth": booth.name, "expo": expo.title}
    if role is RoomRole.HOST:
        who = (requester.name or requester.email) if requester is not None else ""
        summary = tr.gettext(N_("Booth meeting: %(booth)s")) % params
        description = " · ".join(part for part in (expo.title, who) if part)
    else:
        summary = tr.gettext(N_("Meeting with %(booth)s")) % params
        description = expo.title
    if meeting.message:
        description = f"{description}\n\n{meeting.message}"
    if room_url:
        description = f"{description}\n\n{tr.gettext(N_('Join the video meeting'))}: {room_url}"
    return Invitation(meeting, summary, room_url, description, settings.public_url)


async def _confirm(
    session: AsyncSession,
    settings: Settings,
    meeting: Meeting,
    booth: Booth,
    expo: Expo,
    visitor: User,
    room: Room,
) -> None:
    """Queue the confirmation (with the ``.ics``) and the reminder to the visitor, and tell the staff."""
    locale = visitor.locale or settings.default_locale
    tr = translations(locale)
    start, end = meetings.local(meeting.starts_at, expo), meetings.local(meeting.ends_at, expo)
    params = {
        "name": visitor.name or visitor.email,
        "booth": booth.name,
        "expo": expo.title,
        "when": f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} ({expo.timezone})",
        "room": settings.url(room_services.room_path(room, RoomRole.GUEST)),
        "url": settings.url("/my/meetings"),
    }
    ics = invitation(meeting, booth, expo, settings, room, RoomRole.GUEST, locale=locale)
    await enqueue(
        session,
        to=visitor.email,
        subject=tr.gettext(N_("Your meeting with %(booth)s is booked")) % params,
        body=tr.gettext(
            N_(
                "Hello %(name)s,\n\nyour meeting with %(booth)s at %(expo)s is booked for %(when)s.\n\n"
                "Join the video meeting at that time: %(room)s\n\nThe attached invitation adds it to "
                "your calendar. Your meetings: %(url)s\n"
            )
        )
        % params,
        expo_id=expo.id,
        user_id=visitor.id,
        attachment=Attachment(ics.filename, MEDIA_TYPE, ics.render()),
    )
    send_at = meeting.starts_at - REMINDER_BEFORE
    if send_at > utcnow():
        reminder = await enqueue(
            session,
            to=visitor.email,
            subject=tr.gettext(N_("Reminder: your meeting with %(booth)s starts soon")) % params,
            body=tr.gettext(
                N_(
                    "Hello %(name)s,\n\nyour meeting with %(booth)s at %(expo)s starts at %(when)s.\n\n"
                    "Join the video meeting: %(room)s\n"
                )
            )
            % params,
            expo_id=expo.id,
            user_id=visitor.id,
            send_at=send_at,
        )
        await session.flush()
        meeting.reminder_id = reminder.id
        session.add(meeting)
    await BoothMailer(settings).to_staff(
        session,
        expo,
        booth,
        N_("%(requester)s booked a meeting with %(booth)s"),
        N_(
            "Hello %(name)s,\n\n%(requester)s booked a meeting with %(booth)s at %(expo)s on %(when)s.\n\n"
            "Their message: %(said)s\n\nYour meetings, with the video room and the calendar file:\n%(url)s\n"
        ),
        requester=visitor.name or visitor.email,
        when=params["when"],
        said=meeting.message or "-",
        url=settings.url(f"/booths/{booth.id}/meetings#meeting-{meeting.id}"),
    )


async def invitation_for(
    session: AsyncSession, meeting_id: int, user: User, settings: Settings, locale: str | None
) -> Invitation:
    """The ``.ics`` of an accepted (or held, or cancelled) meeting for whoever asks: the requester's
    copy with the guest link, the booth staff's with the host link; 403 for anyone else, 409 while
    the meeting is not booked."""
    meeting, booth, expo = await meetings.get_meeting(session, meeting_id)
    if meeting.requester_id == user.id:
        role = RoomRole.GUEST
    else:
        await meetings.require_staff(session, booth, expo, user)
        role = RoomRole.HOST
    if meeting.status not in (MeetingStatus.ACCEPTED, MeetingStatus.HELD, MeetingStatus.CANCELLED):
        raise Conflict(N_("This meeting is not booked."), code="meeting.not_accepted")
    room = await session.get(Room, meeting.room_id) if meeting.room_id is not None else None
    requester = await session.get(User, meeting.requester_id)
    return invitation(meeting, booth, expo, settings, room, role, locale=locale, requester=requester)
