"""The authorization matrix: every route of the app, every kind of actor, one expected answer each.

Two expos share one app (see :mod:`tests.authz_world`): A run by ``orga``, B by ``orgb`` and its
team. Each route below is called with B's resources by each actor, and :data:`MATRIX` says who may
do it in a small vocabulary (``EVERYONE``, ``SIGNED_IN``, ``perm(Perm.X)``, ``BOOTH_EDITOR``...).
An actor who may not gets 401, 403 or 404 (a page sends the anonymous to ``/login``); an actor who
may gets neither 401 nor 403, and nobody ever gets a 5xx. Every response is also searched for B's
secrets (stream and room keys, the badge, the calendar link, other people's tokens): only those who
manage them may read them. Failures are listed together, one line a cell.

A route without an entry fails :func:`test_every_route_has_a_matrix_entry`: a new route must say
who may call it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from booths.models import Booth, CatalogImport
from expo import uploads
from expo.accounts.models import TokenKind, User
from expo.app import routes
from expo.config import Settings
from expo.errors import Forbidden, Unauthorized
from expo.expos import team
from expo.expos.models import Expo, ExpoMember
from expo.meetings import slots
from expo.permissions import ROLE_PERMISSIONS, Perm, TeamRole, require
from expo.promotion import consulting, departments, departments_circulation, project_rooms, projects
from expo.promotion import services as promotion
from expo.promotion.departments_letters import CirculationLetters
from expo.promotion.models import PromotionCirculation, PromotionProject, PromotionProjectFile
from tests.authz_world import (
    ACCOUNT_ROLES,
    ACTORS,
    DEPARTMENTS_B,
    PASSWORD,
    TEAM_B,
    World,
    build_world,
    email_of,
    make_user,
    meeting_times,
    window_fields,
)
from tests.conftest import make_settings

Allow = frozenset[str]
Body = Any  # JSON for /api, form fields for pages, Raw, or a callable (world, actor) -> one of those
Fresh = Callable[[World], Awaitable[int]]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Both stores: every permission question is a query."""
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


# The vocabulary -------------------------------------------------------------------------------------------

EVERYONE: Allow = frozenset(ACTORS)
SIGNED_IN: Allow = EVERYONE - {"anon"}
NOBODY: Allow = frozenset()
ADMIN: Allow = frozenset({"admin"})


def perm(p: Perm) -> Allow:
    """B's team members whose role holds ``p``, and the platform administrator."""
    return frozenset(name for name, role in TEAM_B.items() if p in ROLE_PERMISSIONS[role]) | ADMIN


def accounts(*roles: str) -> Allow:
    """Actors with one of these account roles (an administrator counts as an organizer)."""
    wanted = set(roles) | ({"admin"} if "organizer" in roles else set())
    return frozenset(name for name, role in ACCOUNT_ROLES.items() if role in wanted)


BOOTH_STAFF: Allow = frozenset({"staff_b"})
BOOTH_EDITOR = BOOTH_STAFF | perm(Perm.MANAGE_BOOTHS)  # the booth's staff and B's booth managers
STREAM_MANAGER = BOOTH_STAFF | perm(Perm.MANAGE_BROADCASTS)  # owner = B's booth staff, presents for it
MODERATOR = STREAM_MANAGER | perm(Perm.MODERATE)
PRESENTER = STREAM_MANAGER  # may add a broadcast or room to B: its broadcast managers, its booths' exhibitors
APPLICANT = perm(Perm.MANAGE_BOOTHS) | accounts("exhibitor") - ADMIN  # may add a booth to B
REQUESTER = SIGNED_IN - BOOTH_STAFF  # may ask B's booth for a meeting (not its own staff)
ON_TEAM = frozenset(TEAM_B) | ADMIN  # reads B's back office
# Reads and continues a consulting thread: the investor who asked (visitor) and B's bureau.
CONSULTED = perm(Perm.CHANGE_EXPO) | {"visitor"}
# Reads the outbox page: whoever manages registration in some expo (orga does in A).
OUTBOX_READER = perm(Perm.MANAGE_REGISTRATION) | {"orga"}
# An exhibitor's dashboard of B: staff of a booth there (an applicant too: the pending booth is theirs,
# and the dashboard shows only their own booth's figures), or owners of a broadcast there (the
# presenters own one once POST /api/streams has run, and every exhibitor has applied once POST
# /api/expos/{slug}/booths has run: these cells run late).
EXHIBITOR_DASHBOARD = BOOTH_STAFF | PRESENTER | (APPLICANT & accounts("exhibitor"))


@dataclass(frozen=True)
class Raw:
    """A body that is neither JSON nor a form: SDP, CSV, a file upload."""

    content: bytes = b""
    media_type: str = "application/octet-stream"
    files: dict[str, tuple[str, bytes, str]] | None = None
    form: dict[str, str] | None = None


@dataclass(frozen=True)
class Entry:
    allow: Allow
    body: Body = None
    query: str = ""
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> attribute of world.b
    fresh: dict[str, Fresh] = field(default_factory=dict)  # path parameter -> a new resource per call
    own: str | None = None  # "api" or "session": the actor calls with a fresh credential of its own
    late: bool = False  # changes the world: run after every other cell
    why: str = ""


def e(allow: Allow, body: Body = None, **kwargs: Any) -> Entry:
    return Entry(allow, body, **kwargs)


def unique(prefix: str) -> Callable[[World, str], str]:
    return lambda world, actor: world.unique(f"{prefix}-{actor}-").replace("_", "-")


def _new_expo(world: World, actor: str) -> dict[str, str]:
    return {"slug": unique("new")(world, actor), "title": "New expo"}


def _new_account(world: World, actor: str) -> dict[str, str]:
    return {"email": f"{unique('new')(world, actor)}@authz.example", "password": PASSWORD, "role": "visitor"}


def _signup_form(world: World, actor: str) -> dict[str, str]:
    return {"email": f"{unique('signup')(world, actor)}@authz.example", "password": PASSWORD, "name": "N"}


def _login(world: World, actor: str) -> dict[str, str]:
    return {"email": email_of("probe"), "password": PASSWORD}


def _named(prefix: str) -> Callable[[World, str], dict[str, str]]:
    return lambda world, actor: {"name": unique(prefix)(world, actor)}


def _stream_in(world: World, actor: str) -> dict[str, str]:
    return {"title": "A broadcast", "expo": world.b.slug}


def _program(world: World, actor: str) -> dict[str, Any]:
    times = meeting_times()
    return {"title": "Talk", "starts_at": times["starts_at"], "ends_at": times["ends_at"]}


def _program_form(world: World, actor: str) -> dict[str, Any]:
    return {**_program(world, actor), "starts_at": meeting_times()["starts_at"][:16]}


def _checkin(world: World, actor: str) -> dict[str, str]:
    return {"code": world.b.badge}


def _scan_frame(world: World, actor: str) -> Raw:
    """A camera frame showing B's guest's badge QR code."""
    frame = io.BytesIO()
    segno.make(world.b.badge, error="m").save(frame, kind="png", scale=4)
    return Raw(frame.getvalue(), "image/png")


def _sanction(world: World, actor: str) -> dict[str, Any]:
    return {"user_id": world.b.guest.id, "kind": "mute", "minutes": 1}


def _meeting_form(world: World, actor: str) -> dict[str, str]:
    return {"starts_at": meeting_times()["starts_at"][:16], "minutes": "30", "message": "hi"}


def _window(world: World, actor: str) -> dict[str, Any]:
    fields = window_fields(30 + world.counter)
    world.counter += 1
    return {
        "day": fields.day.isoformat(),
        "start": "09:00",
        "end": "12:00",
        "slot_minutes": 30,
        "capacity": 2,
    }


def _window_form(world: World, actor: str) -> dict[str, str]:
    return {k: str(v) for k, v in _window(world, actor).items()}


def _slot(world: World, actor: str) -> dict[str, str]:
    return {"starts_at": world.b.slot_start, "message": "hi"}


async def _fresh_window(world: World) -> int:
    """A new window of B's booth, on a day of its own, to remove."""
    async with world.db.session() as s:
        booth = await s.get(Booth, world.b.booth_id)
        staff = await s.get(User, world.b.exhibitor.id)
        assert booth is not None and staff is not None
        world.counter += 1
        window = await slots.publish(s, booth, staff, window_fields(60 + world.counter))
    assert window.id is not None
    return window.id


def _invite(world: World, actor: str) -> dict[str, str]:
    return {"email": f"{unique('invitee')(world, actor)}@authz.example", "role": "checkin"}


async def _fresh_member(world: World) -> int:
    """A spare account on B's team (role check-in), made once and put back before each call."""
    async with world.db.session() as s:
        spare = await s.get(ExpoMember, (world.b.expo.id, world.spare.id)) if world.spare else None
    if world.spare is None:
        world.spare = await make_user(world.db, "spare", "visitor")
    if spare is None:
        async with world.db.session() as s:
            await team.add_member(s, world.b.expo, world.spare, TeamRole.CHECKIN, actor=None)
    assert world.spare.id is not None
    return world.spare.id


