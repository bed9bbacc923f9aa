"""The demo seeds an organizer-built registration form and registers the demo visitor, once."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from expo.db import Database
from expo.demo import seed_demo
from expo.migrations import ensure_schema
from expo.registration.models import Registration, RegistrationForm


async def test_the_demo_has_a_form_with_a_custom_question_and_an_approved_visitor(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}")
    try:
        await ensure_schema(db)
        info = await seed_demo(db)
        await seed_demo(db)
        async with db.session() as session:
            form = await session.get(RegistrationForm, info.expo.id)
            registrations = (await session.exec(select(Registration))).all()
    finally:
        await db.dispose()
    assert form is not None and [q["key"] for q in form.fields] == [
        "company",
        "country",
        "interests",
        "purpose",
    ]
    assert form.fields[3]["label"] == "What brings you to the fair?"
    [registration] = registrations
    assert registration.status == "approved" and registration.answers["company"] == "Demo Trading"
