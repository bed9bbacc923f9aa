"""Catalogue import: a good file lands whole, a bad one changes nothing and names its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from booths import catalog, search
from booths.catalog import CatalogInvalid, parse_catalog
from booths.models import Booth, Category, Product
from expo.cli import main
from expo.config import Settings
from expo.db import Database
from expo.errors import TooLarge
from expo.expos.services import get_expo
from tests.conftest import create_schema

HEADER = "booth,product,description,category,price_min,price_max,currency,moq\n"


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.session() as s:
        return (
            (await s.exec(select(func.count()).select_from(Booth))).one(),
            (await s.exec(select(func.count()).select_from(Product))).one(),
            (await s.exec(select(func.count()).select_from(Category))).one(),
        )


async def run_import(db: Database, data: bytes) -> catalog.Summary:
    from expo.expos.services import ensure_expo

    rows = parse_catalog(data)
    async with db.session() as s:
        expo = await ensure_expo(s, "fair", "Fair")
        return await catalog.import_catalog(s, expo, rows)


def problems(exc: pytest.ExceptionInfo[CatalogInvalid]) -> list[dict[str, object]]:
    return exc.value.extra["details"]  # type: ignore[no-any-return]


async def test_a_good_file_creates_booths_categories_and_products(db: Database) -> None:
    data = (
        HEADER + "Acme Lighting,LED desk lamp,Warm light,Lighting > Lamps,12.50,20,USD,100\n"
        "Acme Lighting,不锈钢台灯,Stainless,Lighting,,,,\n"
        "Bolt Tools,Claw hammer,,,3,3,eur,\n"
    ).encode()
    summary = await run_import(db, data)
    assert (summary.booths_created, summary.products_created, summary.categories_created) == (2, 3, 2)
    async with db.session() as s:
        lamp = (await s.exec(select(Product).where(Product.name == "LED desk lamp"))).one()
        assert (lamp.price_min, lamp.price_max, lamp.currency, lamp.moq) == (1250, 2000, "USD", 100)
        hammer = (await s.exec(select(Product).where(Product.name == "Claw hammer"))).one()
        assert hammer.currency == "EUR"
        lamps = await s.get(Category, lamp.category_id)
        assert lamps is not None and lamps.name == "Lamps" and lamps.parent_id is not None
        # Imported products are searchable at once, Chinese ones too.
        found = await search.search(s, await get_expo(s, "fair"), "锈钢")
        assert [h.name for h in found.items] == ["不锈钢台灯"]
    # A second import reuses the booths and categories.
    again = await run_import(db, (HEADER + "Acme Lighting,Floor lamp,,Lighting > Lamps,,,,\n").encode())
    assert (again.booths_created, again.categories_created, again.products_created) == (0, 0, 1)


async def test_a_bad_row_is_reported_with_its_line_and_nothing_is_imported(db: Database) -> None:
    await run_import(db, (HEADER + "Acme,Lamp,,,,,,\n").encode())
    before = await counts(db)
    data = (
        HEADER + "Acme,Kettle,,,1,2,USD,\n"
        "New Booth,Teapot,,New Category,,,,\n"
        "Acme,Mug,,,5,2,USD,\n"  # line 4: max below min
    ).encode()
    with pytest.raises(CatalogInvalid) as caught:
        await run_import(db, data)
    assert problems(caught) == [{"line": 4, "message": "The highest price is below the lowest."}]
    assert "line 4" in caught.value.message
    assert await counts(db) == before


async def test_a_refused_category_path_leaves_no_categories_behind(db: Database) -> None:
    await run_import(db, (HEADER + "Acme,Lamp,,,,,,\n").encode())
    before = await counts(db)
    # Every row parses; the second category path has an empty part, found after "Cups > Mugs".
    data = (HEADER + "Acme,Mug,,Cups > Mugs,,,,\nAcme,Cup,,Zed >  > Cups,,,,\n").encode()
    rows = parse_catalog(data)
    with pytest.raises(CatalogInvalid) as caught:
        await run_import(db, data)
    assert len(rows) == 2 and "Zed >  > Cups" in caught.value.message
    assert await counts(db) == before
    # The fixed file imports with exactly the categories it names.
    fixed = await run_import(db, (HEADER + "Acme,Mug,,Cups > Mugs,,,,\n").encode())
    assert fixed.categories_created == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (",Lamp,,,,,,", "the booth column is empty"),
        ("Acme,,,,,,,", "the product column is empty"),
        ("Acme,Lamp,,,12.345,,USD,", "at most two decimals"),
        ("Acme,Lamp,,,ten,,USD,", "is not a price"),
        ("Acme,Lamp,,,-1,,USD,", "at most two decimals"),
        ("Acme,Lamp,,,1,,XYZ,", "ISO 4217"),
        ("Acme,Lamp,,,1,,,", "needs a currency"),
        ("Acme,Lamp,,,,,,0", "whole number"),
        ("Acme,Lamp,,,,,,1.5", "whole number"),
        ("Acme,Lamp", "2 fields where the header has 8"),
    ],
)
def test_each_rule_names_the_line(row: str, message: str) -> None:
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog((HEADER + "Acme,Fine,,,,,,\n" + row + "\n").encode())
    [problem] = problems(caught)
    assert problem["line"] == 3
    assert message in str(problem["message"])


def test_quoted_fields_keep_commas_quotes_and_newlines_and_lines_stay_right() -> None:
    data = (
        HEADER + '"Acme, Inc.","Lamp ""Aurora""","two\nlines",,,,,\nAcme,Kettle,,,,,,\nAcme,Mug,,,bad,,,\n'
    ).encode()
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(data)
    assert problems(caught)[0]["line"] == 5  # the quoted newline made row 2 span lines 2 and 3
    rows = parse_catalog(data.rsplit(b"Acme,Mug", 1)[0])
    assert (rows[0].booth, rows[0].product, rows[0].description) == (
        "Acme, Inc.",
        'Lamp "Aurora"',
        "two\nlines",
    )
    assert rows[1].line == 4


