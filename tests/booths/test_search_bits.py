"""PostgreSQL's term bitmaps (booths.search_bits): a common query is counted from them, the count
is the GIN index's to the document, through every kind of write, and a rebuild loses no writer."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from booths import search, search_bits, services
from booths.models import BoothStatus
from booths.search import Doc, Filters
from booths.services import BoothFields, ProductFields
from expo.cli import main as cli_main
from expo.db import Database
from tests.booths.conftest import Floor, seed_floor
from tests.booths.test_search import find

# Words, prefixes being typed, CJK words and phrases of every length, filters: each query is
# counted from the bitmaps (all its terms are tracked at min_docs=1) and through the GIN index.
QUERIES: list[tuple[str, Filters]] = [
    ("lumen", Filters()),
    ("lu", Filters()),
    ("lamp", Filters()),
    ("desk lam", Filters()),
    ("silk", Filters(country="IN")),
    ("lumen", Filters(country="DE")),
    ("台灯", Filters()),
    ("灯", Filters()),
    ("锈钢", Filters()),
    ("不锈钢", Filters()),
    ("不锈钢开", Filters()),
    ("钢开关", Filters()),
    ("纸灯笼", Filters()),
    ("stainless 开关", Filters()),
    ("cable", Filters()),
    ("lantern", Filters()),
]


async def rebuild(db: Database, floor: Floor, min_docs: int = 1) -> search_bits.Rebuilt:
    assert floor.expo.id is not None
    async with db.engine.begin() as conn:
        return await search_bits.rebuild(conn, floor.expo.id, min_docs)


async def counts(db: Database, floor: Floor, q: str, filters: Filters) -> tuple[int | None, int]:
    """(the bitmaps' count or None, the GIN index's count) of one query; where the bitmaps count,
    their first matches are the index's first in doc id order too."""
    assert floor.expo.id is not None
    found, prefix = search._query_groups(q)
    categories = [filters.category_id] if filters.category_id is not None else []
    tags = search.postgres_tags(floor.expo.id, filters.hall_id, filters.country, categories)[1:]
    terms = search_bits.query_terms(found, prefix, tags)
    condition = " & ".join([f"({search.tsquery(found, prefix)})", *(f"'{t}'" for t in tags)])
    low, high = search.expo_doc_range(floor.expo.id)
    async with db.engine.connect() as conn:
        bits = await search_bits.matches(conn, floor.expo.id, terms, 3) if terms is not None else None
        gin = (
            (
                await conn.execute(
                    text(
                        "SELECT doc_id FROM search_doc "
                        "WHERE tsv @@ CAST(:q AS tsquery) AND doc_id BETWEEN :low AND :high ORDER BY doc_id"
                    ),
                    {"q": condition, "low": low, "high": high},
                )
            )
            .scalars()
            .all()
        )
    if bits is not None:
        assert bits[1] == gin[:3], (q, filters)
    return (bits[0] if bits is not None else None), len(gin)


async def assert_bits_agree(db: Database, floor: Floor) -> None:
    for q, filters in QUERIES:
        bits, gin = await counts(db, floor, q, filters)
        assert bits == gin, (q, filters)


def test_terms_are_what_each_part_of_a_query_matches() -> None:
    doc = Doc(
        doc_id=5, expo_id=1, name=["led", "不锈", "锈钢", "开关"], body=["lamp"], hall_id=3, country="CN"
    )
    assert search.expo_doc_range(1)[1] - search.expo_doc_range(1)[0] == search_bits.LOCAL_MASK  # one layout
    terms = search_bits.terms_of(doc.tsvector())
    assert {"led", "lamp", "_h3", "_kcn", "_e1"} <= terms
    assert {"le*", "led*", "la*", "lam*", "lamp*", "不*", "锈*", "开*"} <= terms
    assert {"不锈 锈钢", "锈钢 开关", "不锈 锈钢 开关"} <= terms
    assert "开关 lamp" not in terms and "l*" not in terms and "_h*" not in terms and "_h3*" not in terms
    # Four bigrams (five characters) are longer than any phrase term: the GIN index counts them.
    assert search_bits.query_terms(*search._query_groups("不锈钢开关 la"), ["_h3"]) is None
    assert search_bits.query_terms(*search._query_groups("不锈钢开 la"), ["_h3"]) == [
        "不锈 锈钢 钢开",
        "la*",
        "_h3",
    ]


async def test_common_queries_are_counted_from_the_bitmaps_as_the_index_counts_them(pg: Database) -> None:
    floor = await seed_floor(pg)
    before = {q: await counts(pg, floor, q, f) for q, f in QUERIES}
    assert all(bits is None for bits, _ in before.values())  # nothing tracked yet: the GIN index counts
    rebuilt = await rebuild(pg, floor)
    assert rebuilt.documents == 7 and rebuilt.terms > 50
    await assert_bits_agree(pg, floor)
    # The booth, its two products (they carry its name) and Harbor Electric's "lumen meter".
    assert (await counts(pg, floor, "lumen", Filters())) == (4, 4)
    # The search API's total comes from them: a bitmap emptied behind its back shows.
    async with pg.engine.begin() as conn:
        await conn.execute(
            text("UPDATE search_bits SET bits = bits & ~bits WHERE term = 'lumen' AND expo_id = :e"),
            {"e": floor.expo.id},
        )
    assert (await find(pg, floor, "lumen ")).total == 0  # the whole word (a trailing space)
    assert (await find(pg, floor, "lumen")).total == 4  # still being typed: the prefix's own bitmap
    await rebuild(pg, floor)
    assert (await find(pg, floor, "lumen ")).total == 4


