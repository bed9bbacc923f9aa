"""iCalendar (RFC 5545) for one program and for a visitor's personal agenda.

Written by hand because the format is small: CRLF line ends, TEXT values escaped (backslash,
semicolon, comma, newline), lines folded at 75 octets without splitting a UTF-8 character, UTC
times (``...Z``) so every calendar app places them right whatever its own timezone, and a stable
``UID`` per program so re-importing or refreshing a subscription updates events instead of
duplicating them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from expo.agenda.models import Program
from expo.db import utcnow
from expo.ical import escape, fold, stamp, uid_host

PRODID = "-//expo//agenda//EN"


@dataclass(frozen=True)
class Event:
    """One program as a calendar shows it; ``note`` is prepended to the description."""

    program: Program
    url: str
    location: str
    note: str = ""


def _event(event: Event, host: str, now: datetime) -> list[str]:
    program = event.program
    description = "\n\n".join(part for part in (event.note, program.description) if part)
    speakers = ", ".join(
        " · ".join(part for part in (s.get("name", ""), s.get("company", "")) if part)
        for s in program.speakers
    )
    if speakers:
        description = f"{description}\n\n{speakers}" if description else speakers
    lines = [
        "BEGIN:VEVENT",
        f"UID:program-{program.id}@{host}",
        f"DTSTAMP:{stamp(now)}",
        f"DTSTART:{stamp(program.starts_at)}",
        f"DTEND:{stamp(program.ends_at)}",
        f"SUMMARY:{escape(program.title)}",
        f"LAST-MODIFIED:{stamp(program.updated_at)}",
        f"URL:{event.url}",
    ]
    if description:
        lines.append(f"DESCRIPTION:{escape(description)}")
    if event.location:
        lines.append(f"LOCATION:{escape(event.location)}")
    if program.track:
        lines.append(f"CATEGORIES:{escape(program.track)}")
    lines.append("END:VEVENT")
    return lines


def calendar(events: Sequence[Event], *, name: str, public_url: str, now: datetime | None = None) -> str:
    """A VCALENDAR with ``events``, ready to serve as ``text/calendar``."""
    host, now = uid_host(public_url), now or utcnow()
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
    ]
    for event in events:
        lines.extend(_event(event, host, now))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