def test_a_byte_order_mark_and_column_order_and_crlf_are_fine() -> None:
    data = "\ufeffproduct,booth,currency,price_min\r\nLamp,Acme,CNY,9.90\r\n\r\n".encode()
    [row] = parse_catalog(data)
    assert (row.booth, row.product, row.currency, row.price_min) == ("Acme", "Lamp", "CNY", 990)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ((HEADER + "Acme,Lampe à huile,,,,,,\n").encode("latin-1"), "not UTF-8"),
        (b"", "the file is empty"),
        (b"booth,name\nAcme,Lamp\n", "unknown columns: name"),
        (b"booth,description\nAcme,Lamp\n", "missing columns: product"),
        (HEADER.encode(), "no products"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not UTF-8"),
        ((HEADER + 'Acme,"Lamp,,,,,,\n').encode(), "not valid CSV"),
    ],
)
def test_files_that_are_not_catalogues_are_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(data)
    assert message in caught.value.message
    assert "nothing was imported" in caught.value.message


def test_huge_fields_are_refused() -> None:
    long_description = "x" * 20001
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog((HEADER + f"Acme,Lamp,{long_description},,,,,\n").encode())
    assert problems(caught) == [{"line": 2, "message": "description is longer than 20000 characters"}]
    # Beyond what the csv module reads in one field at all.
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog((HEADER + "Acme,Lamp," + "y" * 200_000 + ",,,,,\n").encode())
    assert problems(caught)[0]["line"] == 2
    with pytest.raises(TooLarge) as too_large:
        parse_catalog(b"x" * (catalog.MAX_FILE_BYTES + 1))
    assert too_large.value.code == "catalog.too_large"


