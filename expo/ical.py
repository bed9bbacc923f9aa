"""The text rules of iCalendar (RFC 5545) shared by every ``.ics`` the platform writes (program
calendars in ``expo.agenda.ics``, meeting invitations in ``expo.meetings.invitation``): TEXT
values escaped, lines folded at 75 octets without splitting a UTF-8 character, UTC times, and the
host part of event ``UID``s."""

from __future__ import annotations

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