async def _fresh_invite(world: World) -> int:
    response = await world.client.post(
        f"/api/expos/{world.b.slug}/team/invites",
        json={"email": f"{world.unique('withdrawn')}@authz.example", "role": "checkin"},
        headers=world.actors["orgb"].api_headers(),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _fresh_token_of_staff(world: World) -> int:
    return (await world.fresh_token("staff_b"))[1]


async def _fresh_import(world: World) -> int:
    """A finished catalogue import of B's booth."""
    async with world.db.session() as s:
        job = CatalogImport(booth_id=world.b.booth_id, status="done", rows_total=1, products_created=1)
        s.add(job)
        await s.commit()
    assert job.id is not None
    return job.id


async def _fresh_account(world: World) -> int:
    """A visitor account no actor uses, for the administrators' account changes."""
    async with world.db.session() as s:
        email = f"{world.unique('managed')}@authz.example"
        user = User(email=email, name="M", role="visitor", password_hash="-")
        s.add(user)
        await s.commit()
    assert user.id is not None
    return user.id


async def _fresh_section(world: World) -> int:
    """A new section of B's promotion page "advantages", to edit, upload to or remove."""
    async with world.db.session() as s:
        expo = await s.get(Expo, world.b.expo.id)
        owner = await s.get(User, world.b.owner.id)
        assert expo is not None and owner is not None
        section = await promotion.add_section(s, expo, "advantages", {"heading": "Ports"}, owner)
    assert section.id is not None
    return section.id


async def _fresh_thread(world: World) -> int:
    """A consulting question the actor ``visitor`` asked B's bureau."""
    async with world.db.session() as s:
        expo = await s.get(Expo, world.b.expo.id)
        visitor = world.actors["visitor"].user
        asker = await s.get(User, visitor.id) if visitor is not None else None
        assert expo is not None and asker is not None
        values = {"category": "land", "subject": "Plots", "body": "How large?"}
        letters = consulting.ConsultingLetters(world.app.state.platform.settings)
        thread = await consulting.ask(s, expo, asker, values, letters)
    assert thread.id is not None
    return thread.id


def _invitees(world: World, actor: str) -> Raw:
    return Raw(f"name,email\nAnn,{unique('ann')(world, actor)}@authz.example\n".encode(), "text/csv")


def _invitees_form(world: World, actor: str) -> dict[str, str]:
    data = f"name,email\nBo,{unique('bo')(world, actor)}@authz.example\n".encode()
    return {"csv": base64.b64encode(data).decode()}


def _invitees_upload(world: World, actor: str) -> Raw:
    data = f"name,email\nCy,{unique('cy')(world, actor)}@authz.example\n".encode()
    return Raw(files={"file": ("investors.csv", data, "text/csv")})


# Project filing: B's projects are filed by the actor "visitor" (their investor).
PROJECT_COMPANY = "Quiet Lithium Works"  # shows only to the investor and B's bureau
INVESTOR: Allow = frozenset({"visitor"})
PROJECT_FILING = {
    "company": "Open Lamps Ltd",
    "sector": "Lighting",
    "country": "DE",
    "amount": "5000000",
    "currency": "EUR",
    "timeline": "2027",
}


async def _fresh_project(world: World, company: str = PROJECT_COMPANY) -> int:
    """A new project of B at ``filed`` (version 1) of the actor "visitor", stored as filed: the
    matrix files more of them than one investor may (:data:`expo.promotion.projects.MAX_PER_INVESTOR`)."""
    async with world.db.session() as s:
        expo = await s.get(Expo, world.b.expo.id)
        investor = await s.get(User, world.actors["visitor"].user.id if world.actors["visitor"].user else 0)
        assert expo is not None and investor is not None and expo.id is not None and investor.id is not None
        fields = projects.check_filing({**PROJECT_FILING, "company": company})
        project = PromotionProject(expo_id=expo.id, investor_id=investor.id, **fields)
        s.add(project)
        await s.commit()
    assert project.id is not None
    return project.id


_PROJECT_OF: dict[int, int] = {}  # id(world) -> the project every read and comment cell uses


def _project_meeting(world: World, actor: str) -> dict[str, str]:
    """A meeting form: three days ahead, an hour long."""
    return {"title": "Site visit", "starts_at": meeting_times()["starts_at"], "minutes": "60"}


async def _fresh_meeting(world: World) -> int:
    """A new meeting of :func:`_the_project`, scheduled by B's owner."""
    async with world.db.session() as s:
        expo = await s.get(Expo, world.b.expo.id)
        project = await s.get(PromotionProject, await _the_project(world))
        owner = await s.get(User, world.b.owner.id)
        assert expo is not None and project is not None and owner is not None
        settings = world.app.state.platform.settings
        meeting = await project_rooms.schedule(s, settings, expo, project, _project_meeting(world, ""), owner)
    assert meeting.id is not None
    return meeting.id


async def _project_at_signing(world: World) -> int:
    """A new project of B at the "signing" stage."""
    project_id = await _fresh_project(world)
    async with world.db.session() as s:
        project = await s.get(PromotionProject, project_id)
        assert project is not None
        project.stage = "signing"
        s.add(project)
        await s.commit()
    return project_id


PROJECT_CEREMONY = {
    "party": "Qianhai bureau",
    "signer_name": "Lin Bo",
    "email": "lin.bo@authz.example",
    "investor_signer": "Vera Visitor",
}


async def _the_project(world: World) -> int:
    if id(world) not in _PROJECT_OF:
        _PROJECT_OF[id(world)] = await _fresh_project(world)
    return _PROJECT_OF[id(world)]


async def _circulated_file(world: World) -> int:
    """A stored PDF attached to :func:`_circulated` (a project Land planning works on)."""
    return await _attach_pdf(world, await _circulated(world))


async def _attach_pdf(world: World, project_id: int) -> int:
    pdf = b"%PDF-1.4\n%%EOF\n"
    digest = hashlib.sha256(pdf).hexdigest()
    path = uploads.uploads_dir(world.app.state.platform.settings) / digest[:2] / f"{digest}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)
    async with world.db.session() as s:
        attached = PromotionProjectFile(project_id=project_id, name=path.name, filename="p.pdf")
        s.add(attached)
        await s.commit()
    assert attached.id is not None
    return attached.id


PROJECT_PDF = Raw(files={"file": ("plan.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})


# The bureau's departments: "dept_b" works in B's "Land planning" (not on B's team). A project sent to
# a department shows to its members too; to anyone else who does not work on it, it does not exist.
DEPT_MEMBER: Allow = frozenset({"dept_b"})
CIRCULATED_COMPANY = "Harbour Cold Chain"  # sent to Land planning: the investor, the bureau, dept_b
_DEPARTMENTS_OF: dict[int, dict[str, int]] = {}  # id(world) -> B's department ids by name
_CIRCULATED_OF: dict[int, int] = {}  # id(world) -> the project every department read cell uses


async def _departments_b(world: World) -> dict[str, int]:
    if id(world) not in _DEPARTMENTS_OF:
        async with world.db.session() as s:
            expo = await s.get(Expo, world.b.expo.id)
            assert expo is not None
            _DEPARTMENTS_OF[id(world)] = {d.name: d.id or 0 for d in await departments.departments(s, expo)}
    return _DEPARTMENTS_OF[id(world)]


async def _land(world: World) -> int:
    return (await _departments_b(world))[DEPARTMENTS_B[0]]


async def _fresh_step(world: World) -> int:
    """A new project of B (the investor "visitor"'s) sent to Land planning: its step, at version 1."""
    project_id = await _fresh_project(world, CIRCULATED_COMPANY)
    async with world.db.session() as s:
        expo = await s.get(Expo, world.b.expo.id)
        project = await s.get(PromotionProject, project_id)
        owner = await s.get(User, world.b.owner.id)
        assert expo is not None and project is not None and owner is not None
        task = {"department_id": str(await _land(world)), "note": "Check the plot"}
        letters = CirculationLetters(world.app.state.platform.settings)
        step = await departments_circulation.circulate(s, expo, project, task, 1, owner, letters)
    assert step.id is not None
    return step.id


async def _circulated(world: World) -> int:
    if id(world) not in _CIRCULATED_OF:
        async with world.db.session() as s:
            step = await s.get(PromotionCirculation, await _fresh_step(world))
            assert step is not None
            _CIRCULATED_OF[id(world)] = step.project_id
    return _CIRCULATED_OF[id(world)]


async def _uncirculated(world: World) -> int:
    """A new project of B at version 1, to send to a department; B's department ids are read first."""
    await _departments_b(world)
    return await _fresh_project(world, CIRCULATED_COMPANY)


def _task(world: World, actor: str) -> dict[str, Any]:
    """Send to (or hand over to) Tax bureau: a department no step of these projects is with yet."""
    return {
        "department_id": _DEPARTMENTS_OF[id(world)][DEPARTMENTS_B[1]],
        "note": "Tax holiday?",
        "version": 1,
    }


def _task_form(world: World, actor: str) -> dict[str, str]:
    return {k: str(v) for k, v in _task(world, actor).items()}


async def _fresh_department(world: World) -> int:
    """A new department of B with ``helper`` in it, to rename, add to or take a member out of."""
    async with world.db.session() as s:
        expo = await s.get(Expo, world.b.expo.id)
        owner = await s.get(User, world.b.owner.id)
        assert expo is not None and owner is not None
        made = await departments.create(s, expo, {"name": world.unique("Spare department ")}, owner)
        await departments.add_member(s, expo, made, world.helper.email, owner)
    assert made.id is not None
    return made.id


async def _helper_id(world: World) -> int:
    assert world.helper.id is not None
    return world.helper.id


CSV = Raw(b"booth,product\nBooth b,Lamp\n", "text/csv")
SDP = Raw(b"v=0\r\n", "application/sdp")
UPLOAD = Raw(files={"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")}, form={"slot": "logo"})
CATALOG_UPLOAD = Raw(files={"file": ("c.csv", b"booth,product\nBooth b,Lamp\n", "text/csv")})
BANNER = Raw(files={"banner": ("b.png", b"\x89PNG\r\n\x1a\n", "image/png")})
CONTRACT = Raw(files={"file": ("contract.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
SUBTITLES = Raw(files={"file": ("en.vtt", b"WEBVTT\n", "text/vtt")}, form={"slot": "subtitles_en"})
SECTION_PDF = Raw(
    files={"file": ("p.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}, form={"slot": "attachment"}
)
KEY_ONLY = (
    "the credential is a key in the URL or body, not an account: every account without it is turned away"
)

MATRIX: dict[tuple[str, str], Entry] = {
    # The platform
    ("GET", "/healthz"): e(EVERYONE),
    ("GET", "/metrics"): e(EVERYONE),
    ("GET", "/api/openapi.json"): e(EVERYONE),
    # Accounts (each acts on the caller's own account)
    ("POST", "/api/auth/login"): e(EVERYONE, _login),
    ("POST", "/api/auth/logout"): e(SIGNED_IN, own="api"),
    ("POST", "/api/auth/signup"): e(EVERYONE, lambda w, a: {**_new_account(w, a), "role": "visitor"}),
    ("GET", "/api/me"): e(SIGNED_IN),
    ("POST", "/api/me/password"): e(
        SIGNED_IN, {"current": "not the password", "new": "another long password"}, why="refused: 422"
    ),
    ("GET", "/api/auth/tokens"): e(SIGNED_IN),
    ("POST", "/api/auth/tokens"): e(SIGNED_IN, {"name": "cli"}),
    ("DELETE", "/api/auth/tokens/{token_id:int}"): e(
        BOOTH_STAFF, fresh={"token_id": _fresh_token_of_staff}, why="staff_b's own token"
    ),
    ("POST", "/api/users"): e(ADMIN, _new_account),
    ("GET", "/"): e(EVERYONE),
    ("GET", "/login"): e(EVERYONE),
    ("POST", "/login"): e(EVERYONE, _login),
    ("GET", "/signup"): e(EVERYONE),
    ("POST", "/signup"): e(EVERYONE, _signup_form),
    ("POST", "/logout"): e(EVERYONE, own="session"),
    ("POST", "/language"): e(EVERYONE, {"locale": "en"}),
    ("GET", "/account"): e(SIGNED_IN),
    ("POST", "/account"): e(SIGNED_IN, {"name": "Renamed"}),
    ("POST", "/account/tokens"): e(SIGNED_IN, {"name": "cli"}),
    ("POST", "/account/password"): e(SIGNED_IN, {"current": "not it", "new": "another long password"}),
    ("POST", "/account/email"): e(SIGNED_IN, {"email": "taken@authz.example", "password": "not it"}),
    ("GET", "/password/forgot"): e(EVERYONE),
    ("POST", "/password/forgot"): e(EVERYONE, lambda w, a: {"email": f"{a}-nobody@authz.example"}),
    ("GET", "/password/reset/{token}"): e(EVERYONE, params={"token": "no_reset"}, why="the link is the key"),
    ("POST", "/password/reset/{token}"): e(
        EVERYONE, {"new": "another long password"}, params={"token": "no_reset"}, why="the link is the key"
    ),
    ("POST", "/account/tokens/{token_id:int}/revoke"): e(
        BOOTH_STAFF, fresh={"token_id": _fresh_token_of_staff}, why="staff_b's own token"
    ),
    ("GET", "/organizer"): e(accounts("organizer")),
    ("POST", "/organizer/users"): e(ADMIN, _new_account),
    ("GET", "/organizer/users"): e(ADMIN),
    ("POST", "/organizer/users/{user_id:int}/role"): e(
        ADMIN, {"role": "exhibitor"}, fresh={"user_id": _fresh_account}, why="another account's type"
    ),
    ("POST", "/organizer/users/{user_id:int}/active"): e(
        ADMIN, {"active": "0"}, fresh={"user_id": _fresh_account}, why="disables another account"
    ),
    ("GET", "/organizer/audit"): e(ADMIN),
    ("GET", "/exhibitor"): e(accounts("exhibitor")),
    ("GET", "/visitor"): e(accounts("visitor")),
    ("GET", "/api/online"): e(EVERYONE),
    # Expos and their teams
    ("POST", "/api/expos"): e(accounts("organizer"), _new_expo),
    ("GET", "/api/expos/{slug}"): e(EVERYONE),
    ("PATCH", "/api/expos/{slug}"): e(perm(Perm.CHANGE_EXPO), {"title": "Expo B"}),
    ("GET", "/api/me/expos"): e(SIGNED_IN),
    ("GET", "/api/expos/{slug}/team"): e(perm(Perm.MANAGE_TEAM)),
    ("POST", "/api/expos/{slug}/team/invites"): e(perm(Perm.MANAGE_TEAM), _invite),
    ("DELETE", "/api/expos/{slug}/team/invites/{invite_id:int}"): e(
        perm(Perm.MANAGE_TEAM), fresh={"invite_id": _fresh_invite}
    ),
    ("PUT", "/api/expos/{slug}/team/{user_id:int}"): e(
        perm(Perm.MANAGE_TEAM), {"role": "moderator"}, fresh={"user_id": _fresh_member}
    ),
    ("DELETE", "/api/expos/{slug}/team/{user_id:int}"): e(
        perm(Perm.MANAGE_TEAM), fresh={"user_id": _fresh_member}
    ),
    ("POST", "/api/team/invites/{token}/accept"): e(SIGNED_IN, params={"token": "no_invite"}),
    ("GET", "/organizer/expos/{slug}/team"): e(ON_TEAM),
    ("POST", "/organizer/expos/{slug}/team/invite"): e(perm(Perm.MANAGE_TEAM), _invite),
    ("POST", "/organizer/expos/{slug}/team/{user_id:int}/role"): e(
        perm(Perm.MANAGE_TEAM), {"role": "moderator"}, fresh={"user_id": _fresh_member}
    ),
    ("POST", "/organizer/expos/{slug}/team/{user_id:int}/remove"): e(
        perm(Perm.MANAGE_TEAM), {}, fresh={"user_id": _fresh_member}
    ),
    ("POST", "/organizer/expos/{slug}/team/invites/{invite_id:int}/withdraw"): e(
        perm(Perm.MANAGE_TEAM), {}, fresh={"invite_id": _fresh_invite}
    ),
    ("GET", "/team/invites/{token}"): e(SIGNED_IN, params={"token": "no_invite"}),
    ("POST", "/team/invites/{token}"): e(SIGNED_IN, {}, params={"token": "no_invite"}),
    # The floor: API
    ("GET", "/api/expos/{slug}/search"): e(EVERYONE, query="?q=booth"),
    ("GET", "/api/expos/{slug}/halls"): e(EVERYONE),
    ("POST", "/api/expos/{slug}/halls"): e(perm(Perm.CHANGE_EXPO), _named("hall")),
    ("PATCH", "/api/expos/{slug}/halls/{hall_id:int}"): e(perm(Perm.CHANGE_EXPO), {"position": 1}),
    ("DELETE", "/api/expos/{slug}/halls/{hall_id:int}"): e(
        perm(Perm.CHANGE_EXPO), fresh={"hall_id": lambda w: w.fresh_hall()}
    ),
    ("GET", "/api/expos/{slug}/categories"): e(EVERYONE),
    ("POST", "/api/expos/{slug}/categories"): e(perm(Perm.CHANGE_EXPO), _named("category")),
    ("PATCH", "/api/expos/{slug}/categories/{category_id:int}"): e(perm(Perm.CHANGE_EXPO), {"position": 1}),
    ("DELETE", "/api/expos/{slug}/categories/{category_id:int}"): e(
        perm(Perm.CHANGE_EXPO), fresh={"category_id": lambda w: w.fresh_category()}
    ),
    ("GET", "/api/expos/{slug}/booths"): e(EVERYONE),
    ("POST", "/api/expos/{slug}/booths"): e(APPLICANT, _named("booth")),
    ("GET", "/api/me/booths"): e(SIGNED_IN),
    ("GET", "/api/booths/{booth_id:int}"): e(EVERYONE),
    ("PATCH", "/api/booths/{booth_id:int}"): e(BOOTH_EDITOR, {"tagline": "Lamps"}),
    ("PUT", "/api/booths/{booth_id:int}/placement"): e(
        perm(Perm.MANAGE_BOOTHS), lambda w, a: {"hall_id": w.b.hall_id}
    ),
    ("PUT", "/api/booths/{booth_id:int}/status"): e(
        perm(Perm.MANAGE_BOOTHS),
        {"status": "approved"},
        fresh={"booth_id": lambda w: w.fresh_booth(pending=True)},
    ),
    ("DELETE", "/api/booths/{booth_id:int}"): e(
        perm(Perm.MANAGE_BOOTHS), fresh={"booth_id": lambda w: w.fresh_booth()}
    ),
    ("GET", "/api/booths/{booth_id:int}/staff"): e(BOOTH_EDITOR),
    ("POST", "/api/booths/{booth_id:int}/staff"): e(
        BOOTH_EDITOR, {"email": email_of("helper"), "role": "staff"}
    ),
    ("DELETE", "/api/booths/{booth_id:int}/staff/{user_id:int}"): e(
        BOOTH_EDITOR, fresh={"user_id": lambda w: w.fresh_staff()}
    ),
    ("GET", "/api/booths/{booth_id:int}/products"): e(EVERYONE),
    ("POST", "/api/booths/{booth_id:int}/products"): e(BOOTH_EDITOR, _named("product")),
    ("POST", "/api/booths/{booth_id:int}/catalog"): e(BOOTH_EDITOR, CSV),
    ("POST", "/api/booths/{booth_id:int}/catalog/imports"): e(BOOTH_EDITOR, CSV),
    ("GET", "/api/booths/{booth_id:int}/catalog/imports/{import_id:int}"): e(
        BOOTH_EDITOR, fresh={"import_id": _fresh_import}
    ),
    ("GET", "/api/products/{product_id:int}"): e(EVERYONE),
    ("PATCH", "/api/products/{product_id:int}"): e(BOOTH_EDITOR, {"description": "Bright"}),
    ("DELETE", "/api/products/{product_id:int}"): e(
        BOOTH_EDITOR, fresh={"product_id": lambda w: w.fresh_product()}
    ),
    # The floor: pages
    ("GET", "/expos"): e(EVERYONE),
    ("GET", "/expos/{slug}"): e(EVERYONE),
    ("GET", "/expos/{slug}/booths/{booth_id:int}"): e(EVERYONE),
    ("POST", "/expos/{slug}/booths/{booth_id:int}/inquiry"): e(SIGNED_IN, {"message": "Hello"}),
    ("POST", "/expos/{slug}/booths/{booth_id:int}/card"): e(SIGNED_IN, {"share": "name"}),
    ("POST", "/expos/{slug}/booths/{booth_id:int}/favourite"): e(SIGNED_IN, {"on": "1"}),
    ("GET", "/expos/{slug}/products/{product_id:int}"): e(EVERYONE),
    ("POST", "/expos/{slug}/products/{product_id:int}/favourite"): e(SIGNED_IN, {"on": "1"}),
    ("GET", "/booths/{booth_id:int}"): e(EVERYONE),
    ("GET", "/media/{name}"): e(EVERYONE, params={"name": "missing.png"}),
    ("GET", "/favourites"): e(SIGNED_IN),
    ("GET", "/my/booths"): e(accounts("exhibitor", "organizer")),
    ("GET", "/my/leads"): e(accounts("exhibitor", "organizer")),
    ("POST", "/expos/{slug}/apply"): e(APPLICANT, _named("applied")),
    ("GET", "/booths/{booth_id:int}/edit"): e(BOOTH_EDITOR),
    ("POST", "/booths/{booth_id:int}/edit"): e(BOOTH_EDITOR, {"name": "Booth b", "tagline": "Lamps"}),
    ("POST", "/booths/{booth_id:int}/upload"): e(BOOTH_EDITOR, UPLOAD),
    ("POST", "/booths/{booth_id:int}/logo/remove"): e(BOOTH_EDITOR, {}),
    ("POST", "/booths/{booth_id:int}/banner/remove"): e(BOOTH_EDITOR, {}),
    ("POST", "/booths/{booth_id:int}/media/{media_id:int}/delete"): e(BOOTH_EDITOR, {}),
    ("POST", "/booths/{booth_id:int}/staff"): e(BOOTH_EDITOR, {"email": email_of("helper"), "role": "staff"}),
    ("POST", "/booths/{booth_id:int}/staff/{user_id:int}/remove"): e(
        BOOTH_EDITOR, {}, fresh={"user_id": lambda w: w.fresh_staff()}
    ),
    ("GET", "/booths/{booth_id:int}/products"): e(BOOTH_EDITOR),
    ("POST", "/booths/{booth_id:int}/products"): e(BOOTH_EDITOR, _named("page product")),
    ("GET", "/booths/{booth_id:int}/products/{product_id:int}"): e(BOOTH_EDITOR),
    ("POST", "/booths/{booth_id:int}/products/{product_id:int}"): e(BOOTH_EDITOR, {"name": "Product b"}),
    ("POST", "/booths/{booth_id:int}/products/{product_id:int}/delete"): e(
        BOOTH_EDITOR, {}, fresh={"product_id": lambda w: w.fresh_product()}
    ),
    ("POST", "/booths/{booth_id:int}/catalog"): e(BOOTH_EDITOR, CATALOG_UPLOAD),
    ("GET", "/booths/{booth_id:int}/catalog/imports/{import_id:int}"): e(
        BOOTH_EDITOR, fresh={"import_id": _fresh_import}
    ),
    ("GET", "/booths/{booth_id:int}/leads"): e(BOOTH_EDITOR),
    ("GET", "/booths/{booth_id:int}/leads.csv"): e(BOOTH_EDITOR),
    ("POST", "/booths/{booth_id:int}/leads/{lead_id:int}"): e(
        BOOTH_EDITOR, {"status": "contacted", "notes": "ok"}
    ),
    ("GET", "/booths/{booth_id:int}/leads/{lead_id:int}"): e(BOOTH_EDITOR),
    ("POST", "/booths/{booth_id:int}/leads/{lead_id:int}/reply"): e(BOOTH_EDITOR, {"body": "Thanks!"}),
    ("GET", "/my/messages"): e(SIGNED_IN),
    ("GET", "/booths/{booth_id:int}/analytics"): e(BOOTH_EDITOR),
    # Meetings with a booth (requested by B's guest)
    ("POST", "/api/booths/{booth_id:int}/meetings"): e(REQUESTER, lambda w, a: meeting_times()),
    ("GET", "/api/booths/{booth_id:int}/meetings"): e(BOOTH_EDITOR),
    ("GET", "/api/me/meetings"): e(SIGNED_IN),
    ("POST", "/api/meetings/{meeting_id:int}/accept"): e(BOOTH_EDITOR),
    ("POST", "/api/meetings/{meeting_id:int}/decline"): e(BOOTH_EDITOR, {"note": "busy"}),
    ("POST", "/api/meetings/{meeting_id:int}/held"): e(BOOTH_EDITOR),
    ("POST", "/api/meetings/{meeting_id:int}/cancel"): e(
        BOOTH_EDITOR, why="the requester's (B's guest), and B's booth editors call off the accepted meeting"
    ),
    ("POST", "/expos/{slug}/booths/{booth_id:int}/meetings"): e(REQUESTER, _meeting_form),
    ("GET", "/my/meetings"): e(SIGNED_IN),
    ("POST", "/my/meetings/{meeting_id:int}/cancel"): e(NOBODY, {}, why="the requester's (B's guest) only"),
    ("GET", "/booths/{booth_id:int}/meetings"): e(BOOTH_EDITOR),
    ("POST", "/booths/{booth_id:int}/meetings/{meeting_id:int}/{action:str}"): e(
        BOOTH_EDITOR, {"note": "busy"}, params={"action": "decline"}
    ),
    # Meeting slots: B's booth publishes availability, visitors book a place
    ("GET", "/api/booths/{booth_id:int}/availability"): e(BOOTH_EDITOR),
    ("POST", "/api/booths/{booth_id:int}/availability"): e(BOOTH_EDITOR, _window),
    ("PUT", "/api/availability/{window_id:int}"): e(BOOTH_EDITOR, _window),
    ("DELETE", "/api/availability/{window_id:int}"): e(BOOTH_EDITOR, fresh={"window_id": _fresh_window}),
    ("GET", "/api/booths/{booth_id:int}/slots"): e(EVERYONE),
    ("POST", "/api/booths/{booth_id:int}/slots"): e(REQUESTER, _slot),
    ("GET", "/api/meetings/{meeting_id:int}/invitation.ics"): e(
        BOOTH_EDITOR, why="and the requester (B's guest); 409 while the meeting is only requested"
    ),
    ("GET", "/booths/{booth_id:int}/availability"): e(BOOTH_EDITOR),
    ("POST", "/booths/{booth_id:int}/availability"): e(BOOTH_EDITOR, _window_form),
    ("POST", "/booths/{booth_id:int}/availability/{window_id:int}"): e(BOOTH_EDITOR, _window_form),
    ("POST", "/booths/{booth_id:int}/availability/{window_id:int}/delete"): e(
        BOOTH_EDITOR, {}, fresh={"window_id": _fresh_window}
    ),
    ("POST", "/expos/{slug}/booths/{booth_id:int}/slots"): e(REQUESTER, _slot),
    # The organizers' floor pages
    ("GET", "/organizer/expos"): e(SIGNED_IN),
    ("POST", "/organizer/expos"): e(accounts("organizer"), _new_expo),
    ("GET", "/organizer/expos/{slug}"): e(perm(Perm.MANAGE_BOOTHS)),
    ("POST", "/organizer/expos/{slug}/halls"): e(perm(Perm.CHANGE_EXPO), _named("page hall")),
    ("POST", "/organizer/expos/{slug}/categories"): e(perm(Perm.CHANGE_EXPO), _named("page category")),
    ("POST", "/organizer/expos/{slug}/halls/{hall_id:int}"): e(perm(Perm.CHANGE_EXPO), _named("hall")),
    ("POST", "/organizer/expos/{slug}/halls/{hall_id:int}/move"): e(
        perm(Perm.CHANGE_EXPO), {"direction": "up"}
    ),
    ("POST", "/organizer/expos/{slug}/halls/{hall_id:int}/delete"): e(
        perm(Perm.CHANGE_EXPO), {}, fresh={"hall_id": lambda w: w.fresh_hall()}
    ),
    ("POST", "/organizer/expos/{slug}/categories/{category_id:int}"): e(
        perm(Perm.CHANGE_EXPO), _named("category")
    ),
    ("POST", "/organizer/expos/{slug}/categories/{category_id:int}/move"): e(
        perm(Perm.CHANGE_EXPO), {"direction": "up"}
    ),
    ("POST", "/organizer/expos/{slug}/categories/{category_id:int}/delete"): e(
        perm(Perm.CHANGE_EXPO), {}, fresh={"category_id": lambda w: w.fresh_category()}
    ),
    ("GET", "/organizer/expos/{slug}/settings"): e(perm(Perm.CHANGE_EXPO)),
    # Late: it sets the expo's every setting (time zone, applications) back to what the form says.
    ("POST", "/organizer/expos/{slug}/settings"): e(
        perm(Perm.CHANGE_EXPO), {"title": "B's expo", "applications_open": "on"}, late=True
    ),
    ("POST", "/organizer/expos/{slug}/banner"): e(perm(Perm.CHANGE_EXPO), BANNER),
    ("POST", "/organizer/expos/{slug}/booths/{booth_id:int}/status"): e(
        perm(Perm.MANAGE_BOOTHS),
        {"status": "approved"},
        fresh={"booth_id": lambda w: w.fresh_booth(pending=True)},
    ),
    ("POST", "/organizer/expos/{slug}/booths/{booth_id:int}/place"): e(
        perm(Perm.MANAGE_BOOTHS), lambda w, a: {"hall_id": str(w.b.hall_id), "number": "A1"}
    ),
    # Registration
    ("GET", "/api/expos/{slug}/registration/form"): e(EVERYONE),
    ("PUT", "/api/expos/{slug}/registration/form"): e(perm(Perm.MANAGE_REGISTRATION), {}),
    ("GET", "/api/expos/{slug}/registration"): e(SIGNED_IN),
    ("POST", "/api/expos/{slug}/registration"): e(SIGNED_IN, {"consent": True}),
    ("DELETE", "/api/expos/{slug}/registration"): e(SIGNED_IN, late=True),
    ("GET", "/api/expos/{slug}/registrations"): e(perm(Perm.MANAGE_REGISTRATION)),
    ("PUT", "/api/expos/{slug}/registrations/{registration_id:int}/decision"): e(
        perm(Perm.MANAGE_REGISTRATION), {"status": "approved"}
    ),
    ("GET", "/api/expos/{slug}/registrations.csv"): e(perm(Perm.MANAGE_REGISTRATION)),
    ("POST", "/api/expos/{slug}/check-in"): e(perm(Perm.CHECK_IN), _checkin),
    ("POST", "/api/expos/{slug}/check-in/scan"): e(perm(Perm.CHECK_IN), _scan_frame),
    ("GET", "/api/expos/{slug}/check-in/search"): e(perm(Perm.CHECK_IN), query="?q=guest"),
    ("POST", "/api/expos/{slug}/registrations/{registration_id:int}/check-in"): e(perm(Perm.CHECK_IN)),
    ("GET", "/expos/{slug}/register"): e(SIGNED_IN),
    ("POST", "/expos/{slug}/register"): e(SIGNED_IN, {"consent": "on"}),
    ("POST", "/expos/{slug}/register/cancel"): e(SIGNED_IN, {}, late=True),
    ("GET", "/expos/{slug}/badge"): e(SIGNED_IN),
    ("GET", "/organizer/expos/{slug}/registration/form"): e(perm(Perm.MANAGE_REGISTRATION)),
    ("POST", "/organizer/expos/{slug}/registration/form"): e(perm(Perm.MANAGE_REGISTRATION), {}),
    ("GET", "/organizer/expos/{slug}/registrations"): e(perm(Perm.MANAGE_REGISTRATION)),
    ("GET", "/organizer/expos/{slug}/registrations.csv"): e(perm(Perm.MANAGE_REGISTRATION)),
    ("POST", "/organizer/expos/{slug}/registrations/{registration_id:int}/decision"): e(
        perm(Perm.MANAGE_REGISTRATION), {"status": "approved"}
    ),
    ("GET", "/organizer/expos/{slug}/check-in"): e(perm(Perm.CHECK_IN)),
    ("POST", "/organizer/expos/{slug}/check-in"): e(perm(Perm.CHECK_IN), _checkin),
    ("GET", "/organizer/outbox"): e(OUTBOX_READER, why="lists the letters of the caller's own expos"),
    ("GET", "/organizer/outbox/{message_id:int}"): e(
        perm(Perm.MANAGE_REGISTRATION), params={"message_id": "outbox_id"}
    ),
    ("POST", "/organizer/outbox/{message_id:int}/retry"): e(
        perm(Perm.MANAGE_REGISTRATION), {}, params={"message_id": "outbox_id"}
    ),
    # The agenda
    ("GET", "/api/expos/{slug}/programs"): e(EVERYONE),
    ("POST", "/api/expos/{slug}/programs"): e(perm(Perm.MANAGE_AGENDA), _program),
    ("GET", "/api/programs/{program_id:int}"): e(EVERYONE),
    ("PATCH", "/api/programs/{program_id:int}"): e(perm(Perm.MANAGE_AGENDA), {"track": "Main"}),
    ("DELETE", "/api/programs/{program_id:int}"): e(
        perm(Perm.MANAGE_AGENDA), fresh={"program_id": lambda w: w.fresh_program()}
    ),
    ("POST", "/api/programs/{program_id:int}/registration"): e(SIGNED_IN),
    ("GET", "/api/programs/{program_id:int}/registration"): e(SIGNED_IN),
    ("DELETE", "/api/programs/{program_id:int}/registration"): e(SIGNED_IN, late=True),
    ("GET", "/api/programs/{program_id:int}/attendees"): e(perm(Perm.MANAGE_AGENDA)),
    ("PUT", "/api/programs/{program_id:int}/attendees/{user_id:int}/attended"): e(
        perm(Perm.MANAGE_AGENDA), {"attended": True}
    ),
    ("DELETE", "/api/programs/{program_id:int}/attendees/{user_id:int}"): e(
        perm(Perm.MANAGE_AGENDA), late=True
    ),
    ("GET", "/expos/{slug}/agenda"): e(EVERYONE),
    ("GET", "/expos/{slug}/agenda/{program_id:int}.ics"): e(EVERYONE),
    ("GET", "/expos/{slug}/agenda/{program_id:int}"): e(EVERYONE),
    ("POST", "/expos/{slug}/agenda/{program_id:int}/register"): e(SIGNED_IN, {}),
    ("POST", "/expos/{slug}/agenda/{program_id:int}/cancel"): e(SIGNED_IN, {}, late=True),
    ("GET", "/my/agenda"): e(SIGNED_IN),
    ("POST", "/my/agenda/feed/reset"): e(SIGNED_IN, {}),
    ("GET", "/api/me/agenda/feed"): e(SIGNED_IN),
    ("POST", "/api/me/agenda/feed"): e(SIGNED_IN),
    ("GET", "/agenda/feed/{token}.ics"): e(
        EVERYONE, params={"token": "feed_token"}, why="the link is the key"
    ),
    ("GET", "/organizer/expos/{slug}/agenda"): e(perm(Perm.MANAGE_AGENDA)),
    ("POST", "/organizer/expos/{slug}/agenda"): e(perm(Perm.MANAGE_AGENDA), _program_form),
    ("GET", "/organizer/expos/{slug}/agenda/{program_id:int}"): e(perm(Perm.MANAGE_AGENDA)),
    ("POST", "/organizer/expos/{slug}/agenda/{program_id:int}"): e(perm(Perm.MANAGE_AGENDA), _program_form),
    ("POST", "/organizer/expos/{slug}/agenda/{program_id:int}/delete"): e(
        perm(Perm.MANAGE_AGENDA), {}, fresh={"program_id": lambda w: w.fresh_program()}
    ),
    ("GET", "/organizer/expos/{slug}/agenda/{program_id:int}/attendance.csv"): e(perm(Perm.MANAGE_AGENDA)),
    ("POST", "/organizer/expos/{slug}/agenda/{program_id:int}/attendees/{user_id:int}"): e(
        perm(Perm.MANAGE_AGENDA), {"action": "attended"}
    ),
    # Broadcasts (B's is owned by staff_b and presented for B's booth)
    ("POST", "/api/streams"): e(PRESENTER, _stream_in),
    ("GET", "/api/streams/{stream_id:int}"): e(EVERYONE),
    ("PATCH", "/api/streams/{stream_id:int}"): e(STREAM_MANAGER, {"description": "Lamps live"}),
    ("POST", "/api/streams/{stream_id:int}/key"): e(
        STREAM_MANAGER, fresh={"stream_id": lambda w: w.fresh_stream()}
    ),
    ("POST", "/api/streams/{stream_id:int}/end"): e(
        STREAM_MANAGER, fresh={"stream_id": lambda w: w.fresh_stream()}
    ),
    ("POST", "/api/streams/{stream_id:int}/reopen"): e(
        STREAM_MANAGER, fresh={"stream_id": lambda w: w.fresh_stream(ended=True)}
    ),
    ("GET", "/api/expos/{slug}/streams"): e(EVERYONE),
    ("GET", "/api/streams/{stream_id:int}/stats"): e(EVERYONE),
    ("GET", "/api/streams/{stream_id:int}/audience"): e(STREAM_MANAGER),
    ("POST", "/api/streams/{stream_id:int}/register"): e(SIGNED_IN),
    ("DELETE", "/api/streams/{stream_id:int}/register"): e(SIGNED_IN),
    ("POST", "/api/streams/{stream_id:int}/heartbeat"): e(EVERYONE),
    ("POST", "/api/streams/{stream_id:int}/leave"): e(EVERYONE),
    ("GET", "/api/streams/{stream_id:int}/chat"): e(EVERYONE),
    ("POST", "/api/streams/{stream_id:int}/chat"): e(SIGNED_IN, {"body": "hello"}),
    ("DELETE", "/api/streams/{stream_id:int}/chat/{message_id:int}"): e(MODERATOR, late=True),
    ("GET", "/api/streams/{stream_id:int}/questions"): e(EVERYONE),
    ("POST", "/api/streams/{stream_id:int}/questions"): e(SIGNED_IN, {"body": "how much?"}),
    ("POST", "/api/streams/{stream_id:int}/questions/{question_id:int}/vote"): e(SIGNED_IN),
    ("POST", "/api/streams/{stream_id:int}/questions/{question_id:int}/answered"): e(MODERATOR),
    ("POST", "/api/streams/{stream_id:int}/like"): e(SIGNED_IN),
    ("POST", "/api/streams/{stream_id:int}/sanctions"): e(MODERATOR, _sanction),
    ("DELETE", "/api/streams/{stream_id:int}/sanctions/{user_id:int}"): e(MODERATOR),
    ("PATCH", "/api/streams/{stream_id:int}/chat-settings"): e(MODERATOR, {"slow_mode_seconds": 0}),
    ("GET", "/live/{stream_id:int}/index.m3u8"): e(EVERYONE),
    ("OPTIONS", "/live/{stream_id:int}/index.m3u8"): e(EVERYONE),
    ("GET", "/live/{stream_id:int}/media.m3u8"): e(EVERYONE),
    ("OPTIONS", "/live/{stream_id:int}/media.m3u8"): e(EVERYONE),
    ("GET", "/live/{stream_id:int}/{name:str}"): e(EVERYONE, params={"name": "segment0.ts"}),
    ("OPTIONS", "/live/{stream_id:int}/{name:str}"): e(EVERYONE, params={"name": "segment0.ts"}),
    ("POST", "/api/streams/{stream_id:int}/whip"): e(NOBODY, SDP, why=KEY_ONLY),
    ("OPTIONS", "/api/streams/{stream_id:int}/whip"): e(EVERYONE),
    ("DELETE", "/api/streams/{stream_id:int}/whip/{session_id:str}"): e(NOBODY, why=KEY_ONLY),
    ("PATCH", "/api/streams/{stream_id:int}/whip/{session_id:str}"): e(NOBODY, SDP, why=KEY_ONLY),
    ("OPTIONS", "/api/streams/{stream_id:int}/whip/{session_id:str}"): e(EVERYONE),
    ("POST", "/api/streams/{stream_id:int}/whep"): e(EVERYONE, SDP),
    ("OPTIONS", "/api/streams/{stream_id:int}/whep"): e(EVERYONE),
    ("DELETE", "/api/streams/{stream_id:int}/whep/{session_id:str}"): e(NOBODY, why=KEY_ONLY),
    ("PATCH", "/api/streams/{stream_id:int}/whep/{session_id:str}"): e(NOBODY, SDP, why=KEY_ONLY),
    ("OPTIONS", "/api/streams/{stream_id:int}/whep/{session_id:str}"): e(EVERYONE),
    ("POST", "/api/streams/{stream_id:int}/golive"): e(STREAM_MANAGER, why="409 unless it is rehearsing"),
    # Rooms (B's is owned by staff_b for B's booth); their keys are the credential
    ("POST", "/api/rooms"): e(PRESENTER, lambda w, a: {"title": "Meet", "expo": w.b.slug}),
    ("POST", "/api/rooms/{room_id:int}/participants"): e(NOBODY, {"key": "wrong"}, why=KEY_ONLY),
    ("GET", "/api/rooms/{room_id:int}/participants"): e(NOBODY, query="?key=wrong", why=KEY_ONLY),
    ("POST", "/api/rooms/{room_id:int}/end"): e(NOBODY, {"key": "wrong"}, why=KEY_ONLY),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/publish"): e(
        NOBODY, SDP, why=KEY_ONLY
    ),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/subscriptions/{other_id:str}"): e(
        NOBODY, SDP, why=KEY_ONLY
    ),
    ("DELETE", "/api/rooms/{room_id:int}/participants/{participant_id:str}/subscriptions/{other_id:str}"): e(
        NOBODY, why=KEY_ONLY
    ),
    ("DELETE", "/api/rooms/{room_id:int}/participants/{participant_id:str}"): e(NOBODY, why=KEY_ONLY),
    ("PUT", "/api/rooms/{room_id:int}/participants/{participant_id:str}/name"): e(
        NOBODY, {"name": "Mallory"}, why=KEY_ONLY
    ),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/leave"): e(
        NOBODY, Raw(b"not-the-secret", "text/plain"), why=KEY_ONLY
    ),
    # Room control: the host's key (settings) or the host's participant secret (the rest)
    ("PUT", "/api/rooms/{room_id:int}/settings"): e(NOBODY, {"key": "wrong", "locked": True}, why=KEY_ONLY),
    ("GET", "/api/rooms/{room_id:int}/on-air"): e(NOBODY, query="?key=wrong", why=KEY_ONLY),
    ("PUT", "/api/rooms/{room_id:int}/on-air"): e(NOBODY, {"key": "wrong"}, why=KEY_ONLY),
    ("PUT", "/api/rooms/{room_id:int}/on-air/feed"): e(
        NOBODY, {"key": "wrong", "feed": "auto"}, why=KEY_ONLY
    ),
    ("POST", "/api/rooms/{room_id:int}/on-air/end"): e(NOBODY, {"key": "wrong"}, why=KEY_ONLY),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/lobby/{other_id:str}/admit"): e(
        NOBODY, why=KEY_ONLY
    ),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/lobby/{other_id:str}/turn-away"): e(
        NOBODY, why=KEY_ONLY
    ),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/others/{other_id:str}/remove"): e(
        NOBODY, why=KEY_ONLY
    ),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/others/{other_id:str}/mute"): e(
        NOBODY, why=KEY_ONLY
    ),
    ("DELETE", "/api/rooms/{room_id:int}/participants/{participant_id:str}/others/{other_id:str}/hand"): e(
        NOBODY, why=KEY_ONLY
    ),
    ("PUT", "/api/rooms/{room_id:int}/participants/{participant_id:str}/hand"): e(
        NOBODY, {"raised": True}, why=KEY_ONLY
    ),
    # A participant's own media state and shared screen: their participant secret
    ("PUT", "/api/rooms/{room_id:int}/participants/{participant_id:str}/media"): e(
        NOBODY, {"muted": True}, why=KEY_ONLY
    ),
    ("POST", "/api/rooms/{room_id:int}/participants/{participant_id:str}/screen"): e(
        NOBODY, SDP, why=KEY_ONLY
    ),
    ("DELETE", "/api/rooms/{room_id:int}/participants/{participant_id:str}/screen"): e(NOBODY, why=KEY_ONLY),
    (
        "POST",
        "/api/rooms/{room_id:int}/participants/{participant_id:str}/subscriptions/{other_id:str}/screen",
    ): e(NOBODY, SDP, why=KEY_ONLY),
    (
        "DELETE",
        "/api/rooms/{room_id:int}/participants/{participant_id:str}/subscriptions/{other_id:str}/screen",
    ): e(NOBODY, why=KEY_ONLY),
    ("GET", "/rooms/{room_id:int}"): e(NOBODY, why=KEY_ONLY),
    ("GET", "/rooms"): e(accounts("organizer", "exhibitor"), why="lists the caller's own rooms"),
    ("POST", "/rooms"): e(PRESENTER, lambda w, a: {"title": "Meet", "expo": w.b.slug}),
    ("POST", "/rooms/{room_id:int}/end"): e(STREAM_MANAGER, {}, fresh={"room_id": lambda w: w.fresh_room()}),
    ("GET", "/rooms/{room_id:int}/attendance.csv"): e(STREAM_MANAGER),
    ("POST", "/rooms/{room_id:int}/walk-in"): e(
        STREAM_MANAGER, {"walk_in": "1"}, fresh={"room_id": lambda w: w.fresh_room()}
    ),
    # Cloud signing: the room's managers prepare it; its keys (room, party) sign; certificates are
    # read by their link; anyone may check a file
    ("GET", "/api/signing/rooms/{room_id:int}"): e(NOBODY, query="?key=wrong", why=KEY_ONLY),
    ("POST", "/api/signing/rooms/{room_id:int}/signatures"): e(
        NOBODY, {"key": "wrong", "document_id": 1, "name": "N", "consent": True}, why=KEY_ONLY
    ),
    ("POST", "/api/signing/rooms/{room_id:int}/parties"): e(
        STREAM_MANAGER,
        lambda w, a: {
            "party": "Party",
            "signer_name": "Signer",
            "email": f"{unique('p')(w, a)}@authz.example",
        },
        fresh={"room_id": lambda w: w.fresh_room()},
    ),
    ("DELETE", "/api/signing/rooms/{room_id:int}/parties/{party_id:int}"): e(
        STREAM_MANAGER, params={"party_id": "999999"}, why="404 for a party not in the room"
    ),
    ("GET", "/rooms/{room_id:int}/signing"): e(STREAM_MANAGER),
    ("POST", "/rooms/{room_id:int}/signing/documents"): e(
        STREAM_MANAGER, CONTRACT, fresh={"room_id": lambda w: w.fresh_room()}
    ),
    ("POST", "/rooms/{room_id:int}/signing/documents/{document_id:int}/replace"): e(
        STREAM_MANAGER, CONTRACT, params={"document_id": "999999"}, why="404 for a document not in the room"
    ),
    ("POST", "/rooms/{room_id:int}/signing/documents/{document_id:int}/remove"): e(
        STREAM_MANAGER, {}, params={"document_id": "999999"}, why="404 for a document not in the room"
    ),
    ("POST", "/rooms/{room_id:int}/signing/parties"): e(
        STREAM_MANAGER,
        lambda w, a: {
            "party": "Party",
            "signer_name": "Signer",
            "email": f"{unique('f')(w, a)}@authz.example",
        },
        fresh={"room_id": lambda w: w.fresh_room()},
    ),
    ("POST", "/rooms/{room_id:int}/signing/parties/{party_id:int}/remove"): e(
        STREAM_MANAGER, {}, params={"party_id": "999999"}, why="404 for a party not in the room"
    ),
    ("POST", "/rooms/{room_id:int}/signing/broadcast"): e(
        STREAM_MANAGER, {"stream_id": ""}, fresh={"room_id": lambda w: w.fresh_room()}
    ),
    ("GET", "/signing/rooms/{room_id:int}/documents/{document_id:int}"): e(
        STREAM_MANAGER,
        query="?key=wrong",
        params={"document_id": "999999"},
        why="the room's key, or its managers",
    ),
    ("GET", "/signing/certificates/{code:str}"): e(EVERYONE, params={"code": "no-such-certificate"}),
    ("GET", "/signing/certificates/{code:str}/certificate.pdf"): e(
        EVERYONE, params={"code": "no-such-certificate"}
    ),
    ("GET", "/signing/verify"): e(EVERYONE),
    ("POST", "/signing/verify"): e(EVERYONE, CONTRACT, why="the file is hashed, never stored"),
    ("GET", "/watch/{stream_id:int}"): e(EVERYONE),
    ("GET", "/watch/{stream_id:int}/replay"): e(EVERYONE),
    ("GET", "/streams"): e(SIGNED_IN, why="lists the caller's own broadcasts"),
    ("POST", "/streams"): e(PRESENTER, lambda w, a: {"title": "Show", "expo": w.b.slug}),
    ("GET", "/streams/{stream_id:int}/live"): e(STREAM_MANAGER),
    ("POST", "/streams/{stream_id:int}/reopen"): e(
        STREAM_MANAGER, {}, fresh={"stream_id": lambda w: w.fresh_stream(ended=True)}
    ),
    # The investment promotion site: public pages; B's expo editors (CHANGE_EXPO) write it
    ("GET", "/expos/{slug}/invest"): e(EVERYONE),
    ("GET", "/expos/{slug}/invest/sitemap.xml"): e(EVERYONE),
    ("GET", "/expos/{slug}/invest/subtitles/{lang}.vtt"): e(EVERYONE, params={"lang": "en"}),
    ("GET", "/expos/{slug}/invest/{module}"): e(EVERYONE, params={"module": "advantages"}),
    ("GET", "/organizer/expos/{slug}/invest"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/organizer/expos/{slug}/invest/filing-questions"): e(perm(Perm.CHANGE_EXPO)),
    ("POST", "/organizer/expos/{slug}/invest/filing-questions"): e(
        perm(Perm.CHANGE_EXPO), {"new_label": "Local partner", "new_kind": "text"}
    ),
    ("POST", "/organizer/expos/{slug}/invest/letter"): e(
        perm(Perm.CHANGE_EXPO), {"letter_title": "Dear investors", "letter_body": "Welcome."}
    ),
    ("POST", "/organizer/expos/{slug}/invest/film"): e(perm(Perm.CHANGE_EXPO), SUBTITLES),
    ("POST", "/organizer/expos/{slug}/invest/film/remove"): e(perm(Perm.CHANGE_EXPO), {"slot": "poster"}),
    ("GET", "/organizer/expos/{slug}/invest/{module}"): e(perm(Perm.CHANGE_EXPO), params={"module": "city"}),
    ("POST", "/organizer/expos/{slug}/invest/{module}/sections"): e(
        perm(Perm.CHANGE_EXPO), {"heading": "Talent"}, params={"module": "city"}
    ),
    ("POST", "/organizer/expos/{slug}/invest/{module}/sections/{section_id:int}"): e(
        perm(Perm.CHANGE_EXPO),
        {"heading": "Ports and airports"},
        params={"module": "advantages"},
        fresh={"section_id": _fresh_section},
    ),
    ("POST", "/organizer/expos/{slug}/invest/{module}/sections/{section_id:int}/upload"): e(
        perm(Perm.CHANGE_EXPO),
        SECTION_PDF,
        params={"module": "advantages"},
        fresh={"section_id": _fresh_section},
    ),
    ("POST", "/organizer/expos/{slug}/invest/{module}/sections/{section_id:int}/remove"): e(
        perm(Perm.CHANGE_EXPO), {}, params={"module": "advantages"}, fresh={"section_id": _fresh_section}
    ),
    # Consulting: any signed-in investor asks; a thread is read by its investor (visitor asked the
    # fresh ones) and B's bureau (CHANGE_EXPO), everyone else gets 404
    ("POST", "/api/expos/{slug}/consulting/threads"): e(
        SIGNED_IN, {"category": "tax", "subject": "Rates", "body": "Which rate applies?"}
    ),
    ("GET", "/api/expos/{slug}/consulting/threads"): e(SIGNED_IN),
    ("GET", "/api/expos/{slug}/consulting/inbox"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/api/expos/{slug}/consulting/threads/{thread_id:int}"): e(
        CONSULTED, fresh={"thread_id": _fresh_thread}
    ),
    ("POST", "/api/expos/{slug}/consulting/threads/{thread_id:int}/messages"): e(
        CONSULTED, {"body": "Thank you"}, fresh={"thread_id": _fresh_thread}
    ),
    ("GET", "/expos/{slug}/invest/consulting/questions"): e(SIGNED_IN),
    ("POST", "/expos/{slug}/invest/consulting/questions"): e(
        SIGNED_IN, {"category": "land", "subject": "Plots", "body": "How large?"}
    ),
    ("GET", "/expos/{slug}/invest/consulting/questions/{thread_id:int}"): e(
        CONSULTED, fresh={"thread_id": _fresh_thread}
    ),
    ("POST", "/expos/{slug}/invest/consulting/questions/{thread_id:int}/reply"): e(
        CONSULTED, {"body": "And water?"}, fresh={"thread_id": _fresh_thread}
    ),
    ("GET", "/organizer/expos/{slug}/consulting"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/organizer/expos/{slug}/consulting/{thread_id:int}"): e(
        perm(Perm.CHANGE_EXPO), fresh={"thread_id": _fresh_thread}
    ),
    ("POST", "/organizer/expos/{slug}/consulting/{thread_id:int}/reply"): e(
        perm(Perm.CHANGE_EXPO), {"body": "Up to 50 ha."}, fresh={"thread_id": _fresh_thread}
    ),
    # Invitation letters: B's promotion editors send them; the letter's link is the key
    ("POST", "/api/expos/{slug}/invitations"): e(perm(Perm.CHANGE_EXPO), _invitees),
    ("GET", "/api/expos/{slug}/invitations"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/organizer/expos/{slug}/invitations"): e(perm(Perm.CHANGE_EXPO)),
    ("POST", "/organizer/expos/{slug}/invitations/preview"): e(perm(Perm.CHANGE_EXPO), _invitees_upload),
    ("POST", "/organizer/expos/{slug}/invitations/send"): e(perm(Perm.CHANGE_EXPO), _invitees_form),
    ("GET", "/organizer/expos/{slug}/invitations.csv"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/expos/{slug}/invest/invited/{token}"): e(
        EVERYONE, params={"token": "not-a-signed-link"}, why="the link is the key: 404 without it"
    ),
    ("POST", "/expos/{slug}/invest/invited/{token}/signup"): e(
        EVERYONE,
        {"name": "Ann", "email": "ann@authz.example", "password": PASSWORD},
        params={"token": "not-a-signed-link"},
        why="the link is the key: 404 without it",
    ),
    # Project filing: any signed-in investor files; a project shows to its investor and B's bureau
    # (CHANGE_EXPO), who alone move, assign, comment and export
    ("GET", "/expos/{slug}/invest/projects"): e(SIGNED_IN, why="lists the caller's own projects"),
    ("POST", "/expos/{slug}/invest/projects"): e(SIGNED_IN, PROJECT_FILING),
    ("GET", "/expos/{slug}/invest/projects/new"): e(SIGNED_IN),
    ("GET", "/expos/{slug}/invest/projects/{project_id:int}"): e(
        INVESTOR | perm(Perm.CHANGE_EXPO), fresh={"project_id": _the_project}
    ),
    ("POST", "/expos/{slug}/invest/projects/{project_id:int}/files"): e(
        INVESTOR | perm(Perm.CHANGE_EXPO), PROJECT_PDF, fresh={"project_id": _the_project}
    ),
    # ... and its documents to the departments it was circulated to as well
    ("GET", "/expos/{slug}/invest/projects/{project_id:int}/files/{file_id:int}"): e(
        INVESTOR | perm(Perm.CHANGE_EXPO) | DEPT_MEMBER,
        fresh={"project_id": _circulated, "file_id": _circulated_file},
    ),
    ("GET", "/organizer/expos/{slug}/projects"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/organizer/expos/{slug}/projects.csv"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/organizer/expos/{slug}/projects/{project_id:int}"): e(
        perm(Perm.CHANGE_EXPO), fresh={"project_id": _the_project}
    ),
    ("POST", "/organizer/expos/{slug}/projects/{project_id:int}/move"): e(
        perm(Perm.CHANGE_EXPO), {"stage": "screening", "version": "1"}, fresh={"project_id": _fresh_project}
    ),
    ("POST", "/organizer/expos/{slug}/projects/{project_id:int}/assign"): e(
        perm(Perm.CHANGE_EXPO), {"owner_id": "", "version": "1"}, fresh={"project_id": _fresh_project}
    ),
    ("POST", "/organizer/expos/{slug}/projects/{project_id:int}/comments"): e(
        perm(Perm.CHANGE_EXPO), {"body": "Call back"}, fresh={"project_id": _the_project}
    ),
    # A project's online meetings and signing ceremony: the bureau schedules and opens them; a
    # meeting's calendar file is the investor's (guest link) and the bureau's (host link)
    ("POST", "/organizer/expos/{slug}/projects/{project_id:int}/meetings"): e(
        perm(Perm.CHANGE_EXPO), _project_meeting, fresh={"project_id": _the_project}
    ),
    ("POST", "/organizer/expos/{slug}/projects/{project_id:int}/meetings/{meeting_id:int}/move"): e(
        perm(Perm.CHANGE_EXPO),
        _project_meeting,
        fresh={"project_id": _the_project, "meeting_id": _fresh_meeting},
    ),
    ("POST", "/organizer/expos/{slug}/projects/{project_id:int}/meetings/{meeting_id:int}/cancel"): e(
        perm(Perm.CHANGE_EXPO), {}, fresh={"project_id": _the_project, "meeting_id": _fresh_meeting}
    ),
    ("POST", "/organizer/expos/{slug}/projects/{project_id:int}/ceremony"): e(
        perm(Perm.CHANGE_EXPO), PROJECT_CEREMONY, fresh={"project_id": _project_at_signing}
    ),
    (
        "GET",
        "/expos/{slug}/invest/projects/{project_id:int}/meetings/{meeting_id:int}/invitation.ics",
    ): e(INVESTOR | perm(Perm.CHANGE_EXPO), fresh={"project_id": _the_project, "meeting_id": _fresh_meeting}),
    ("POST", "/api/expos/{slug}/projects"): e(SIGNED_IN, {**PROJECT_FILING, "amount": 5000000}),
    ("GET", "/api/expos/{slug}/projects"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/api/expos/{slug}/projects/mine"): e(SIGNED_IN, why="the caller's own projects"),
    ("GET", "/api/expos/{slug}/projects.csv"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/api/expos/{slug}/projects/{project_id:int}"): e(
        INVESTOR | perm(Perm.CHANGE_EXPO), fresh={"project_id": _the_project}
    ),
    ("POST", "/api/expos/{slug}/projects/{project_id:int}/move"): e(
        perm(Perm.CHANGE_EXPO), {"stage": "screening", "version": 1}, fresh={"project_id": _fresh_project}
    ),
    ("PUT", "/api/expos/{slug}/projects/{project_id:int}/assignment"): e(
        perm(Perm.CHANGE_EXPO), {"owner_id": None, "version": 1}, fresh={"project_id": _fresh_project}
    ),
    ("POST", "/api/expos/{slug}/projects/{project_id:int}/comments"): e(
        perm(Perm.CHANGE_EXPO), {"body": "Call back"}, fresh={"project_id": _the_project}
    ),
    # The bureau's departments: B's bureau defines them and sends projects to them; a department's
    # members (dept_b) read what was sent to it and take their steps; the bureau may act for any
    ("GET", "/organizer/expos/{slug}/departments"): e(perm(Perm.CHANGE_EXPO)),
    ("POST", "/organizer/expos/{slug}/departments"): e(perm(Perm.CHANGE_EXPO), _named("department")),
    ("GET", "/organizer/expos/{slug}/departments/{department_id:int}"): e(
        perm(Perm.CHANGE_EXPO), fresh={"department_id": _land}
    ),
    ("POST", "/organizer/expos/{slug}/departments/{department_id:int}"): e(
        perm(Perm.CHANGE_EXPO), _named("renamed"), fresh={"department_id": _fresh_department}
    ),
    ("POST", "/organizer/expos/{slug}/departments/{department_id:int}/members"): e(
        perm(Perm.CHANGE_EXPO), {"email": email_of("probe")}, fresh={"department_id": _fresh_department}
    ),
    ("POST", "/organizer/expos/{slug}/departments/{department_id:int}/members/{user_id:int}/remove"): e(
        perm(Perm.CHANGE_EXPO), {}, fresh={"department_id": _fresh_department, "user_id": _helper_id}
    ),
    ("GET", "/my/departments"): e(DEPT_MEMBER, why="what is assigned to the caller's departments"),
    ("GET", "/expos/{slug}/departments/projects/{project_id:int}"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, fresh={"project_id": _circulated}
    ),
    ("POST", "/expos/{slug}/departments/projects/{project_id:int}/circulate"): e(
        perm(Perm.CHANGE_EXPO), _task_form, fresh={"project_id": _uncirculated}
    ),
    ("POST", "/expos/{slug}/departments/steps/{step_id:int}/accept"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, {"version": "1"}, fresh={"step_id": _fresh_step}
    ),
    ("POST", "/expos/{slug}/departments/steps/{step_id:int}/comments"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, {"body": "Plot 12 fits."}, fresh={"step_id": _fresh_step}
    ),
    ("POST", "/expos/{slug}/departments/steps/{step_id:int}/handover"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, _task_form, fresh={"step_id": _fresh_step}
    ),
    ("POST", "/expos/{slug}/departments/steps/{step_id:int}/done"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, {"version": "1"}, fresh={"step_id": _fresh_step}
    ),
    ("GET", "/api/expos/{slug}/departments"): e(perm(Perm.CHANGE_EXPO)),
    ("POST", "/api/expos/{slug}/departments"): e(perm(Perm.CHANGE_EXPO), _named("api department")),
    ("POST", "/api/expos/{slug}/departments/{department_id:int}/members"): e(
        perm(Perm.CHANGE_EXPO), {"email": email_of("probe")}, fresh={"department_id": _fresh_department}
    ),
    ("DELETE", "/api/expos/{slug}/departments/{department_id:int}/members/{user_id:int}"): e(
        perm(Perm.CHANGE_EXPO), fresh={"department_id": _fresh_department, "user_id": _helper_id}
    ),
    ("GET", "/api/me/department-steps"): e(DEPT_MEMBER, why="what is assigned to the caller's departments"),
    ("GET", "/api/expos/{slug}/projects/{project_id:int}/circulation"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, fresh={"project_id": _circulated}
    ),
    ("POST", "/api/expos/{slug}/projects/{project_id:int}/circulation"): e(
        perm(Perm.CHANGE_EXPO), _task, fresh={"project_id": _uncirculated}
    ),
    ("POST", "/api/expos/{slug}/circulation/{step_id:int}/accept"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, {"version": 1}, fresh={"step_id": _fresh_step}
    ),
    ("POST", "/api/expos/{slug}/circulation/{step_id:int}/comments"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, {"body": "Plot 12 fits."}, fresh={"step_id": _fresh_step}
    ),
    ("POST", "/api/expos/{slug}/circulation/{step_id:int}/handover"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, _task, fresh={"step_id": _fresh_step}
    ),
    ("POST", "/api/expos/{slug}/circulation/{step_id:int}/done"): e(
        perm(Perm.CHANGE_EXPO) | DEPT_MEMBER, {"version": 1}, fresh={"step_id": _fresh_step}
    ),
    # Dashboards
    ("GET", "/api/expos/{slug}/dashboard"): e(perm(Perm.VIEW_DASHBOARD)),
    ("GET", "/api/expos/{slug}/dashboard/live"): e(perm(Perm.VIEW_DASHBOARD)),
    ("GET", "/api/expos/{slug}/dashboard/mine"): e(EXHIBITOR_DASHBOARD, late=True),
    ("GET", "/organizer/expos/{slug}/dashboard"): e(perm(Perm.VIEW_DASHBOARD)),
    ("GET", "/organizer/expos/{slug}/dashboard/audience.csv"): e(perm(Perm.VIEW_DASHBOARD)),
    ("GET", "/organizer/expos/{slug}/dashboard/audience-minutes.csv"): e(perm(Perm.VIEW_DASHBOARD)),
    ("GET", "/organizer/expos/{slug}/dashboard/rooms.csv"): e(perm(Perm.VIEW_DASHBOARD)),
    # The promotion dashboard is the investment bureau's, as the pipeline it sums up.
    ("GET", "/api/expos/{slug}/dashboard/promotion"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/organizer/expos/{slug}/dashboard/promotion"): e(perm(Perm.CHANGE_EXPO)),
    ("GET", "/organizer/expos/{slug}/dashboard/promotion/{table}.csv"): e(
        perm(Perm.CHANGE_EXPO), params={"table": "stages"}
    ),
    ("GET", "/my/dashboard"): e(SIGNED_IN),
    ("GET", "/my/dashboard/{slug}"): e(EXHIBITOR_DASHBOARD, late=True),
    ("GET", "/my/dashboard/{slug}/audience.csv"): e(EXHIBITOR_DASHBOARD, late=True),
    ("GET", "/my/dashboard/{slug}/audience-minutes.csv"): e(EXHIBITOR_DASHBOARD, late=True),
    ("GET", "/my/dashboard/{slug}/rooms.csv"): e(EXHIBITOR_DASHBOARD, late=True),
}

EXEMPT: dict[str, str] = {
    "/ws": "the WebSocket: each channel asks expo.permissions itself; tests/test_realtime.py covers it",
    "/internal/relay/{stream_id:int}": "relay link between server processes: private socket and cluster "
    "HMAC only; tests/streaming/test_cluster.py covers it",
}
IMPLIED = {"HEAD"}  # answered by the GET handler


def _walk(items: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in items:
        if isinstance(route, Mount):
            if route.path != "/static":  # files on disk, public by design
                yield from _walk(list(route.routes), prefix + route.path)
        elif isinstance(route, WebSocketRoute):
            yield "WEBSOCKET", prefix + route.path
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - IMPLIED):
                yield method, prefix + route.path


def route_table() -> list[tuple[str, str]]:
    return list(_walk(routes()))


def test_every_route_has_a_matrix_entry() -> None:
    """A new route without a matrix entry fails here: say who may call it."""
    table = route_table()
    missing = [f"{m} {p}" for m, p in table if (m, p) not in MATRIX and p not in EXEMPT]
    stale = [f"{m} {p}" for m, p in MATRIX if (m, p) not in table]
    assert not missing, "routes without an entry in tests/test_authorization.py MATRIX:\n" + "\n".join(
        missing
    )
    assert not stale, "MATRIX entries for routes that no longer exist:\n" + "\n".join(stale)


# Running the cells ----------------------------------------------------------------------------------------

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
PARAMS = {  # path parameter -> attribute of world.b
    "slug": "slug",
    "booth_id": "booth_id",
    "product_id": "product_id",
    "hall_id": "hall_id",
    "category_id": "category_id",
    "stream_id": "stream_id",
    "room_id": "room_id",
    "program_id": "program_id",
    "registration_id": "registration_id",
    "meeting_id": "meeting_id",
    "window_id": "window_id",
    "lead_id": "lead_id",
    "message_id": "message_id",
    "question_id": "question_id",
}
LITERALS = {
    "session_id": "no-such-session",
    "participant_id": "no-such-participant",
    "other_id": "no-such-other",
    "media_id": "999999",
    "invite_id": "999999",
    "token_id": "999999",
}


@dataclass
class Secret:
    label: str
    value: str
    readers: Allow  # actors who may read it


def secrets_of(world: World) -> list[Secret]:
    b, a = world.b, world.a
    found = [
        Secret("B's stream key", b.stream_key, STREAM_MANAGER),
        Secret("B's room host key", b.host_key, STREAM_MANAGER),
        Secret("B's room guest key", b.guest_key, STREAM_MANAGER),
        Secret("B's guest's badge code", b.badge_code, perm(Perm.MANAGE_REGISTRATION)),
        Secret("B's guest's badge", b.badge, perm(Perm.MANAGE_REGISTRATION)),
        Secret("B's guest's calendar link", b.feed_token, NOBODY),
        Secret("A's stream key", a.stream_key, frozenset({"exh_a", "orga", "admin"})),
        Secret("A's room host key", a.host_key, frozenset({"exh_a", "orga", "admin"})),
        Secret("B's investor's project", PROJECT_COMPANY, INVESTOR | perm(Perm.CHANGE_EXPO)),
        Secret("B's circulated project", CIRCULATED_COMPANY, INVESTOR | perm(Perm.CHANGE_EXPO) | DEPT_MEMBER),
    ]
    for name, creds in world.actors.items():
        if creds.token:
            found.append(Secret(f"{name}'s API token", creds.token, frozenset({name})))
        if creds.session:
            found.append(Secret(f"{name}'s session", creds.session, frozenset({name})))
    return found


@dataclass
class Outcome:
    mismatches: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # secrets found in the answers to their readers
    cells: int = 0


def denied_ok(response: httpx.Response, page: bool, actor: str) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    to_login = response.headers.get("location", "").startswith("/login")
    return page and actor == "anon" and response.status_code in (302, 303) and to_login


def allowed_ok(response: httpx.Response, page: bool) -> bool:
    to_login = response.headers.get("location", "").startswith("/login")
    return response.status_code < 500 and response.status_code not in (401, 403) and not (page and to_login)


async def call(world: World, method: str, template: str, entry: Entry, actor: str) -> httpx.Response:
    values: dict[str, str] = {k: str(getattr(world.b, v)) for k, v in PARAMS.items()}
    values.update(LITERALS)
    values["user_id"] = str(world.b.guest.id)
    for name, value in entry.params.items():
        values[name] = str(getattr(world.b, value, value))
    for name, make in entry.fresh.items():
        values[name] = str(await make(world))
    path = _PARAM.sub(lambda m: values[m.group(1)], template) + entry.query
    creds = world.actors[actor]
    body = entry.body(world, actor) if callable(entry.body) else entry.body
    page = not template.startswith("/api/")
    own: str | None = None
    if entry.own and creds.user is not None:
        kind = TokenKind.API if entry.own == "api" else TokenKind.SESSION
        own = (await world.fresh_token(actor, kind))[0]
    headers = (
        creds.page_headers(own)
        if page
        else ({"Authorization": f"Bearer {own}"} if own else creds.api_headers())
    )
    kwargs: dict[str, Any] = {}
    if isinstance(body, Raw):
        if body.files is not None:
            kwargs["files"] = body.files
            kwargs["data"] = {"csrf_token": world.csrf, **(body.form or {})}
        else:
            kwargs["content"] = body.content
            headers["Content-Type"] = body.media_type
    elif page and method not in ("GET", "OPTIONS"):
        kwargs["data"] = {"csrf_token": world.csrf, **(body or {})}
    elif body is not None:
        kwargs["json"] = body
    if page and method == "OPTIONS":
        headers.update({"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET"})
    world.client.cookies.clear()  # each call carries exactly the actor's credentials
    return await world.client.request(method, path, headers=headers, **kwargs)


async def run_matrix(world: World) -> Outcome:
    outcome = Outcome()
    secrets = secrets_of(world)
    table = route_table()
    ordered = sorted(((m, p) for m, p in table if (m, p) in MATRIX), key=lambda mp: MATRIX[mp].late)
    for method, template in ordered:
        entry = MATRIX[(method, template)]
        page = not template.startswith("/api/")
        # Those turned away first: an allowed call may change what a later one finds.
        for actor in sorted(ACTORS, key=lambda a: a in entry.allow):
            response = await call(world, method, template, entry, actor)
            outcome.cells += 1
            allowed = actor in entry.allow
            fine = allowed_ok(response, page) if allowed else denied_ok(response, page, actor)
            if not fine:
                expected = "allowed" if allowed else "denied"
                detail = response.text[:120].replace("\n", " ")
                got = f"got {response.status_code}, expected {expected}"
                outcome.mismatches.append(f"{actor:10} {method:7} {template}  {got}  {detail}")
            text = response.text + response.headers.get("location", "")
            for secret in secrets:
                if secret.value not in text:
                    continue
                if actor in secret.readers:
                    outcome.seen.add(secret.label)
                else:
                    outcome.leaks.append(f"{actor:10} {method:7} {template}  shows {secret.label}")
    return outcome


async def test_authorization_matrix(app: Starlette, client: httpx.AsyncClient) -> None:
    world = await build_world(app, client)
    outcome = await run_matrix(world)
    report = []
    if outcome.mismatches:
        report += [f"{len(outcome.mismatches)} cells answer against the rule (of {outcome.cells}):"]
        report += outcome.mismatches
    if outcome.leaks:
        report += [f"{len(outcome.leaks)} responses show secrets to actors who may not manage them:"]
        report += outcome.leaks
    # The scan is not vacuous: their managers do read these secrets somewhere.
    unseen = {"B's stream key", "B's room host key", "B's room guest key"} - outcome.seen
    if unseen:
        report.append(f"the secret scan is blind: no manager was shown {sorted(unseen)}")
    assert not report, "\n".join(report)


def test_a_refusal_tells_a_signed_out_visitor_to_sign_in_and_others_why() -> None:
    with pytest.raises(Unauthorized) as signed_out:
        require(False, None, "Only the booth's staff edit it.", "booth.forbidden")
    assert (signed_out.value.code, signed_out.value.message) == ("auth.required", "Sign in first.")
    member = User(id=1, email="ann@example.com", name="Ann", role="visitor", password_hash="!")
    with pytest.raises(Forbidden) as refused:
        require(False, member, "Only the booth's staff edit it.", "booth.forbidden")
    assert (refused.value.code, refused.value.message) == (
        "booth.forbidden",
        "Only the booth's staff edit it.",
    )
    require(True, None, "never shown", "never.raised")