async def test_a_file_naming_more_new_booths_than_a_batch_creates_them_all(db: Database) -> None:
    count = catalog.BATCH_ROWS + 1
    data = (HEADER + "".join(f"Booth {i:04},Lamp {i:04},,,,,,\n" for i in range(count))).encode()
    summary = await run_import(db, data)
    assert (summary.booths_created, summary.products_created) == (count, count)
    async with db.session() as s:
        pairs = (await s.exec(select(Booth.name, Product.name).join(Product))).all()
    assert sorted(pairs) == [(f"Booth {i:04}", f"Lamp {i:04}") for i in range(count)]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def test_expo_catalog_import_command(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXPO_DATA_DIR", settings.data_dir)
    good = write(
        tmp_path, "good.csv", (HEADER + "Acme,Lamp,,Lighting,1,2,USD,10\nBolt,Hammer,,,,,,\n").encode()
    )
    assert await _main(["catalog", "import", "--expo", "spring-fair", str(good)]) == 0
    out = capsys.readouterr().out
    assert "imported 2 products into 2 booths of expo 'spring-fair'" in out
    assert "2 booths and 1 categories created" in out

    bad = write(tmp_path, "bad.csv", (HEADER + "Acme,Kettle,,,,,,\nAcme,Mug,,,1,,,\n").encode())
    assert await _main(["catalog", "import", "--expo", "spring-fair", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: A price needs a currency." in err
    assert "nothing was imported" in err

    db = Database(settings.database)
    try:
        assert await counts(db) == (2, 2, 1)  # the bad file added nothing
    finally:
        await db.dispose()
    assert await _main(["catalog", "import", "--expo", "spring-fair", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert await _main(["catalog", "import", "--expo", "Bad Slug", str(good)]) == 2


async def _main(argv: list[str]) -> int:
    # The command runs its own event loop: keep it off the test's.
    import asyncio

    return await asyncio.to_thread(main, argv)


@pytest.mark.parametrize("cell", ["Lamp\x1b[31m", "Lamp\x00", "Lamp\x7f", "La\x0cmp"])
def test_control_characters_in_a_cell_are_a_row_error(cell: str) -> None:
    data = HEADER + 'Acme,Fine lamp,"two\nlines\tand a tab",,,,,\n' + f'Acme,"{cell}",,,,,,\n'
    if "\x00" in cell:  # NUL is refused for the whole file: it is not text
        with pytest.raises(CatalogInvalid, match="NUL"):
            parse_catalog(data.encode())
        return
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(data.encode())
    assert problems(caught) == [{"line": 4, "message": "product contains a control character"}]


async def test_imports_bigger_than_a_batch_are_whole_and_indexed_as_a_reindex_would(db: Database) -> None:
    rows = catalog.BATCH_ROWS * 2 + 7
    lines = "".join(
        f"Booth {i % 3},Lamp {i},Warm light number {i},{'Lighting > Lamps' if i % 2 else ''},,,,\n"
        for i in range(rows)
    )
    told: list[int] = []

    async def progress(done: int) -> None:
        told.append(done)

    async with db.session() as s:
        from expo.expos.services import ensure_expo

        expo = await ensure_expo(s, "fair", "Fair")
        summary = await catalog.import_catalog(
            s, expo, parse_catalog((HEADER + lines).encode()), progress=progress
        )
    assert summary.products_created == rows and summary.booths_created == 3
    assert told == [catalog.BATCH_ROWS, catalog.BATCH_ROWS * 2, rows]
    async with db.session() as s:
        names = (await s.exec(select(Product.name).order_by(Product.id))).all()
        assert names == [f"Lamp {i}" for i in range(rows)]  # in the file's order, each once
        lamp = (await s.exec(select(Product).where(Product.name == "Lamp 5"))).one()
        booth = await s.get(Booth, lamp.booth_id)
        assert booth is not None and booth.name == "Booth 2" and lamp.category_id is not None
        connection = await s.connection()
        imported = (await connection.exec_driver_sql("SELECT rowid, name, body, tags FROM search_doc")).all()
        expo = await get_expo(s, "fair")
        assert expo.id is not None
        await search.reindex_expo(s, expo.id)
        reindexed = (await connection.exec_driver_sql("SELECT rowid, name, body, tags FROM search_doc")).all()
        assert sorted(imported) == sorted(reindexed) and len(imported) == rows + 3


async def test_batched_import_on_postgresql(postgres_url: str) -> None:
    await create_schema(postgres_url)
    db = Database(postgres_url)
    try:
        rows = catalog.BATCH_ROWS + 3
        lines = "".join(
            f"Booth {i % 2},Lamp {i},Light {i},Lighting > Lamps,1.50,2,USD,\n" for i in range(rows)
        )
        async with db.session() as s:
            from expo.expos.services import ensure_expo

            expo = await ensure_expo(s, "fair", "Fair")
            summary = await catalog.import_catalog(s, expo, parse_catalog((HEADER + lines).encode()))
        assert (summary.products_created, summary.booths_created, summary.categories_created) == (rows, 2, 2)
        async with db.session() as s:
            products = (await s.exec(select(Product).order_by(Product.id))).all()
            assert [p.name for p in products] == [f"Lamp {i}" for i in range(rows)]
            assert {p.price_min for p in products} == {150}
            connection = await s.connection()
            query = "SELECT doc_id, tsv::text, categories FROM search_doc ORDER BY doc_id"
            imported = (await connection.exec_driver_sql(query)).all()
            assert expo.id is not None
            await search.reindex_expo(s, expo.id)
            assert (await connection.exec_driver_sql(query)).all() == imported
            assert len(imported) == rows + 2
    finally:
        await db.dispose()
