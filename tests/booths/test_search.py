"""Search: ranking, filters, pagination, hostile queries, Chinese text, and SQLite/PostgreSQL parity."""

from __future__ import annotations

import pytest

from booths import search, services
from booths.models import BoothStatus
from booths.search import Filters, Results
from booths.services import BoothFields, ProductFields
from expo import migrations
from expo.config import Settings
from expo.db import Database
from tests.booths.conftest import Floor, make_user, seed_floor
from tests.conftest import create_schema


async def find(db: Database, floor: Floor, q: str, **kwargs: object) -> Results:
    async with db.session() as s:
        return await search.search(s, floor.expo, q, **kwargs)  # type: ignore[arg-type]


def names(results: Results) -> list[str]:
    return [hit.name for hit in results.items]


def test_text_is_folded_and_cjk_runs_become_bigrams() -> None:
    assert search.groups("Café LED台灯") == [["cafe"], ["led"], ["台灯"]]
    assert search.groups("不锈钢") == [["不锈", "锈钢"]]
    assert search.groups("X200灯泡lamp") == [["x200"], ["灯泡"], ["lamp"]]


async def test_a_latin_word_written_after_chinese_is_found_on_its_own(db: Database) -> None:
    floor = await seed_floor(db)
    booth = floor.booths["Lumen Works"]
    async with db.session() as s:
        await services.create_product(s, booth, ProductFields(name="台灯lamp"), floor.organizer)
    assert "台灯lamp" in names(await find(db, floor, "lamp"))
    assert search.groups('"NEAR(" * OR') == [["near"], ["or"]]


async def test_a_booth_named_like_the_query_ranks_above_a_description_that_mentions_it(db: Database) -> None:
    floor = await seed_floor(db)
    results = await find(db, floor, "lumen")
    # "Lumen Works" has it in its name; Harbor Electric only in its description ("a lumen meter"),
    # and Lumen Works' products only through their booth's name.
    assert results.items[0].name == "Lumen Works"
    assert results.items[0].kind == "booth"
    assert results.items[0].url == f"/expos/fair/booths/{floor.booths['Lumen Works'].id}"
    assert "Harbor Electric" in names(results)
    assert results.total == len(results.items) == 4


async def test_every_word_must_match_and_the_last_is_a_prefix(db: Database) -> None:
    floor = await seed_floor(db)
    assert names(await find(db, floor, "desk lam")) == ["LED desk lamp"]
    assert names(await find(db, floor, "desk lam ")) == []  # finished words are whole words
    product = (await find(db, floor, "desk lamp")).items[0]
    assert product.kind == "product"
    assert product.booth_id == floor.booths["Lumen Works"].id
    assert product.url == f"/expos/fair/products/{floor.products['LED desk lamp'].id}"


async def test_chinese_fragments_find_the_product(db: Database) -> None:
    floor = await seed_floor(db)
    assert names(await find(db, floor, "台灯")) == ["LED desk lamp"]
    assert names(await find(db, floor, "锈钢")) == ["Stainless steel switch"]  # inside 不锈钢开关
    assert names(await find(db, floor, "灯笼")) == ["Paper lantern"]
    assert names(await find(db, floor, "不锈钢", lang="zh_Hans")) == ["不锈钢开关"]
    assert names(await find(db, floor, "围巾")) == ["Silk scarf"]


async def test_only_a_lone_chinese_character_is_typed_on_as_a_prefix(db: Database) -> None:
    # Chinese is indexed as bigrams: a whole bigram cannot grow, so it is matched as it is (no
    # prefix merge); a lone character still finds the words starting with it.
    assert search._query_groups("台灯") == ([["台灯"]], False)
    assert search._query_groups("不锈钢") == ([["不锈", "锈钢"]], False)
    assert search._query_groups("台") == ([["台"]], True)
    assert search._query_groups("desk la") == ([["desk"], ["la"]], True)
    floor = await seed_floor(db)
    assert names(await find(db, floor, "台")) == ["LED desk lamp"]
    assert names(await find(db, floor, "台灯")) == ["LED desk lamp"]
    assert names(await find(db, floor, "不锈")) == ["Stainless steel switch"]


