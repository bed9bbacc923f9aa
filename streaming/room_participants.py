"""The people of a telepresence room: who they are, what the others see of them, what they may do.

A :class:`Participant` is one seat in a room of a :class:`~streaming.rooms.RoomPlane`: their public
id (a page's ``data-participant``), the secret that proves it is them, where they stand (in the
lobby, inside, reconnecting) and their sending and receiving connections. The checks every room
operation starts with (inside the room, the host) are theirs, so that the plane and the modules
beside it (:mod:`streaming.room_host`, :mod:`streaming.room_screens`) ask them the same way.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from expo.errors import N_, Forbidden, Invalid, Unauthorized
from streaming.room_services import RoomRole
from streaming.whip import PublisherSession, ViewerSession

NAME_MAX = 60
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(eq=False)
class Participant:
    """One person in a room. ``id`` is public (the page's ``data-participant``); ``secret`` is
    their credential for publishing, subscribing and leaving. ``name`` is what they (or their
    account) said, or empty: then pages show ``number``, e.g. "Guest 3", in their own language."""

    room_id: int
    name: str
    role: RoomRole
    number: int = 1
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    joined: float = field(default_factory=time.monotonic)
    # Waiting in the lobby: known to the host, not yet in the room (no media, no hand).
    waiting: bool = False
    hand: bool = False
    user_id: int | None = None  # their account, if they were signed in
    stay: int | None = None  # their attendance row while they are in the room
    # Presented on joining again after a dropped connection: the same seat (see RoomPlane.join).
    rejoin: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    reconnecting: bool = False  # their connection dropped; the seat is kept for a while
    muted: bool = False  # what their page says of their microphone and camera (shown on tiles)
    camera_off: bool = False
    publisher: PublisherSession | None = None
    screen: PublisherSession | None = None  # their shared screen (streaming.room_screens)
    # Their subscriptions, by the id of the participant whose media they receive.
    subscriptions: dict[str, ViewerSession] = field(default_factory=dict)

    @property
    def publishing(self) -> bool:
        return self.publisher is not None and not self.publisher.ended.is_set()

    def public(self) -> dict[str, Any]:
        """What the others see of this participant. ``media`` names their current sending
        session: a page subscribes again only when it changes (they reconnected)."""
        media = self.publisher.id[:12] if self.publisher is not None and self.publishing else None
        screen = self.screen.id[:12] if self.screen is not None and not self.screen.ended.is_set() else None
        return {
            "id": self.id,
            "name": self.label,
            "named": bool(self.name),
            "number": self.number,
            "role": self.role.value,
            "publishing": media is not None,
            "media": media,
            "hand": self.hand,
            "muted": self.muted,
            "camera_off": self.camera_off,
            "screen": screen,
            "reconnecting": self.reconnecting,
        }

    @property
    def label(self) -> str:
        """Their name, or in English for API clients "Host" or "Guest 3" when they gave none."""
        if self.name:
            return self.name
        return "Host" if self.role is RoomRole.HOST else f"Guest {self.number}"

    def check(self, secret: str) -> None:
        if not hmac.compare_digest(self.secret.encode(), secret.encode()):
            raise Unauthorized(
                "Present this participant's secret as the bearer token.", code="room.bad_secret"
            )

    def require_inside(self) -> None:
        """403 ``room.lobby`` while they wait in the lobby: only those inside use the room."""
        if self.waiting:
            raise Forbidden(N_("Wait for the host to let you in."), code="room.lobby")

    def require_host(self) -> None:
        """403 ``room.host_only`` unless they are the room's host."""
        if self.role is not RoomRole.HOST:
            raise Forbidden(N_("Only the host can do this."), code="room.host_only")


def screen_key(participant_id: str) -> str:
    """The key, among someone's subscriptions, of their subscription to ``participant_id``'s screen."""
    return f"{participant_id}:screen"


def clean_name(name: str, fallback: str = "") -> str:
    """A display name: control characters dropped and trimmed, at most 60 characters (else 422
    ``room.invalid_name``); ``fallback`` when nothing is left."""
    name = _CONTROL.sub("", name).strip()
    if len(name) > NAME_MAX:
        raise Invalid(f"A name has at most {NAME_MAX} characters.", code="room.invalid_name")
    return name or fallback
