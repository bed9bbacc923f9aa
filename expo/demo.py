"""The demo expo that ``expo demo`` creates: fixed logins and an expo with slug ``demo``, its floor
(halls, categories, booths and products, :mod:`booths.demo`), a schedule of broadcasts (the live
"Opening ceremony" and two scheduled for the expo's second day), a video room to walk into (the live
broadcast, the room and one of the scheduled broadcasts are presented by the exhibitor's booth),
a registration form (:mod:`expo.registration.demo`), an agenda (:mod:`expo.agenda.demo`), meeting
slots at the exhibitor's booth (:mod:`expo.meetings.demo`) and an investment promotion site with a
filed project and an answered question (:mod:`expo.promotion.demo`).
Given the settings (``expo demo`` gives them), the booths also get drawn logos, banners and
product pictures (:mod:`booths.demo_pictures`), stored under the data directory.

Seeding is idempotent: every step finds what an earlier run created and only adds what is missing,
so running the demo again creates nothing new and prints the same logins. Each kind of content is
one small step, so the demo grows by adding steps to :func:`seed_demo`.
"""

# ruff: noqa: RUF001  (the Chinese texts use Chinese punctuation)
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.demo import DemoFloor, draw_pictures, seed_floor
from booths.models import Booth
from expo.accounts.models import Role, User
from expo.accounts.services import create_user
from expo.agenda.demo import seed_programs
from expo.config import Settings
from expo.db import Database
from expo.errors import Conflict
from expo.expos.models import Expo
from expo.expos.services import ExpoText, ensure_expo
from expo.meetings.demo import seed_availability
from expo.promotion.demo import seed_promotion
from expo.registration.demo import seed_registrations
from streaming import room_services
from streaming import services as streams
from streaming.models import Room, Stream, StreamStatus

DEMO_SLUG = "demo"
DEMO_TITLE = "Demo Expo"
DEMO_DESCRIPTION = (
    "A small trade fair to try the platform: walk the halls, visit booths, watch the live "
    "broadcast and join a booth's video room."
)
DEMO_DAYS = 3
DEMO_BROADCAST = "Opening ceremony"
DEMO_BROADCAST_DESCRIPTION = (
    "The demo's live broadcast: a test pattern with a clock and a tone, published over WHIP by the "
    "built-in synthetic broadcaster while `expo demo` runs."
)
DEMO_ROOM = "Meet the exhibitors"
ZH = "zh_Hans"
# What a Chinese reader of the demo sees instead of the English texts above.
DEMO_ZH = {
    DEMO_TITLE: {"title": "演示展会"},
    DEMO_DESCRIPTION: {
        "description": "一个用来体验本平台的小型贸易展：逛展馆、参观展位、观看直播，并进入展位的视频洽谈室。"
    },
    DEMO_BROADCAST: {
        "title": "开幕式",
        "description": (
            "演示展会的直播：带时钟和提示音的测试画面，在 expo demo 运行时由内置的合成推流器通过 WHIP 发布。"
        ),
    },
    DEMO_ROOM: {"title": "与参展商见面"},
}


@dataclass(frozen=True)
class DemoBroadcast:
    """A scheduled broadcast: ``day`` counts from the expo's first day (0), times are UTC (the demo
    expo's timezone); ``by_exhibitor`` ones belong to the exhibitor and present their booth."""

    title: str
    description: str
    day: int
    start: time
    minutes: int
    by_exhibitor: bool
    zh_title: str = ""
    zh_description: str = ""


