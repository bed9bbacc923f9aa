"""Registration services: form rules, answers, races (approve against cancel, the same visitor
registering twice at once) on SQLite and PostgreSQL, and re-registering after a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from expo.accounts import services as accounts
from expo.accounts.models import User
from expo.config import Settings
from expo.db import Database
from expo.errors import Conflict, ExpoError, Forbidden, Invalid
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.mail.models import OutboxMessage
from expo.registration import forms, services
from expo.registration.mail import Mailer
from expo.registration.models import Registration
from tests.booths.web import PASSWORD
from tests.conftest import create_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    return settings.database if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    url = store_url
    await create_schema(url)
    database = Database(url)
    yield database
    await database.dispose()


async def people(db: Database) -> tuple[Expo, User, User]:
    async with db.session() as session:
        organizer = await accounts.create_user(
            session, email="org@example.com", password=PASSWORD, role="organizer"
        )
        ann = await accounts.create_user(session, email="ann@example.com", password=PASSWORD, role="visitor")
        expo = await expos.ensure_expo(session, "fair", "Spring Fair", created_by=organizer.id)
    return expo, organizer, ann


def mailer(settings: Settings) -> Mailer:
    return Mailer(settings)


async def test_approve_and_cancel_at_once_one_wins_and_the_other_is_told(
    db: Database, settings: Settings
) -> None:
    expo, organizer, ann = await people(db)
    async with db.session() as session:
        spec = forms.FormSpec(approval_required=True)
        await services.save_form(session, expo, spec, organizer)
        registration = await services.register(session, expo, ann, {}, consent=False, mailer=mailer(settings))
    assert registration.id is not None and registration.status == "pending"

    async def approve() -> str:
        async with db.session() as session:
            assert registration.id is not None
            done = await services.decide(session, expo, registration.id, True, organizer, mailer(settings))
            return done.status

    async def cancel() -> str:
        async with db.session() as session:
            mine = await services.find_registration(session, expo, ann)
            assert mine is not None
            return (await services.cancel(session, mine, ann, mailer(settings))).status

    results = await asyncio.gather(approve(), cancel(), return_exceptions=True)
    outcomes = [r if isinstance(r, str) else type(r).__name__ for r in results]
    async with db.session() as session:
        final = await session.get(Registration, registration.id)
        assert final is not None
        mails = (await session.exec(select(OutboxMessage.subject))).all()
    # Either order is possible; what never happens is both "winning".
    assert outcomes in (["approved", "Conflict"], ["Conflict", "cancelled"], ["approved", "cancelled"])
    if outcomes == ["approved", "cancelled"]:  # approved first, then the visitor cancelled it
        assert final.status == "cancelled"
    else:
        assert final.status == next(o for o in outcomes if o != "Conflict")
    assert len(mails) == 1 + sum(1 for o in outcomes if o != "Conflict")


async def test_the_same_visitor_registering_twice_at_once_gets_one_registration(
    db: Database, settings: Settings
) -> None:
    expo, _, ann = await people(db)

    async def register() -> str:
        async with db.session() as session:
            try:
                return (
                    await services.register(session, expo, ann, {}, consent=False, mailer=mailer(settings))
                ).status
            except ExpoError as exc:
                return exc.code

    outcomes = sorted(await asyncio.gather(*(register() for _ in range(4))))
    assert outcomes == ["approved", "registration.exists", "registration.exists", "registration.exists"]
    async with db.session() as session:
        assert len((await session.exec(select(Registration))).all()) == 1
        assert len((await session.exec(select(OutboxMessage))).all()) == 1


async def test_a_cancelled_visitor_registers_again_with_a_new_badge_code(
    db: Database, settings: Settings
) -> None:
    expo, organizer, ann = await people(db)
    async with db.session() as session:
        first = await services.register(session, expo, ann, {}, consent=False, mailer=mailer(settings))
        old_code = first.badge_code
        await services.cancel(session, first, ann, mailer(settings))
        with pytest.raises(Conflict):
            await services.cancel(session, first, ann, mailer(settings))
        again = await services.register(session, expo, ann, {}, consent=False, mailer=mailer(settings))
    assert again.id == first.id and again.status == "approved" and again.badge_code != old_code
    assert len(again.badge_code) >= 32  # 24 random bytes, url-safe
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await services.list_registrations(session, expo, ann)
        page = await services.list_registrations(session, expo, organizer)
    assert page.counts == {"pending": 0, "approved": 1, "rejected": 0, "cancelled": 0}


def test_form_rules_name_the_question_at_fault() -> None:
    def fails(**spec: object) -> str:
        with pytest.raises(Invalid) as caught:
            forms.check_spec(forms.FormSpec.model_validate(spec))
        return str(caught.value.extra["details"][0]["field"])

    assert fails(fields=[{"key": "size", "kind": "select", "label": "Size"}]) == "size"
    assert fails(fields=[{"key": "size", "kind": "text"}]) == "size"
    assert fails(fields=[{"key": "company"}, {"key": "company"}]) == "company"
    assert fails(opens_at="2030-01-02T00:00:00Z", closes_at="2030-01-01T00:00:00Z") == "closes_at"
    stored = forms.check_spec(
        forms.FormSpec(fields=[forms.Question(key="country", kind="text", label="Where?", options=["X"])])
    )
    assert stored == [{"key": "country", "label": "", "kind": "select", "required": False, "options": []}]


def test_answers_are_checked_against_the_form() -> None:
    fields = forms.check_spec(
        forms.FormSpec(
            fields=[
                forms.Question(key="country", required=True),
                forms.Question(key="topics", label="Topics", kind="multiselect", options=["A", "B"]),
                forms.Question(key="bio", label="Bio", kind="textarea"),
                forms.Question(key="ok", label="OK?", kind="checkbox", required=True),
            ]
        )
    )
    with pytest.raises(Invalid) as caught:
        forms.check_answers(fields, {"country": "Narnia", "topics": ["C"], "bio": "x" * 2001})
    assert [d["field"] for d in caught.value.extra["details"]] == ["country", "topics", "bio", "ok"]
    answers = forms.check_answers(
        fields, {"country": "de", "topics": ["B", "B", "A"], "ok": "on", "extra": "x"}
    )
    assert answers == {"country": "DE", "topics": ["B", "A"], "ok": True}