async def test_the_prefix_index_migration_keeps_every_document(settings: Settings) -> None:
    url = settings.database
    await migrations.upgrade(url, "0007_meetings")
    db = Database(url)
    async with db.engine.begin() as conn:  # the index as 0007 left it: no prefix indexes
        assert await conn.run_sync(search.rebuild_fts5, None)
        # Today's models read expo.translations (0014): lend it to the old schema while seeding.
        await conn.exec_driver_sql("ALTER TABLE expo ADD COLUMN translations JSON NOT NULL DEFAULT '{}'")
    floor = await seed_floor(db, by_admin=True)
    queries = ["desk la", "la", "lumen", "台", "锈钢", "st"]
    before = [(r.total, names(r)) for r in [await find(db, floor, q) for q in queries]]
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE expo DROP COLUMN translations")
    await db.dispose()
    await migrations.upgrade(url)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            sql = (
                await conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'search_doc'")
            ).scalar()
            assert "prefix = '2 3'" in str(sql)
            assert not await conn.run_sync(search.rebuild_fts5, search.PREFIX_INDEX)  # already there
        after = [(r.total, names(r)) for r in [await find(db, floor, q) for q in queries]]
        assert after == before
        assert before[0] == (1, ["LED desk lamp"]) and before[1][0] >= 2
    finally:
        await db.dispose()


async def test_filters_by_category_with_its_descendants_hall_and_country(db: Database) -> None:
    floor = await seed_floor(db)
    electronics = floor.categories["electronics"].id
    lighting = floor.categories["lighting"].id
    # Products are in Lighting (a child of Electronics) and Electronics itself: both count.
    found = await find(db, floor, "l", filters=Filters(category_id=electronics))
    assert set(names(await find(db, floor, "lumen", filters=Filters(category_id=electronics)))) == {
        "LED desk lamp",
        "Paper lantern",
    }
    assert found.total == 0  # a one-letter word is a whole word, not a prefix of everything
    assert set(names(await find(db, floor, "lumen", filters=Filters(category_id=lighting)))) == {
        "LED desk lamp",
        "Paper lantern",
    }
    assert names(await find(db, floor, "switch", filters=Filters(category_id=lighting))) == []
    assert names(await find(db, floor, "switch", filters=Filters(category_id=electronics))) == [
        "Stainless steel switch"
    ]
    hall_b = floor.halls["Hall B"].id
    assert set(names(await find(db, floor, "silk", filters=Filters(hall_id=hall_b)))) == {
        "Silk Road Weavers",
        "Silk scarf",
    }
    assert names(await find(db, floor, "lumen", filters=Filters(hall_id=hall_b))) == []
    assert names(await find(db, floor, "lumen", filters=Filters(country="de"))) == ["Harbor Electric"]


async def test_pages_of_twenty(db: Database) -> None:
    floor = await seed_floor(db)
    async with db.session() as s:
        for i in range(45):
            booth = floor.booths["Silk Road Weavers"]
            await services.create_product(s, booth, ProductFields(name=f"Woven basket {i}"), floor.organizer)
    first, second, third = [await find(db, floor, "basket", page=p) for p in (1, 2, 3)]
    assert first.total == second.total == third.total == 45
    assert (len(first.items), len(second.items), len(third.items)) == (20, 20, 5)
    seen = [h.id for h in first.items + second.items + third.items]
    assert len(set(seen)) == 45
    assert (await find(db, floor, "basket", page=4)).items == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "lamp*",
        "NEAR(lamp desk)",
        "lamp OR silk",
        "lamp AND",
        "NOT lamp",
        "{name}: lamp",
        "^lamp",
        "-",
        "(",
        "tags : x1",
    ],
)
async def test_query_syntax_in_user_input_is_just_text(db: Database, query: str) -> None:
    floor = await seed_floor(db)
    results = await find(db, floor, query)
    assert results.total == len(results.items)
    if "lamp" in query and "OR" in query:
        assert results.items == []  # "or" is a word that must match too, not an operator
    if query == "tags : x1":
        assert results.items == []  # the filter column cannot be reached


async def test_only_approved_booths_are_searchable(db: Database) -> None:
    floor = await seed_floor(db)
    exhibitor = await make_user(db, "ex@example.com", "exhibitor")
    async with db.session() as s:
        booth = await services.create_booth(s, floor.expo, BoothFields(name="Quasar Optics"), exhibitor)
        await services.create_product(s, booth, ProductFields(name="Quasar telescope"), exhibitor)
    assert (await find(db, floor, "quasar")).total == 0
    async with db.session() as s:
        booth = await services.get_booth(s, booth.id or 0, floor.organizer)
        await services.set_booth_status(s, booth, BoothStatus.APPROVED, floor.organizer)
    assert set(names(await find(db, floor, "quasar"))) == {"Quasar Optics", "Quasar telescope"}
    async with db.session() as s:
        booth = await services.get_booth(s, booth.id or 0, floor.organizer)
        await services.delete_booth(s, booth, floor.organizer)
    assert (await find(db, floor, "quasar")).total == 0


