"""Booth meetings: a visitor asks a booth for a face-to-face meeting at a time they propose; the
booth's staff accept or decline it (with a note), and mark it held once it has taken place.

Rules that a page or client cannot get around:

- a meeting lasts 15 to 120 minutes and starts in the future; times are stored in UTC and a time
  without a zone is a wall-clock time in the expo's timezone (what a ``datetime-local`` input sends);
- only approved booths take requests, never from their own staff, and a visitor keeps at most
  :data:`MAX_OPEN` open requests per booth;
- every decision is a conditional update on the status the decider saw, so when two staff members
  decide at once exactly one wins and the other gets 409; accepting also refuses (409) a meeting
  overlapping one the booth has already accepted, under a lock on the booth row (PostgreSQL) or
  SQLite's single write lock, taken by the status update before the overlap is read;
- the booth's staff hear of each request, and the requester of each decision, by e-mail queued in
  the outbox in the same transaction;
- the requester cancels an open meeting, the booth's staff an accepted one (the requester is told
  by e-mail, with the staff's note); cancelling frees the meeting's place in a published slot (see
  :mod:`expo.meetings.slots`), withdraws its reminder if the outbox has not sent it yet and ends
  its room.

Each mutation commits once; with a ``bus`` it then nudges the expo's live dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.mail import BoothMailer
from booths.models import Booth, BoothStatus
from booths.services import booth_role
from expo import audit, events
from expo.accounts.models import User
from expo.bus import Bus
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound
from expo.expos.models import Expo
from expo.i18n import translations
from expo.mail.outbox import enqueue, withdraw
from expo.meetings.models import Meeting, MeetingStatus
from expo.permissions import may_edit_booth, require, standing
from streaming import room_services
from streaming.models import Room, RoomKind
from streaming.room_services import RoomRole

MIN_MINUTES = 15
MAX_MINUTES = 120
MAX_MESSAGE = 2000
MAX_NOTE = 2000
MAX_OPEN = 3
"""Open (requested or accepted) meetings one visitor may have with one booth."""
LIST_LIMIT = 500
OPEN = (MeetingStatus.REQUESTED, MeetingStatus.ACCEPTED)
# Meetings that occupy the booth's time: a new acceptance may not overlap them.
BOOKED = (MeetingStatus.ACCEPTED, MeetingStatus.HELD)


def local(value: datetime, expo: Expo) -> datetime:
    """``value`` as a wall-clock time in the expo's timezone (what pages show)."""
    return value.astimezone(expo.zone)


def check_times(starts_at: datetime, ends_at: datetime, expo: Expo) -> tuple[datetime, datetime]:
    """The meeting's times in UTC, or :class:`Invalid` when they break a rule."""
    starts_at, ends_at = (
        (v if v.tzinfo is not None else v.replace(tzinfo=expo.zone)).astimezone(UTC)
        for v in (starts_at, ends_at)
    )
    if starts_at <= utcnow():
        raise Invalid(N_("Choose a time in the future."), code="meeting.in_past", field="starts_at")
    length = ends_at - starts_at
    if not timedelta(minutes=MIN_MINUTES) <= length <= timedelta(minutes=MAX_MINUTES):
        raise Invalid(
            N_("A meeting lasts from 15 minutes to 2 hours."), code="meeting.bad_length", field="ends_at"
        )
    return starts_at, ends_at


