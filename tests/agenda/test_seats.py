"""Seats on SQLite and PostgreSQL: never more confirmed than capacity, the rest waiting in order,
cancellations promote (with an e-mail), and two processes' desks racing for the same seats."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, select

from expo.agenda.models import Program, ProgramRegistration, SeatStatus
from expo.agenda.seats import Seat, SeatDesk
from expo.db import Database, utcnow
from expo.errors import Conflict, NotFound
from expo.mail.models import OutboxMessage
from tests.agenda.conftest import Fair, make_program, make_visitors


async def stored(db: Database, program_id: int) -> list[ProgramRegistration]:
    async with db.session() as s:
        query = (
            select(ProgramRegistration)
            .where(ProgramRegistration.program_id == program_id)
            .order_by(col(ProgramRegistration.created_at), col(ProgramRegistration.id))
        )
        return list((await s.exec(query)).all())


def waiting_order(rows: list[ProgramRegistration]) -> list[int]:
    return [r.user_id for r in rows if r.status == SeatStatus.WAITLISTED]


async def test_a_thousand_at_once_for_the_last_seats(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=100)
    early = await make_visitors(db, 90, prefix="early")
    desk = SeatDesk(db)
    for uid in early:  # 90 of the 100 seats are taken before the rush
        assert await desk.register(program, uid) == Seat(SeatStatus.CONFIRMED)
    crowd = await make_visitors(db, 1000, prefix="crowd")

    seats = await asyncio.gather(*(desk.register(program, uid) for uid in crowd))

    confirmed = [uid for uid, s in zip(crowd, seats, strict=True) if s.status is SeatStatus.CONFIRMED]
    waiting = {
        uid: s.position or 0 for uid, s in zip(crowd, seats, strict=True) if s.status is SeatStatus.WAITLISTED
    }
    assert len(confirmed) == 10
    assert sorted(waiting.values()) == list(range(1, 991))
    rows = await stored(db, program)
    assert sum(r.status == SeatStatus.CONFIRMED for r in rows) == 100
    # The stored waiting list is in the order of the positions the crowd was told.
    assert waiting_order(rows) == sorted(waiting, key=lambda uid: waiting[uid])
    # Group commit: far fewer transactions than requests.
    assert desk.transactions < 90 + 200


async def test_registering_twice_returns_the_same_seat(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    first, second = await make_visitors(db, 2)
    desk = SeatDesk(db)
    assert await desk.register(program, first) == Seat(SeatStatus.CONFIRMED)
    assert await desk.register(program, second) == Seat(SeatStatus.WAITLISTED, 1)
    again = await asyncio.gather(desk.register(program, first), desk.register(program, second))
    assert list(again) == [Seat(SeatStatus.CONFIRMED), Seat(SeatStatus.WAITLISTED, 1)]
    assert len(await stored(db, program)) == 2


async def test_cancelling_a_seat_promotes_the_first_in_line_and_mails_them(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=2)
    a, b, c, d = await make_visitors(db, 4)
    desk = SeatDesk(db)
    for uid in (a, b, c, d):
        await desk.register(program, uid)
    assert await desk.register(program, d) == Seat(SeatStatus.WAITLISTED, 2)

    assert await desk.cancel(program, a) == Seat(SeatStatus.CANCELLED)

    rows = {r.user_id: r for r in await stored(db, program)}
    assert rows[a].status == SeatStatus.CANCELLED and rows[a].cancelled_at is not None
    assert rows[c].status == SeatStatus.CONFIRMED and rows[c].promoted_at is not None
    assert await desk.register(program, d) == Seat(SeatStatus.WAITLISTED, 1)
    async with db.session() as s:
        mail = (await s.exec(select(OutboxMessage).where(OutboxMessage.user_id == c))).all()
    assert len(mail) == 1 and "Keynote" in mail[0].subject and mail[0].to_address == "v2@example.com"
    assert f"/expos/fair/agenda/{program}" in mail[0].body

    # Cancelling a waiting-list place promotes nobody; cancelling twice is harmless.
    assert await desk.cancel(program, d) == Seat(SeatStatus.CANCELLED)
    assert await desk.cancel(program, d) == Seat(SeatStatus.CANCELLED)
    # Coming back after cancelling queues at the end, like anyone new.
    assert await desk.register(program, a) == Seat(SeatStatus.WAITLISTED, 1)
    statuses = {r.user_id: r.status for r in await stored(db, program)}
    assert statuses == {a: "waitlisted", b: "confirmed", c: "confirmed", d: "cancelled"}


async def test_cancellations_and_registrations_in_one_batch_stay_within_capacity(
    db: Database, fair: Fair
) -> None:
    program = await make_program(db, fair.expo, capacity=50)
    holders = await make_visitors(db, 50, prefix="holder")
    desk = SeatDesk(db)
    await asyncio.gather(*(desk.register(program, uid) for uid in holders))
    crowd = await make_visitors(db, 300, prefix="crowd")
    await asyncio.gather(*(desk.register(program, uid) for uid in crowd[:100]))

    # Half the holders leave while 200 more arrive, all at once.
    await asyncio.gather(
        *(desk.cancel(program, uid) for uid in holders[:25]),
        *(desk.register(program, uid) for uid in crowd[100:]),
    )

    rows = await stored(db, program)
    confirmed = {r.user_id for r in rows if r.status == SeatStatus.CONFIRMED}
    assert len(confirmed) == 50
    # The 25 freed seats went to the first 25 of the earlier waiting list, in order.
    assert confirmed == set(holders[25:]) | set(crowd[:25])
    assert len(waiting_order(rows)) == 275


async def test_two_processes_racing_never_overbook(db: Database, fair: Fair, store_url: str) -> None:
    program = await make_program(db, fair.expo, capacity=100)
    crowd = await make_visitors(db, 600, prefix="crowd")
    other = Database(store_url)  # another process's engine and desk
    try:
        one, two = SeatDesk(db), SeatDesk(other)
        seats = await asyncio.gather(
            *((one if i % 2 else two).register(program, uid) for i, uid in enumerate(crowd))
        )
    finally:
        await other.dispose()
    assert sum(s.status is SeatStatus.CONFIRMED for s in seats) == 100
    positions = sorted(s.position or 0 for s in seats if s.status is SeatStatus.WAITLISTED)
    assert positions == list(range(1, 501))
    rows = await stored(db, program)
    assert sum(r.status == SeatStatus.CONFIRMED for r in rows) == 100


async def test_raising_the_capacity_promotes_from_the_waiting_list(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    users = await make_visitors(db, 4)
    desk = SeatDesk(db)
    for uid in users:
        await desk.register(program, uid)
    async with db.session() as s:
        row = await s.get(Program, program)
        assert row is not None
        row.capacity = 3
        s.add(row)
        await s.commit()
    await desk.refill(program)
    statuses = [r.status for r in sorted(await stored(db, program), key=lambda r: r.user_id)]
    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]


async def test_no_limit_unknown_and_past_programs(db: Database, fair: Fair) -> None:
    open_program = await make_program(db, fair.expo, capacity=None)
    users = await make_visitors(db, 30)
    desk = SeatDesk(db)
    seats = await asyncio.gather(*(desk.register(open_program, uid) for uid in users))
    assert all(s == Seat(SeatStatus.CONFIRMED) for s in seats)

    with pytest.raises(NotFound):
        await desk.register(999999, users[0])
    past = await make_program(db, fair.expo, capacity=10, title="Yesterday")
    async with db.session() as s:
        row = await s.get(Program, past)
        assert row is not None
        row.starts_at, row.ends_at = utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=2)
        s.add(row)
        await s.commit()
    # One refused request in a batch does not fail the others.
    results = await asyncio.gather(
        desk.register(past, users[0]), desk.register(open_program, users[0]), return_exceptions=True
    )
    assert isinstance(results[0], Conflict) and results[0].code == "program.over"
    assert results[1] == Seat(SeatStatus.CONFIRMED)


async def test_a_request_the_store_refuses_does_not_fail_its_batch(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=5)
    users = await make_visitors(db, 3)
    desk = SeatDesk(db)
    deleted_user = max(users) + 1000  # no such account: the insert breaks its foreign key
    results = await asyncio.gather(
        *(desk.register(program, uid) for uid in [users[0], deleted_user, *users[1:]]),
        return_exceptions=True,
    )
    assert isinstance(results[1], Conflict) and results[1].code == "program.gone"
    assert [results[0], *results[2:]] == [Seat(SeatStatus.CONFIRMED)] * 3
    assert len(await stored(db, program)) == 3


async def test_a_freed_seat_goes_to_that_programs_first_in_line(db: Database, fair: Fair) -> None:
    keynote = await make_program(db, fair.expo, capacity=1)
    workshop = await make_program(db, fair.expo, capacity=1, title="Workshop")
    a, b, c, d = await make_visitors(db, 4)
    desk = SeatDesk(db)
    assert await desk.register(keynote, a) == Seat(SeatStatus.CONFIRMED)
    assert await desk.register(workshop, b) == Seat(SeatStatus.CONFIRMED)
    # c waits for the workshop first; d then waits for the keynote: each is first in their own line.
    assert await desk.register(workshop, c) == Seat(SeatStatus.WAITLISTED, 1)
    assert await desk.register(keynote, d) == Seat(SeatStatus.WAITLISTED, 1)
    assert await desk.register(keynote, d) == Seat(SeatStatus.WAITLISTED, 1)

    await desk.cancel(keynote, a)

    assert {r.user_id: r.status for r in await stored(db, keynote)} == {a: "cancelled", d: "confirmed"}
    assert {r.user_id: r.status for r in await stored(db, workshop)} == {b: "confirmed", c: "waitlisted"}


async def test_someone_who_joins_the_line_as_a_seat_frees_gets_it(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    a, e = await make_visitors(db, 2)
    desk = SeatDesk(db)
    await desk.register(program, a)
    # One batch: e joins the (empty) waiting list, then a leaves.
    joined, _ = await asyncio.gather(desk.register(program, e), desk.cancel(program, a))
    assert joined == Seat(SeatStatus.WAITLISTED, 1)
    assert {r.user_id: r.status for r in await stored(db, program)} == {a: "cancelled", e: "confirmed"}


async def test_cancelling_a_place_in_line_or_twice_never_gives_away_an_extra_seat(
    db: Database, fair: Fair
) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    a, b, c, d = await make_visitors(db, 4)
    desk = SeatDesk(db)
    for uid in (a, b, c, d):
        await desk.register(program, uid)
    assert await desk.cancel(program, b) == Seat(SeatStatus.CANCELLED)  # waiting: nobody moves up
    statuses = {r.user_id: r.status for r in await stored(db, program)}
    assert statuses == {a: "confirmed", b: "cancelled", c: "waitlisted", d: "waitlisted"}
    assert await desk.register(program, d) == Seat(SeatStatus.WAITLISTED, 2)
    await desk.cancel(program, a)
    await desk.cancel(program, a)  # a second click: c got a's seat, d must keep waiting
    statuses = {r.user_id: r.status for r in await stored(db, program)}
    assert statuses == {a: "cancelled", b: "cancelled", c: "confirmed", d: "waitlisted"}
    assert await desk.register(program, d) == Seat(SeatStatus.WAITLISTED, 1)


async def test_places_told_in_a_batch_with_cancellations_are_right(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    a, b, c, d, e = await make_visitors(db, 5)
    desk = SeatDesk(db)
    for uid in (a, b, c, d):
        await desk.register(program, uid)
    # b leaves the line of three as e arrives: e is third, behind c and d.
    _, arrived = await asyncio.gather(desk.cancel(program, b), desk.register(program, e))
    assert arrived == Seat(SeatStatus.WAITLISTED, 3)
    # In one batch a leaves (c gets the seat), d leaves the line, then the seat frees again: e's.
    await asyncio.gather(desk.cancel(program, a), desk.cancel(program, d), desk.cancel(program, c))
    statuses = {r.user_id: r.status for r in await stored(db, program)}
    assert statuses == {a: "cancelled", b: "cancelled", c: "cancelled", d: "cancelled", e: "confirmed"}


async def test_coming_back_after_cancelling_is_served_after_those_already_waiting(
    db: Database, fair: Fair
) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    a, b, c = await make_visitors(db, 3)
    desk = SeatDesk(db)
    for uid in (a, b, c):
        await desk.register(program, uid)
    await desk.cancel(program, b)
    assert await desk.register(program, b) == Seat(SeatStatus.WAITLISTED, 2)  # behind c
    await desk.cancel(program, a)
    statuses = {r.user_id: r.status for r in await stored(db, program)}
    assert statuses == {a: "cancelled", b: "waitlisted", c: "confirmed"}


async def test_two_registrations_stamped_alike_get_distinct_places(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    a, b, c = await make_visitors(db, 3)
    desk = SeatDesk(db)
    for uid in (a, b, c):
        await desk.register(program, uid)
    async with db.session() as s:  # as a store with a coarse clock would record them
        rows = (
            await s.exec(select(ProgramRegistration).where(col(ProgramRegistration.user_id).in_([b, c])))
        ).all()
        for row in rows:
            row.created_at = rows[0].created_at
            s.add(row)
        await s.commit()
    assert await desk.register(program, b) == Seat(SeatStatus.WAITLISTED, 1)
    assert await desk.register(program, c) == Seat(SeatStatus.WAITLISTED, 2)


async def test_asking_for_ones_place_as_the_line_moves_tells_the_new_place(db: Database, fair: Fair) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    a, b, c, d = await make_visitors(db, 4)
    desk = SeatDesk(db)
    for uid in (a, b, c, d):
        await desk.register(program, uid)
    # One batch: a leaves (b gets the seat), then d asks again: second in line now.
    _, place = await asyncio.gather(desk.cancel(program, a), desk.register(program, d))
    assert place == Seat(SeatStatus.WAITLISTED, 2)
    statuses = {r.user_id: r.status for r in await stored(db, program)}
    assert statuses == {a: "cancelled", b: "confirmed", c: "waitlisted", d: "waitlisted"}


async def test_the_organizers_list_keeps_when_people_were_promoted_and_cancelled(
    db: Database, fair: Fair
) -> None:
    program = await make_program(db, fair.expo, capacity=1)
    a, b, c, d = await make_visitors(db, 4)
    desk = SeatDesk(db)
    for uid in (a, b, c):
        await desk.register(program, uid)
    await desk.cancel(program, a)  # b is promoted, and told by e-mail
    async with db.session() as s:
        mail = (await s.exec(select(OutboxMessage).where(OutboxMessage.user_id == b))).one()
    assert mail.expo_id == fair.expo.id  # listed in the expo's outbox
    async with db.session() as s:
        row = await s.get(Program, program)
        assert row is not None
        row.capacity = 2
        s.add(row)
        await s.commit()
    await desk.refill(program)  # c is promoted by the larger room
    await desk.cancel(program, b)  # b leaves after all
    # d signs up and changes their mind in the same instant.
    await asyncio.gather(desk.register(program, d), desk.cancel(program, d))
    rows = {r.user_id: r for r in await stored(db, program)}
    assert rows[b].status == "cancelled" and rows[b].promoted_at is not None
    assert rows[b].cancelled_at is not None
    assert rows[c].status == "confirmed" and rows[c].promoted_at is not None
    assert rows[d].status == "cancelled" and rows[d].cancelled_at is not None
