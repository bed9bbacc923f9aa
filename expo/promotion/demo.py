"""The demo's investment promotion site: the letter to investors, a section on two module pages,
a project the demo visitor filed that the bureau is screening and has sent to its land planning
department (the demo organizer works in it, so "My department's projects" has something to show),
the bureau's two departments, and a consulting question the bureau has answered, in English and
Chinese.

Idempotent like the rest of ``expo demo``: the letter is written only while it is empty, a section
is found by its heading, a department by its name, the project by its company and the question by
its subject; the project is sent on only while it has never circulated; what exists is left as it
is (the organizer may have changed it).
"""

# ruff: noqa: RUF001  (the Chinese texts use Chinese punctuation)
from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.config import Settings
from expo.db import utcnow
from expo.expos.models import Expo
from expo.promotion import consulting, departments, departments_circulation, projects, services
from expo.promotion.departments_letters import CirculationLetters
from expo.promotion.models import ConsultingThread, PromotionCirculation, PromotionProject
from expo.promotion.services import OTHER

LETTER = {
    "letter_title": "A letter to investors",
    "letter_body": (
        "Dear friends,\n\nThe Demo Expo brings makers of lighting, electronics and textiles together "
        "with the buyers who sell them. Our bureau helps you from the first visit to the opening day: "
        "land and offices, licences, talent and a single contact who follows your project.\n\n"
        "File your project online, ask us anything, and meet us face to face on video."
    ),
    "letter_signatory": "Demo Organizer, Director of the Investment Bureau",
    f"letter_title_{OTHER}": "致投资者的一封信",
    f"letter_body_{OTHER}": (
        "尊敬的朋友们：\n\n演示展会汇聚照明、电子和纺织的制造商及其买家。招商部门从您第一次考察到项目开业全程服务："
        "用地与办公、证照、人才，以及一位跟进您项目的专属联系人。\n\n欢迎在线备案项目、随时咨询，并通过视频与我们面对面洽谈。"
    ),
    f"letter_signatory_{OTHER}": "招商局局长 Demo Organizer",
}

SECTIONS = (
    (
        "advantages",
        {
            "heading": "A supply chain within 100 km",
            "body": (
                "Components, moulds, packaging and logistics for lighting and electronics, all within "
                "a morning's drive."
            ),
            "figure_value": "3,200",
            "figure_label": "suppliers in the region",
            f"heading_{OTHER}": "百公里内的完整供应链",
            f"body_{OTHER}": "照明和电子所需的元器件、模具、包装和物流，半天车程内都能找到。",
            f"figure_label_{OTHER}": "家本地供应商",
        },
    ),
    (
        "services",
        {
            "heading": "One contact from first visit to opening",
            "body": (
                "Each filed project gets an owner at the bureau who arranges site visits, permits "
                "and meetings."
            ),
            f"heading_{OTHER}": "从考察到开业，一位专属联系人",
            f"body_{OTHER}": "每个备案项目都有一位招商局负责人，安排实地考察、审批和会谈。",
        },
    ),
)

PROJECT = {
    "company": "Brightwave Europe GmbH",
    "sector": "Consumer electronics",
    "country": "DE",
    "amount": "25000000",
    "currency": "EUR",
    "office_sqm": "1200",
    "jobs": "150",
    "timeline": "Assembly line in 2027, research centre in 2028",
    "description": (
        "A regional assembly and repair centre for wireless audio products, serving Europe and Asia."
    ),
}
PROJECT_COMMENT = "Site visit proposed for next month; the land team is checking two plots."

DEPARTMENTS = (
    {"name": "Land planning", "name_zh": "规划局"},
    {"name": "Tax bureau", "name_zh": "税务局"},
)
TASK = "Check the two plots proposed for the assembly centre and report which one fits."
TASK_DAYS = 7  # the step is due a week after the demo is first seeded

QUESTION = {
    "category": "tax",
    "subject": "Tax incentives for a research centre",
    "body": "Which tax incentives apply to a foreign-owned research centre with about 40 engineers?",
}
ANSWER = (
    "A research centre recognised as high-tech pays a reduced corporate income tax rate, and research "
    "costs can be deducted at 200 %. We will send you the application checklist."
)


async def seed_promotion(
    session: AsyncSession, expo: Expo, organizer: User, investor: User, settings: Settings | None = None
) -> None:
    """The demo's promotion site with a filed project; with ``settings`` (its e-mails need them),
    an answered question."""
    site = await services.find_site(session, expo)
    if site is None or not site.letter_body:
        await services.save_letter(session, expo, dict(LETTER), organizer)
    for key, values in SECTIONS:
        if all(s.heading != values["heading"] for s in await services.sections(session, expo, key)):
            await services.add_section(session, expo, key, dict(values), organizer)
    assert expo.id is not None
    filed = await session.exec(
        select(PromotionProject).where(
            col(PromotionProject.expo_id) == expo.id, col(PromotionProject.company) == PROJECT["company"]
        )
    )
    project = filed.first()
    if project is None:
        project = await projects.file_project(session, expo, dict(PROJECT), investor)
        await projects.move(session, project, "screening", project.version, organizer)
        await projects.add_comment(session, project, PROJECT_COMMENT, organizer)
    land = await _departments(session, expo, organizer)
    if settings is not None:
        await _circulate(session, expo, project, land, organizer, CirculationLetters(settings))
    asked = await session.exec(
        select(ConsultingThread).where(
            col(ConsultingThread.expo_id) == expo.id, col(ConsultingThread.subject) == QUESTION["subject"]
        )
    )
    if settings is not None and asked.first() is None:
        letters = consulting.ConsultingLetters(settings)
        thread = await consulting.ask(session, expo, investor, dict(QUESTION), letters)
        await consulting.add_message(session, expo, thread, organizer, {"body": ANSWER}, letters)


async def _departments(session: AsyncSession, expo: Expo, organizer: User) -> int:
    """The bureau's two departments, the organizer working in the first; the first's id."""
    found = {d.name: d for d in await departments.departments(session, expo)}
    for values in DEPARTMENTS:
        if values["name"] not in found:
            found[values["name"]] = await departments.create(session, expo, dict(values), organizer)
    land = found[DEPARTMENTS[0]["name"]]
    assert land.id is not None and organizer.id is not None
    if organizer.id not in {m.id for m in await departments.members(session, land.id)}:
        await departments.add_member(session, expo, land, organizer.email, organizer)
    return land.id


async def _circulate(
    session: AsyncSession,
    expo: Expo,
    project: PromotionProject,
    department_id: int,
    organizer: User,
    letters: CirculationLetters,
) -> None:
    """Send the project to the department with a task due in a week, unless it ever circulated."""
    sent = await session.exec(
        select(PromotionCirculation.id).where(PromotionCirculation.project_id == project.id)
    )
    if sent.first() is not None:
        return
    await session.refresh(project)
    due = (utcnow() + timedelta(days=TASK_DAYS)).astimezone(expo.zone).date()
    task = {"department_id": str(department_id), "note": TASK, "due_date": due.isoformat()}
    await departments_circulation.circulate(session, expo, project, task, project.version, organizer, letters)