def clean_text(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if len(value) > limit:
        raise Invalid(N_("A field is too long."), code="meeting.too_long", field=what)
    # Plain text: control characters other than line breaks and tabs have no place in it.
    return "".join(c for c in value if c in "\n\t" or c >= " ")


# Reading -------------------------------------------------------------------------------------------------


async def get_meeting(session: AsyncSession, meeting_id: int) -> tuple[Meeting, Booth, Expo]:
    meeting = await session.get(Meeting, meeting_id)
    booth = await session.get(Booth, meeting.booth_id) if meeting is not None else None
    expo = await session.get(Expo, booth.expo_id) if booth is not None else None
    if meeting is None or booth is None or expo is None:
        raise NotFound(N_("There is no such meeting."), code="meeting.unknown")
    return meeting, booth, expo


async def require_staff(session: AsyncSession, booth: Booth, expo: Expo, user: User) -> None:
    """The booth's own staff and the expo's organizers handle its meetings (403 for others)."""
    assert booth.id is not None
    st = await standing(session, user, booth.expo_id)
    allowed = may_edit_booth(st, await booth_role(session, booth.id, user))
    require(allowed, user, N_("Only this booth's staff may handle its meetings."), "meeting.not_staff")


async def booth_meetings(
    session: AsyncSession, booth: Booth, expo: Expo, actor: User, status: MeetingStatus | None = None
) -> list[tuple[Meeting, User]]:
    """The booth's meetings with their requesters, soonest first (staff and organizers only)."""
    await require_staff(session, booth, expo, actor)
    query = select(Meeting, User).join(User, col(User.id) == col(Meeting.requester_id))
    query = query.where(Meeting.booth_id == booth.id)
    if status is not None:
        query = query.where(Meeting.status == status.value)
    rows = await session.exec(query.order_by(col(Meeting.starts_at), col(Meeting.id)).limit(LIST_LIMIT))
    return list(rows.all())


async def my_meetings(session: AsyncSession, user: User) -> list[tuple[Meeting, Booth, Expo]]:
    """The meetings ``user`` requested, newest request first."""
    query = (
        select(Meeting, Booth, Expo)
        .join(Booth, col(Booth.id) == col(Meeting.booth_id))
        .join(Expo, col(Expo.id) == col(Meeting.expo_id))
        .where(Meeting.requester_id == user.id)
        .order_by(col(Meeting.id).desc())
        .limit(LIST_LIMIT)
    )
    return list((await session.exec(query)).all())


# Requesting ----------------------------------------------------------------------------------------------


async def lock_booth(session: AsyncSession, booth_id: int) -> None:
    # PostgreSQL: concurrent requests and acceptances of one booth take turns. SQLite renders no
    # FOR UPDATE; there the first write of the transaction takes the database's single write lock.
    await session.exec(select(Booth.id).where(Booth.id == booth_id).with_for_update())


async def check_requester(session: AsyncSession, booth: Booth, visitor: User) -> None:
    """Only approved booths take meetings, and never from their own staff."""
    assert booth.id is not None
    if booth.status != BoothStatus.APPROVED.value:
        raise Conflict(N_("This booth does not take meeting requests yet."), code="meeting.booth_closed")
    if await booth_role(session, booth.id, visitor) is not None:
        raise Forbidden(N_("You cannot request a meeting with your own booth."), code="meeting.own_booth")


async def open_count(session: AsyncSession, booth_id: int, visitor_id: int) -> int:
    """How many open meetings ``visitor_id`` has with the booth (exact once the write lock is held)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(
            Meeting.booth_id == booth_id,
            Meeting.requester_id == visitor_id,
            col(Meeting.status).in_([s.value for s in OPEN]),
        )
    )
    return int(count or 0)


def too_many() -> Conflict:
    return Conflict(N_("You already have 3 open meeting requests with this booth."), code="meeting.too_many")


async def request_meeting(
    session: AsyncSession,
    booth: Booth,
    visitor: User,
    starts_at: datetime,
    ends_at: datetime,
    message: str,
    bus: Bus | None = None,
    settings: Settings | None = None,
) -> Meeting:
    """Ask ``booth`` for a meeting; 409 past :data:`MAX_OPEN` open requests with this booth. With
    ``settings``, each of the booth's staff is told by e-mail, in their language."""
    assert booth.id is not None and visitor.id is not None
    expo = await session.get(Expo, booth.expo_id)
    assert expo is not None and expo.id is not None
    await check_requester(session, booth, visitor)
    starts_at, ends_at = check_times(starts_at, ends_at, expo)
    meeting = Meeting(
        booth_id=booth.id,
        expo_id=expo.id,
        requester_id=visitor.id,
        starts_at=starts_at,
        ends_at=ends_at,
        message=clean_text(message, MAX_MESSAGE, "message"),
    )
    await lock_booth(session, booth.id)
    session.add(meeting)
    await session.flush()  # the write lock (SQLite) is held from here: the count below is exact
    if await open_count(session, booth.id, visitor.id) > MAX_OPEN:
        await session.rollback()
        raise too_many()
    if settings is not None:
        await _tell_staff(session, settings, meeting, booth, expo, visitor)
    await _commit(session, bus, meeting, "meeting.requested", visitor, target=f"booth:{booth.id}")
    return meeting


# Deciding ------------------------------------------------------------------------------------------------


async def _commit(
    session: AsyncSession, bus: Bus | None, meeting: Meeting, action: str, actor: User, target: str = ""
) -> None:
    """Record ``action`` in the audit log, commit, and show it on the expo's live dashboard."""
    if target:
        audit.record(session, action, actor_id=actor.id, target=target, meeting=meeting.id)
    else:
        audit.record(session, action, actor_id=actor.id, target=f"meeting:{meeting.id}")
    await session.commit()
    if bus is not None:
        await events.figures_changed(bus, meeting.expo_id)


async def _transition(
    session: AsyncSession,
    meeting: Meeting,
    allowed: Sequence[MeetingStatus],
    changes: dict[str, object],
    *,
    started_by: datetime | None = None,
) -> bool:
    """Apply ``changes`` if the stored status is still one of ``allowed`` (and, with
    ``started_by``, the meeting started by then); False when another request changed it first."""
    query = update(Meeting).where(
        col(Meeting.id) == meeting.id, col(Meeting.status).in_([s.value for s in allowed])
    )
    if started_by is not None:
        query = query.where(col(Meeting.starts_at) <= started_by)
    result = await session.exec(query.values(**changes))
    if result.rowcount != 1:
        await session.rollback()
        await session.refresh(meeting)
        return False
    await session.refresh(meeting)
    return True


def _already(meeting: Meeting) -> Conflict:
    return Conflict(N_("This meeting was already answered or cancelled."), code="meeting.already_decided")


async def _tell_requester(
    session: AsyncSession,
    settings: Settings,
    meeting: Meeting,
    booth: Booth,
    expo: Expo,
    room: Room | None = None,
) -> None:
    """Queue the e-mail telling the requester what the booth decided, in their language."""
    requester = await session.get(User, meeting.requester_id)
    if requester is None:
        return
    tr = translations(requester.locale or settings.default_locale)
    start = local(meeting.starts_at, expo)
    params = {
        "name": requester.name,
        "booth": booth.name,
        "expo": expo.title,
        "when": f"{start:%Y-%m-%d %H:%M}-{local(meeting.ends_at, expo):%H:%M} ({expo.timezone})",
        "note": meeting.staff_note or "-",
        "url": settings.url("/my/meetings"),
        "room": settings.url(room_services.room_path(room, RoomRole.GUEST)) if room else "-",
    }
    if meeting.status == MeetingStatus.ACCEPTED.value:
        subject = N_("Your meeting with %(booth)s is confirmed")
        body = N_(
            "Hello %(name)s,\n\n%(booth)s accepted your meeting at %(expo)s on %(when)s.\n\n"
            "Note from the booth: %(note)s\n\nJoin the video meeting at that time: %(room)s\n\n"
            "Your meetings: %(url)s\n"
        )
    elif meeting.status == MeetingStatus.CANCELLED.value:
        subject = N_("Your meeting with %(booth)s was cancelled")
        body = N_(
            "Hello %(name)s,\n\n%(booth)s cancelled your meeting at %(expo)s on %(when)s.\n\n"
            "Note from the booth: %(note)s\n\nYour meetings: %(url)s\n"
        )
    else:
        subject = N_("Your meeting request to %(booth)s was declined")
        body = N_(
            "Hello %(name)s,\n\n%(booth)s declined your meeting request at %(expo)s for %(when)s.\n\n"
            "Note from the booth: %(note)s\n\nYour meetings: %(url)s\n"
        )
    await enqueue(
        session,
        to=requester.email,
        subject=tr.gettext(subject) % params,
        body=tr.gettext(body) % params,
        expo_id=expo.id,
        user_id=requester.id,
    )


async def _tell_staff(
    session: AsyncSession, settings: Settings, meeting: Meeting, booth: Booth, expo: Expo, requester: User
) -> None:
    """Queue the e-mails telling the booth's staff about a new request, with a link to the inbox."""
    start, end = local(meeting.starts_at, expo), local(meeting.ends_at, expo)
    subject = N_("Meeting request for %(booth)s from %(requester)s")
    body = N_(
        "Hello %(name)s,\n\n%(requester)s asks %(booth)s for a meeting at %(expo)s on %(when)s.\n\n"
        "Their message: %(said)s\n\nAccept or decline it:\n%(url)s\n"
    )
    await BoothMailer(settings).to_staff(
        session,
        expo,
        booth,
        subject,
        body,
        requester=requester.name or requester.email,
        when=f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} ({expo.timezone})",
        said=meeting.message or "-",
        url=settings.url(f"/booths/{booth.id}/meetings#meeting-{meeting.id}"),
    )


