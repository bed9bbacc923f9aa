"""The demo's investment promotion site: the letter to investors, a section on two module pages,
a project the demo visitor filed that the bureau is screening, and a consulting question the bureau
has answered, in English and Chinese.

Idempotent like the rest of ``expo demo``: the letter is written only while it is empty, a section
is found by its heading, the project by its company and the question by its subject; what exists
is left as it is (the organizer may have changed it).
"""

# ruff: noqa: RUF001  (the Chinese texts use Chinese punctuation)
from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.config import Settings
from expo.expos.models import Expo
from expo.promotion import consulting, projects, services
from expo.promotion.models import ConsultingThread, PromotionProject
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
    if filed.first() is None:
        project = await projects.file_project(session, expo, dict(PROJECT), investor)
        await projects.move(session, project, "screening", project.version, organizer)
        await projects.add_comment(session, project, PROJECT_COMMENT, organizer)
    asked = await session.exec(
        select(ConsultingThread).where(
            col(ConsultingThread.expo_id) == expo.id, col(ConsultingThread.subject) == QUESTION["subject"]
        )
    )
    if settings is not None and asked.first() is None:
        letters = consulting.ConsultingLetters(settings)
        thread = await consulting.ask(session, expo, investor, dict(QUESTION), letters)
        await consulting.add_message(session, expo, thread, organizer, {"body": ANSWER}, letters)
