"""Project filing API: investors file projects and read their own; the expo's bureau reads the
pipeline, moves projects, assigns them, comments and exports them as CSV.

Thin handlers: :mod:`expo.promotion.projects` decides (401 signed out, 403 neither the investor nor
the bureau, 404 unknown, 409 changed meanwhile, 422 a bad field, with ``details`` per field, or a
move the pipeline does not allow).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from expo.accounts.models import User
from expo.auth import platform
from expo.expos.services import get_expo
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import MAX_ID, Id
from expo.permissions import may_run_promotion
from expo.promotion import filing_questions, projects
from expo.promotion.models import PromotionProject

TAGS = ["promotion"]
EXPO = "/api/expos/{slug}"
PROJECT = EXPO + "/projects/{project_id:int}"
StageName = Literal["filed", "screening", "negotiating", "signing", "signed", "landed", "declined"]


class ProjectIn(Schema):
    company: str = Field(max_length=200)
    sector: str = Field(max_length=120)
    country: str = Field(description="ISO 3166-1 alpha-2 code, like DE.", max_length=2)
    amount: int = Field(
        ge=0, le=projects.MAX_AMOUNT, description="The planned investment, in whole units of the currency."
    )
    currency: str = Field(description=f"One of {', '.join(projects.CURRENCIES)}.", max_length=3)
    land_sqm: int | None = Field(default=None, ge=0, le=projects.MAX_AREA, description="Land needed, m².")
    office_sqm: int | None = Field(default=None, ge=0, le=projects.MAX_AREA, description="Offices, m².")
    jobs: int = Field(default=0, ge=0, le=projects.MAX_JOBS, description="Jobs the project creates.")
    timeline: str = Field(max_length=200)
    description: str = Field(default="", max_length=projects.MAX_DESCRIPTION)
    answers: dict[str, filing_questions.Answer] = Field(
        default_factory=dict,
        max_length=filing_questions.MAX_QUESTIONS,
        description="Answers to the bureau's own questions of the filing form, by question key: text, "
        "a list of the chosen options for several choices, true or false for a checkbox. A question "
        "answered wrong is named `answers.<key>` in the 422 error's `details`.",
    )


class ChangeOut(Schema):
    at: datetime
    action: str
    actor_id: int | None
    detail: dict[str, Any]


class CommentOut(Schema):
    id: int
    author_id: int | None
    body: str
    created_at: datetime


class FileOut(Schema):
    id: int
    filename: str
    size: int
    url: str


class ProjectOut(Schema):
    id: int
    expo_id: int
    investor_id: int
    company: str
    sector: str
    country: str
    amount: int
    currency: str
    land_sqm: int | None
    office_sqm: int | None
    jobs: int
    timeline: str
    description: str
    stage: StageName
    owner_id: int | None
    due_date: date | None
    version: int = Field(description="Name it when moving or assigning: a stale one answers 409.")
    created_at: datetime
    updated_at: datetime
    url: str
    answers: dict[str, str | list[str] | bool] = Field(
        default_factory=dict, description="Answers to the bureau's own questions, by question key."
    )

    @classmethod
    def of(cls, project: PromotionProject, slug: str) -> ProjectOut:
        # The schema's fields only: a column added for another feature is not in the API by accident.
        data = project.model_dump(include=set(cls.model_fields) - {"id", "url"})
        return cls(id=project.id or 0, url=f"/expos/{slug}/invest/projects/{project.id}", **data)


class ProjectDetail(ProjectOut):
    allowed_moves: list[str]
    history: list[ChangeOut] = Field(description="Oldest first; the investor reads only the moves.")
    comments: list[CommentOut] | None = Field(description="The bureau's notes; null for the investor.")
    files: list[FileOut]


class ProjectList(Schema):
    total: int
    counts: dict[str, int] = Field(description="Projects per stage.")
    items: list[ProjectOut]


class ListQuery(Schema):
    stage: StageName | None = None


class MoveIn(Schema):
    stage: StageName
    version: int = Field(ge=1, le=MAX_ID)


class AssignIn(Schema):
    owner_id: Id | None = Field(default=None, description="A member of the expo's team, or null.")
    due_date: str | None = Field(default=None, description="YYYY-MM-DD, or null.", max_length=10)
    version: int = Field(ge=1, le=MAX_ID)


class CommentIn(Schema):
    body: str = Field(max_length=projects.MAX_COMMENT)


async def file_project(request: Request, body: ProjectIn, user: User) -> ProjectOut:
    """File a project with the expo's investment bureau (any signed-in investor)."""
    values = {k: str(v) for k, v in body.model_dump(exclude={"answers"}).items() if v is not None}
    answers = filing_questions.from_json(body.answers)
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        project = await projects.file_project(session, expo, values, user, answers)
    return ProjectOut.of(project, expo.slug)


