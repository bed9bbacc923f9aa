"""The invitation letters' API (the expo's team with ``expo.change``):

- ``POST /api/expos/{slug}/invitations[?good_rows_only=true]`` (``text/csv`` body, the columns
  ``name,email,company,language``) → 201 ``{"sent", "skipped"}``: a letter to every row, or 422
  ``invitation.invalid`` with a ``details`` entry ``{"line", "message"}`` per bad line and nothing
  sent. With ``good_rows_only``, the good rows are sent and the bad ones listed in ``skipped``.
- ``GET /api/expos/{slug}/invitations`` → the funnel (how many reached each stage) and each
  invitation with its moments.

Who may is checked before the body is read.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from expo.accounts.models import User
from expo.auth import platform
from expo.expos import services as expos
from expo.http.api import Endpoint, Schema
from expo.http.bodies import read_body
from expo.permissions import Perm
from expo.promotion import invitations as inv
from expo.promotion.invitations_csv import MAX_FILE_BYTES

_TAGS = ["promotion"]


class LineProblem(Schema):
    line: int = Field(description="the file's line (0: the file as a whole)")
    message: str


class SentOut(Schema):
    sent: int
    skipped: list[LineProblem]


class SendQuery(Schema):
    good_rows_only: bool = False


class InvitationOut(Schema):
    id: int
    name: str
    email: str
    company: str
    language: str
    stage: inv.Stage
    sent_at: datetime
    opened_at: datetime | None
    registered_at: datetime | None
    filed_at: datetime | None


class FunnelOut(Schema):
    funnel: dict[str, int] = Field(description="how many invitations reached each stage")
    items: list[InvitationOut]


async def send(request: Request, query: SendQuery, user: User) -> SentOut:
    """Send an invitation letter to every investor of a CSV file (all rows or none, unless
    ``good_rows_only``)."""
    p = platform(request)
    slug = request.path_params["slug"]
    async with p.db.session() as session:
        await expos.managed_expo(session, slug, user, Perm.CHANGE_EXPO)
    data = await read_body(request, MAX_FILE_BYTES)
    async with p.db.session() as session:
        expo = await expos.managed_expo(session, slug, user, Perm.CHANGE_EXPO)
        sent = await inv.send(
            session,
            expo,
            data,
            user,
            inv.InvitationLetters(p.settings),
            p.secret,
            good_rows_only=query.good_rows_only,
        )
    skipped = [LineProblem(line=s.line, message="; ".join(s.reasons)) for s in sent.skipped]
    return SentOut(sent=len(sent.invitations), skipped=skipped)


async def funnel(request: Request, user: User) -> FunnelOut:
    """Every invitation of the expo, newest first, with how far it got."""
    async with platform(request).db.session() as session:
        expo = await expos.managed_expo(session, request.path_params["slug"], user, Perm.CHANGE_EXPO)
        found = await inv.invitations(session, expo)
    items = [
        InvitationOut(
            id=i.id or 0,
            name=i.name,
            email=i.email,
            company=i.company,
            language=i.language,
            stage=inv.stage_of(i),
            sent_at=i.sent_at,
            opened_at=i.opened_at,
            registered_at=i.registered_at,
            filed_at=i.filed_at,
        )
        for i in found
    ]
    return FunnelOut(funnel={k.value: v for k, v in inv.funnel(found).items()}, items=items)


PATH = "/api/expos/{slug}/invitations"
ROUTES: list[BaseRoute] = [
    Endpoint(
        PATH,
        send,
        method="POST",
        query=SendQuery,
        response=SentOut,
        status=201,
        auth="user",
        tags=_TAGS,
        body_media="text/csv",
        name="invitations_send",
    ),
    Endpoint(PATH, funnel, response=FunnelOut, auth="user", tags=_TAGS, name="invitations_funnel"),
]
