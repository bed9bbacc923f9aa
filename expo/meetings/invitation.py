"""The ``.ics`` invitation of an accepted meeting (RFC 5545): one VEVENT that calendar apps import.

Each side gets its own copy: the requester's carries the room's guest link, the booth staff's its
host link (the link is the key to the room, so it is never put in the other side's file). Times are
UTC (``...Z``) so every calendar places them right whatever its own timezone; the ``UID`` is stable
per meeting, so importing a second copy updates the event instead of duplicating it. A cancelled
meeting's file says ``STATUS:CANCELLED`` with ``METHOD:CANCEL``, which removes the event.

The agenda writes program calendars the same way (``expo.agenda.ics``); both take the format's
text rules from the core (:mod:`expo.ical`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from expo import ical
from expo.meetings.models import Meeting, MeetingStatus

MEDIA_TYPE = ical.MEDIA_TYPE
PRODID = "-//expo//meetings//EN"
REMINDER_MINUTES = 15
"""The alarm calendar apps set before the start."""


@dataclass(frozen=True)
class Invitation:
    """What one side's calendar shows: the title, the room link (``url``, absolute) and a note."""

    meeting: Meeting
    summary: str
    url: str
    description: str
    public_url: str

    @property
    def filename(self) -> str:
        return f"meeting-{self.meeting.id}.ics"

    def render(self, now: datetime | None = None) -> str:
        """The file, written by the core's :class:`expo.ical.Invitation`."""
        meeting = self.meeting
        return ical.Invitation(
            uid=f"meeting-{meeting.id}",
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            summary=self.summary,
            url=self.url,
            description=self.description,
            public_url=self.public_url,
            cancelled=meeting.status == MeetingStatus.CANCELLED.value,
            prodid=PRODID,
            alarm_minutes=REMINDER_MINUTES,
        ).render(now)
