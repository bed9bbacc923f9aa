"""The tenant's API: expos (create, read, change), the expos you work on, and each expo's team.

Handlers are thin: they parse, call :mod:`expo.expos.services` or :mod:`expo.expos.team` (which ask
:mod:`expo.permissions`), and serialise. An invitation's token travels only in its e-mail.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field
from starlette.requests import Request

from expo.accounts.models import User
from expo.auth import platform
from expo.expos import services, team
from expo.expos.models import Expo, ExpoMember, TeamInvite
from expo.expos.services import ExpoFields
from expo.http.api import Endpoint, Handler, Schema, path_int
from expo.mail.letters import Letters
from expo.permissions import Perm, TeamRole, standing

TAGS = ["expos"]


class ExpoOut(Schema):
    id: int
    slug: str
    title: str
    description: str
    timezone: str
    languages: list[str]
    starts_on: date | None
    ends_on: date | None
    banner_path: str | None
    applications_open: bool
    translations: dict[str, dict[str, str]] = Field(
        description='the text in other languages: {"zh_Hans": {"title": ..., "description": ...}}'
    )

    @classmethod
    def of(cls, expo: Expo) -> ExpoOut:
        assert expo.id is not None
        return cls(
            id=expo.id,
            slug=expo.slug,
            title=expo.title,
            description=expo.description,
            timezone=expo.timezone,
            languages=expo.language_list,
            starts_on=expo.starts_on,
            ends_on=expo.ends_on,
            banner_path=expo.banner_path,
            applications_open=expo.applications_open,
            translations=expo.translations,
        )


class ExpoCreateIn(ExpoFields):
    slug: str = Field(min_length=1, max_length=64)


class MyExpoOut(Schema):
    expo: ExpoOut
    role: str | None = Field(description="your team role; null for a platform administrator off the team")
    permissions: list[str]


class MyExpoList(Schema):
    items: list[MyExpoOut]


class MemberOut(Schema):
    user_id: int
    email: str
    name: str
    role: str
    since: datetime

    @classmethod
    def of(cls, member: ExpoMember, user: User) -> MemberOut:
        assert user.id is not None
        return cls(
            user_id=user.id, email=user.email, name=user.name, role=member.role, since=member.created_at
        )


class InviteOut(Schema):
    id: int
    email: str
    role: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, row: TeamInvite) -> InviteOut:
        assert row.id is not None
        return cls(
            id=row.id, email=row.email, role=row.role, created_at=row.created_at, expires_at=row.expires_at
        )


class TeamOut(Schema):
    members: list[MemberOut]
    invites: list[InviteOut]


class InviteIn(Schema):
    email: str = Field(min_length=3, max_length=254)
    role: TeamRole


class RoleIn(Schema):
    role: TeamRole


async def create_expo(request: Request, body: ExpoCreateIn, user: User) -> ExpoOut:
    """Create an expo (organizer accounts); you own it."""
    fields = ExpoFields.model_validate(body.model_dump(exclude={"slug"}, exclude_unset=True))
    async with platform(request).db.session() as session:
        return ExpoOut.of(await services.create_expo(session, body.slug, fields, user))


async def get_expo(request: Request) -> ExpoOut:
    """An expo's public details."""
    async with platform(request).db.session() as session:
        return ExpoOut.of(await services.get_expo(session, request.path_params["slug"]))


async def update_expo(request: Request, body: ExpoFields, user: User) -> ExpoOut:
    """Change an expo (its team's organizers)."""
    async with platform(request).db.session() as session:
        expo = await services.get_expo(session, request.path_params["slug"])
        return ExpoOut.of(await services.update_expo(session, expo, body, user))


async def my_expos(request: Request, user: User) -> MyExpoList:
    """The expos whose team you are on, with your role and permissions in each."""
    items = []
    async with platform(request).db.session() as session:
        for expo in await services.team_expos(session, user):
            assert expo.id is not None
            st = await standing(session, user, expo.id)
            role = st.team_role.value if st.team_role else None
            perms = sorted(p.value for p in st.perms)
            items.append(MyExpoOut(expo=ExpoOut.of(expo), role=role, permissions=perms))
    return MyExpoList(items=items)