async def test_pages_ranked_from_the_bitmaps_window_are_the_index_pages(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    floor = await seed_floor(pg)
    async with pg.session() as s:
        for i in range(12):
            name = f"Lumen lamp {i}" if i % 2 else f"Desk lamp with a long name for lumen fans {i}"
            await services.create_product(
                s, floor.booths["Harbor Electric"], ProductFields(name=name), floor.organizer
            )
    await rebuild(pg, floor)
    monkeypatch.setattr(search, "PAGE_SIZE", 5)
    queries = [*QUERIES, ("lumen lamp", Filters()), ("lamp", Filters(country="DE"))]
    from_bits = {
        (q, str(f), p): await find(pg, floor, q, filters=f, page=p) for q, f in queries for p in (1, 2)
    }

    async def untracked(*args: object) -> None:
        return None

    monkeypatch.setattr(search_bits, "matches", untracked)
    for (q, f, p), results in from_bits.items():
        filters = next(filters for query, filters in queries if query == q and str(filters) == f)
        assert results == await find(pg, floor, q, filters=filters, page=p), (q, f, p)
    assert from_bits[("lumen lamp", str(Filters()), 2)].items  # the second page is not empty


async def test_rare_terms_are_left_to_the_index(pg: Database) -> None:
    floor = await seed_floor(pg)
    rebuilt = await rebuild(pg, floor, min_docs=2)
    assert rebuilt.terms > 0
    # "scarf" is in one document: not tracked; the GIN index counts it and the total is right.
    assert await counts(pg, floor, "scarf", Filters()) == (None, 1)
    assert (await find(pg, floor, "silk scarf")).total == 1
    assert await counts(pg, floor, "lumen", Filters()) == (4, 4)


async def test_every_kind_of_write_keeps_the_bitmaps_exact(pg: Database) -> None:
    floor = await seed_floor(pg)
    await rebuild(pg, floor)
    lumen, harbor = floor.booths["Lumen Works"], floor.booths["Harbor Electric"]
    async with pg.session() as s:
        # New documents, with terms the rebuild never saw (not tracked: left to the index).
        made = await services.create_product(
            s, lumen, ProductFields(name="Stainless desk lamp", description="不锈钢台灯"), floor.organizer
        )
        product, owner = await services.get_product(s, floor.products["LED desk lamp"].id or 0)
        await services.update_product(
            s, product, owner, ProductFields(name="Silk lantern", description="纸灯笼"), floor.organizer
        )
        booth = await services.get_booth(s, harbor.id or 0)
        await services.update_booth(s, booth, BoothFields(name="Harbor Lamps", country="IN"), floor.organizer)
    await assert_bits_agree(pg, floor)
    async with pg.session() as s:
        booth = await services.get_booth(s, lumen.id or 0)
        await services.set_booth_status(s, booth, BoothStatus.REJECTED, floor.organizer)
    await assert_bits_agree(pg, floor)
    async with pg.session() as s:
        booth = await services.get_booth(s, lumen.id or 0, floor.organizer)
        await services.set_booth_status(s, booth, BoothStatus.APPROVED, floor.organizer)
        product, owner = await services.get_product(s, made.id or 0)
        await services.delete_product(s, product, owner, floor.organizer)
        await s.commit()
    await assert_bits_agree(pg, floor)


async def test_rewriting_every_vector_forgets_the_bitmaps(pg: Database) -> None:
    floor = await seed_floor(pg)
    await rebuild(pg, floor)
    assert (await counts(pg, floor, "lumen", Filters(country="DE")))[0] == 1
    async with pg.engine.begin() as conn:
        await conn.run_sync(search.drop_filter_lexemes)  # a migration step rewriting every vector
    assert await counts(pg, floor, "lumen", Filters(country="DE")) == (None, 0)
    assert (await find(pg, floor, "lumen", filters=Filters(country="DE"))).total == 0


async def test_concurrent_writers_and_a_rebuild_lose_nothing(pg: Database) -> None:
    floor = await seed_floor(pg)
    await rebuild(pg, floor)
    booth = floor.booths["Harbor Electric"]

    async def add(i: int) -> None:
        async with pg.session() as s:
            await services.create_product(s, booth, ProductFields(name=f"Lumen cable {i}"), floor.organizer)

    # Ten writers on the same bitmap rows, and a rebuild in the middle of them.
    await asyncio.gather(*(add(i) for i in range(5)), rebuild(pg, floor), *(add(i) for i in range(5, 10)))
    # The ten, and Harbor Electric's own "cables" and "lumen".
    assert await counts(pg, floor, "lumen cable", Filters()) == (11, 11)
    await assert_bits_agree(pg, floor)


def test_the_command_builds_an_expos_bitmaps(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXPO_DATABASE_URL", postgres_url)
    assert cli_main(["db", "upgrade"]) == 0  # the migrations create the bitmap tables

    async def seeded() -> Floor:
        db = Database(postgres_url)
        try:
            return await seed_floor(db)
        finally:
            await db.dispose()

    floor = asyncio.run(seeded())
    capsys.readouterr()
    assert cli_main(["catalog", "index", "--expo", floor.expo.slug, "--min-docs", "2"]) == 0
    assert "7 documents" in capsys.readouterr().out
    assert cli_main(["catalog", "index", "--expo", "no-such-expo"]) != 0
    assert cli_main(["catalog", "index", "--expo", floor.expo.slug, "--min-docs", "0"]) != 0
