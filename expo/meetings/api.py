"""Meetings API: visitors request meetings with booths, booth staff decide, requesters cancel.

``POST /api/booths/{id}/meetings`` (signed in) requests one; ``GET`` on the same path lists the
booth's meetings (its staff, the expo's organizers); ``GET /api/me/meetings`` lists the caller's
requests; ``POST /api/meetings/{id}/accept|decline|held`` (staff) and ``.../cancel`` (requester)
move a meeting on. Times without a zone are wall-clock times in the expo's timezone; answers are
in UTC. Losing a race to another decision, or accepting over an accepted meeting, is 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field
from starlette.requests import Request

from booths import services
from booths.models import Booth
from expo.accounts.models import User
from expo.auth import platform
from expo.errors import N_, Forbidden, NotFound
from expo.expos.models import Expo
from expo.http.api import Endpoint, Schema, path_int
from expo.meetings import services as meetings
from expo.meetings.models import Meeting, MeetingStatus
from streaming.room_services import RoomRole, room_links

TAGS = ["meetings"]
BOOKED = (MeetingStatus.ACCEPTED.value, MeetingStatus.HELD.value)


class RequesterOut(Schema):
    id: int
    name: str
    email: str


class MeetingOut(Schema):
    id: int
    booth_id: int
    booth_name: str
    expo_id: int
    status: str = Field(description="requested, accepted, declined, cancelled or held")
    starts_at: datetime
    ends_at: datetime
    message: str
    staff_note: str = Field(description="The booth's note to the requester when deciding.")
    created_at: datetime
    decided_at: datetime | None
    held_at: datetime | None
    requester: RequesterOut | None = Field(default=None, description="In the booth's list only.")
    room_url: str | None = Field(
        default=None,
        description="Once accepted: the video room's page, with the host key for the booth's staff and "
        "the guest key for the requester.",
    )
    window_id: int | None = Field(default=None, description="Booked in a slot of this availability window.")
    invitation_url: str | None = Field(
        default=None, description="Once accepted: the meeting's .ics calendar file (for either side)."
    )

    @classmethod
    def of(
        cls, meeting: Meeting, booth: Booth, requester: User | None = None, room_url: str | None = None
    ) -> MeetingOut:
        assert meeting.id is not None
        who = None
        if requester is not None:
            assert requester.id is not None
            who = RequesterOut(id=requester.id, name=requester.name, email=requester.email)
        return cls(
            id=meeting.id,
            booth_id=meeting.booth_id,
            booth_name=booth.name,
            expo_id=meeting.expo_id,
            status=meeting.status,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            message=meeting.message,
            staff_note=meeting.staff_note,
            created_at=meeting.created_at,
            decided_at=meeting.decided_at,
            held_at=meeting.held_at,
            requester=who,
            room_url=room_url if meeting.status == MeetingStatus.ACCEPTED.value else None,
            window_id=meeting.window_id,
            invitation_url=f"/api/meetings/{meeting.id}/invitation.ics" if meeting.status in BOOKED else None,
        )


class MeetingList(Schema):
    items: list[MeetingOut]


class MeetingRequestIn(Schema):
    starts_at: datetime = Field(description="Without a zone: wall-clock time in the expo's timezone.")
    ends_at: datetime = Field(description="15 to 120 minutes after starts_at.")
    message: str = Field(default="", max_length=meetings.MAX_MESSAGE, description="Plain text.")


class NoteIn(Schema):
    note: str = Field(default="", max_length=meetings.MAX_NOTE, description="Shown to the requester.")


class BoothMeetingsQuery(Schema):
    # A Literal, not the enum: query parameters are documented inline in the OpenAPI document.
    status: Literal["requested", "accepted", "declined", "cancelled", "held"] | None = None


async def meeting_request(request: Request, body: MeetingRequestIn, user: User) -> MeetingOut:
    """Ask an approved booth for a meeting at the proposed time."""
    p = platform(request)
    async with p.db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        meeting = await meetings.request_meeting(
            session, booth, user, body.starts_at, body.ends_at, body.message, p.bus, p.settings
        )
    return MeetingOut.of(meeting, booth)


async def meeting_list_booth(request: Request, query: BoothMeetingsQuery, user: User) -> MeetingList:
    """The booth's meetings, soonest first, with who asked (its staff, the expo's organizers)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        expo = await session.get(Expo, booth.expo_id)
        assert expo is not None
        status = MeetingStatus(query.status) if query.status else None
        rows = await meetings.booth_meetings(session, booth, expo, user, status)
        rooms = await room_links(session, [m.room_id for m, _ in rows], RoomRole.HOST)
    return MeetingList(items=[MeetingOut.of(m, booth, who, rooms.get(m.room_id or 0)) for m, who in rows])


