"""Fixtures for the expo floor: a store with the schema, accounts of each role, a small floor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from booths import services
from booths.models import Booth, Category, Hall, Product
from booths.services import BoothFields, CategoryFields, HallFields, Placement, ProductFields
from expo.accounts import services as accounts
from expo.accounts.models import User
from expo.config import Settings
from expo.db import Database
from expo.expos import services as expos
from expo.expos.models import Expo
from tests.conftest import create_schema


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """A fresh SQLite store with every table and the search index."""
    await create_schema(settings.database)
    database = Database(settings.database)
    yield database
    await database.dispose()


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[Database]:
    """A fresh PostgreSQL store with the schema, for the tests of PostgreSQL's own search paths."""
    await create_schema(postgres_url)
    database = Database(postgres_url)
    yield database
    await database.dispose()


async def make_user(db: Database, email: str, role: str) -> User:
    async with db.session() as session:
        return await accounts.create_user(session, email=email, password="correct horse battery", role=role)


@dataclass
class Floor:
    """A small expo: two halls, a category tree, three approved booths with products."""

    expo: Expo
    organizer: User
    halls: dict[str, Hall]
    categories: dict[str, Category]
    booths: dict[str, Booth]
    products: dict[str, Product]


async def seed_floor(db: Database, *, by_admin: bool = False) -> Floor:
    """The floor, set up by the expo's owner (or, ``by_admin``, by a platform administrator: a store
    at an old schema revision has no teams yet)."""
    organizer = await make_user(db, "org@example.com", "admin" if by_admin else "organizer")
    async with db.session() as s:
        owner = None if by_admin else organizer.id
        expo = await expos.ensure_expo(s, "fair", "Fair", created_by=owner)
        halls = {
            name: await services.save_hall(s, expo, HallFields(name=name), organizer)
            for name in ("Hall A", "Hall B")
        }
        tree: dict[str, Category] = {}
        tree["electronics"] = await services.save_category(
            s, expo, CategoryFields(name="Electronics"), organizer
        )
        tree["lighting"] = await services.save_category(
            s, expo, CategoryFields(name="Lighting", parent_id=tree["electronics"].id), organizer
        )
        tree["textiles"] = await services.save_category(s, expo, CategoryFields(name="Textiles"), organizer)
        booths: dict[str, Booth] = {}
        for name, hall, country, description in [
            ("Lumen Works", "Hall A", "CN", "Lamps and lanterns for every home"),
            ("Silk Road Weavers", "Hall B", "IN", "Cotton and silk fabrics, woven by hand"),
            ("Harbor Electric", "Hall A", "DE", "Cables, switches and a lumen meter"),
        ]:
            booths[name] = await services.create_booth(
                s,
                expo,
                BoothFields(name=name, description=description, country=country),
                organizer,
                Placement(hall_id=halls[hall].id),
            )
        products: dict[str, Product] = {}
        for booth, name, category, zh in [
            ("Lumen Works", "LED desk lamp", "lighting", "LED台灯"),
            ("Lumen Works", "Paper lantern", "lighting", "纸灯笼"),
            ("Silk Road Weavers", "Silk scarf", "textiles", "真丝围巾"),
            ("Harbor Electric", "Stainless steel switch", "electronics", "不锈钢开关"),
        ]:
            products[name] = await services.create_product(
                s,
                booths[booth],
                ProductFields(
                    name=name,
                    category_id=tree[category].id,
                    translations={"zh_Hans": services.TextFields(name=zh)},
                ),
                organizer,
            )
    return Floor(expo, organizer, halls, tree, booths, products)
