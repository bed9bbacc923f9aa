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

from expo.db import utcnow
from expo.ical import escape, fold, stamp, uid_host
from expo.meetings.models import Meeting, MeetingStatus

MEDIA_TYPE = "text/calendar"
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
        meeting = self.meeting
        cancelled = meeting.status == MeetingStatus.CANCELLED.value
        host = uid_host(self.public_url)
        lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            f"PRODID:{PRODID}",
            "CALSCALE:GREGORIAN",
            f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
            "BEGIN:VEVENT",
            f"UID:meeting-{meeting.id}@{host}",
            f"DTSTAMP:{stamp(now or utcnow())}",
            f"DTSTART:{stamp(meeting.starts_at)}",
            f"DTEND:{stamp(meeting.ends_at)}",
            f"SUMMARY:{escape(self.summary)}",
            f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        ]
        if self.url:
            lines += [f"URL:{self.url}", f"LOCATION:{escape(self.url)}"]
        if self.description:
            lines.append(f"DESCRIPTION:{escape(self.description)}")
        if not cancelled:
            lines += [
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                f"DESCRIPTION:{escape(self.summary)}",
                f"TRIGGER:-PT{REMINDER_MINUTES}M",
                "END:VALARM",
            ]
        lines += ["END:VEVENT", "END:VCALENDAR"]
        return "".join(fold(line) + "\r\n" for line in lines)
