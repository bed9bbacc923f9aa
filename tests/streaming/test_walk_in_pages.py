"""An exhibitor opens a room for their booth from /rooms and offers it on the booth page ("Meet us
now"), then stops offering it: what the booth's visitors see follows."""

from __future__ import annotations

from sqlmodel import select
from starlette.applications import Starlette

from streaming.models import Room
from tests.booths.web import add_owner, browser, floor_of, make_account, post_form


async def booth_page(app: Starlette, booth_id: int | None) -> str:
    async with browser(app) as anonymous:
        return (await anonymous.get(f"/expos/fair/booths/{booth_id}")).text


async def rooms_titled(app: Starlette, title: str) -> list[Room]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(Room).where(Room.title == title))).all())


async def test_an_exhibitor_offers_a_booth_room_to_walk_in_and_withdraws_it(app: Starlette) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    exhibitor = await make_account(app, "lumen@example.com", "exhibitor")
    await add_owner(app, booth, exhibitor)
    assert "Meet us now" not in await booth_page(app, booth.id)

    async with browser(app, "lumen@example.com") as client:
        page = (await client.get("/rooms")).text
        assert "Open to visitors from the booth page" in page and "Lumen Works" in page
        opened = await post_form(
            client,
            "/rooms",
            "/rooms",
            {"title": "Talk lamps with us", "expo": "fair", "booth": str(booth.id), "walk_in": "1"},
        )
        assert opened.status_code == 303
        (room,) = await rooms_titled(app, "Talk lamps with us")
        shown = await booth_page(app, booth.id)
        assert "Meet us now" in shown and f"/rooms/{room.id}?key={room.guest_key}" in shown
        assert room.host_key not in shown

        off = await post_form(client, "/rooms", f"/rooms/{room.id}/walk-in", {})
        assert off.status_code == 303
        shown = await booth_page(app, booth.id)
        assert "Meet us now" not in shown and room.guest_key not in shown
        assert "Open to visitors from the booth page" in (await client.get("/rooms")).text

        on = await post_form(client, "/rooms", f"/rooms/{room.id}/walk-in", {"walk_in": "1"})
        assert on.status_code == 303
        assert "Meet us now" in await booth_page(app, booth.id)
        assert "Stop offering it on the booth page" in (await client.get("/rooms")).text


async def test_a_walk_in_room_needs_a_booth_of_ones_own(app: Starlette) -> None:
    floor = await floor_of(app)
    mine, theirs = floor.booths["Lumen Works"], floor.booths["Harbor Electric"]
    exhibitor = await make_account(app, "lumen@example.com", "exhibitor")
    await add_owner(app, mine, exhibitor)

    async with browser(app, "lumen@example.com") as client:
        no_booth = await post_form(
            client, "/rooms", "/rooms", {"title": "Walk in anywhere", "expo": "fair", "walk_in": "1"}
        )
        assert no_booth.status_code == 422
        assert "Choose the booth whose page offers the room" in no_booth.text
        assert 'value="Walk in anywhere"' in no_booth.text
        assert await rooms_titled(app, "Walk in anywhere") == []

        other = await post_form(
            client,
            "/rooms",
            "/rooms",
            {"title": "Their booth", "expo": "fair", "booth": str(theirs.id), "walk_in": "1"},
        )
        assert other.status_code == 403
        assert await rooms_titled(app, "Their booth") == []

        plain = await post_form(client, "/rooms", "/rooms", {"title": "Just a call", "expo": "fair"})
        assert plain.status_code == 303
        (room,) = await rooms_titled(app, "Just a call")
        refused = await post_form(
            client, "/rooms", f"/rooms/{room.id}/walk-in", {"walk_in": "1"}, follow_redirects=True
        )
        assert "Only a room opened for a booth can be offered on its booth page." in refused.text
        (room,) = await rooms_titled(app, "Just a call")
        assert not room.walk_in
