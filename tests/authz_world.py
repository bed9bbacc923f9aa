"""The world of the authorization matrix (tests/test_authorization.py): two expos on one app, each
run by its own team, with one of every kind of resource, and the people who act on them.

Tenant A (``aexpo``) is owned by ``orga``; tenant B (``bexpo``) by ``orgb``. Each has a hall, a
category, an approved booth (owned by an exhibitor) with a product, a pending application, a
broadcast and a room presented for the booth by its exhibitor, a registration form with a
registered guest (badge, program seat, meeting request, lead, chat message and question).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time, timedelta

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from booths import leads
from booths import services as floor
from booths.models import Booth, BoothStaff
from booths.services import BoothFields, CategoryFields, HallFields, Placement, ProductFields
from expo.accounts import services as accounts
from expo.accounts.models import TokenKind, User
from expo.agenda import services as agenda
from expo.agenda.services import ProgramFields
from expo.db import Database, utcnow
from expo.expos import services as expos
from expo.expos import team
from expo.expos.models import Expo
from expo.mail.models import OutboxMessage
from expo.meetings import slots
from expo.permissions import BoothRole, TeamRole
from expo.promotion import departments
from expo.registration import badges
from expo.registration.models import Registration
from expo.security import sign
from streaming import room_services
from streaming import services as streams

PASSWORD = "correct horse battery"
CSRF_NONCE = "authz-matrix-nonce"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FEED_PURPOSE = "agenda-feed"  # expo.agenda.pages signs calendar-feed links with this purpose

# Account role of each actor; "anon" has no account.
ACCOUNT_ROLES: dict[str, str] = {
    "visitor": "visitor",
    "exh_a": "exhibitor",  # staffs a booth in A only
    "staff_b": "exhibitor",  # owns B's booth, its broadcast and its room
    "orga": "organizer",  # owner of A, nothing in B
    "orgb": "organizer",  # owner of B
    "org_b": "organizer",  # B team: organizer
    "checkin_b": "visitor",  # B team: check-in desk
    "mod_b": "visitor",  # B team: chat moderator
    "dept_b": "visitor",  # works in B's department "Land planning", not on B's team
    "admin": "admin",  # platform administrator
}
ACTORS: tuple[str, ...] = ("anon", *ACCOUNT_ROLES)
DEPARTMENTS_B = ("Land planning", "Tax bureau")  # B's bureau's departments; dept_b works in the first
TEAM_B: dict[str, TeamRole] = {
    "orgb": TeamRole.OWNER,
    "org_b": TeamRole.ORGANIZER,
    "checkin_b": TeamRole.CHECKIN,
    "mod_b": TeamRole.MODERATOR,
}


def email_of(name: str) -> str:
    return f"{name.replace('_', '-')}@authz.example"


@dataclass
class Credentials:
    """How one actor authenticates: a bearer token for /api, a session cookie for pages."""

    user: User | None
    token: str | None = None
    session: str | None = None

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def page_headers(self, session: str | None = None) -> dict[str, str]:
        cookies = [f"expo_csrf={CSRF_NONCE}"]
        if session or self.session:
            cookies.append(f"expo_session={session or self.session}")
        return {"Cookie": "; ".join(cookies)}


@dataclass
class Tenant:
    """One expo and one of each of its resources."""

    slug: str
    expo: Expo
    owner: User
    exhibitor: User
    guest: User
    hall_id: int
    category_id: int
    booth_id: int
    product_id: int
    pending_id: int
    stream_id: int
    stream_key: str
    room_id: int
    host_key: str
    guest_key: str
    program_id: int
    registration_id: int
    badge_code: str
    badge: str
    feed_token: str
    meeting_id: int
    window_id: int  # the booth's published availability (meeting slots)
    slot_start: str  # the first slot of that window, UTC
    lead_id: int
    message_id: int
    question_id: int
    outbox_id: int


@dataclass
class World:
    app: Starlette
    client: httpx.AsyncClient
    actors: dict[str, Credentials]
    a: Tenant
    b: Tenant
    helper: User  # an exhibitor outside every team and booth: the one added to and removed from staff
    probe: User  # an account anyone may sign in as (the login routes' body)
    csrf: str = ""
    spare: User | None = None  # made on demand: the team member whose role is changed and removed
    counter: int = field(default=0)

    @property
    def db(self) -> Database:
        return self.app.state.platform.db  # type: ignore[no-any-return]

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # Fresh resources for destructive cells ---------------------------------------------------------------

    async def fresh_hall(self) -> int:
        async with self.db.session() as s:
            hall = await floor.save_hall(
                s, self.b.expo, HallFields(name=self.unique("Spare hall ")), self.b.owner
            )
        assert hall.id is not None
        return hall.id

    async def fresh_category(self) -> int:
        async with self.db.session() as s:
            fields = CategoryFields(name=self.unique("Spare category "))
            category = await floor.save_category(s, self.b.expo, fields, self.b.owner)
        assert category.id is not None
        return category.id

    async def fresh_booth(self, *, pending: bool = False) -> int:
        """A booth of B that ``staff_b`` owns (approved, or a pending application)."""
        async with self.db.session() as s:
            booth = await floor.create_booth(
                s, self.b.expo, BoothFields(name=self.unique("Spare booth ")), self.b.owner
            )
            assert booth.id is not None and self.b.exhibitor.id is not None
            s.add(BoothStaff(booth_id=booth.id, user_id=self.b.exhibitor.id, role=BoothRole.OWNER.value))
            if pending:
                booth.status = "pending"
                s.add(booth)
            await s.commit()
            return booth.id

    async def fresh_product(self) -> int:
        async with self.db.session() as s:
            booth = await s.get(Booth, self.b.booth_id)
            assert booth is not None
            product = await floor.create_product(
                s, booth, ProductFields(name=self.unique("Spare product ")), self.b.owner
            )
        assert product.id is not None
        return product.id

    async def fresh_staff(self) -> int:
        """Put ``helper`` on B's booth staff; its user id."""
        async with self.db.session() as s:
            assert self.helper.id is not None
            row = await s.get(BoothStaff, (self.b.booth_id, self.helper.id))
            if row is None:
                s.add(
                    BoothStaff(booth_id=self.b.booth_id, user_id=self.helper.id, role=BoothRole.STAFF.value)
                )
                await s.commit()
        return self.helper.id

    async def fresh_stream(self, *, ended: bool = False) -> int:
        async with self.db.session() as s:
            stream = await streams.create_stream(
                s,
                expo=self.b.expo,
                title=self.unique("Spare broadcast "),
                owner=self.b.exhibitor,
                booth_id=self.b.booth_id,
            )
            if ended:
                stream = await streams.end(s, stream)
        assert stream.id is not None
        return stream.id

    async def fresh_room(self) -> int:
        async with self.db.session() as s:
            room = await room_services.create_room(
                s,
                expo=self.b.expo,
                title=self.unique("Spare room "),
                owner=self.b.exhibitor,
                booth_id=self.b.booth_id,
            )
        assert room.id is not None
        return room.id

    async def fresh_program(self) -> int:
        async with self.db.session() as s:
            program = await agenda.create_program(
                s, self.b.expo, program_fields(self.unique("Spare talk ")), self.b.owner
            )
        assert program.id is not None
        return program.id

    async def fresh_token(self, name: str, kind: TokenKind = TokenKind.API) -> tuple[str, int]:
        """A new token of actor ``name``: (raw, id)."""
        user = self.actors[name].user
        assert user is not None
        async with self.db.session() as s:
            raw, row = await accounts.issue_token(s, user, kind, name="matrix")
        assert row.id is not None
        return raw, row.id