async def accept(
    session: AsyncSession,
    meeting_id: int,
    actor: User,
    settings: Settings,
    note: str = "",
    bus: Bus | None = None,
) -> Meeting:
    """Accept a requested meeting (booth staff, organizers): 409 when another decision came first
    or the meeting overlaps one the booth has accepted."""
    meeting, booth, expo = await get_meeting(session, meeting_id)
    await require_staff(session, booth, expo, actor)
    note = clean_text(note, MAX_NOTE, "note")
    if meeting.starts_at <= utcnow():
        raise Conflict(N_("This meeting's time has passed."), code="meeting.started")
    await lock_booth(session, booth.id or 0)
    now = utcnow()
    changes = {
        "status": MeetingStatus.ACCEPTED.value,
        "decided_at": now,
        "decided_by": actor.id,
        "staff_note": note,
    }
    if not await _transition(session, meeting, (MeetingStatus.REQUESTED,), changes):
        raise _already(meeting)
    overlapping = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .where(
            Meeting.booth_id == meeting.booth_id,
            col(Meeting.id) != meeting.id,
            col(Meeting.status).in_([s.value for s in BOOKED]),
            col(Meeting.starts_at) < meeting.ends_at,
            col(Meeting.ends_at) > meeting.starts_at,
        )
    )
    if overlapping:
        await session.rollback()
        raise Conflict(N_("The booth has already accepted a meeting at this time."), code="meeting.overlap")
    # The video room where it takes place: the staff's host link, the requester's guest link.
    title = f"{booth.name} · {local(meeting.starts_at, expo):%Y-%m-%d %H:%M}"
    room = await room_services.add_room(
        session,
        expo=expo,
        title=title[: room_services.TITLE_MAX],
        owner=actor,
        booth_id=booth.id,
        kind=RoomKind.BOOTH_MEETING,
    )
    meeting.room_id = room.id
    session.add(meeting)
    await _tell_requester(session, settings, meeting, booth, expo, room)
    await _commit(session, bus, meeting, "meeting.accepted", actor)
    return meeting


