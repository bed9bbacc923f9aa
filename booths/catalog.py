"""Bulk catalogue import from CSV: ``expo catalog import`` and the booth editor's upload.

The file is UTF-8 (a byte-order mark is fine) with a header row naming its columns, in any order:
``booth,product,description,category,price_min,price_max,currency,moq``; ``booth`` and ``product``
are required, the others may be missing or empty. Prices are decimals in the currency's unit
(``12.50``), stored as hundredths. ``category`` names a category of the expo; ``Parent > Child``
names a path. The import is all or nothing: :func:`parse_catalog` checks every row first and
reports each bad one with its line number (:class:`CatalogInvalid`), and :func:`import_catalog`
writes everything in one transaction.

A catalogue can hold tens of thousands of rows, and the server answers everyone else from the same
event loop meanwhile, so neither step may hold that loop for long: :func:`read_catalog` parses in a
worker thread, and :func:`import_catalog` writes in batches of :data:`BATCH_ROWS` with plain
multi-row ``INSERT``s (building an ORM object costs nearly a millisecond a row), computes each
batch's search documents in a worker thread and yields the loop between batches. On SQLite the
transaction holds the store's write lock until it commits, so the whole write is kept to seconds:
other writers wait for it within the store's busy timeout instead of failing.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search
from booths.models import Booth, BoothStatus, Category, Product
from booths.services import MAX_PRICE, check_currency, check_prices
from expo import audit
from expo.errors import Invalid, TooLarge
from expo.expos.models import Expo
from expo.http.inputs import CONTROL, csv_header

COLUMNS = ("booth", "product", "description", "category", "price_min", "price_max", "currency", "moq")
REQUIRED = ("booth", "product")
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ERRORS = 50
# Rows written per batch: a 20,000-row file is 40 batches, and what SQLAlchemy does on the event
# loop for one (binding 500 rows' parameters, ~10 ms) stays well below the 50 ms a request may wait.
BATCH_ROWS = 500
_LIMITS = {"booth": 200, "product": 200, "description": 20000, "category": 500, "currency": 3}


class CatalogInvalid(Invalid):
    """The file cannot be imported; ``details`` lists ``{"line", "message"}`` per problem."""

    code = "catalog.invalid"


@dataclass(frozen=True)
class CatalogRow:
    line: int
    booth: str
    product: str
    description: str = ""
    category: str = ""
    price_min: int | None = None
    price_max: int | None = None
    currency: str | None = None
    moq: int | None = None


@dataclass(frozen=True)
class Summary:
    booths_created: int
    booths_used: int
    products_created: int
    categories_created: int


def _fail(errors: list[tuple[int, str]]) -> CatalogInvalid:
    first_line, first = errors[0]
    more = f" ({len(errors)} problems)" if len(errors) > 1 else ""
    where = f"line {first_line}: " if first_line else ""
    return CatalogInvalid(
        f"{where}{first}{more}; nothing was imported.",
        details=[{"line": line, "message": message} for line, message in errors],
    )


def _price(value: str) -> int | None:
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a price (write 12.50)") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{value!r} is not a price with at most two decimals")
    cents = int(amount * 100)
    if cents > MAX_PRICE:
        raise ValueError(f"{value!r} is too large a price")
    return cents


def _row(line: int, record: dict[str, str]) -> CatalogRow:
    values = {name: (record.get(name) or "").strip() for name in COLUMNS}
    for name in COLUMNS:
        # The platform's one rule for text (expo.http.inputs): tab and line breaks only.
        if CONTROL.search(values[name]):
            raise ValueError(f"{name} contains a control character")
    for name in REQUIRED:
        if not values[name]:
            raise ValueError(f"the {name} column is empty")
    for name, limit in _LIMITS.items():
        if len(values[name]) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
    currency = values["currency"].upper() or None
    if currency is not None:
        try:
            check_currency(currency)
        except Invalid as exc:
            raise ValueError(exc.message) from None
    moq: int | None = None
    if values["moq"]:
        if not values["moq"].isdigit() or not 1 <= int(values["moq"]) <= 10**9:
            raise ValueError(f"moq {values['moq']!r} is not a whole number from 1 to 1000000000")
        moq = int(values["moq"])
    price_min, price_max = _price(values["price_min"]), _price(values["price_max"])
    try:
        check_prices(price_min, price_max, currency)
    except Invalid as exc:
        raise ValueError(exc.message) from None
    return CatalogRow(
        line=line,
        booth=values["booth"],
        product=values["product"],
        description=values["description"],
        category=values["category"],
        price_min=price_min,
        price_max=price_max,
        currency=currency,
        moq=moq,
    )


def _columns(reader: Iterator[list[str]]) -> list[str]:
    """The header's column names, lowercased; :class:`CatalogInvalid` when they are not usable."""
    try:
        return csv_header(reader, COLUMNS, REQUIRED)
    except ValueError as exc:
        raise _fail([(1, str(exc))]) from None


