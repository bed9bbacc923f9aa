"""The departments API: the bureau defines its departments and their members and sends projects
to them; a department's members read what is assigned to them and accept, comment on, hand over
or close their steps.

Thin handlers: :mod:`expo.promotion.departments` and :mod:`expo.promotion.departments_circulation`
decide (401 signed out, 403 the bureau's business or another department's step, 404 a project or
step the caller does not work on, 409 changed meanwhile, 422 a bad field with ``details`` per field).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request

from expo.accounts.models import User
from expo.auth import platform
from expo.expos.services import get_expo
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import MAX_ID, Id
from expo.promotion import departments, departments_circulation, departments_views, projects
from expo.promotion.departments_circulation import MAX_NOTE
from expo.promotion.departments_letters import CirculationLetters, desk_url
from expo.promotion.departments_views import Assigned, Step
from expo.promotion.models import PromotionDepartment

TAGS = ["promotion"]
EXPO = "/api/expos/{slug}"
DEPARTMENT = EXPO + "/departments/{department_id:int}"
STEP = EXPO + "/circulation/{step_id:int}"
StatusName = Literal["assigned", "accepted", "handed_over", "done"]


class DepartmentIn(Schema):
    name: str = Field(max_length=departments.MAX_NAME, description="In English.")
    name_zh: str = Field(default="", max_length=departments.MAX_NAME, description="In Chinese, or empty.")


class MemberOut(Schema):
    id: int
    name: str
    email: str


class DepartmentOut(Schema):
    id: int
    name: str
    name_zh: str
    members: list[MemberOut]

    @classmethod
    def of(cls, department: PromotionDepartment, people: list[User]) -> DepartmentOut:
        zh = (department.translations.get("zh_Hans") or {}).get("name", "")
        members = [MemberOut(id=u.id or 0, name=u.name, email=u.email) for u in people]
        return cls(id=department.id or 0, name=department.name, name_zh=zh, members=members)


class DepartmentList(Schema):
    items: list[DepartmentOut]


class MemberIn(Schema):
    email: str = Field(max_length=254, description="The address of an existing account.")


class TaskIn(Schema):
    department_id: Id
    note: str = Field(max_length=MAX_NOTE, description="What the department should do.")
    due_date: str | None = Field(default=None, description="YYYY-MM-DD, or null.", max_length=10)
    version: int = Field(ge=1, le=MAX_ID, description="The project's version (handing over: the step's).")

    def values(self) -> dict[str, str]:
        return {"department_id": str(self.department_id), "note": self.note, "due_date": self.due_date or ""}


class VersionIn(Schema):
    version: int = Field(ge=1, le=MAX_ID, description="The step's version: a stale one answers 409.")


class NoteIn(Schema):
    body: str = Field(max_length=MAX_NOTE)


class NoteOut(Schema):
    id: int
    author_id: int | None
    body: str
    created_at: datetime


class StepOut(Schema):
    id: int
    project_id: int
    department_id: int
    department: str
    from_step_id: int | None
    note: str
    due_date: date | None
    status: StatusName
    overdue: bool
    version: int
    created_at: datetime
    closed_at: datetime | None
    notes: list[NoteOut] = Field(default_factory=list)

    @classmethod
    def of(cls, step: Step) -> StepOut:
        s = step.step
        data = s.model_dump(include=set(cls.model_fields) - {"department", "overdue", "notes"})
        notes = [NoteOut.model_validate(n.model_dump(exclude={"step_id"})) for n, _ in step.notes]
        return cls(**data, department=step.department.name, overdue=step.overdue, notes=notes)


class StepList(Schema):
    items: list[StepOut]


class AssignedOut(StepOut):
    expo: str
    company: str
    url: str

    @classmethod
    def mine(cls, a: Assigned) -> AssignedOut:
        base = StepOut.of(Step(a.step, a.department, []))
        url = desk_url(a.expo.slug, a.project.id)
        return cls(**base.model_dump(), expo=a.expo.slug, company=a.project.company, url=url)


class AssignedList(Schema):
    items: list[AssignedOut]


async def list_departments(request: Request, user: User) -> DepartmentList:
    """The bureau's departments with their members (the bureau)."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        found = await departments.with_members(session, expo)
    return DepartmentList(items=[DepartmentOut.of(d.department, d.members) for d in found])


async def create_department(request: Request, body: DepartmentIn, user: User) -> DepartmentOut:
    """Add a department to the bureau (the bureau); names are unique in one expo."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        department = await departments.create(session, expo, body.model_dump(), user)
    return DepartmentOut.of(department, [])


async def add_department_member(request: Request, body: MemberIn, user: User) -> DepartmentOut:
    """Put an account in a department (the bureau): it then sees the department's projects."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        department = await departments.department_of(session, expo, path_int(request, "department_id"))
        await departments.add_member(session, expo, department, body.email, user)
        people = await departments.members(session, department.id or 0)
    return DepartmentOut.of(department, people)


