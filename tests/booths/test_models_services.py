"""Expo floor rules at the service level: who may do what, validation, and what a change carries along."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from booths import search, services
from booths.models import Booth, BoothStaff, BoothStatus, Hall, Product
from booths.services import BoothFields, CategoryFields, Placement, ProductFields, TextFields
from expo.db import Database, utcnow
from expo.errors import Conflict, Forbidden, Invalid, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.expos.services import ExpoFields
from expo.permissions import BoothRole
from streaming.models import Stream
from tests.booths.conftest import make_user, seed_floor


async def test_an_application_is_pending_owned_by_its_applicant_until_approved(db: Database) -> None:
    floor = await seed_floor(db)
    applicant = await make_user(db, "ex@example.com", "exhibitor")
    visitor = await make_user(db, "v@example.com", "visitor")
    async with db.session() as s:
        booth = await services.create_booth(s, floor.expo, BoothFields(name="Quasar"), applicant)
        assert booth.status == BoothStatus.PENDING
        assert await services.booth_role(s, booth.id or 0, applicant) is BoothRole.OWNER
        with pytest.raises(NotFound):
            await services.get_booth(s, booth.id or 0, visitor)
        with pytest.raises(Forbidden):
            await services.create_booth(s, floor.expo, BoothFields(name="Nope"), visitor)
        with pytest.raises(Forbidden):  # exhibitors cannot place themselves
            await services.create_booth(
                s, floor.expo, BoothFields(name="Nope"), applicant, Placement(number="A1")
            )
        with pytest.raises(Forbidden):
            await services.set_booth_status(s, booth, BoothStatus.APPROVED, applicant)
        await services.set_booth_status(s, booth, BoothStatus.APPROVED, floor.organizer)
        assert (await services.get_booth(s, booth.id or 0, visitor)).status == "approved"


async def test_closed_applications_and_duplicate_names_are_refused(db: Database) -> None:
    floor = await seed_floor(db)
    applicant = await make_user(db, "ex@example.com", "exhibitor")
    async with db.session() as s:
        with pytest.raises(Conflict):
            await services.create_booth(s, floor.expo, BoothFields(name="Lumen Works"), floor.organizer)
        expo = await expos.get_expo(s, "fair")
        await expos.update_expo(s, expo, ExpoFields(applications_open=False), floor.organizer)
        with pytest.raises(Forbidden):
            await services.create_booth(s, expo, BoothFields(name="Late Co"), applicant)


async def test_staff_roles(db: Database) -> None:
    floor = await seed_floor(db)
    owner = await make_user(db, "owner@example.com", "exhibitor")
    colleague = await make_user(db, "colleague@example.com", "exhibitor")
    await make_user(db, "visitor@example.com", "visitor")
    async with db.session() as s:
        booth = await services.create_booth(s, floor.expo, BoothFields(name="Quasar"), owner)
        await services.add_staff(s, booth, "Colleague@Example.com", BoothRole.STAFF, owner)
        assert await services.booth_role(s, booth.id or 0, colleague) is BoothRole.STAFF
        # Staff edit the booth, but only owners manage the staff.
        await services.update_booth(s, booth, BoothFields(tagline="Optics"), colleague)
        with pytest.raises(Forbidden):
            await services.add_staff(s, booth, "colleague@example.com", BoothRole.OWNER, colleague)
        with pytest.raises(Invalid):
            await services.add_staff(s, booth, "visitor@example.com", BoothRole.STAFF, owner)
        with pytest.raises(NotFound):
            await services.add_staff(s, booth, "nobody@example.com", BoothRole.STAFF, owner)
        with pytest.raises(Conflict):  # the last owner stays
            await services.remove_staff(s, booth, owner.id or 0, owner)
        await services.remove_staff(s, booth, colleague.id or 0, owner)
        assert [u.email for _, u in await services.list_staff(s, booth)] == ["owner@example.com"]
        with pytest.raises(Forbidden):
            await services.update_booth(s, booth, BoothFields(tagline="Back again"), colleague)


async def test_product_rules(db: Database) -> None:
    floor = await seed_floor(db)
    booth = floor.booths["Lumen Works"]
    org = floor.organizer
    async with db.session() as s:
        bad: list[ProductFields] = [
            ProductFields(name="Lamp", currency="usd", price_min=1),
            ProductFields(name="Lamp", currency="XXZ", price_min=1),
            ProductFields(name="Lamp", price_min=10, price_max=5, currency="USD"),
            ProductFields(name="Lamp", price_max=5),
            ProductFields(name="Lamp", translations={"de": TextFields(name="Lampe")}),
            ProductFields(name="Lamp", tags=["x" * 51]),
        ]
        for fields in bad:
            with pytest.raises(Invalid):
                await services.create_product(s, booth, fields, org)
        product = await services.create_product(
            s,
            booth,
            ProductFields(
                name="Lamp",
                price_min=1999,
                price_max=2999,
                currency="CNY",
                moq=10,
                tags=[" desk ", "", "led"],
                translations={"zh_Hans": TextFields(name="台灯", description="护眼")},
            ),
            org,
        )
        assert (product.price_min, product.price_max, product.currency, product.tags) == (
            1999,
            2999,
            "CNY",
            ["desk", "led"],
        )
        assert product.translations == {"zh_Hans": {"name": "台灯", "description": "护眼"}}
        total = (await s.exec(select(func.count()).select_from(Product))).one()
    assert total == 5  # four from the floor, one here: the refused ones left nothing


async def test_moving_a_category_refilters_its_products_and_cycles_are_refused(db: Database) -> None:
    floor = await seed_floor(db)
    org = floor.organizer
    async with db.session() as s:
        expo = floor.expo
        lighting = await services.get_category(s, expo, floor.categories["lighting"].id or 0)
        electronics = await services.get_category(s, expo, floor.categories["electronics"].id or 0)
        textiles = floor.categories["textiles"].id
        with pytest.raises(Invalid):
            await services.save_category(s, expo, CategoryFields(parent_id=lighting.id), org, electronics)
        with pytest.raises(Invalid):
            await services.save_category(s, expo, CategoryFields(parent_id=electronics.id), org, electronics)
        await services.save_category(s, expo, CategoryFields(parent_id=textiles), org, lighting)
        found = await search.search(s, expo, "lamp", filters=search.Filters(category_id=textiles))
        assert [h.name for h in found.items] == ["LED desk lamp"]
        assert (
            await search.search(s, expo, "lamp", filters=search.Filters(category_id=electronics.id))
        ).total == 0
        other = await expos.ensure_expo(s, "other", "Other", created_by=org.id)
        with pytest.raises(NotFound):  # a parent from another expo
            await services.save_category(s, other, CategoryFields(name="X", parent_id=textiles), org)


async def test_a_hall_with_booths_is_deleted_only_when_told_where_they_go(db: Database) -> None:
    floor = await seed_floor(db)
    async with db.session() as s:
        hall = await s.get(Hall, floor.halls["Hall A"].id)
        assert hall is not None
        with pytest.raises(Conflict) as refused:
            await services.delete_hall(s, hall, floor.organizer)
        assert refused.value.code == "hall.in_use" and refused.value.extra["count"] == 2
        assert await s.get(Hall, hall.id) is not None
        await services.delete_hall(s, hall, floor.organizer, unplace=True)
        booth = await s.get(Booth, floor.booths["Lumen Works"].id)
        assert booth is not None and booth.hall_id is None
        assert (
            await search.search(s, floor.expo, "lumen", filters=search.Filters(hall_id=hall.id))
        ).total == 0
        assert (await search.search(s, floor.expo, "lumen")).total == 4


async def test_deleting_a_booth_removes_products_and_staff_and_unlinks_streams(db: Database) -> None:
    floor = await seed_floor(db)
    booth = floor.booths["Lumen Works"]
    async with db.session() as s:
        stream = Stream(
            expo_id=floor.expo.id or 0, booth_id=booth.id, title="Live", key="k" * 32, created_at=utcnow()
        )
        s.add(stream)
        await s.commit()
        stream_id = stream.id
        await services.delete_booth(s, booth, floor.organizer)
    async with db.session() as s:
        left = (
            await s.exec(select(func.count()).select_from(Product).where(Product.booth_id == booth.id))
        ).one()
        assert left == 0
        assert (await s.exec(select(BoothStaff).where(BoothStaff.booth_id == booth.id))).all() == []
        kept = await s.get(Stream, stream_id)
        assert kept is not None and kept.booth_id is None  # the broadcast stays, without its booth
        assert (await search.search(s, floor.expo, "lumen works")).total == 0


async def test_expo_rules(db: Database) -> None:
    floor = await seed_floor(db)
    exhibitor = await make_user(db, "ex@example.com", "exhibitor")
    async with db.session() as s:
        with pytest.raises(Forbidden):
            await expos.create_expo(s, "spring", ExpoFields(title="Spring"), exhibitor)
        with pytest.raises(Conflict):
            await expos.create_expo(s, "fair", ExpoFields(title="Again"), floor.organizer)
        with pytest.raises(Invalid):
            await expos.create_expo(s, "Bad Slug", ExpoFields(title="x"), floor.organizer)
        expo = await expos.get_expo(s, "fair")
        with pytest.raises(Invalid):
            await expos.update_expo(s, expo, ExpoFields(languages="en,fr"), floor.organizer)
    async with db.session() as s:
        expo = await expos.get_expo(s, "fair")
        assert expo.languages == "en,zh_Hans"  # the refused change was not stored
        with pytest.raises(Invalid):
            await expos.update_expo(
                s,
                expo,
                ExpoFields(
                    starts_on=date.today() + timedelta(days=2), ends_on=date.today() + timedelta(days=1)
                ),
                floor.organizer,
            )
        await expos.set_expo_banner(s, expo, "expo/1/banner.webp", floor.organizer)
    async with db.session() as s:
        stored = await s.get(Expo, floor.expo.id)
        assert stored is not None and stored.banner_path == "expo/1/banner.webp" and stored.starts_on is None


def test_country_and_currency_codes() -> None:
    assert services.check_country("cn") == "CN"
    for bad in ("ZZ", "EU", "China", "1"):
        with pytest.raises(Invalid):
            services.check_country(bad)
    assert services.check_currency("CNY") == "CNY"
    for bad in ("cny", "YUAN", "XYZ", ""):
        with pytest.raises(Invalid):
            services.check_currency(bad)


@pytest.mark.parametrize(
    ("typed", "hundredths"),
    [
        ("19.99", 1999),
        ("19,99", 1999),
        ("9,80", 980),
        ("0,5", 50),
        ("12", 1200),
        ("1,234.50", 123450),
        ("1.234,50", 123450),
        ("1 234,50", 123450),
        ("1\u202f234,50", 123450),
        ("1,000", 100000),
        ("1.234.567", 123456700),
        ("", None),
    ],
)
def test_a_typed_price_reads_as_meant(typed: str, hundredths: int | None) -> None:
    assert services.parse_price(typed) == hundredths


@pytest.mark.parametrize("typed", ["12.345", "1,23,45", "ten", "-5", "1.2345", "1,0000", "9,800.0.1", "1e3"])
def test_a_price_that_could_be_read_two_ways_or_none_is_refused(typed: str) -> None:
    with pytest.raises(Invalid) as refused:
        services.parse_price(typed)
    assert refused.value.code == "product.invalid_price"