async def decline(
    session: AsyncSession,
    meeting_id: int,
    actor: User,
    settings: Settings,
    note: str = "",
    bus: Bus | None = None,
) -> Meeting:
    """Decline a requested meeting with a note for the requester (booth staff, organizers)."""
    meeting, booth, expo = await get_meeting(session, meeting_id)
    await require_staff(session, booth, expo, actor)
    changes = {
        "status": MeetingStatus.DECLINED.value,
        "decided_at": utcnow(),
        "decided_by": actor.id,
        "staff_note": clean_text(note, MAX_NOTE, "note"),
    }
    if not await _transition(session, meeting, (MeetingStatus.REQUESTED,), changes):
        raise _already(meeting)
    await _tell_requester(session, settings, meeting, booth, expo)
    await _commit(session, bus, meeting, "meeting.declined", actor)
    return meeting


async def mark_held(session: AsyncSession, meeting_id: int, actor: User, bus: Bus | None = None) -> Meeting:
    """Record that an accepted meeting took place (booth staff, organizers; once it has started)."""
    meeting, booth, expo = await get_meeting(session, meeting_id)
    await require_staff(session, booth, expo, actor)
    now = utcnow()
    changes = {"status": MeetingStatus.HELD.value, "held_at": now}
    if not await _transition(session, meeting, (MeetingStatus.ACCEPTED,), changes, started_by=now):
        if meeting.status == MeetingStatus.ACCEPTED.value:
            raise Conflict(N_("This meeting has not started yet."), code="meeting.not_started")
        raise Conflict(N_("Only accepted meetings can be marked as held."), code="meeting.not_accepted")
    await _commit(session, bus, meeting, "meeting.held", actor)
    return meeting