# Fixed days and times of the expo, not of the moment of seeding, so a second run finds them as they were.
DEMO_SCHEDULE = (
    DemoBroadcast(
        "Brightwave product launch: new wireless earbuds",
        "Shenzhen Brightwave Electronics presents its new noise-cancelling earbuds and GaN chargers, "
        "with prices for distributors and a live Q&A.",
        day=1,
        start=time(9, 0),
        minutes=45,
        by_exhibitor=True,
        zh_title="明波新品发布：新款无线耳机",
        zh_description="深圳明波电子发布新款降噪耳机和氮化镓充电器，公布经销商价格并现场答疑。",
    ),
    DemoBroadcast(
        "Buyers' forum: sourcing sustainable home textiles",
        "Importers and mills from Turkey and China on certified cotton, silk and linen supply chains.",
        day=1,
        start=time(14, 0),
        minutes=60,
        by_exhibitor=False,
        zh_title="买家论坛：采购可持续家纺",
        zh_description="来自土耳其和中国的进口商与工厂，谈认证棉、丝和亚麻的供应链。",
    ),
)


@dataclass(frozen=True)
class DemoLogin:
    """An account the demo creates. The passwords are public: a demo is not for real data."""

    role: Role
    email: str
    password: str
    name: str


DEMO_LOGINS = (
    DemoLogin(Role.ORGANIZER, "organizer@demo.expo", "demo-organizer", "Demo Organizer"),
    DemoLogin(Role.EXHIBITOR, "exhibitor@demo.expo", "demo-exhibitor", "Demo Exhibitor"),
    DemoLogin(Role.VISITOR, "visitor@demo.expo", "demo-visitor", "Demo Visitor"),
)


@dataclass(frozen=True)
class DemoInfo:
    """What the demo consists of, for ``expo demo`` to print."""

    expo: Expo
    users: dict[Role, User]
    broadcast: Stream
    room: Room
    floor: DemoFloor
    schedule: tuple[Stream, ...]
    logins: tuple[DemoLogin, ...] = DEMO_LOGINS


async def seed_demo(db: Database, settings: Settings | None = None) -> DemoInfo:
    """Create whatever part of the demo is missing on ``db`` (at head) and describe the result;
    with ``settings``, draw the pictures the demo booths and products lack into its uploads."""
    async with db.session() as session:
        users = {login.role: await _user(session, login) for login in DEMO_LOGINS}
        expo = await _expo(session, organizer=users[Role.ORGANIZER])
        floor = await seed_floor(
            session, expo, organizer=users[Role.ORGANIZER], exhibitor=users[Role.EXHIBITOR]
        )
        # The live broadcast and the room present a booth, so that its page shows them.
        booth = floor.exhibitor_booth
        broadcast = await _broadcast(session, expo, organizer=users[Role.ORGANIZER], booth=booth)
        room = await _room(session, expo, organizer=users[Role.ORGANIZER], booth=booth)
        schedule = tuple(
            [
                await _scheduled(session, expo, spec, users=users, booth=floor.exhibitor_booth)
                for spec in DEMO_SCHEDULE
            ]
        )
        await seed_registrations(session, expo, users[Role.ORGANIZER], users[Role.VISITOR])
        await seed_programs(session, expo, users[Role.ORGANIZER], floor.halls)
        await seed_availability(session, expo, floor.exhibitor_booth, users[Role.EXHIBITOR])
        await seed_promotion(session, expo, users[Role.ORGANIZER], users[Role.VISITOR], settings)
        if settings is not None:
            await draw_pictures(session, settings, floor, users[Role.ORGANIZER])
    return DemoInfo(expo=expo, users=users, broadcast=broadcast, room=room, floor=floor, schedule=schedule)


async def _find_user(session: AsyncSession, email: str) -> User | None:
    return (await session.exec(select(User).where(User.email == email))).first()


async def _user(session: AsyncSession, login: DemoLogin) -> User:
    existing = await _find_user(session, login.email)
    if existing is not None:
        # Left as it is, even if someone changed its password: seeding never overwrites.
        return existing
    try:
        return await create_user(
            session, email=login.email, password=login.password, role=login.role, name=login.name
        )
    except Conflict:
        # Another `expo demo` created it a moment ago.
        winner = await _find_user(session, login.email)
        assert winner is not None
        return winner