def check_header(data: bytes) -> None:
    """Refuse at once a file whose first line names no usable columns (what a background import
    checks before it answers; the rows are checked off the event loop)."""
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", "replace")
    _columns(csv.reader(io.StringIO(first, newline="")))


def parse_catalog(data: bytes) -> list[CatalogRow]:
    """Every row of the file, checked; :class:`CatalogInvalid` lists the bad lines (up to 50)."""
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(
            f"A catalogue file has at most {MAX_FILE_BYTES // (1024 * 1024)} MB.", code="catalog.too_large"
        )
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _fail(
            [(line, f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8")]
        ) from None
    if "\x00" in content:
        raise _fail(
            [
                (
                    content[: content.index("\x00")].count("\n") + 1,
                    "the file contains NUL bytes: not a CSV file",
                )
            ]
        )
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    names = _columns(reader)
    rows: list[CatalogRow] = []
    errors: list[tuple[int, str]] = []
    line = reader.line_num + 1
    while len(errors) < MAX_ERRORS:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # an unclosed quote, a field over the csv module's size limit
            errors.append((line, f"not valid CSV: {exc}"))
            break
        start, line = line, reader.line_num + 1
        if not any(field.strip() for field in record):
            continue  # blank lines are skipped, as spreadsheets write them
        if len(record) != len(names):
            errors.append((start, f"{len(record)} fields where the header has {len(names)}"))
            continue
        try:
            rows.append(_row(start, dict(zip(names, record, strict=True))))
        except ValueError as exc:
            errors.append((start, str(exc)))
    if errors:
        raise _fail(errors)
    if not rows:
        raise _fail([(0, "the file has no products")])
    return rows


async def _categories(
    session: AsyncSession, expo: Expo, paths: set[str], *, create: bool
) -> tuple[dict[str, int], int]:
    """Category ids by path (``A > B``), creating missing ones when ``create``; and how many were made."""
    assert expo.id is not None
    existing = (await session.exec(select(Category).where(Category.expo_id == expo.id))).all()
    by_parent: dict[tuple[int | None, str], int] = {(c.parent_id, c.name): c.id for c in existing if c.id}
    ids: dict[str, int] = {}
    created = 0
    for path in sorted(paths):
        parent: int | None = None
        for part in [p.strip() for p in path.split(">")]:
            if not part:
                raise CatalogInvalid(f"The category {path!r} has an empty part.")
            found = by_parent.get((parent, part))
            if found is None:
                if not create:
                    raise CatalogInvalid(
                        f"This expo has no category {path!r}; an organizer creates it first."
                    )
                category = Category(expo_id=expo.id, parent_id=parent, name=part)
                session.add(category)
                await session.flush()
                assert category.id is not None
                found = by_parent[(parent, part)] = category.id
                created += 1
            parent = found
        assert parent is not None
        ids[path] = parent
    return ids, created


Progress = Callable[[int], Coroutine[Any, Any, None]]
"""Told the number of rows written so far, after each batch."""


async def read_catalog(data: bytes) -> list[CatalogRow]:
    """:func:`parse_catalog` in a worker thread: a large file takes a second of CPU to check."""
    return await asyncio.to_thread(parse_catalog, data)


def _template(model: type[Booth] | type[Product], **values: Any) -> dict[str, Any]:
    """A row with every column the model fills itself (timestamps, empty JSON), for plain
    ``INSERT``s: the models' defaults live in Python, not in the tables."""
    return model(**values).model_dump(exclude={"id"})


async def _insert(session: AsyncSession, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` with multi-row ``INSERT ... RETURNING id`` and return their ids, in order.

    SQLAlchemy's ordered RETURNING falls back to one statement per row on SQLite; instead the ids
    are sorted: both stores number a multi-row ``VALUES`` list in its order (SQLite one past the
    largest rowid per row, PostgreSQL one ``nextval`` per row), so ascending ids follow ``rows``.
    """
    connection = await session.connection()
    result = await connection.execute(sa.insert(table).returning(table.c.id), rows)
    ids = sorted(result.scalars())
    assert len(ids) == len(rows)
    return ids


@dataclass(frozen=True)
class _Place:
    """What a product's search document takes from its booth, as plain values for a worker thread."""

    booth_id: int
    public: bool
    hall_id: int | None
    country: str | None
    name_tokens: list[str]


def _places(booths: dict[str, Booth]) -> dict[str, _Place]:
    """Each booth's :class:`_Place` by name. Runs in a thread (tokenising names is CPU work)."""
    places = {}
    for name, booth in booths.items():
        assert booth.id is not None
        places[name] = _Place(
            booth_id=booth.id,
            public=booth.status == BoothStatus.APPROVED.value,
            hall_id=booth.hall_id,
            country=booth.country,
            name_tokens=search.booth_doc(booth).name,  # the booth's names in every language
        )
    return places


def _product_values(
    rows: Sequence[CatalogRow],
    template: dict[str, Any],
    places: dict[str, _Place],
    categories: dict[str, int],
) -> list[dict[str, Any]]:
    """The ``product`` rows to insert for ``rows``. Runs in a thread."""
    return [
        {
            **template,
            "booth_id": places[r.booth].booth_id,
            "name": r.product,
            "description": r.description,
            "category_id": categories.get(r.category) if r.category else None,
            "price_min": r.price_min,
            "price_max": r.price_max,
            "currency": r.currency,
            "moq": r.moq,
        }
        for r in rows
    ]


def _product_docs(
    expo_id: int,
    rows: Sequence[CatalogRow],
    ids: Sequence[int],
    places: dict[str, _Place],
    chains: dict[str, list[int]],
) -> list[search.Doc]:
    """The search documents of freshly imported products: what :func:`search.product_doc` makes of
    a product without translations or tags, without building ORM objects. Runs in a thread."""
    docs = []
    for row, product_id in zip(rows, ids, strict=True):
        place = places[row.booth]
        if not place.public:
            continue
        body = (row.description + " ")[: search.MAX_BODY_CHARS]
        docs.append(
            search.Doc(
                doc_id=search.product_doc_id(expo_id, product_id),
                expo_id=expo_id,
                name=search.tokens(row.product),
                body=[*search.tokens(body), *place.name_tokens],
                hall_id=place.hall_id,
                country=place.country,
                categories=chains.get(row.category, []) if row.category else [],
            )
        )
    return docs


async def _booths(
    session: AsyncSession, expo: Expo, names: set[str], booth: Booth | None
) -> tuple[dict[str, Booth], list[Booth]]:
    """The booths named by the rows, by name, creating the missing ones (approved); and the new ones."""
    assert expo.id is not None
    if booth is not None:
        return {booth.name: booth}, []
    booths: dict[str, Booth] = {}
    ordered = sorted(names)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        found = (
            await session.exec(select(Booth).where(Booth.expo_id == expo.id, col(Booth.name).in_(chunk)))
        ).all()
        booths.update({b.name: b for b in found})
    missing = [name for name in ordered if name not in booths]
    new_ids: list[int] = []
    template = _template(Booth, expo_id=expo.id, name="", status=BoothStatus.APPROVED.value)
    for start in range(0, len(missing), BATCH_ROWS):
        chunk = missing[start : start + BATCH_ROWS]
        new_ids += await _insert(session, Booth.__table__, [{**template, "name": name} for name in chunk])  # type: ignore[attr-defined]
        await asyncio.sleep(0)
    # Loaded back rather than constructed: loading skips the models' costly validation.
    created: list[Booth] = []
    for start in range(0, len(new_ids), 500):
        chunk_ids = new_ids[start : start + 500]
        created += (await session.exec(select(Booth).where(col(Booth.id).in_(chunk_ids)))).all()
    booths.update({b.name: b for b in created})
    return booths, created


async def import_catalog(
    session: AsyncSession,
    expo: Expo,
    rows: list[CatalogRow],
    *,
    actor_id: int | None = None,
    booth: Booth | None = None,
    progress: Progress | None = None,
) -> Summary:
    """Add the rows' products, in one transaction, to the search index too.

    Without ``booth`` (the operator's command): booths missing from the expo are created approved,
    categories missing are created. With ``booth`` (an exhibitor's upload): every row must name that
    booth, and categories must exist. Products go in by batches of :data:`BATCH_ROWS`, ``progress``
    told after each; nothing is visible to others until the one commit at the end.
    """
    assert expo.id is not None
    expo_id = expo.id
    if booth is not None:
        wrong = [
            (r.line, f"the booth is {r.booth!r}, this upload is for {booth.name!r}")
            for r in rows
            if r.booth != booth.name
        ]
        if wrong:
            raise _fail(wrong[:MAX_ERRORS])
    paths = {r.category for r in rows if r.category}
    category_ids, categories_created = await _categories(session, expo, paths, create=booth is None)
    names = {r.booth for r in rows}
    booths, new_booths = await _booths(session, expo, names, booth)
    parents = await search.category_parents(session, expo_id)
    chains = {path: search.ancestry(parents, cid) for path, cid in category_ids.items()}
    places = await asyncio.to_thread(_places, booths)
    await search.write_docs(session, [search.booth_doc(b) for b in new_booths])
    template = _template(Product, booth_id=0, expo_id=expo_id, name="")
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        values = await asyncio.to_thread(_product_values, batch, template, places, category_ids)
        ids = await _insert(session, Product.__table__, values)  # type: ignore[attr-defined]
        docs = await asyncio.to_thread(_product_docs, expo_id, batch, ids, places, chains)
        await search.write_docs(session, docs)
        if progress is not None:
            await progress(start + len(batch))
        await asyncio.sleep(0)  # every other request gets the loop between batches
    audit.record(
        session,
        "catalog.imported",
        actor_id=actor_id,
        target=f"expo:{expo_id}",
        products=len(rows),
        booths_created=len(new_booths),
    )
    await session.commit()
    return Summary(
        booths_created=len(new_booths),
        booths_used=len(names),
        products_created=len(rows),
        categories_created=categories_created,
    )
