"""The JSON bodies of the rooms' HTTP API (:mod:`streaming.room_api`, :mod:`streaming.room_media_api`):
what a client sends and what it gets back, with the limits checked before any handler runs."""

from __future__ import annotations

from pydantic import Field

from expo.http.api import Schema
from streaming.room_participants import NAME_MAX


class RoomIn(Schema):
    title: str = Field(min_length=1, max_length=200)
    expo: str | None = Field(
        default=None,
        max_length=100,
        description="expo slug (default: the default expo, if you may present there)",
    )


class RoomOut(Schema):
    id: int
    host_url: str
    guest_url: str


class JoinIn(Schema):
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=NAME_MAX)
    rejoin: str = Field(
        default="", max_length=100, description="the ``rejoin`` token of an earlier join: the same seat"
    )


class ParticipantOut(Schema):
    id: str
    name: str = Field(description='What they called themselves, else "Host" or "Guest <number>".')
    named: bool = Field(description="Whether they gave a name (pages show their own words for the rest).")
    number: int = Field(description="Their order of arrival in the room.")
    role: str
    publishing: bool
    media: str | None = Field(description="Their current sending session; changes when they reconnect.")
    hand: bool = Field(description="Whether their hand is raised.")
    muted: bool = Field(default=False, description="Whether their page muted their microphone.")
    camera_off: bool = Field(default=False, description="Whether their page turned their camera off.")
    screen: str | None = Field(default=None, description="Their shared screen, if they share one.")
    reconnecting: bool = Field(default=False, description="Their connection dropped; their seat is kept.")


class SettingsOut(Schema):
    capacity: int = Field(description="How many people may be in the room at once.")
    lobby: bool = Field(description="Whether guests wait in a lobby until the host lets them in.")
    locked: bool = Field(description="Whether the host locked the room: no guest gets in.")
    limit: int = Field(description="The largest capacity this server allows.")


class SettingsIn(Schema):
    key: str = Field(min_length=1, max_length=100, description="the host's key")
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    lobby: bool | None = None
    locked: bool | None = None


class JoinOut(Schema):
    id: str
    secret: str
    rejoin: str = Field(description="Join again with it after a dropped connection: the same seat.")
    name: str
    named: bool
    role: str
    waiting: bool = Field(description="In the lobby: wait for ``admitted`` (or ``turned_away``).")
    channel: str
    participants: list[ParticipantOut] = Field(description="Who is in the room (none while waiting).")
    settings: SettingsOut


class ParticipantList(Schema):
    participants: list[ParticipantOut]
    waiting: list[ParticipantOut] = Field(description="Who waits in the lobby (for the host's key only).")
    settings: SettingsOut


class HandIn(Schema):
    raised: bool


class NameIn(Schema):
    name: str = Field(max_length=1000)


class KeyIn(Schema):
    key: str = Field(min_length=1, max_length=100)
