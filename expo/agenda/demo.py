"""The demo's agenda: the broadcasts on the timetable, a workshop with 30 seats and a matchmaking
session with two, so that a third visitor lands on its waiting list.

Idempotent like the rest of ``expo demo``: a program is found by its title, and one that exists is
left as it is (an organizer may have edited it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Hall
from expo.accounts.models import User
from expo.agenda.models import Program
from expo.agenda.services import ProgramFields, Speaker, create_program
from expo.expos.models import Expo
from streaming.models import Stream


@dataclass(frozen=True)
class DemoProgram:
    """``day`` counts from the expo's first day (0); times are in the expo's timezone."""

    title: str
    description: str
    day: int
    start: time
    minutes: int
    track: str
    speakers: tuple[Speaker, ...] = ()
    stream_title: str | None = None  # the broadcast of that title is linked
    hall: int | None = None  # index into the demo's halls
    capacity: int | None = None


DEMO_PROGRAMS = (
    DemoProgram(
        "Opening ceremony",
        "The organizers open the fair: who exhibits, what is new this year, how to meet suppliers.",
        day=0,
        start=time(9, 0),
        minutes=60,
        track="Main stage",
        speakers=(Speaker(name="Demo Organizer", title="Director", company="Demo Expo"),),
        stream_title="Opening ceremony",
    ),
    DemoProgram(
        "Workshop: importing LED lighting into the EU",
        "CE marking, ErP rules and what customs asks for, with time for your questions. Seats are limited.",
        day=0,
        start=time(14, 0),
        minutes=90,
        track="Workshops",
        speakers=(Speaker(name="Marta Kowalska", title="Compliance consultant", company="Lumen Advisory"),),
        hall=0,
        capacity=30,
    ),
    DemoProgram(
        "Brightwave product launch: new wireless earbuds",
        "Live from the Brightwave booth, with distributor prices and a Q&A.",
        day=1,
        start=time(9, 0),
        minutes=45,
        track="Main stage",
        stream_title="Brightwave product launch: new wireless earbuds",
    ),
    DemoProgram(
        "Buyers' forum: sourcing sustainable home textiles",
        "Importers and mills on certified cotton, silk and linen supply chains.",
        day=1,
        start=time(14, 0),
        minutes=60,
        track="Main stage",
        stream_title="Buyers' forum: sourcing sustainable home textiles",
    ),
    DemoProgram(
        "Buyer matchmaking: solar and storage",
        "Twenty-minute meetings between buyers and solar exhibitors, arranged in advance. Small "
        "tables: when it is full, join the waiting list and you move up as soon as a seat frees.",
        day=2,
        start=time(10, 0),
        minutes=120,
        track="Business matchmaking",
        hall=1,
        capacity=2,
    ),
)


async def seed_programs(
    session: AsyncSession, expo: Expo, organizer: User, halls: tuple[Hall, ...]
) -> list[Program]:
    """Every program of :data:`DEMO_PROGRAMS`, found by title or created."""
    programs = []
    first_day = expo.starts_on or date.today()
    for spec in DEMO_PROGRAMS:
        found = (
            await session.exec(select(Program).where(Program.expo_id == expo.id, Program.title == spec.title))
        ).first()
        if found is not None:
            programs.append(found)
            continue
        stream_id = None
        if spec.stream_title is not None:
            stream = (
                await session.exec(
                    select(Stream).where(Stream.expo_id == expo.id, Stream.title == spec.stream_title)
                )
            ).first()
            stream_id = stream.id if stream is not None else None
        starts = datetime.combine(first_day + timedelta(days=spec.day), spec.start)
        fields = ProgramFields(
            title=spec.title,
            description=spec.description,
            speakers=list(spec.speakers),
            track=spec.track,
            hall_id=halls[spec.hall].id if spec.hall is not None and spec.hall < len(halls) else None,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=spec.minutes),
            stream_id=stream_id,
            capacity=spec.capacity,
        )
        programs.append(await create_program(session, expo, fields, organizer))
    return programs
