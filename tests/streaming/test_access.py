"""Who manages a broadcast or room and who may present in an expo, on a real SQLite store: the
facts :mod:`streaming.access` hands to :mod:`expo.permissions`, for one expo and its neighbour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from booths.models import BoothStaff, BoothStatus
from expo.accounts.models import User
from expo.accounts.services import create_user
from expo.db import Database
from expo.errors import Forbidden, Invalid, Unauthorized
from expo.expos.models import Expo
from expo.expos.services import find_expo
from expo.permissions import TeamRole
from streaming import access, chat, room_services, services
from streaming.models import Room, Stream
from tests.conftest import create_schema, make_settings
from tests.streaming.teams import give_booth, join_team


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'expo.db'}"
    await create_schema(url)
    database = Database(url)
    yield database
    await database.dispose()


@dataclass
class Fair:
    """The expo "fair" and its people, and its neighbour "other" run by another organizer."""

    fair: Expo
    organizer: User  # owns fair
    neighbour: User  # owns other
    moderator: User  # on fair's team as moderator
    admin: User
    owner: User  # exhibitor, owner of booth ``booth`` in fair
    staff: User  # exhibitor, staff of that booth
    exhibitor: User  # exhibitor with another booth in fair
    outsider: User  # exhibitor with a booth in other only
    visitor: User
    booth: int


async def account(db: Database, email: str, role: str) -> User:
    async with db.session() as session:
        return await create_user(session, email=email, password="correct horse battery", role=role)


@pytest.fixture
async def people(db: Database) -> Fair:
    organizer = await account(db, "o@example.org", "organizer")
    neighbour = await account(db, "n@example.org", "organizer")
    moderator = await account(db, "m@example.org", "visitor")
    admin = await account(db, "admin@example.org", "admin")
    owner = await account(db, "owner@example.org", "exhibitor")
    staff = await account(db, "staff@example.org", "exhibitor")
    exhibitor = await account(db, "e@example.org", "exhibitor")
    outsider = await account(db, "x@example.org", "exhibitor")
    visitor = await account(db, "v@example.org", "visitor")
    fair = await join_team(db, "o@example.org", "fair")
    await join_team(db, "n@example.org", "other")
    await join_team(db, "m@example.org", "fair", TeamRole.MODERATOR)
    booth = await give_booth(db, "owner@example.org", "fair")
    async with db.session() as session:
        session.add(BoothStaff(booth_id=booth, user_id=staff.id or 0))
        await session.commit()
    await give_booth(db, "e@example.org", "fair")
    await give_booth(db, "x@example.org", "other")
    return Fair(
        fair, organizer, neighbour, moderator, admin, owner, staff, exhibitor, outsider, visitor, booth
    )


async def new_stream(db: Database, expo: Expo, owner: User | None, **kwargs: object) -> Stream:
    async with db.session() as session:
        return await services.create_stream(
            session,
            expo=expo,
            title="Launch",
            owner=owner,
            **kwargs,  # type: ignore[arg-type]
        )


async def test_who_manages_and_who_moderates_a_broadcast(db: Database, people: Fair) -> None:
    p = people
    stream = await new_stream(db, p.fair, p.owner, booth_id=p.booth)
    expected = [
        (p.organizer, True, True),
        (p.admin, True, True),
        (p.owner, True, True),
        (p.staff, True, True),  # staff of the presenting booth
        (p.moderator, False, True),  # moderates the chat, manages nothing
        (p.neighbour, False, False),  # organizer of another expo: no more than a visitor
        (p.exhibitor, False, False),  # another booth of the same expo
        (p.outsider, False, False),
        (p.visitor, False, False),
    ]
    async with db.session() as session:
        for who, manages, moderates in expected:
            assert await access.can_manage(session, who, stream) is manages, who.email
            assert await chat.can_moderate(session, who, stream) is moderates, who.email
            if not manages:
                with pytest.raises(Forbidden) as refused:
                    await access.require_manager(session, who, stream)
                assert refused.value.code == "stream.forbidden"
        with pytest.raises(Unauthorized):
            await access.require_manager(session, None, stream)
        assert not await chat.can_moderate(session, None, stream)


async def test_who_may_present_in_an_expo(db: Database, people: Fair) -> None:
    p = people
    await give_booth(db, "x@example.org", "fair", BoothStatus.PENDING)  # an application is no booth yet
    async with db.session() as session:
        for who, allowed in [
            (p.organizer, True),
            (p.admin, True),
            (p.owner, True),
            (p.exhibitor, True),
            (p.neighbour, False),
            (p.outsider, False),  # staffs a booth in the other expo, applied for one here
            (p.moderator, False),
            (p.visitor, False),
        ]:
            assert await access.may_present_in(session, who, p.fair.id or 0) is allowed, who.email
    for refused in (p.neighbour, p.outsider, p.visitor):
        with pytest.raises(Forbidden) as caught:
            await new_stream(db, p.fair, refused)
        assert caught.value.code == "stream.forbidden"
        with pytest.raises(Forbidden) as caught:
            async with db.session() as session:
                await room_services.create_room(session, expo=p.fair, title="Talks", owner=refused)
        assert caught.value.code == "room.forbidden"
    assert (await new_stream(db, p.fair, None)).owner_id is None  # the command line may
    # Presenting for a booth: its staff and the organizers, and only a booth of this expo.
    assert (await new_stream(db, p.fair, p.staff, booth_id=p.booth)).booth_id == p.booth
    assert (await new_stream(db, p.fair, p.organizer, booth_id=p.booth)).booth_id == p.booth
    with pytest.raises(Forbidden):
        await new_stream(db, p.fair, p.exhibitor, booth_id=p.booth)
    with pytest.raises(Invalid):
        await new_stream(db, p.fair, p.organizer, booth_id=p.booth + 100)


async def test_the_lists_hold_what_the_rule_lets_each_manage(db: Database, people: Fair) -> None:
    p = people
    other = await join_team(db, "n@example.org", "other")
    keynote = await new_stream(db, p.fair, p.organizer)
    booth_talk = await new_stream(db, p.fair, p.owner, booth_id=p.booth)
    cli = await new_stream(db, p.fair, None)
    theirs = await new_stream(db, other, p.neighbour)
    async with db.session() as session:
        room = await room_services.create_room(session, expo=other, title="Signing", owner=None)

        async def streams(who: User) -> set[int | None]:
            return {s.id for s, _ in await access.managed_rows(session, who, Stream, limit=100)}

        async def rooms(who: User) -> set[int | None]:
            return {r.id for r, _ in await access.managed_rows(session, who, Room, limit=100)}

        assert await streams(p.organizer) == {keynote.id, booth_talk.id, cli.id}
        assert await streams(p.neighbour) == {theirs.id}
        assert await streams(p.admin) == {keynote.id, booth_talk.id, cli.id, theirs.id}
        assert await streams(p.staff) == {booth_talk.id}
        assert await streams(p.exhibitor) == await streams(p.moderator) == set()
        assert await rooms(p.neighbour) == {room.id} and await rooms(p.organizer) == set()
        assert [e.slug for e in await access.presenting_expos(session, p.owner)] == ["fair"]
        assert [e.slug for e in await access.presenting_expos(session, p.admin)] == ["fair", "other"]
        assert [e.slug for e in await access.presenting_expos(session, p.outsider)] == ["other"]
        assert await access.presenting_expos(session, p.visitor) == []


async def test_the_web_falls_back_to_the_default_expo_only_for_its_presenters(
    db: Database, people: Fair, tmp_path: Path
) -> None:
    p = people
    settings = make_settings(tmp_path, default_expo="fair")
    async with db.session() as session:
        assert (
            await access.presenting_expo(session, settings, None, p.owner, "room.forbidden")
        ).slug == "fair"
        with pytest.raises(Forbidden) as caught:
            await access.presenting_expo(session, settings, None, p.outsider, "room.forbidden")
        assert caught.value.code == "room.forbidden" and "'expo'" in caught.value.message
        missing = make_settings(tmp_path, default_expo="main")
        with pytest.raises(Forbidden):
            await access.presenting_expo(session, missing, None, p.organizer, "stream.forbidden")
        assert await find_expo(session, "main") is None  # not created for someone who cannot use it
        # A platform administrator may present anywhere: the default expo is made for them.
        made = await access.presenting_expo(session, missing, None, p.admin, "stream.forbidden")
        assert made.slug == "main"
        # A named expo is only looked up: creating there checks the presenter.
        assert (await access.presenting_expo(session, settings, "other", p.owner, "x")).slug == "other"
