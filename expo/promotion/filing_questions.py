"""The bureau's own questions on the project filing form, and the investors' answers.

The filing form's fields (company, sector, amount...) are fixed; after them an investor answers the
questions the bureau added. They are the registration form builder's custom questions
(:mod:`expo.registration.forms`): the same kinds, the same per-question translations, stored the
same way (:func:`~expo.registration.forms.check_spec`) in
:attr:`~expo.promotion.models.PromotionSite.filing_questions`, and checked the same way
(:func:`~expo.registration.forms.check_answers`). Answers live with their project
(:attr:`~expo.promotion.models.PromotionProject.answers`), keyed by question.

On forms and in error ``details`` an answer is named ``answers.<key>``: a question's key may be
any word, "sector" too, and must not be taken for the fixed field of that name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from pydantic import Field
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData

from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, Invalid
from expo.expos.models import Expo
from expo.promotion.models import PromotionSite
from expo.promotion.services import find_site
from expo.registration import forms

PREFIX = "answers."
MAX_QUESTIONS = forms.MAX_QUESTIONS
# An answer in the API: text, the chosen options of a multiple choice, or a checkbox's state.
Answer = (
    Annotated[str, Field(max_length=forms.MAX_TEXTAREA)]
    | Annotated[list[Annotated[str, Field(max_length=forms.MAX_TEXT)]], Field(max_length=forms.MAX_OPTIONS)]
    | bool
)


def field_name(key: str) -> str:
    """The name of a question's answer on the filing form and in error details."""
    return PREFIX + key


async def questions(session: AsyncSession, expo: Expo) -> list[dict[str, Any]]:
    """The expo's filing questions, in the order investors see them (none before any is added)."""
    site = await find_site(session, expo)
    return list(site.filing_questions) if site is not None else []


async def save(
    session: AsyncSession, expo: Expo, asked: Sequence[forms.Question], actor: User
) -> list[dict[str, Any]]:
    """Store ``asked`` as the expo's filing questions, or :class:`Invalid` naming the question at
    fault (``field`` is its key). The change is audited with the keys added and removed; answers
    already given to a removed question stay with their projects."""
    if len(asked) > MAX_QUESTIONS:
        raise Invalid(N_("A form has at most 16 questions."), code="registration.invalid_form")
    try:
        stored = forms.check_spec(forms.FormSpec(fields=list(asked)))
    except Invalid as exc:
        details = exc.extra.get("details") or [{}]
        raise Invalid(exc.message, code=exc.code, field=details[0].get("field", "")) from None
    assert expo.id is not None
    site = await find_site(session, expo) or PromotionSite(expo_id=expo.id)
    before = {q["key"] for q in site.filing_questions}
    after = [q["key"] for q in stored]
    site.filing_questions, site.updated_at = stored, utcnow()
    session.add(site)
    audit.record(
        session,
        "promotion.filing_questions_saved",
        actor_id=actor.id,
        target=f"expo:{expo.id}",
        keys=after,
        added=[k for k in after if k not in before],
        removed=sorted(before - set(after)),
    )
    await session.commit()
    return stored


# Answers -----------------------------------------------------------------------------------------------


def submitted(form: FormData) -> dict[str, list[str]]:
    """The answers of a submitted filing form by question key (every value of a multiple choice)."""
    return {
        name.removeprefix(PREFIX): [v for v in form.getlist(name) if isinstance(v, str)]
        for name in form
        if name.startswith(PREFIX)
    }


def from_json(answers: Mapping[str, str | list[str] | bool]) -> dict[str, str | list[str]]:
    """API answers as a form submits them (a ticked checkbox is ``"on"``)."""
    return {
        key: ("on" if value else "") if isinstance(value, bool) else value for key, value in answers.items()
    }


def check(
    asked: Sequence[Mapping[str, Any]], raw: Mapping[str, str | Sequence[str]], errors: dict[str, str]
) -> dict[str, Any]:
    """The answers to keep; each question answered wrong (or not, when required) adds its message
    to ``errors`` under :func:`field_name`, beside the fixed fields' errors."""
    try:
        return forms.check_answers(asked, raw)
    except Invalid as exc:
        for detail in exc.extra.get("details") or []:
            errors[field_name(detail["field"])] = detail["message"]
        return {}


def shown(
    asked: Sequence[Mapping[str, Any]], answers: Mapping[str, Any], locale: str
) -> list[dict[str, Any]]:
    """The answers to the current questions as a project page shows them, in ``locale``: the
    question's label, and the chosen options' labels (``checked`` for a checkbox)."""
    out: list[dict[str, Any]] = []
    for q in asked:
        value = answers.get(q["key"])
        if value is None or value == "" or value == []:
            continue
        values = value if isinstance(value, list) else [value]
        out.append(
            {
                "key": q["key"],
                "label": forms.question_label(q, locale),
                "kind": q["kind"],
                "texts": [forms.option_label(q, str(v), locale) for v in values if not isinstance(v, bool)],
                "checked": value is True,
            }
        )
    return out


def page_helpers(locale: str) -> dict[str, Callable[..., str]]:
    """What the question fields of a page need to read in ``locale`` (see ``_questions.html``)."""
    return {
        "question_label": lambda q: forms.question_label(q, locale),
        "option_label": lambda q, option: forms.option_label(q, option, locale),
    }


# Export ------------------------------------------------------------------------------------------------


def csv_header(asked: Sequence[Mapping[str, Any]]) -> list[str]:
    """One column per question, headed by its label (in the expo's main language)."""
    return [forms.label_of(q) for q in asked]


def csv_cells(asked: Sequence[Mapping[str, Any]], answers: Mapping[str, Any]) -> list[str]:
    return [forms.answer_text(q, answers.get(q["key"])) for q in asked]
