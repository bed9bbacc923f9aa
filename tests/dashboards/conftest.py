"""Fixtures for the dashboards: an expo with its organizer, two booths with staff, broadcasts."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette

from booths import services as floor
from booths.models import Booth, BoothStaff
from booths.services import BoothFields
from expo.accounts.models import User
from expo.db import Database
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.expos.services import ExpoFields
from expo.permissions import BoothRole
from streaming import services as streams
from streaming.models import Stream
from tests.booths.web import make_account


@dataclass
class Show:
    """An expo ``show`` created by ``organizer``; ``exhibitor`` staffs booth ``lamps`` only."""

    expo: Expo
    organizer: User
    rival: User  # an organizer of another expo
    exhibitor: User
    visitor: User
    booths: dict[str, Booth]
    keynote: Stream  # the organizer's, live
    demo: Stream  # presented by the exhibitor's booth, live


async def seed_show(app: Starlette) -> Show:
    db: Database = app.state.platform.db
    organizer = await make_account(app, "org@example.com", "organizer", "Olga")
    rival = await make_account(app, "rival@example.com", "organizer", "Rita")
    exhibitor = await make_account(app, "exhibitor@example.com", "exhibitor", "Eddie")
    visitor = await make_account(app, "visitor@example.com", "visitor", "Vera")
    async with db.session() as s:
        expo = await expos.create_expo(s, "show", ExpoFields(title="The Show"), organizer)
        await expos.create_expo(s, "other", ExpoFields(title="Another Show"), rival)
        booths = {}
        for key, name in [("lamps", "Lumen <b>Works</b>"), ("silk", "Silk Road Weavers")]:
            booths[key] = await floor.create_booth(s, expo, BoothFields(name=name), organizer)
        assert booths["lamps"].id is not None and exhibitor.id is not None
        s.add(BoothStaff(booth_id=booths["lamps"].id, user_id=exhibitor.id, role=BoothRole.OWNER.value))
        await s.commit()
        keynote = await streams.create_stream(s, expo=expo, title="Opening keynote", owner=organizer)
        keynote = await streams.go_live(s, keynote)
        demo = await streams.create_stream(
            s, expo=expo, title="Lamp demo", owner=exhibitor, booth_id=booths["lamps"].id
        )
        demo = await streams.go_live(s, demo)
    return Show(expo, organizer, rival, exhibitor, visitor, booths, keynote, demo)
