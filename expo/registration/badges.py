"""Badge codes: what a badge's QR code carries, and checking one that staff scan.

The code is the registration's id and its random ``badge_code``, signed with the platform secret
(:func:`expo.security.sign`). A code someone made up or altered fails the signature; a genuine
code of a registration that was since cancelled and made again no longer matches its
``badge_code``. The QR image is drawn here (segno, inline SVG): no external service sees it.

The badge also shows the registration's ``short_code`` for typing, grouped ``K7F3-Q9XA``; the desk
accepts it in any case, with or without the dash or spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

from expo.errors import N_, Invalid
from expo.registration.models import SHORT_CODE_ALPHABET, SHORT_CODE_LENGTH, Registration
from expo.security import sign, unsign

PURPOSE = "badge"
MAX_CODE = 300  # a signed code is about 110 characters; anything much longer is not one


@dataclass(frozen=True)
class BadgeClaim:
    registration_id: int
    badge_code: str


def badge_payload(secret: str, registration: Registration) -> str:
    """The text in the QR code (also shown under it for staff to type)."""
    return sign(secret, PURPOSE, {"r": registration.id, "c": registration.badge_code})


def read_payload(secret: str, payload: str) -> BadgeClaim:
    """The registration a scanned code names, or :class:`Invalid` (``badge.invalid``) if forged."""
    data = unsign(secret, PURPOSE, payload.strip()) if len(payload) <= MAX_CODE else None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("r"), int)
        or isinstance(data.get("r"), bool)
        or not isinstance(data.get("c"), str)
    ):
        raise Invalid(N_("This is not a badge code of this platform."), code="badge.invalid")
    return BadgeClaim(registration_id=data["r"], badge_code=data["c"])


def qr_svg(payload: str) -> str:
    """An inline SVG QR code of ``payload`` (medium error correction, survives a worn print)."""
    return str(segno.make(payload, error="m").svg_inline(scale=5, border=4, title="Badge QR code"))


def show_short_code(code: str) -> str:
    """The short code as printed: two groups of four, ``K7F3-Q9XA``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def read_short_code(text: str) -> str | None:
    """The stored form of a typed short code (``k7f3 q9xa`` -> ``K7F3Q9XA``), or ``None`` when
    ``text`` is not one (then it may be the long signed code)."""
    code = "".join(text.split()).replace("-", "").upper()
    if len(code) != SHORT_CODE_LENGTH or any(c not in SHORT_CODE_ALPHABET for c in code):
        return None
    return code