async def test_renaming_a_booth_reindexes_it_and_its_products(db: Database) -> None:
    floor = await seed_floor(db)
    async with db.session() as s:
        booth = await services.get_booth(s, floor.booths["Lumen Works"].id or 0)
        await services.update_booth(s, booth, BoothFields(name="Photon House"), floor.organizer)
    assert (await find(db, floor, "lumen works")).total == 0
    assert set(names(await find(db, floor, "photon"))) == {"Photon House", "LED desk lamp", "Paper lantern"}


async def test_postgresql_answers_like_sqlite(db: Database, postgres_url: str) -> None:
    await create_schema(postgres_url)
    pg = Database(postgres_url)
    try:
        lite_floor = await seed_floor(db)
        pg_floor = await seed_floor(pg)
        queries: list[tuple[str, Filters]] = [
            ("lumen", Filters()),
            ("desk lam", Filters()),
            ("台灯", Filters()),
            ("锈钢", Filters()),
            ("silk", Filters()),
            ("lumen", Filters(category_id=lite_floor.categories["electronics"].id)),
            ("lumen", Filters(country="DE")),
            ('NEAR(" lamp', Filters()),
        ]
        for q, filters in queries:
            lite = await find(db, lite_floor, q, filters=filters)
            # Both stores were filled the same way, so ids agree too.
            on_pg = await find(pg, pg_floor, q, filters=filters)
            assert on_pg.total == lite.total, q
            assert names(on_pg)[:1] == names(lite)[:1], q
            assert set(names(on_pg)) == set(names(lite)), q
    finally:
        await pg.dispose()


async def test_a_very_broad_query_ranks_a_window_and_keeps_the_total_exact(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    floor = await seed_floor(db)
    async with db.session() as s:
        for i in range(30):
            await services.create_product(
                s, floor.booths["Harbor Electric"], ProductFields(name=f"Cable {i}"), floor.organizer
            )
    monkeypatch.setattr(search, "RANK_WINDOW", 10)
    for few in (2_000, 0):  # the matches read at once, or counted
        monkeypatch.setattr(search, "FEW_MATCHES", few)
        pages = [await find(db, floor, "cable ", page=p) for p in (1, 2)]  # whole word: not "cables"
        assert [p.total for p in pages] == [30, 30]
        assert len(pages[0].items) == 10 and pages[1].items == []  # ranked within the first ten matches
        assert {h.name for h in pages[0].items} == {f"Cable {i}" for i in range(10)}


async def test_common_filters_left_out_of_the_ranking_give_the_same_pages(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every hall and country of the floor covers a third of its booths or more, so the "split"
    # strategy ranks without those filter tags; the "baseline" keeps them in the ranking MATCH.
    floor = await seed_floor(db)
    async with db.session() as s:
        for i in range(25):
            for booth in ("Lumen Works", "Harbor Electric", "Silk Road Weavers"):
                name = f"Lamp {'shade ' * (i % 4)}{booth.split()[0]} {i}"
                fields = ProductFields(name=name)
                await services.create_product(s, floor.booths[booth], fields, floor.organizer)
    hall_a = floor.halls["Hall A"].id
    checks = [
        ("lamp", Filters(country="DE")),
        ("lamp sha", Filters(country="cn")),
        ("lamp", Filters(hall_id=hall_a)),
        ("lamp", Filters(hall_id=hall_a, country="DE", category_id=None)),
        ("lamp lumen", Filters(country="CN")),
    ]
    # Everything ranked, then a window smaller than the matches; the matches read at once (few),
    # then counted and chosen again inside SQLite (many).
    for window, few in ((10_000, 2_000), (10_000, 0), (12, 2_000), (12, 0)):
        monkeypatch.setattr(search, "RANK_WINDOW", window)
        monkeypatch.setattr(search, "BASELINE_RANK_WINDOW", window)
        monkeypatch.setattr(search, "FEW_MATCHES", few)
        for q, filters in checks:
            pages: dict[str, list[tuple[int, list[str]]]] = {}
            for strategy in ("split", "baseline"):
                monkeypatch.setattr(search, "STRATEGY", strategy)
                found = [await find(db, floor, q, filters=filters, page=p) for p in (1, 2)]
                pages[strategy] = [(r.total, names(r)) for r in found]
            assert pages["split"] == pages["baseline"], (q, filters, window, few)
            assert pages["split"][0][1], (q, filters)  # something was found
    monkeypatch.setattr(search, "STRATEGY", "split")
    # The plan statistics saw the country as common, so the split path was the one compared.
    assert any(shares.get("kde", 0) >= search.COMMON_SHARE for _, shares in search._shares.values())
    de = await find(db, floor, "lamp", filters=Filters(country="DE"))
    assert de.total == 25
    assert all(name.endswith(tuple(f"Harbor {i}" for i in range(25))) for name in names(de))