async def cancel(session: AsyncSession, meeting_id: int, actor: User, bus: Bus | None = None) -> Meeting:
    """The requester withdraws an open meeting (404 for anyone else: it is not theirs to see)."""
    meeting, _, _ = await get_meeting(session, meeting_id)
    if meeting.requester_id != actor.id:
        raise NotFound(N_("There is no such meeting."), code="meeting.unknown")
    await _cancel(session, meeting, OPEN, {})
    await _commit(session, bus, meeting, "meeting.cancelled", actor)
    return meeting


async def call_off(
    session: AsyncSession,
    meeting_id: int,
    actor: User,
    settings: Settings,
    note: str = "",
    bus: Bus | None = None,
) -> Meeting:
    """The booth's staff (and the expo's organizers) call off an accepted meeting, with a note the
    requester gets by e-mail (409 ``meeting.not_accepted`` for a request: they decline it)."""
    meeting, booth, expo = await get_meeting(session, meeting_id)
    await require_staff(session, booth, expo, actor)
    changes: dict[str, object] = {"staff_note": clean_text(note, MAX_NOTE, "note")}
    await _cancel(session, meeting, (MeetingStatus.ACCEPTED,), changes)
    await _tell_requester(session, settings, meeting, booth, expo)
    await _commit(session, bus, meeting, "meeting.cancelled", actor)
    return meeting


async def _cancel(
    session: AsyncSession, meeting: Meeting, allowed: Sequence[MeetingStatus], changes: dict[str, object]
) -> None:
    """Cancel ``meeting`` (uncommitted) if its status is still one of ``allowed``: its slot place is
    freed, its reminder withdrawn and its room ended."""
    # A booked slot's place is freed with the same update (NULL places never clash).
    changes = {**changes, "status": MeetingStatus.CANCELLED.value, "slot_place": None}
    if not await _transition(session, meeting, allowed, changes):
        if meeting.status == MeetingStatus.REQUESTED.value:
            raise Conflict(N_("Decline a request instead of cancelling it."), code="meeting.not_accepted")
        raise Conflict(N_("This meeting can no longer be cancelled."), code="meeting.closed")
    await withdraw(session, meeting.reminder_id)
    if meeting.room_id is not None:
        # Its links stop working: nobody keeps meeting in the room of a cancelled meeting.
        await room_services.end_room(session, meeting.room_id, commit=False)


async def waiting_counts(session: AsyncSession, booth_ids: Sequence[int]) -> dict[int, int]:
    """How many requests of each booth wait for an answer and can still be accepted (their start
    is ahead); booths without any are left out."""
    if not booth_ids:
        return {}
    query = (
        select(Meeting.booth_id, func.count())
        .where(
            col(Meeting.booth_id).in_(booth_ids),
            Meeting.status == MeetingStatus.REQUESTED.value,
            col(Meeting.starts_at) > utcnow(),
        )
        .group_by(col(Meeting.booth_id))
    )
    return {booth_id: count for booth_id, count in (await session.exec(query)).all()}
