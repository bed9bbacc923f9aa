"""PostgreSQL search: the filters are lexemes of each vector (one GIN lookup), user text cannot
reach them, the rank window keeps the total exact, and migration 0019's step gives existing
documents their filter lexemes."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from booths import search, services
from booths.search import Filters
from booths.services import ProductFields
from expo.db import Database
from tests.booths.conftest import seed_floor
from tests.booths.test_search import find, names


async def test_filters_are_lexemes_of_the_vector_that_text_cannot_reach(pg: Database) -> None:
    floor = await seed_floor(pg)
    assert floor.expo.id is not None
    booth = floor.booths["Lumen Works"]
    assert booth.id is not None
    async with pg.session() as s:
        connection = await s.connection()
        lexemes = (
            await connection.execute(
                text("SELECT tsvector_to_array(tsv) FROM search_doc WHERE doc_id = :id"),
                {"id": search.booth_doc_id(floor.expo.id, booth.id)},
            )
        ).scalar_one()
    assert f"_e{floor.expo.id}" in lexemes
    assert f"_h{booth.hall_id}" in lexemes
    # Typed text is normalised to letters and digits: it never spells a filter lexeme.
    for q in (f"_e{floor.expo.id}", f"e{floor.expo.id}", f"_h{booth.hall_id}", "_k", "_c"):
        assert (await find(pg, floor, q)).total == 0, q
    in_hall = await find(pg, floor, "lumen", filters=Filters(hall_id=booth.hall_id))
    assert "Lumen Works" in names(in_hall)
    other_halls = [h.id for h in floor.halls.values() if h.id != booth.hall_id]
    elsewhere = await find(pg, floor, "lumen works", filters=Filters(hall_id=other_halls[0]))
    assert "Lumen Works" not in names(elsewhere)


async def test_a_broad_query_ranks_a_window_and_keeps_the_total_exact(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    floor = await seed_floor(pg)
    async with pg.session() as s:
        for i in range(30):
            await services.create_product(
                s, floor.booths["Harbor Electric"], ProductFields(name=f"Cable {i}"), floor.organizer
            )
    monkeypatch.setattr(search, "RANK_WINDOW", 10)
    pages = [await find(pg, floor, "cable ", page=p) for p in (1, 2)]
    assert [p.total for p in pages] == [30, 30]
    assert len(pages[0].items) == 10 and pages[1].items == []


async def test_the_migration_step_gives_existing_documents_their_filter_lexemes(pg: Database) -> None:
    floor = await seed_floor(pg)
    german = Filters(country="DE")
    before = await find(pg, floor, "lumen", filters=german)
    assert before.total > 0
    async with pg.engine.begin() as conn:
        await conn.run_sync(search.drop_filter_lexemes)  # documents as stores before 0019 hold them
    assert (await find(pg, floor, "lumen", filters=german)).total == 0
    async with pg.engine.begin() as conn:
        await conn.run_sync(search.add_filter_lexemes)
    after = await find(pg, floor, "lumen", filters=german)
    assert (after.total, names(after)) == (before.total, names(before))


async def test_each_search_is_planned_for_its_own_words_in_its_own_transaction(pg: Database) -> None:
    # A prepared statement run five times gets PostgreSQL's generic plan, blind to the words: at
    # Canton Fair scale it walked the whole expo's primary key to rank (seconds, not ms).
    floor = await seed_floor(pg)
    settings = text("SELECT current_setting('plan_cache_mode'), current_setting('work_mem')")
    async with pg.session() as s:
        server_defaults = tuple((await s.exec(settings)).one())  # type: ignore[call-overload]
    assert server_defaults[0] == "auto"
    async with pg.session() as s:
        for _ in range(7):  # past the five custom plans a cached statement gets
            results = await search.search(s, floor.expo, "lumen")
            assert "Lumen Works" in names(results)
            assert tuple((await s.exec(settings)).one()) == ("force_custom_plan", "32MB")  # type: ignore[call-overload]
    async with pg.session() as s:  # nothing leaks to the connection's next transaction
        assert tuple((await s.exec(settings)).one()) == server_defaults  # type: ignore[call-overload]
