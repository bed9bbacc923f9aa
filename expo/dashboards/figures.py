"""The dashboards' figures: what the queries compute, the pages draw, the CSV exports list and the
API returns, one type each (the API's response models are these types)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from expo.http.api import Schema
from streaming.audience import MinutePoint


class DayCount(Schema):
    day: date
    count: int


class BroadcastFigures(Schema):
    """One broadcast's audience: the contract's stats plus watch time and the per-minute curve."""

    id: int
    title: str
    status: str
    booth_id: int | None
    scheduled_start: datetime | None
    live_viewers: int
    peak_viewers: int
    total_views: int
    unique_viewers: int
    average_watch_seconds: float
    series: list[MinutePoint] = Field(
        default_factory=list, description="Highest concurrency per minute, oldest first."
    )


class BoothFigures(Schema):
    """One booth's totals over the whole expo."""

    id: int
    name: str
    visits: int = Field(description="Booth page views by visitors (not by the booth's staff).")
    unique_visitors: int
    leads: int
    meetings_requested: int = Field(description="Meeting requests received, whatever their outcome.")
    meetings_held: int = Field(description="Meetings the booth's staff marked as held.")
    daily_visits: list[int] = Field(
        default_factory=list, description="Visits on each of the last 14 UTC days, today last."
    )


class MeetingTotals(Schema):
    requested: int = Field(description="Meeting requests received by the booths listed.")
    held: int = Field(description="Meetings held at the booths listed.")

    @classmethod
    def of(cls, booths: list[BoothFigures]) -> MeetingTotals:
        return cls(
            requested=sum(b.meetings_requested for b in booths), held=sum(b.meetings_held for b in booths)
        )


class SessionFigures(Schema):
    """One agenda program's seats and attendance."""

    id: int
    title: str
    starts_at: datetime
    capacity: int | None
    confirmed: int = Field(description="Confirmed seats now.")
    waitlisted: int
    attended: int = Field(description="People whose attendance was recorded.")


class RoomFigures(Schema):
    """Who came to one telepresence room (its stays, from :mod:`streaming.room_attendance`)."""

    id: int
    title: str
    kind: str = Field(description="booth_meeting, negotiation or signing_ceremony.")
    booth_id: int | None
    stays: int = Field(description="Entries into the room (a reconnection within its grace is not one).")
    people: int = Field(description="Accounts counted once each; a guest without an account once per stay.")
    minutes: float = Field(description="Time spent in the room by everyone, over the stays that ended.")
    in_room: int = Field(description="Stays not ended: in the room now (or cut off by a server stop).")
    first_entry: datetime
    last_exit: datetime | None


class LiveBroadcast(Schema):
    id: int
    title: str
    live_viewers: int


class LiveFigures(Schema):
    """What the live dashboard shows: its ``dashboard:{expo_id}`` events and the live API body."""

    online: int = Field(description="People with the site open now, each signed-in user once.")
    live_viewers: int = Field(description="People watching the expo's live broadcasts now, summed.")
    rooms_in_session: int
    check_ins_today: int = Field(description="Check-ins since midnight in the expo's time zone.")
    check_ins_total: int
    registrations: int = Field(description="Pending and approved registrations.")
    broadcasts: list[LiveBroadcast] = Field(default_factory=list)
