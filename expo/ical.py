"""The text rules of iCalendar (RFC 5545) shared by every ``.ics`` the platform writes (program
calendars in ``expo.agenda.ics``, meeting invitations in ``expo.meetings.invitation`` and
``expo.promotion.project_rooms``): TEXT values escaped, lines folded at 75 octets without splitting
a UTF-8 character, UTC times, the host part of event ``UID``s, and :class:`Invitation`, the one
VEVENT a meeting's invitation carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

MAX_OCTETS = 75


def escape(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11)."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """``line`` split into 75-octet pieces joined by CRLF + space (RFC 5545 3.1)."""
    pieces: list[str] = []
    current, size, limit = "", 0, MAX_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            # A continuation line starts with a space, which counts towards its 75 octets.
            current, size, limit = "", 0, MAX_OCTETS - 1
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def stamp(value: datetime) -> str:
    """A UTC DATE-TIME value (``...Z``)."""
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def uid_host(public_url: str) -> str:
    """The host named in event ``UID``s (``expo`` when the public URL has none)."""
    return urlsplit(public_url).hostname or "expo"


MEDIA_TYPE = "text/calendar"


@dataclass(frozen=True)
class Invitation:
    """One meeting as calendar apps import it: a VEVENT with the room link (``url``, absolute), a
    note, and an alarm ``alarm_minutes`` before the start.

    Times are UTC (``...Z``) so every calendar places them right whatever its own timezone; ``uid``
    (``meeting-12``) is stable per meeting, so importing a second copy (a new time) updates the
    event instead of duplicating it. A ``cancelled`` one says ``STATUS:CANCELLED`` with
    ``METHOD:CANCEL``, which removes the event.
    """

    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    url: str
    description: str
    public_url: str
    cancelled: bool = False
    prodid: str = "-//expo//meetings//EN"
    alarm_minutes: int = 15

    @property
    def filename(self) -> str:
        return f"{self.uid}.ics"

    def render(self, now: datetime | None = None) -> str:
        lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            f"PRODID:{self.prodid}",
            "CALSCALE:GREGORIAN",
            f"METHOD:{'CANCEL' if self.cancelled else 'PUBLISH'}",
            "BEGIN:VEVENT",
            f"UID:{self.uid}@{uid_host(self.public_url)}",
            f"DTSTAMP:{stamp(now or datetime.now(UTC))}",
            f"DTSTART:{stamp(self.starts_at)}",
            f"DTEND:{stamp(self.ends_at)}",
            f"SUMMARY:{escape(self.summary)}",
            f"STATUS:{'CANCELLED' if self.cancelled else 'CONFIRMED'}",
        ]
        if self.url:
            lines += [f"URL:{self.url}", f"LOCATION:{escape(self.url)}"]
        if self.description:
            lines.append(f"DESCRIPTION:{escape(self.description)}")
        if not self.cancelled:
            lines += [
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                f"DESCRIPTION:{escape(self.summary)}",
                f"TRIGGER:-PT{self.alarm_minutes}M",
                "END:VALARM",
            ]
        lines += ["END:VEVENT", "END:VCALENDAR"]
        return "".join(fold(line) + "\r\n" for line in lines)