async def my_projects(request: Request, user: User) -> ProjectList:
    """The caller's own projects with this expo, newest first."""
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        found = await projects.my_projects(session, expo, user)
    return _list(found, expo.slug)


def _list(found: list[PromotionProject], slug: str) -> ProjectList:
    counts = {key: len(column) for key, column in projects.board(found).items()}
    return ProjectList(total=len(found), counts=counts, items=[ProjectOut.of(p, slug) for p in found])


async def list_projects(request: Request, query: ListQuery, user: User) -> ProjectList:
    """The expo's pipeline (its bureau), those due soonest first."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        found = await projects.projects(session, expo, query.stage)
    return _list(found, expo.slug)


async def _detail(request: Request, user: User) -> ProjectDetail:
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        project, st = await projects.visible_project(session, expo, path_int(request, "project_id"), user)
        bureau = may_run_promotion(st)
        changes = await projects.history(session, project, moves_only=not bureau)
        notes = await projects.comments(session, project) if bureau else None
        attached = await projects.files(session, project)
    base = ProjectOut.of(project, expo.slug)
    return ProjectDetail(
        **base.model_dump(),
        allowed_moves=list(projects.MOVES[project.stage]) if bureau else [],
        history=[
            ChangeOut(at=c.at, action=c.action, actor_id=c.actor_id if bureau else None, detail=c.detail)
            for c in changes
        ],
        comments=None
        if notes is None
        else [CommentOut.model_validate(n.model_dump(exclude={"project_id"})) for n in notes],
        files=[
            FileOut(id=f.id or 0, filename=f.filename, size=f.size, url=f"{base.url}/files/{f.id}")
            for f in attached
        ],
    )


async def project_detail(request: Request, user: User) -> ProjectDetail:
    """One project: to its investor (stage and moves) or the bureau (also comments and who did what)."""
    return await _detail(request, user)


async def move_project(request: Request, body: MoveIn, user: User) -> ProjectDetail:
    """Move a project to another stage (the bureau); 409 when it changed since ``version``."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        project = await projects.managed_project(session, expo, path_int(request, "project_id"))
        await projects.move(session, project, body.stage, body.version, user)
    return await _detail(request, user)


async def assign_project(request: Request, body: AssignIn, user: User) -> ProjectDetail:
    """Give a project an owner on the team and a due date (the bureau); 409 when it changed."""
    values = {"owner_id": str(body.owner_id or ""), "due_date": body.due_date or ""}
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        project = await projects.managed_project(session, expo, path_int(request, "project_id"))
        await projects.assign(session, expo, project, values, body.version, user)
    return await _detail(request, user)


async def comment_project(request: Request, body: CommentIn, user: User) -> CommentOut:
    """Add the bureau's note to a project."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        project = await projects.managed_project(session, expo, path_int(request, "project_id"))
        comment = await projects.add_comment(session, project, body.body, user)
    return CommentOut.model_validate(comment.model_dump(exclude={"project_id"}))


async def export_projects(request: Request, user: User) -> Response:
    """Every project of the expo as CSV (the bureau), safe for spreadsheets."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        text = await projects.export(session, expo)
    return csv_response(text, expo.slug)


def csv_response(body: str, slug: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-projects.csv"'},
    )


def _endpoint(path: str, handler: Any, method: str = "GET", **kwargs: Any) -> Endpoint:
    return Endpoint(path, handler, method=method, tags=TAGS, auth="user", **kwargs)


ROUTES = [
    _endpoint(f"{EXPO}/projects", file_project, "POST", body=ProjectIn, response=ProjectOut, status=201),
    _endpoint(f"{EXPO}/projects", list_projects, query=ListQuery, response=ProjectList),
    _endpoint(f"{EXPO}/projects/mine", my_projects, response=ProjectList),
    _endpoint(f"{EXPO}/projects.csv", export_projects, response_media="text/csv"),
    _endpoint(PROJECT, project_detail, response=ProjectDetail),
    _endpoint(f"{PROJECT}/move", move_project, "POST", body=MoveIn, response=ProjectDetail),
    _endpoint(f"{PROJECT}/assignment", assign_project, "PUT", body=AssignIn, response=ProjectDetail),
    _endpoint(
        f"{PROJECT}/comments", comment_project, "POST", body=CommentIn, response=CommentOut, status=201
    ),
]