async def get_team(request: Request, user: User) -> TeamOut:
    """An expo's team and open invitations (its owners)."""
    async with platform(request).db.session() as session:
        expo = await services.managed_expo(session, request.path_params["slug"], user, Perm.MANAGE_TEAM)
        members = [MemberOut.of(m, u) for m, u in await team.list_members(session, expo)]
        invites = [InviteOut.of(i) for i in await team.list_invites(session, expo)]
    return TeamOut(members=members, invites=invites)


async def invite(request: Request, body: InviteIn, user: User) -> InviteOut:
    """Invite someone by e-mail; the letter carries the accept link (its owners)."""
    p = platform(request)
    async with p.db.session() as session:
        expo = await services.get_expo(session, request.path_params["slug"])
        row = await team.invite(session, expo, body.email, body.role, user, Letters(p.settings))
    return InviteOut.of(row)


async def withdraw(request: Request, user: User) -> None:
    """Withdraw an invitation; its link stops working (its owners)."""
    async with platform(request).db.session() as session:
        expo = await services.get_expo(session, request.path_params["slug"])
        await team.withdraw_invite(session, expo, path_int(request, "invite_id"), user)


async def change_role(request: Request, body: RoleIn, user: User) -> MemberOut:
    """Give a member another role; the last owner stays an owner (its owners)."""
    async with platform(request).db.session() as session:
        expo = await services.get_expo(session, request.path_params["slug"])
        member = await team.change_role(session, expo, path_int(request, "user_id"), body.role, user)
        person = await session.get(User, member.user_id)
        assert person is not None
        return MemberOut.of(member, person)


async def remove(request: Request, user: User) -> None:
    """Take a member off the team (its owners), or leave it yourself."""
    async with platform(request).db.session() as session:
        expo = await services.get_expo(session, request.path_params["slug"])
        await team.remove_member(session, expo, path_int(request, "user_id"), user)


async def accept(request: Request, user: User) -> MyExpoOut:
    """Accept an invitation sent to your e-mail address: you join the expo's team."""
    async with platform(request).db.session() as session:
        expo = await team.accept_invite(session, request.path_params["token"], user)
        assert expo.id is not None
        st = await standing(session, user, expo.id)
    role = st.team_role.value if st.team_role else None
    return MyExpoOut(expo=ExpoOut.of(expo), role=role, permissions=sorted(p.value for p in st.perms))


EXPO = "/api/expos/{slug}"
TEAM = f"{EXPO}/team"


def _user(path: str, handler: Handler, method: str = "GET", **kwargs: Any) -> Endpoint:
    status = {"POST": 201, "DELETE": 204}.get(method, 200)
    return Endpoint(path, handler, method=method, auth="user", status=status, tags=TAGS, **kwargs)


ROUTES = [
    _user("/api/expos", create_expo, "POST", body=ExpoCreateIn, response=ExpoOut),
    Endpoint(EXPO, get_expo, response=ExpoOut, tags=TAGS),
    _user(EXPO, update_expo, "PATCH", body=ExpoFields, response=ExpoOut),
    _user("/api/me/expos", my_expos, response=MyExpoList),
    _user(TEAM, get_team, response=TeamOut),
    _user(f"{TEAM}/invites", invite, "POST", body=InviteIn, response=InviteOut),
    _user(TEAM + "/invites/{invite_id:int}", withdraw, "DELETE"),
    _user(TEAM + "/{user_id:int}", change_role, "PUT", body=RoleIn, response=MemberOut),
    _user(TEAM + "/{user_id:int}", remove, "DELETE"),
    Endpoint(
        "/api/team/invites/{token}/accept", accept, method="POST", auth="user", response=MyExpoOut, tags=TAGS
    ),
]
