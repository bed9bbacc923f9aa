"""The demo's registration: an organizer-built form with a custom question, and the approved visitor.

Idempotent like the rest of ``expo demo``: an expo whose form exists is left as it is, and a
visitor who is registered already is not registered again.
"""

# ruff: noqa: RUF001  (the Chinese texts use Chinese punctuation)
from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from expo.accounts.models import User
from expo.errors import Conflict
from expo.expos.models import Expo
from expo.registration import forms, services
from expo.registration.models import RegistrationForm

ZH = "zh_Hans"
DEMO_FORM = forms.FormSpec(
    consent_text="We keep your answers for this expo only and share them with no one.",
    translations={ZH: forms.ConsentText(consent_text="您的回答仅用于本届展会，不会与任何人共享。")},
    fields=[
        forms.Question(key="company", required=True),
        forms.Question(key="country"),
        forms.Question(
            key="interests",
            options=["Lighting", "Solar", "Smart home", "Packaging"],
            translations={ZH: forms.QuestionText(options=["照明", "太阳能", "智能家居", "包装"])},
        ),
        forms.Question(
            key="purpose",
            label="What brings you to the fair?",
            kind="select",
            options=["Sourcing products", "Meeting suppliers", "Market research"],
            required=True,
            translations={
                ZH: forms.QuestionText(
                    label="您来展会的目的是什么？", options=["采购产品", "会见供应商", "市场调研"]
                )
            },
        ),
    ],
)
# The demo visitor, registered and approved, so their badge and the check-in desk can be tried at
# once. (Only the demo's three accounts exist: `expo demo` prints them all.)
DEMO_ANSWERS = {
    "company": "Demo Trading",
    "country": "DE",
    "interests": ["Lighting"],
    "purpose": "Sourcing products",
}


async def seed_registrations(session: AsyncSession, expo: Expo, organizer: User, visitor: User) -> None:
    assert expo.id is not None
    if await session.get(RegistrationForm, expo.id) is None:
        await services.save_form(session, expo, DEMO_FORM, organizer)
    if await services.find_registration(session, expo, visitor) is None:
        try:
            await services.register(session, expo, visitor, DEMO_ANSWERS, consent=True, mailer=None)
        except Conflict:  # another `expo demo` registered them a moment ago
            await session.rollback()