async def meeting_list_mine(request: Request, user: User) -> MeetingList:
    """The meetings the caller requested, newest first."""
    async with platform(request).db.session() as session:
        rows = await meetings.my_meetings(session, user)
        rooms = await room_links(session, [m.room_id for m, _, _ in rows], RoomRole.GUEST)
    return MeetingList(
        items=[MeetingOut.of(m, booth, room_url=rooms.get(m.room_id or 0)) for m, booth, _ in rows]
    )


async def _answer(request: Request, meeting: Meeting, role: RoomRole) -> MeetingOut:
    """The meeting as the staff (``HOST``) or the requester (``GUEST``) sees it."""
    async with platform(request).db.session() as session:
        booth = await session.get(Booth, meeting.booth_id)
        rooms = await room_links(session, [meeting.room_id], role)
    assert booth is not None
    return MeetingOut.of(meeting, booth, room_url=rooms.get(meeting.room_id or 0))


async def meeting_accept(request: Request, user: User) -> MeetingOut:
    """Accept a requested meeting (409: already decided, or overlaps an accepted one)."""
    p = platform(request)
    async with p.db.session() as session:
        meeting = await meetings.accept(session, path_int(request, "meeting_id"), user, p.settings, bus=p.bus)
    return await _answer(request, meeting, RoomRole.HOST)


async def meeting_decline(request: Request, body: NoteIn, user: User) -> MeetingOut:
    """Decline a requested meeting with a note to the requester (409: already decided)."""
    p = platform(request)
    async with p.db.session() as session:
        meeting = await meetings.decline(
            session, path_int(request, "meeting_id"), user, p.settings, body.note, bus=p.bus
        )
    return await _answer(request, meeting, RoomRole.HOST)


async def meeting_held(request: Request, user: User) -> MeetingOut:
    """Record that an accepted meeting took place (once its start has passed)."""
    p = platform(request)
    async with p.db.session() as session:
        meeting = await meetings.mark_held(session, path_int(request, "meeting_id"), user, bus=p.bus)
    return await _answer(request, meeting, RoomRole.HOST)


async def meeting_cancel(request: Request, user: User) -> MeetingOut:
    """Withdraw one's own requested or accepted meeting; the booth's staff call off an accepted one
    (the requester is told by e-mail; they decline a request instead)."""
    p = platform(request)
    meeting_id = path_int(request, "meeting_id")
    async with p.db.session() as session:
        meeting, _, _ = await meetings.get_meeting(session, meeting_id)
        if meeting.requester_id == user.id:
            meeting = await meetings.cancel(session, meeting_id, user, bus=p.bus)
            return await _answer(request, meeting, RoomRole.GUEST)
        try:
            meeting = await meetings.call_off(session, meeting_id, user, p.settings, bus=p.bus)
        except Forbidden:
            raise NotFound(N_("There is no such meeting."), code="meeting.unknown") from None
    return await _answer(request, meeting, RoomRole.HOST)


BOOTH = "/api/booths/{booth_id:int}/meetings"
MEETING = "/api/meetings/{meeting_id:int}"


ROUTES = [
    Endpoint(
        BOOTH,
        meeting_request,
        method="POST",
        auth="user",
        body=MeetingRequestIn,
        response=MeetingOut,
        status=201,
        tags=TAGS,
    ),
    Endpoint(
        BOOTH, meeting_list_booth, auth="user", query=BoothMeetingsQuery, response=MeetingList, tags=TAGS
    ),
    Endpoint("/api/me/meetings", meeting_list_mine, auth="user", response=MeetingList, tags=TAGS),
    Endpoint(f"{MEETING}/accept", meeting_accept, method="POST", auth="user", response=MeetingOut, tags=TAGS),
    Endpoint(
        f"{MEETING}/decline",
        meeting_decline,
        method="POST",
        auth="user",
        body=NoteIn,
        response=MeetingOut,
        tags=TAGS,
    ),
    Endpoint(f"{MEETING}/held", meeting_held, method="POST", auth="user", response=MeetingOut, tags=TAGS),
    Endpoint(f"{MEETING}/cancel", meeting_cancel, method="POST", auth="user", response=MeetingOut, tags=TAGS),
]
