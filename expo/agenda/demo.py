"""The demo's agenda: the broadcasts on the timetable, a workshop with 30 seats and a matchmaking
session with two, so that a third visitor lands on its waiting list.

Idempotent like the rest of ``expo demo``: a program is found by its title, and one that exists is
left as it is (an organizer may have edited it).
"""

# ruff: noqa: RUF001  (the Chinese texts use Chinese punctuation)
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Hall
from expo.accounts.models import User
from expo.agenda.models import Program
from expo.agenda.services import ProgramFields, ProgramText, Speaker, create_program
from expo.expos.models import Expo
from streaming.models import Stream

ZH = "zh_Hans"


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
    zh: tuple[str, str, str] = ("", "", "")  # title, track, description for Chinese readers


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
        zh=("开幕式", "主舞台", "主办方宣布展会开幕：有哪些参展商、今年有什么新品、如何与供应商见面。"),
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
        zh=(
            "工作坊：LED 照明进口欧盟",
            "工作坊",
            "CE 标志、ErP 法规以及海关的要求，并留出提问时间。名额有限。",
        ),
    ),
    DemoProgram(
        "Brightwave product launch: new wireless earbuds",
        "Live from the Brightwave booth, with distributor prices and a Q&A.",
        day=1,
        start=time(9, 0),
        minutes=45,
        track="Main stage",
        stream_title="Brightwave product launch: new wireless earbuds",
        zh=("明波新品发布：新款无线耳机", "主舞台", "来自明波展位的直播，公布经销商价格并现场答疑。"),
    ),
    DemoProgram(
        "Buyers' forum: sourcing sustainable home textiles",
        "Importers and mills on certified cotton, silk and linen supply chains.",
        day=1,
        start=time(14, 0),
        minutes=60,
        track="Main stage",
        stream_title="Buyers' forum: sourcing sustainable home textiles",
        zh=("买家论坛：采购可持续家纺", "主舞台", "进口商与工厂谈认证棉、丝和亚麻的供应链。"),
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
        zh=(
            "买家配对：太阳能与储能",
            "商务配对",
            "买家与太阳能参展商之间预先安排的二十分钟会谈。桌位很少：满员时请加入候补名单，一有空位即可递补。",
        ),
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
        zh = dict(zip(("title", "track", "description"), spec.zh, strict=True))
        if found is not None:
            if not found.translations and any(spec.zh):  # seeded before the demo spoke Chinese
                found.translations = {ZH: zh}
                session.add(found)
                await session.commit()
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
            translations={ZH: ProgramText(**zh)} if any(spec.zh) else None,
        )
        programs.append(await create_program(session, expo, fields, organizer))
    return programs