async def remove_department_member(request: Request, user: User) -> None:
    """Take an account out of a department (the bureau)."""
    async with platform(request).db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        department = await departments.department_of(session, expo, path_int(request, "department_id"))
        await departments.remove_member(session, expo, department, path_int(request, "user_id"), user)


async def my_department_steps(request: Request, user: User) -> AssignedList:
    """What is assigned to the caller's departments, open and overdue first (403 in no department)."""
    async with platform(request).db.session() as session:
        await departments.require_member(session, user)
        found = await departments_views.assigned_to(session, user)
    return AssignedList(items=[AssignedOut.mine(a) for a in found])


async def _steps(request: Request, user: User, project_id: int) -> StepList:
    async with platform(request).db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        project, _, _ = await departments_circulation.workable_project(session, expo, project_id, user)
        found = await departments_views.steps(session, project)
    return StepList(items=[StepOut.of(s) for s in found])


async def project_steps(request: Request, user: User) -> StepList:
    """A project's circulation, oldest step first (the bureau and the project's departments)."""
    return await _steps(request, user, path_int(request, "project_id"))


async def circulate_project(request: Request, body: TaskIn, user: User) -> StepList:
    """Send a project to a department with a task (the bureau); 409 when the project changed."""
    p = platform(request)
    project_id = path_int(request, "project_id")
    async with p.db.session() as session:
        expo = await projects.bureau_expo(session, request.path_params["slug"], user)
        project = await projects.managed_project(session, expo, project_id)
        letters = CirculationLetters(p.settings)
        await departments_circulation.circulate(
            session, expo, project, body.values(), body.version, user, letters
        )
    return await _steps(request, user, project_id)


async def _act(request: Request, user: User, kind: str, body: Any) -> StepList:
    p = platform(request)
    async with p.db.session() as session:
        expo = await get_expo(session, request.path_params["slug"])
        step, project = await departments_circulation.workable_step(
            session, expo, path_int(request, "step_id"), user
        )
        if kind == "accept":
            await departments_circulation.accept(session, project, step, body.version, user)
        elif kind == "comment":
            await departments_circulation.comment(session, project, step, body.body, user)
        elif kind == "handover":
            letters = CirculationLetters(p.settings)
            await departments_circulation.hand_over(
                session, expo, project, step, body.values(), body.version, user, letters
            )
        else:
            await departments_circulation.mark_done(session, project, step, body.version, user)
    return await _steps(request, user, project.id or 0)


async def accept_step(request: Request, body: VersionIn, user: User) -> StepList:
    """The department takes the project on; 409 when the step changed since ``version``."""
    return await _act(request, user, "accept", body)


async def comment_step(request: Request, body: NoteIn, user: User) -> StepList:
    """Write a comment on a step (its department or the bureau)."""
    return await _act(request, user, "comment", body)


async def hand_over_step(request: Request, body: TaskIn, user: User) -> StepList:
    """Close the step and give the project to another department; of two at once, one gets 409."""
    return await _act(request, user, "handover", body)


async def close_step(request: Request, body: VersionIn, user: User) -> StepList:
    """Mark the department's step done; 409 when it changed since ``version``."""
    return await _act(request, user, "done", body)


def _endpoint(path: str, handler: Any, method: str = "GET", **kwargs: Any) -> Endpoint:
    status = {"DELETE": 204}.get(method, 200)
    return Endpoint(path, handler, method=method, tags=TAGS, auth="user", status=status, **kwargs)


ROUTES = [
    _endpoint(f"{EXPO}/departments", list_departments, response=DepartmentList),
    Endpoint(
        f"{EXPO}/departments",
        create_department,
        method="POST",
        tags=TAGS,
        auth="user",
        body=DepartmentIn,
        response=DepartmentOut,
        status=201,
    ),
    _endpoint(f"{DEPARTMENT}/members", add_department_member, "POST", body=MemberIn, response=DepartmentOut),
    _endpoint(DEPARTMENT + "/members/{user_id:int}", remove_department_member, "DELETE"),
    _endpoint("/api/me/department-steps", my_department_steps, response=AssignedList),
    _endpoint(EXPO + "/projects/{project_id:int}/circulation", project_steps, response=StepList),
    _endpoint(
        EXPO + "/projects/{project_id:int}/circulation",
        circulate_project,
        "POST",
        body=TaskIn,
        response=StepList,
    ),
    _endpoint(f"{STEP}/accept", accept_step, "POST", body=VersionIn, response=StepList),
    _endpoint(f"{STEP}/comments", comment_step, "POST", body=NoteIn, response=StepList),
    _endpoint(f"{STEP}/handover", hand_over_step, "POST", body=TaskIn, response=StepList),
    _endpoint(f"{STEP}/done", close_step, "POST", body=VersionIn, response=StepList),
]
