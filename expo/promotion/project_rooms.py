"""Online meetings of a project: the bureau schedules a meeting with the project's investor in a
video room of the expo, moves it to another time, or calls it off.

A meeting is a negotiation room (:mod:`streaming.room_services`) owned by the team member who
scheduled it: the team joins with its host link, the investor with its guest link (each link is
the key to the room, so it is never put in the other side's letter or calendar file). Times are
entered and shown as wall-clock times in the expo's timezone and stored in UTC.

The investor is told by e-mail through the outbox (:mod:`expo.mail.outbox`), in the same
transaction as the change: the invitation with its ``.ics`` (:class:`expo.ical.Invitation`, whose
stable ``UID`` lets a moved meeting update the calendar entry and a cancelled one remove it), and
a reminder held back until :data:`REMINDER_BEFORE` the start, withdrawn when the meeting moves or is
cancelled. A cancelled meeting's room is ended. Every change is written to the project's audit
history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit, ical
from expo.accounts.models import User
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, NotFound
from expo.expos.models import Expo
from expo.i18n import translations
from expo.mail.outbox import Attachment, enqueue, withdraw
from expo.promotion import projects
from expo.promotion.models import ProjectMeeting, PromotionProject
from expo.promotion.projects import target
from expo.promotion.services import FormInvalid
from streaming import room_services
from streaming.models import Room, RoomKind
from streaming.room_services import RoomRole

DURATIONS = (15, 30, 45, 60, 90, 120, 180, 240)
"""The lengths a meeting may have, in minutes (the form's choices)."""
TITLE_MAX = 200
AGENDA_MAX = 2000
MAX_MEETINGS = 50
"""Meetings one project may have over its life, cancelled ones included."""
REMINDER_BEFORE = timedelta(hours=1)
PRODID = "-//expo//promotion meetings//EN"


@dataclass(frozen=True)
class MeetingFields:
    """A meeting form, checked: the title, the agenda note, the start (UTC) and the length."""

    title: str
    agenda: str
    starts_at: datetime
    minutes: int


def check_meeting(values: dict[str, str], expo: Expo, now: datetime | None = None) -> MeetingFields:
    """The fields of a meeting form; :class:`FormInvalid` names every bad field. ``starts_at`` is a
    ``datetime-local`` value: a wall-clock time in the expo's timezone, in the future."""
    errors: dict[str, str] = {}
    title = " ".join(values.get("title", "").split())
    if not title:
        errors["title"] = N_("This is required.")
    elif len(title) > TITLE_MAX:
        errors["title"] = N_("This is too long.")
    agenda = values.get("agenda", "").strip()
    if len(agenda) > AGENDA_MAX:
        errors["agenda"] = N_("This is too long.")
    starts_at = utcnow()
    raw = values.get("starts_at", "").strip()
    try:
        starts_at = datetime.fromisoformat(raw).replace(tzinfo=expo.zone).astimezone(UTC)
    except ValueError:
        errors["starts_at"] = N_("Give the date and time the meeting starts.")
    else:
        if starts_at <= (now or utcnow()):
            errors["starts_at"] = N_("Choose a time in the future.")
    raw_minutes = values.get("minutes", "").strip()
    minutes = int(raw_minutes) if raw_minutes.isdigit() and len(raw_minutes) < 4 else 0
    if minutes not in DURATIONS:
        errors["minutes"] = N_("Choose how long the meeting lasts.")
    if errors:
        raise FormInvalid(errors)
    return MeetingFields(title, agenda, starts_at, minutes)


def ends_at(meeting: ProjectMeeting) -> datetime:
    return meeting.starts_at + timedelta(minutes=meeting.minutes)


def is_open(meeting: ProjectMeeting, now: datetime | None = None) -> bool:
    """Not cancelled, and not over yet: it can still be joined, moved or cancelled."""
    return meeting.cancelled_at is None and ends_at(meeting) > (now or utcnow())


# Reading ---------------------------------------------------------------------------------------------------


async def meetings_of(session: AsyncSession, project: PromotionProject) -> list[ProjectMeeting]:
    """The project's meetings, soonest first."""
    query = select(ProjectMeeting).where(ProjectMeeting.project_id == project.id)
    return list((await session.exec(query.order_by(col(ProjectMeeting.starts_at)))).all())


async def meeting_of(session: AsyncSession, project: PromotionProject, meeting_id: int) -> ProjectMeeting:
    missing = NotFound(N_("This project has no such meeting."), code="promotion.unknown_meeting")
    return await projects.part_of(session, ProjectMeeting, project, meeting_id, missing)


@dataclass(frozen=True)
class MeetingView:
    """A meeting as a project page shows it: local times, and the reader's room link while the
    meeting is open (the team's host link, the investor's guest link)."""

    meeting: ProjectMeeting
    starts: datetime
    ends: datetime
    link: str
    open: bool


async def meeting_views(
    session: AsyncSession, expo: Expo, project: PromotionProject, role: RoomRole
) -> list[MeetingView]:
    found = await meetings_of(session, project)
    links = await room_services.room_links(session, (m.room_id for m in found), role)
    now = utcnow()
    return [
        MeetingView(
            meeting=m,
            starts=m.starts_at.astimezone(expo.zone),
            ends=ends_at(m).astimezone(expo.zone),
            link=links.get(m.room_id, "") if is_open(m, now) else "",
            open=is_open(m, now),
        )
        for m in found
    ]


def invitation(
    settings: Settings, expo: Expo, meeting: ProjectMeeting, room: Room | None, role: RoomRole, locale: str
) -> ical.Invitation:
    """The ``.ics`` of ``meeting`` for one side: its room link for ``role`` while the room is open."""
    tr = translations(locale)
    link = ""
    if room is not None and room.ended_at is None and meeting.cancelled_at is None:
        link = settings.url(room_services.room_path(room, role))
    description = "\n\n".join(part for part in (expo.title, meeting.agenda) if part)
    if link:
        description += f"\n\n{tr.gettext(N_('Join the video meeting'))}: {link}"
    return ical.Invitation(
        uid=f"project-meeting-{meeting.id}",
        starts_at=meeting.starts_at,
        ends_at=ends_at(meeting),
        summary=meeting.title,
        url=link,
        description=description,
        public_url=settings.public_url,
        cancelled=meeting.cancelled_at is not None,
        prodid=PRODID,
    )


# Letters ---------------------------------------------------------------------------------------------------

SUBJECTS = {
    "scheduled": N_("Online meeting about %(company)s: %(when)s"),
    "moved": N_("Your meeting about %(company)s moved to %(when)s"),
    "cancelled": N_("Your meeting about %(company)s on %(when)s is cancelled"),
    "reminder": N_("Reminder: your meeting about %(company)s starts at %(when)s"),
}
BODIES = {
    "scheduled": N_(
        "Hello %(name)s,\n\nthe investment bureau of %(expo)s invites you to an online meeting about "
        "%(company)s: %(title)s, on %(when)s.\n\n%(agenda)sJoin the video meeting at that time: "
        "%(room)s\n\nThe attached invitation adds it to your calendar. Your project: %(url)s\n"
    ),
    "moved": N_(
        "Hello %(name)s,\n\nthe online meeting about %(company)s (%(title)s) now takes place on "
        "%(when)s.\n\n%(agenda)sJoin the video meeting at that time: %(room)s\n\nThe attached "
        "invitation updates your calendar. Your project: %(url)s\n"
    ),
    "cancelled": N_(
        "Hello %(name)s,\n\nthe investment bureau of %(expo)s cancelled the online meeting about "
        "%(company)s (%(title)s) on %(when)s.\n\nThe attached file removes it from your calendar. "
        "Your project: %(url)s\n"
    ),
    "reminder": N_(
        "Hello %(name)s,\n\nyour online meeting about %(company)s (%(title)s) starts at %(when)s.\n\n"
        "Join the video meeting: %(room)s\n"
    ),
}


async def _tell_investor(
    session: AsyncSession,
    settings: Settings,
    expo: Expo,
    project: PromotionProject,
    meeting: ProjectMeeting,
    room: Room,
    what: str,
) -> None:
    """Queue the letter ``what`` (a key of :data:`SUBJECTS`) to the investor with the meeting's
    ``.ics``, and, unless it is cancelled, its reminder (remembered to be withdrawn later)."""
    investor = await session.get(User, project.investor_id)
    if investor is None:
        return
    locale = investor.locale or settings.default_locale
    tr = translations(locale)
    start = meeting.starts_at.astimezone(expo.zone)
    params = {
        "name": investor.name or investor.email,
        "expo": expo.title,
        "company": project.company,
        "title": meeting.title,
        "agenda": f"{meeting.agenda}\n\n" if meeting.agenda else "",
        "when": f"{start:%Y-%m-%d %H:%M}-{ends_at(meeting).astimezone(expo.zone):%H:%M} ({expo.timezone})",
        "room": settings.url(room_services.room_path(room, RoomRole.GUEST)),
        "url": settings.url(f"/expos/{expo.slug}/invest/projects/{project.id}"),
    }
    ics = invitation(settings, expo, meeting, room, RoomRole.GUEST, locale)
    await enqueue(
        session,
        to=investor.email,
        subject=tr.gettext(SUBJECTS[what]) % params,
        body=tr.gettext(BODIES[what]) % params,
        expo_id=expo.id,
        user_id=investor.id,
        attachment=Attachment(ics.filename, ical.MEDIA_TYPE, ics.render()),
    )
    await withdraw(session, meeting.reminder_id)
    meeting.reminder_id = None
    send_at = meeting.starts_at - REMINDER_BEFORE
    if what != "cancelled" and send_at > utcnow():
        reminder = await enqueue(
            session,
            to=investor.email,
            subject=tr.gettext(SUBJECTS["reminder"]) % params,
            body=tr.gettext(BODIES["reminder"]) % params,
            expo_id=expo.id,
            user_id=investor.id,
            send_at=send_at,
        )
        await session.flush()
        meeting.reminder_id = reminder.id
    session.add(meeting)


# The bureau's changes --------------------------------------------------------------------------------------


def _audit(
    session: AsyncSession, action: str, project: PromotionProject, meeting: ProjectMeeting, actor: User
) -> None:
    audit.record(
        session,
        f"promotion.project_meeting_{action}",
        actor_id=actor.id,
        target=target(project),
        meeting=meeting.id,
        starts_at=meeting.starts_at.isoformat(),
        minutes=meeting.minutes,
    )


async def schedule(
    session: AsyncSession,
    settings: Settings,
    expo: Expo,
    project: PromotionProject,
    values: dict[str, str],
    actor: User,
) -> ProjectMeeting:
    """Schedule a meeting with the project's investor: its room, the invitation and the reminder."""
    fields = check_meeting(values, expo)
    if len(await meetings_of(session, project)) >= MAX_MEETINGS:
        raise Conflict(N_("A project has at most 50 meetings."), code="promotion.too_many_meetings")
    assert project.id is not None
    room = await room_services.add_room(
        session, expo=expo, title=fields.title, owner=actor, kind=RoomKind.NEGOTIATION
    )
    assert room.id is not None
    meeting = ProjectMeeting(
        project_id=project.id,
        room_id=room.id,
        title=fields.title,
        agenda=fields.agenda,
        starts_at=fields.starts_at,
        minutes=fields.minutes,
        created_by=actor.id,
    )
    session.add(meeting)
    await session.flush()
    await _tell_investor(session, settings, expo, project, meeting, room, "scheduled")
    _audit(session, "scheduled", project, meeting, actor)
    await session.commit()
    return meeting


def _closed() -> Conflict:
    return Conflict(
        N_("This meeting was cancelled or is over; schedule a new one."), code="promotion.meeting_closed"
    )


async def reschedule(
    session: AsyncSession,
    settings: Settings,
    expo: Expo,
    project: PromotionProject,
    meeting: ProjectMeeting,
    values: dict[str, str],
    actor: User,
) -> ProjectMeeting:
    """Move an open meeting to another time (and title, agenda): the investor gets the new
    ``.ics`` (same ``UID``: their calendar entry moves) and a new reminder instead of the old."""
    fields = check_meeting(values, expo)
    if not is_open(meeting):
        raise _closed()
    result = await session.exec(
        update(ProjectMeeting)
        .where(col(ProjectMeeting.id) == meeting.id, col(ProjectMeeting.cancelled_at).is_(None))
        .values(title=fields.title, agenda=fields.agenda, starts_at=fields.starts_at, minutes=fields.minutes)
    )
    if result.rowcount != 1:
        await session.rollback()
        raise _closed()
    await session.refresh(meeting)
    room = await room_services.get_room(session, meeting.room_id)
    await _tell_investor(session, settings, expo, project, meeting, room, "moved")
    _audit(session, "moved", project, meeting, actor)
    await session.commit()
    return meeting


async def cancel(
    session: AsyncSession,
    settings: Settings,
    expo: Expo,
    project: PromotionProject,
    meeting: ProjectMeeting,
    actor: User,
) -> ProjectMeeting:
    """Call an open meeting off: its room ends, its reminder is withdrawn, the investor is told
    (with a cancelling ``.ics``). Of two cancellations at once, one wins, the other gets 409."""
    if not is_open(meeting):
        raise _closed()
    result = await session.exec(
        update(ProjectMeeting)
        .where(col(ProjectMeeting.id) == meeting.id, col(ProjectMeeting.cancelled_at).is_(None))
        .values(cancelled_at=utcnow())
    )
    if result.rowcount != 1:
        await session.rollback()
        raise _closed()
    await session.refresh(meeting)
    room = await room_services.end_room(session, meeting.room_id, commit=False)
    await _tell_investor(session, settings, expo, project, meeting, room, "cancelled")
    _audit(session, "cancelled", project, meeting, actor)
    await session.commit()
    return meeting
