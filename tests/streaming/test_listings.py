"""What is "Live now" and "Coming up", as readers see it: on the home page, the visitor's home, the expo
index, the floor and booth pages; the agenda's LIVE mark; a booth's open room. On SQLite and on the
real PostgreSQL."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from booths.models import Booth
from expo.agenda.models import Program
from expo.config import Settings
from expo.db import utcnow
from expo.expos.models import Expo
from expo.meetings.models import Meeting, MeetingStatus
from streaming.audience import Audience
from streaming.models import Room, Stream, StreamStatus, ViewVia, Visibility
from tests.booths.web import browser, floor_of, make_account
from tests.conftest import make_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


@dataclass
class Show:
    expo: Expo
    booth: Booth
    other: Booth
    live: Stream
    soon: Stream
    members_only: Stream
    ended: Stream


async def add_stream(app: Starlette, expo: Expo, title: str, **fields: Any) -> Stream:
    async with app.state.platform.db.session() as session:
        assert expo.id is not None
        stream = Stream(expo_id=expo.id, title=title, key=secrets.token_urlsafe(32), **fields)
        session.add(stream)
        await session.commit()
        return stream


async def add_room(app: Starlette, expo: Expo, booth: Booth, title: str, *, walk_in: bool) -> Room:
    async with app.state.platform.db.session() as session:
        assert expo.id is not None
        room = Room(
            expo_id=expo.id,
            booth_id=booth.id,
            title=title,
            walk_in=walk_in,
            host_key=secrets.token_urlsafe(32),
            guest_key=secrets.token_urlsafe(32),
        )
        session.add(room)
        await session.commit()
        return room


async def show(app: Starlette) -> Show:
    """The floor's expo with, at "Lumen Works", a public broadcast live now (one person watching)
    and one scheduled in two hours; a registered-only broadcast live now; an ended one."""
    floor = await floor_of(app)
    expo, booth = floor.expo, floor.booths["Lumen Works"]
    now = utcnow()
    live = await add_stream(
        app, expo, "Lamp factory tour", booth_id=booth.id, status=StreamStatus.LIVE.value, started_at=now
    )
    soon = await add_stream(
        app,
        expo,
        "Lantern workshop",
        booth_id=booth.id,
        scheduled_start=now + timedelta(hours=2),
        planned_end=now + timedelta(hours=3),
    )
    members_only = await add_stream(
        app,
        expo,
        "Buyers-only briefing",
        status=StreamStatus.LIVE.value,
        visibility=Visibility.REGISTERED.value,
        started_at=now,
    )
    ended = await add_stream(
        app,
        expo,
        "Yesterday's keynote",
        booth_id=booth.id,
        status=StreamStatus.ENDED.value,
        started_at=now - timedelta(days=1),
        ended_at=now - timedelta(days=1) + timedelta(hours=1),
    )
    assert live.id is not None
    await app.state.platform.get(Audience).watch(live.id, "anon:someone", ViewVia.PAGE)
    return Show(expo, booth, floor.booths["Harbor Electric"], live, soon, members_only, ended)


def strip(html: str) -> str:
    """The "Live now" / "Coming up" section of a page ("" when the page has none)."""
    if 'id="live-now"' not in html:
        return ""
    return html.split('id="live-now"', 1)[1].split("</section>", 1)[0]


def live_part(section: str) -> str:
    return section.split("Coming up", 1)[0]


def coming_part(section: str) -> str:
    return section.split("Coming up", 1)[1] if "Coming up" in section else ""


async def test_anonymous_readers_see_the_live_public_broadcast_and_whats_next(app: Starlette) -> None:
    s = await show(app)
    async with browser(app) as anonymous:
        pages = {
            "/": (await anonymous.get("/")).text,
            "/expos": (await anonymous.get("/expos")).text,
            "/expos/fair": (await anonymous.get("/expos/fair")).text,
        }
    for path, html in pages.items():
        section = strip(html)
        live, coming = live_part(section), coming_part(section)
        assert "Lamp factory tour" in live and f'href="/watch/{s.live.id}"' in live, path
        assert "LIVE" in live and "1 watching" in live and "Lumen Works" in live, path
        assert "Lantern workshop" in coming and f'href="/watch/{s.soon.id}"' in coming, path
        # Its start, in the expo's timezone, in a <time> that localtime.js annotates.
        assert s.soon.scheduled_start is not None
        assert s.soon.scheduled_start.strftime("%Y-%m-%dT%H:%M:%SZ") in coming, path
        # Registered-only: not for an anonymous reader. Ended: gone.
        assert "Buyers-only briefing" not in html, path
        assert "Yesterday&#39;s keynote" not in html and "Yesterday's keynote" not in html, path


async def test_a_signed_in_visitor_also_sees_registered_only_broadcasts(app: Starlette) -> None:
    s = await show(app)
    await make_account(app, "v@example.com", "visitor")
    async with browser(app, "v@example.com") as visitor:
        home = (await visitor.get("/visitor")).text
        floor = (await visitor.get("/expos/fair")).text
    for html in (home, floor):
        live = live_part(strip(html))
        assert "Lamp factory tour" in live and "Buyers-only briefing" in live
        assert f'href="/watch/{s.members_only.id}"' in live
        assert "Lantern workshop" in coming_part(strip(html))
        assert "Yesterday&#39;s keynote" not in html


async def test_a_live_broadcast_that_ends_leaves_the_strips(app: Starlette) -> None:
    s = await show(app)
    async with app.state.platform.db.session() as session:
        row = await session.get(Stream, s.live.id)
        assert row is not None
        row.status, row.ended_at = StreamStatus.ENDED.value, utcnow()
        await session.commit()
    async with browser(app) as anonymous:
        html = (await anonymous.get("/")).text
    assert "Lamp factory tour" not in html
    assert "Lantern workshop" in coming_part(strip(html))


async def test_the_floor_marks_live_booths_and_the_booth_page_links_its_broadcast(app: Starlette) -> None:
    s = await show(app)
    async with browser(app) as anonymous:
        floor = (await anonymous.get("/expos/fair")).text
        booth = (await anonymous.get(f"/expos/fair/booths/{s.booth.id}")).text
        other = (await anonymous.get(f"/expos/fair/booths/{s.other.id}")).text
    # The booth cards: a LIVE badge on the card of the booth that broadcasts now, none elsewhere.
    cards = floor.split('class="booth-card card"')[1:]
    live_cards = [c for c in cards if "booth-card-live" in c]
    assert len(live_cards) == 1 and f"/booths/{s.booth.id}#live" in live_cards[0]
    # Its page: its own broadcast, live, with the viewers and a link to watch it.
    assert 'id="live"' in booth
    section = booth.split('id="live"', 1)[1].split("</section>", 1)[0]
    assert "Lamp factory tour" in section and "LIVE" in section and "1 watching" in section
    assert f'href="/watch/{s.live.id}"' in section and "Watch now" in section
    # A booth without a broadcast shows nothing of the kind.
    assert 'id="live"' not in other


async def test_a_booth_page_shows_its_next_broadcast_when_none_is_live(app: Starlette) -> None:
    s = await show(app)
    async with app.state.platform.db.session() as session:
        row = await session.get(Stream, s.live.id)
        assert row is not None
        row.status = StreamStatus.ENDED.value
        await session.commit()
    async with browser(app) as anonymous:
        booth = (await anonymous.get(f"/expos/fair/booths/{s.booth.id}")).text
    section = booth.split('id="live"', 1)[1].split("</section>", 1)[0]
    assert "Next broadcast" in section and "Lantern workshop" in section
    assert f'href="/watch/{s.soon.id}"' in section and "LIVE" not in section


async def test_a_booth_page_links_its_walk_in_room_but_never_a_private_one(app: Starlette) -> None:
    s = await show(app)
    walk_in = await add_room(app, s.expo, s.other, "Drop in and talk cables", walk_in=True)
    private = await add_room(app, s.expo, s.booth, "Meeting with a buyer", walk_in=False)
    visitor = await make_account(app, "buyer@example.com", "visitor")
    async with app.state.platform.db.session() as session:
        assert s.booth.id is not None and s.expo.id is not None and visitor.id is not None
        now = utcnow()
        session.add(
            Meeting(
                booth_id=s.booth.id,
                expo_id=s.expo.id,
                requester_id=visitor.id,
                status=MeetingStatus.ACCEPTED.value,
                starts_at=now,
                ends_at=now + timedelta(minutes=30),
                room_id=private.id,
            )
        )
        await session.commit()
    async with browser(app) as anonymous:
        other = (await anonymous.get(f"/expos/fair/booths/{s.other.id}")).text
        booth = (await anonymous.get(f"/expos/fair/booths/{s.booth.id}")).text
    assert "Meet us now" in other
    assert f'href="/rooms/{walk_in.id}?key={walk_in.guest_key}"' in other
    assert walk_in.host_key not in other
    assert "Meet us now" not in booth and private.guest_key not in booth

    async with app.state.platform.db.session() as session:
        row = await session.get(Room, walk_in.id)
        assert row is not None
        row.ended_at = utcnow()
        await session.commit()
    async with browser(app) as anonymous:
        other = (await anonymous.get(f"/expos/fair/booths/{s.other.id}")).text
    assert "Meet us now" not in other


async def test_the_agenda_marks_the_program_whose_broadcast_is_live(app: Starlette) -> None:
    s = await show(app)
    now = utcnow()
    async with app.state.platform.db.session() as session:
        assert s.expo.id is not None
        on_air = Program(
            expo_id=s.expo.id,
            title="Factory tour (stage)",
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(minutes=50),
            stream_id=s.live.id,
        )
        later = Program(
            expo_id=s.expo.id,
            title="Workshop (stage)",
            starts_at=now - timedelta(minutes=5),
            ends_at=now + timedelta(minutes=55),
            stream_id=s.soon.id,
        )
        session.add_all([on_air, later])
        await session.commit()
    day = (now - timedelta(minutes=10)).astimezone(s.expo.zone).date().isoformat()
    async with browser(app) as anonymous:
        agenda = (await anonymous.get(f"/expos/fair/agenda?day={day}")).text
        page = (await anonymous.get(f"/expos/fair/agenda/{on_air.id}")).text
        not_live = (await anonymous.get(f"/expos/fair/agenda/{later.id}")).text
    cards = {c.split("</li>", 1)[0] for c in agenda.split('class="card program"')[1:]}
    marked = [c for c in cards if "live-badge" in c]
    assert len(marked) == 1 and "Factory tour (stage)" in marked[0]
    assert f'href="/watch/{s.live.id}"' in marked[0] and ">Watch<" in marked[0]
    assert "live-badge" in page and f'href="/watch/{s.live.id}"' in page
    assert "live-badge" not in not_live
