"""Meeting slots API: booth staff publish availability, visitors read the free slots and book one.

``GET|POST /api/booths/{id}/availability`` lists and publishes windows (the booth's staff and the
expo's booth managers); ``PUT|DELETE /api/availability/{id}`` changes or removes one (409
``slot.booked`` when a slot with booked meetings would go). ``GET /api/booths/{id}/slots`` lists the
free slots ahead (public, like the booth page); ``POST`` on it books one (signed in): the answer is
the accepted meeting with its guest room link, and a full slot is 409 ``slot.full``.
``GET /api/meetings/{id}/invitation.ics`` is the meeting's calendar file for either side.
Window times are wall-clock times in the expo's timezone; every other time is UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from booths import services
from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.expos.models import Expo
from expo.http.api import Endpoint, Schema, path_int
from expo.http.pages import page_locale
from expo.meetings import services as meetings
from expo.meetings import slots
from expo.meetings.api import TAGS, MeetingOut
from expo.meetings.invitation import MEDIA_TYPE
from expo.meetings.models import AvailabilityWindow
from streaming.room_services import RoomRole, room_links


class WindowIn(Schema):
    day: date = Field(description="The day, in the expo's timezone.")
    start: time = Field(description="Wall-clock start in the expo's timezone.")
    end: time = Field(description="Wall-clock end; the last slot ends by then.")
    # Wide bounds here; the service's own checks answer with the rule and the field (422).
    slot_minutes: int = Field(default=30, ge=0, le=1440, description="15, 20, 30, 45, 60, 90 or 120.")
    capacity: int = Field(default=1, ge=0, le=1000, description="Meetings at once in each slot, 1 to 20.")

    def fields(self) -> slots.WindowFields:
        return slots.WindowFields(self.day, self.start, self.end, self.slot_minutes, self.capacity)


class SlotOut(Schema):
    window_id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    free: int = Field(description="Places left.")

    @classmethod
    def of(cls, slot: slots.Slot) -> SlotOut:
        return cls(
            window_id=slot.window_id,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            capacity=slot.capacity,
            free=slot.free,
        )


class WindowOut(Schema):
    id: int
    booth_id: int
    starts_at: datetime
    ends_at: datetime
    slot_minutes: int
    capacity: int
    slots: list[SlotOut] = Field(description="Its slots ahead, with places taken.")


class WindowList(Schema):
    timezone: str
    items: list[WindowOut]


class SlotList(Schema):
    timezone: str = Field(description="The expo's timezone, in which pages show the slots.")
    items: list[SlotOut]


class BookIn(Schema):
    starts_at: datetime = Field(description="The slot's start; without a zone: the expo's wall-clock time.")
    message: str = Field(default="", max_length=meetings.MAX_MESSAGE, description="Plain text for the booth.")


async def _window_out(request: Request, window: AvailabilityWindow) -> WindowOut:
    async with platform(request).db.session() as session:
        found = await slots.slots_of(session, [window])
    assert window.id is not None
    return WindowOut(
        id=window.id,
        booth_id=window.booth_id,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        slot_minutes=window.slot_minutes,
        capacity=window.capacity,
        slots=[SlotOut.of(s) for s in found],
    )


async def availability_list(request: Request, user: User) -> WindowList:
    """The booth's windows not over yet, each with its slots and places taken (its staff)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        expo = await session.get(Expo, booth.expo_id)
        assert expo is not None
        await meetings.require_staff(session, booth, expo, user)
        windows = await slots.windows_of(session, booth)
    return WindowList(timezone=expo.timezone, items=[await _window_out(request, w) for w in windows])


async def availability_publish(request: Request, body: WindowIn, user: User) -> WindowOut:
    """Publish a window of slots (the booth's staff, the expo's booth managers)."""
    p = platform(request)
    async with p.db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        window = await slots.publish(session, booth, user, body.fields(), p.bus)
    return await _window_out(request, window)


async def availability_change(request: Request, body: WindowIn, user: User) -> WindowOut:
    """Change a window (409 ``slot.booked`` if a slot with booked meetings would go or shrink)."""
    async with platform(request).db.session() as session:
        window = await slots.edit_window(session, path_int(request, "window_id"), user, body.fields())
    return await _window_out(request, window)


async def availability_remove(request: Request, user: User) -> None:
    """Remove a window (409 ``slot.booked`` while a slot ahead has a booked meeting)."""
    async with platform(request).db.session() as session:
        await slots.remove_window(session, path_int(request, "window_id"), user)


async def slot_list(request: Request) -> SlotList:
    """The booth's free slots ahead, soonest first (public, as the booth page is)."""
    async with platform(request).db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), await current_user(request))
        expo = await session.get(Expo, booth.expo_id)
        assert expo is not None
        found = await slots.free_slots(session, booth)
    return SlotList(timezone=expo.timezone, items=[SlotOut.of(s) for s in found])


async def slot_book(request: Request, body: BookIn, user: User) -> MeetingOut:
    """Book a place in a free slot: the meeting is accepted at once (409 ``slot.full``)."""
    p = platform(request)
    async with p.db.session() as session:
        booth = await services.get_booth(session, path_int(request, "booth_id"), user)
        meeting = await slots.book(session, booth, user, body.starts_at, body.message, p.settings, p.bus)
        rooms = await room_links(session, [meeting.room_id], RoomRole.GUEST)
    return MeetingOut.of(meeting, booth, room_url=rooms.get(meeting.room_id or 0))


async def meeting_invitation(request: Request, user: User) -> Response:
    """The meeting's ``.ics`` for the requester (guest link) or the booth's staff (host link)."""
    p = platform(request)
    locale = await page_locale(request)
    async with p.db.session() as session:
        ics = await slots.invitation_for(session, path_int(request, "meeting_id"), user, p.settings, locale)
    return Response(
        ics.render(),
        media_type=f"{MEDIA_TYPE}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{ics.filename}"',
            "Cache-Control": "no-store",
        },
    )


BOOTH = "/api/booths/{booth_id:int}"
WINDOW = "/api/availability/{window_id:int}"

ROUTES = [
    Endpoint(f"{BOOTH}/availability", availability_list, auth="user", response=WindowList, tags=TAGS),
    Endpoint(
        f"{BOOTH}/availability",
        availability_publish,
        method="POST",
        auth="user",
        body=WindowIn,
        response=WindowOut,
        status=201,
        tags=TAGS,
    ),
    Endpoint(
        WINDOW, availability_change, method="PUT", auth="user", body=WindowIn, response=WindowOut, tags=TAGS
    ),
    Endpoint(WINDOW, availability_remove, method="DELETE", auth="user", status=204, tags=TAGS),
    Endpoint(f"{BOOTH}/slots", slot_list, response=SlotList, tags=TAGS),
    Endpoint(
        f"{BOOTH}/slots",
        slot_book,
        method="POST",
        auth="user",
        body=BookIn,
        response=MeetingOut,
        status=201,
        tags=TAGS,
    ),
    Endpoint(
        "/api/meetings/{meeting_id:int}/invitation.ics",
        meeting_invitation,
        auth="user",
        response_media=MEDIA_TYPE,
        tags=TAGS,
    ),
]