def program_fields(title: str) -> ProgramFields:
    start = (utcnow() + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0, tzinfo=None)
    return ProgramFields(title=title, starts_at=start, ends_at=start + timedelta(hours=1), capacity=50)


def meeting_times() -> dict[str, str]:
    start = (utcnow() + timedelta(days=3)).replace(hour=11, minute=0, second=0, microsecond=0, tzinfo=None)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=30)).isoformat()}


def window_fields(days: int) -> slots.WindowFields:
    """Availability ``days`` from now, 09:00 to 12:00 in 30-minute slots of two places."""
    day = (utcnow() + timedelta(days=days)).date()
    return slots.WindowFields(day=day, start=time(9), end=time(12), slot_minutes=30, capacity=2)


async def make_user(db: Database, name: str, role: str) -> User:
    async with db.session() as s:
        return await accounts.create_user(s, email=email_of(name), password=PASSWORD, role=role)


async def login(client: httpx.AsyncClient, name: str) -> str:
    response = await client.post("/api/auth/login", json={"email": email_of(name), "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def _ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    return response


async def build_tenant(
    app: Starlette, client: httpx.AsyncClient, slug: str, owner: User, exhibitor: User, prefix: str
) -> Tenant:
    db: Database = app.state.platform.db
    secret: str = app.state.platform.secret
    applicant = await make_user(db, f"applicant_{prefix}", "exhibitor")
    guest = await make_user(db, f"guest_{prefix}", "visitor")
    async with db.session() as s:
        expo = await expos.ensure_expo(s, slug, f"Expo {prefix.upper()}", created_by=owner.id)
        hall = await floor.save_hall(s, expo, HallFields(name=f"Hall {prefix}"), owner)
        category = await floor.save_category(s, expo, CategoryFields(name=f"Category {prefix}"), owner)
        booth = await floor.create_booth(
            s, expo, BoothFields(name=f"Booth {prefix}"), owner, Placement(hall_id=hall.id)
        )
        assert booth.id is not None and exhibitor.id is not None
        s.add(BoothStaff(booth_id=booth.id, user_id=exhibitor.id, role=BoothRole.OWNER.value))
        await s.commit()
        product = await floor.create_product(
            s, booth, ProductFields(name=f"Product {prefix}", category_id=category.id), owner
        )
        pending = await floor.create_booth(s, expo, BoothFields(name=f"Application {prefix}"), applicant)
        stream = await streams.create_stream(
            s, expo=expo, title=f"Broadcast {prefix}", owner=exhibitor, booth_id=booth.id
        )
        room = await room_services.create_room(
            s, expo=expo, title=f"Room {prefix}", owner=exhibitor, booth_id=booth.id
        )
        program = await agenda.create_program(s, expo, program_fields(f"Talk {prefix}"), owner)
        lead = await leads.send_inquiry(s, booth, guest, "Do you ship to Lisbon?")
        window = await slots.publish(s, booth, exhibitor, window_fields(4))
    guest_api = {"Authorization": f"Bearer {await login(client, f'guest_{prefix}')}"}
    await _ok(await client.post(f"/api/expos/{slug}/registration", json={"consent": True}, headers=guest_api))
    await _ok(await client.post(f"/api/programs/{program.id}/registration", headers=guest_api))
    meeting = await _ok(
        await client.post(f"/api/booths/{booth.id}/meetings", json=meeting_times(), headers=guest_api)
    )
    message = await _ok(
        await client.post(f"/api/streams/{stream.id}/chat", json={"body": "hello"}, headers=guest_api)
    )
    question = await _ok(
        await client.post(f"/api/streams/{stream.id}/questions", json={"body": "price?"}, headers=guest_api)
    )
    feed = await client.get("/api/me/agenda/feed", headers=guest_api)
    if feed.status_code == 200:  # the link's key is kept in the store
        feed_token = feed.json()["url"].rsplit("/", 1)[-1].removesuffix(".ics")
    else:  # the link's key is the signed user id
        feed_token = sign(secret, FEED_PURPOSE, guest.id)
    async with db.session() as s:
        registration = (
            await s.exec(
                select(Registration).where(Registration.expo_id == expo.id, Registration.user_id == guest.id)
            )
        ).one()
        outbox = (
            await s.exec(
                select(OutboxMessage).where(OutboxMessage.expo_id == expo.id).order_by(col(OutboxMessage.id))
            )
        ).first()
    assert outbox is not None and outbox.id is not None, "registering queued no letter"
    ids = [hall.id, category.id, booth.id, product.id, pending.id, stream.id, room.id, program.id]
    assert all(i is not None for i in ids) and registration.id is not None and lead.id is not None
    return Tenant(
        slug=slug,
        expo=expo,
        owner=owner,
        exhibitor=exhibitor,
        guest=guest,
        hall_id=hall.id or 0,
        category_id=category.id or 0,
        booth_id=booth.id,
        product_id=product.id or 0,
        pending_id=pending.id or 0,
        stream_id=stream.id or 0,
        stream_key=stream.key,
        room_id=room.id or 0,
        host_key=room.host_key,
        guest_key=room.guest_key,
        program_id=program.id or 0,
        registration_id=registration.id,
        badge_code=registration.badge_code,
        badge=badges.badge_payload(secret, registration),
        feed_token=feed_token,
        meeting_id=int(meeting.json()["id"]),
        window_id=window.id or 0,
        slot_start=window.starts_at.isoformat(),
        lead_id=lead.id,
        message_id=int(message.json()["id"]),
        question_id=int(question.json()["id"]),
        outbox_id=outbox.id,
    )


async def build_world(app: Starlette, client: httpx.AsyncClient) -> World:
    db: Database = app.state.platform.db
    users = {name: await make_user(db, name, role) for name, role in ACCOUNT_ROLES.items()}
    helper = await make_user(db, "helper", "exhibitor")
    probe = await make_user(db, "probe", "visitor")
    a = await build_tenant(app, client, "aexpo", users["orga"], users["exh_a"], "a")
    b = await build_tenant(app, client, "bexpo", users["orgb"], users["staff_b"], "b")
    async with db.session() as s:
        for name, role in TEAM_B.items():
            if role is not TeamRole.OWNER:
                await team.add_member(s, b.expo, users[name], role, actor=None)
    async with db.session() as s:
        # B's bureau has two departments; dept_b works in the first (see expo.promotion.departments).
        land = await departments.create(s, b.expo, {"name": DEPARTMENTS_B[0]}, users["orgb"])
        await departments.create(s, b.expo, {"name": DEPARTMENTS_B[1]}, users["orgb"])
        await departments.add_member(s, b.expo, land, email_of("dept_b"), users["orgb"])
    actors = {"anon": Credentials(None)}
    for name, user in users.items():
        async with db.session() as s:
            session_raw, _ = await accounts.issue_token(s, user, TokenKind.SESSION, name="matrix")
        actors[name] = Credentials(user, token=await login(client, name), session=session_raw)
    world = World(app, client, actors, a, b, helper, probe)
    page = await client.get("/login", headers={"Cookie": f"expo_csrf={CSRF_NONCE}"})
    match = _CSRF.search(page.text)
    assert match, "the login page has no CSRF field"
    world.csrf = match.group(1)
    client.cookies.clear()
    return world
