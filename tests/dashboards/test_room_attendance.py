"""Room attendance on the dashboards, on SQLite and PostgreSQL: per room, people, entries, minutes
and who is in now, from the stays the room plane writes; the organizer sees every room of the expo,
an exhibitor those of their booths; both download the stays as CSV, formula-safe."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
from starlette.applications import Starlette

from expo.db import utcnow
from streaming.models import Room, RoomAttendance, RoomKind
from tests.booths.web import browser
from tests.dashboards.conftest import Show, seed_show
from tests.dashboards.test_figures import settings  # noqa: F401  (both stores)
from tests.dashboards.test_pages import bearer


async def seed_rooms(app: Starlette, show: Show) -> dict[str, Room]:
    """A meeting room of the exhibitor's booth (two stays of the organizer, one still going, and a
    guest's), a negotiation room of the expo (one stay) and a room nobody entered."""
    expo_id, now = show.expo.id or 0, utcnow()
    rooms = {
        "booth": Room(
            expo_id=expo_id,
            booth_id=show.booths["lamps"].id,
            title="=cmd|' /C calc'!A0",
            kind=RoomKind.BOOTH_MEETING.value,
            host_key="h1",
            guest_key="g1",
        ),
        "talks": Room(expo_id=expo_id, title="Port talks", host_key="h2", guest_key="g2"),
        "empty": Room(expo_id=expo_id, title="Nobody came", host_key="h3", guest_key="g3"),
    }
    async with app.state.platform.db.session() as s:
        s.add_all(rooms.values())
        await s.flush()
        # (room, user, name, role, entered and left so many minutes ago, how)
        stays = [
            ("booth", show.organizer.id, "Olga", "host", 30, 10, "left"),
            ("booth", show.organizer.id, "Olga", "host", 5, None, ""),
            ("booth", None, "Guest 2", "guest", 40, 35, "removed"),
            ("talks", show.visitor.id, "Vera", "guest", 90, 60, "ended"),
        ]
        for n, (key, user_id, name, role, entered, left, how) in enumerate(stays):
            s.add(
                RoomAttendance(
                    room_id=rooms[key].id or 0,
                    participant=f"p{n}",
                    user_id=user_id,
                    name=name,
                    role=role,
                    joined_at=now - timedelta(minutes=entered),
                    left_at=None if left is None else now - timedelta(minutes=left),
                    left_how=how,
                )
            )
        await s.commit()
        for room in rooms.values():
            await s.refresh(room)
    return rooms


async def test_each_room_counts_its_people_entries_and_minutes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    show = await seed_show(app)
    rooms = await seed_rooms(app, show)
    body = (
        await client.get("/api/expos/show/dashboard", headers=await bearer(client, "org@example.com"))
    ).json()
    figures = {r["id"]: r for r in body["rooms"]}
    assert list(figures) == [rooms["booth"].id, rooms["talks"].id]  # latest entry first; none for "empty"
    booth = figures[rooms["booth"].id]
    # Olga's two stays are one person; the guest without an account counts once per stay.
    assert (booth["people"], booth["stays"], booth["in_room"]) == (2, 3, 1)
    assert booth["minutes"] == 25.0 and booth["kind"] == "booth_meeting"
    talks = figures[rooms["talks"].id]
    assert (talks["people"], talks["stays"], talks["minutes"], talks["in_room"]) == (1, 1, 30.0, 0)
    assert talks["last_exit"] is not None and booth["last_exit"] is not None

    async with browser(app, "org@example.com") as b:
        page = await b.get("/organizer/expos/show/dashboard")
        exported = await b.get("/organizer/expos/show/dashboard/rooms.csv")
    assert f'<tr data-room="{rooms["talks"].id}">' in page.text and "Nobody came" not in page.text
    assert 'href="/organizer/expos/show/dashboard/rooms.csv"' in page.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 4
    assert {r["room"] for r in rows} == {"'=cmd|' /C calc'!A0", "Port talks"}  # a formula is defused
    assert sorted(r["minutes"] for r in rows) == ["", "20.0", "30.0", "5.0"]


async def test_an_exhibitor_sees_only_their_booths_rooms(app: Starlette, client: httpx.AsyncClient) -> None:
    show = await seed_show(app)
    rooms = await seed_rooms(app, show)
    mine = await client.get(
        "/api/expos/show/dashboard/mine", headers=await bearer(client, "exhibitor@example.com")
    )
    assert [r["id"] for r in mine.json()["rooms"]] == [rooms["booth"].id]
    async with browser(app, "exhibitor@example.com") as b:
        page = await b.get("/my/dashboard/show")
        exported = await b.get("/my/dashboard/show/rooms.csv")
        assert (await b.get("/organizer/expos/show/dashboard/rooms.csv")).status_code == 403
    assert "Port talks" not in page.text and f'data-room="{rooms["booth"].id}"' in page.text
    assert {r["name"] for r in csv.DictReader(io.StringIO(exported.text))} == {"Olga", "Guest 2"}
    async with browser(app, "visitor@example.com") as v:
        assert (await v.get("/my/dashboard/show/rooms.csv")).status_code == 403
