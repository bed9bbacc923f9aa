"""Fill a new PostgreSQL database with a generated catalogue (see :mod:`gen_catalog`).

The schema comes from the migrations. Then every constraint and index of the bulk tables (booth,
product, search_doc, and the foreign keys pointing at them) is set aside, so that COPY only
appends to heaps; they are rebuilt after the load, each in one sorted pass (far cheaper than
2.8 million index insertions each), with the same names and definitions. Booths and products go in
with binary COPY (``copy_records_to_table``); the search documents with CSV COPY, because asyncpg
encodes ``tsvector`` only as text: PostgreSQL parses the same ``tsvector`` literal the app writes
(:meth:`booths.search.Doc.tsvector`). Python generates the next chunk in a thread while the two
COPYs of the previous one run on two connections, so both cores work. Then the common search
terms' bitmaps are built (as ``expo catalog index`` does) and VACUUM ANALYZE sets the visibility map
and the planner's statistics, as a long-lived store would have them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from booths import search_bits
from expo import migrations

if TYPE_CHECKING:
    from gen_catalog import Catalogue, IndexDoc, Rows

BULK_TABLES = ("booth", "product", "search_doc")
# The loading sessions only: index builds get memory, and commits do not wait for the disk (a
# crash mid-load leaves a store to regenerate anyway).
LOAD_SETTINGS = {"maintenance_work_mem": "1GB", "synchronous_commit": "off", "jit": "off"}


def dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def recreate(url: str, force: bool) -> None:
    """Create the database named by ``url`` (dropping it first with ``force``)."""
    target = make_url(url)
    name = target.database
    if not name:
        raise SystemExit("the PostgreSQL URL names no database")
    admin = await asyncpg.connect(dsn(str(target.set(database="postgres"))))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and not force:
            raise SystemExit(f"database {name!r} exists; pass --force to replace it")
        quoted = '"' + name.replace('"', '""') + '"'
        if exists:
            await admin.execute(f"DROP DATABASE {quoted} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {quoted}")
    finally:
        await admin.close()


async def set_aside(conn: asyncpg.Connection) -> list[str]:
    """Drop the bulk tables' constraints and indexes; the statements that rebuild them, in order."""
    tables = list(BULK_TABLES)
    constraints = await conn.fetch(
        "SELECT conrelid::regclass::text AS tbl, conname, contype::text, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype IN ('p', 'u', 'f') "
        "AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))",
        tables,
    )
    indexes = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def "
        "FROM pg_index i WHERE i.indrelid::regclass::text = ANY($1) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        tables,
    )
    keys = [c for c in constraints if c["contype"] in ("p", "u") and c["tbl"] in tables]
    foreign = [c for c in constraints if c["contype"] == "f"]
    for c in foreign + keys:
        await conn.execute(f'ALTER TABLE {c["tbl"]} DROP CONSTRAINT "{c["conname"]}"')
    for i in indexes:
        await conn.execute(f"DROP INDEX {i['name']}")
    # Keys first (foreign keys need the referenced one), then indexes, then foreign keys.
    return (
        [f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["conname"]}" {c["def"]}' for c in keys]
        + [str(i["def"]) for i in indexes]
        + [f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["conname"]}" {c["def"]}' for c in foreign]
    )


def search_csv(docs: list[IndexDoc], expo_id: int) -> bytes:
    """``search_doc`` rows as CSV (``categories`` as an array literal, ``tsv`` as text)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for d in docs:
        cats = "{" + ",".join(str(c) for c in d.categories) + "}"
        writer.writerow((d.doc_id, expo_id, d.hall_id, d.country, cats, d.tsvector()))
    return out.getvalue().encode()


async def copy_search(conn: asyncpg.Connection, docs: list[IndexDoc], expo_id: int) -> None:
    data = await asyncio.to_thread(search_csv, docs, expo_id)
    await conn.copy_to_table(
        "search_doc",
        source=io.BytesIO(data),
        columns=["doc_id", "expo_id", "hall_id", "country", "categories", "tsv"],
        format="csv",
    )


async def index_terms(url: str, expo_id: int) -> None:
    """The expo's common-term bitmaps, as ``expo catalog index`` builds them (booths.search_bits)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await search_bits.rebuild(conn, expo_id)
    finally:
        await engine.dispose()


async def fill(url: str, catalogue: Catalogue, force: bool) -> tuple[dict[str, float], int]:
    """Generate ``catalogue`` into a new database at ``url``; the timings and the database's size."""
    from gen_catalog import BOOTH_COLUMNS, EXPO_ID, PRODUCT_COLUMNS, progress

    timings: dict[str, float] = {}
    started = time.perf_counter()
    await recreate(url, force)
    await migrations.upgrade(url)
    timings["schema_s"] = time.perf_counter() - started
    main = await asyncpg.connect(dsn(url), server_settings=LOAD_SETTINGS)
    side = await asyncpg.connect(dsn(url), server_settings=LOAD_SETTINGS)
    try:
        started = time.perf_counter()
        rebuild = await set_aside(main)
        expo = catalogue.expo_row()
        await main.copy_records_to_table("expo", records=[tuple(expo.values())], columns=list(expo))
        await main.copy_records_to_table(
            "hall",
            records=catalogue.hall_rows(),
            columns=["id", "expo_id", "name", "description", "translations", "position"],
        )
        await main.copy_records_to_table(
            "category",
            records=[
                (cid, EXPO_ID, parent, name, tr, pos) for cid, parent, name, tr, pos in catalogue.categories
            ],
            columns=["id", "expo_id", "parent_id", "name", "translations", "position"],
        )
        booths = catalogue.booths()
        await main.copy_records_to_table("booth", records=booths.rows, columns=BOOTH_COLUMNS)
        await copy_search(side, booths.docs, EXPO_ID)
        timings["booths_s"] = time.perf_counter() - started

        started = time.perf_counter()
        chunks: Iterator[Rows] = catalogue.products()
        done = 0
        # The next chunk is generated in a thread while this one's two COPYs run.
        following = asyncio.create_task(asyncio.to_thread(next, chunks, None))
        while (chunk := await following) is not None:
            following = asyncio.create_task(asyncio.to_thread(next, chunks, None))
            await asyncio.gather(
                main.copy_records_to_table("product", records=chunk.rows, columns=PRODUCT_COLUMNS),
                copy_search(side, chunk.docs, EXPO_ID),
            )
            done += len(chunk.rows)
            progress(done, catalogue.n_products, started)
        print()
        timings["products_s"] = time.perf_counter() - started

        started = time.perf_counter()
        for table in ("expo", "hall", "category", "booth", "product"):
            await main.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        for statement in rebuild:
            await main.execute(statement)
        timings["indexes_s"] = time.perf_counter() - started
        started = time.perf_counter()
        await index_terms(url, EXPO_ID)
        timings["term_bitmaps_s"] = time.perf_counter() - started
        started = time.perf_counter()
        await main.execute(
            "VACUUM (ANALYZE) " + ", ".join(BULK_TABLES) + ", search_bits, expo, hall, category"
        )
        timings["vacuum_analyze_s"] = time.perf_counter() - started
        size = int(await main.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await main.close()
        await side.close()
    return timings, size