async def _expo(session: AsyncSession, organizer: User) -> Expo:
    today = date.today()
    expo = await ensure_expo(
        session,
        DEMO_SLUG,
        DEMO_TITLE,
        description=DEMO_DESCRIPTION,
        languages="en,zh_Hans",
        translations={ZH: ExpoText(**DEMO_ZH[DEMO_TITLE], **DEMO_ZH[DEMO_DESCRIPTION])},
        starts_on=today,
        ends_on=today + timedelta(days=DEMO_DAYS - 1),
        created_by=organizer.id,
    )
    if not expo.translations:  # seeded before the demo spoke Chinese
        expo.translations = {ZH: {**DEMO_ZH[DEMO_TITLE], **DEMO_ZH[DEMO_DESCRIPTION]}}
        session.add(expo)
        await session.commit()
    return expo


async def _translate(session: AsyncSession, item: Stream | Room, text: dict[str, str]) -> None:
    """Give a demo broadcast or room its Chinese texts unless it has translations already."""
    if not item.translations:
        item.translations = {ZH: text}
        session.add(item)
        await session.commit()


async def _broadcast(session: AsyncSession, expo: Expo, organizer: User, booth: Booth) -> Stream:
    """The demo's broadcast, owned by the organizer and presenting ``booth``; reopened if someone
    ended it, so that the synthetic broadcaster can take it live again."""
    found = (
        await session.exec(select(Stream).where(Stream.expo_id == expo.id, Stream.title == DEMO_BROADCAST))
    ).first()
    if found is None:
        return await streams.create_stream(
            session,
            expo=expo,
            title=DEMO_BROADCAST,
            owner=organizer,
            description=DEMO_BROADCAST_DESCRIPTION,
            booth_id=booth.id,
            translations={ZH: DEMO_ZH[DEMO_BROADCAST]},
        )
    await _translate(session, found, DEMO_ZH[DEMO_BROADCAST])
    if found.booth_id is None:  # seeded before broadcasts presented a booth
        found.booth_id = booth.id
        await session.commit()
    if found.status == StreamStatus.ENDED:
        return await streams.reopen(session, found, actor=organizer)
    return found


async def _room(session: AsyncSession, expo: Expo, organizer: User, booth: Booth) -> Room:
    """The demo's telepresence room, owned by the organizer, open to walk into from ``booth``'s
    page; opened again if someone ended it."""
    found = (await session.exec(select(Room).where(Room.expo_id == expo.id, Room.title == DEMO_ROOM))).first()
    if found is None or found.ended_at is not None:
        found = await room_services.create_room(
            session,
            expo=expo,
            title=DEMO_ROOM,
            owner=organizer,
            booth_id=booth.id,
            title_zh=DEMO_ZH[DEMO_ROOM]["title"],
            walk_in=True,
        )
    await _translate(session, found, DEMO_ZH[DEMO_ROOM])
    if found.booth_id is None or not found.walk_in:  # seeded before the room opened at a booth
        found.booth_id, found.walk_in = booth.id, True
        session.add(found)
        await session.commit()
    return found


async def _scheduled(
    session: AsyncSession, expo: Expo, spec: DemoBroadcast, users: dict[Role, User], booth: Booth
) -> Stream:
    """One broadcast of :data:`DEMO_SCHEDULE`, found by title, else created as scheduled."""
    found = (
        await session.exec(select(Stream).where(Stream.expo_id == expo.id, Stream.title == spec.title))
    ).first()
    zh = {"title": spec.zh_title, "description": spec.zh_description}
    if found is not None:
        await _translate(session, found, zh)
        return found
    first_day = expo.starts_on or date.today()
    start = datetime.combine(first_day + timedelta(days=spec.day), spec.start, tzinfo=UTC)
    owner = users[Role.EXHIBITOR] if spec.by_exhibitor else users[Role.ORGANIZER]
    return await streams.create_stream(
        session,
        expo=expo,
        title=spec.title,
        owner=owner,
        description=spec.description,
        booth_id=booth.id if spec.by_exhibitor else None,
        scheduled_start=start,
        planned_end=start + timedelta(minutes=spec.minutes),
        translations={ZH: zh},
    )
