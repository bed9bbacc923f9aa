"""Bulk catalogue import from CSV: ``expo catalog import`` and the booth editor's upload.

The file is UTF-8 (a byte-order mark is fine) with a header row naming its columns, in any order:
``booth,product,description,category,price_min,price_max,currency,moq``; ``booth`` and ``product``
are required, the others may be missing or empty. Prices are decimals in the currency's unit
(``12.50``), stored as hundredths. ``category`` names a category of the expo; ``Parent > Child``
names a path. The import is all or nothing: :func:`parse_catalog` checks every row first and
reports each bad one with its line number (:class:`CatalogInvalid`), and :func:`import_catalog`
writes everything in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search
from booths.models import Booth, BoothStatus, Category, Product
from booths.services import MAX_PRICE, check_currency, check_prices
from expo import audit
from expo.errors import Invalid, TooLarge
from expo.expos.models import Expo

COLUMNS = ("booth", "product", "description", "category", "price_min", "price_max", "currency", "moq")
REQUIRED = ("booth", "product")
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ERRORS = 50
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
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _fail([(1, f"the header is not valid CSV: {exc}")]) from None
    if not header:
        raise _fail([(1, "the file is empty; the first line names the columns")])
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [n for n in REQUIRED if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        problem = (
            f"unknown columns: {', '.join(unknown)}"
            if unknown
            else f"missing columns: {', '.join(missing)}"
            if missing
            else "a column is named twice"
        )
        raise _fail([(1, f"{problem} (columns: {', '.join(COLUMNS)})")])
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


async def import_catalog(
    session: AsyncSession,
    expo: Expo,
    rows: list[CatalogRow],
    *,
    actor_id: int | None = None,
    booth: Booth | None = None,
) -> Summary:
    """Add the rows' products, in one transaction, to the search index too.

    Without ``booth`` (the operator's command): booths missing from the expo are created approved,
    categories missing are created. With ``booth`` (an exhibitor's upload): every row must name that
    booth, and categories must exist.
    """
    assert expo.id is not None
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
    booths: dict[str, Booth] = {}
    if booth is not None:
        booths[booth.name] = booth
    else:
        for start in range(0, len(names), 500):
            chunk = sorted(names)[start : start + 500]
            found = (
                await session.exec(select(Booth).where(Booth.expo_id == expo.id, col(Booth.name).in_(chunk)))
            ).all()
            booths.update({b.name: b for b in found})
    new_booths = [
        Booth(expo_id=expo.id, name=name, status=BoothStatus.APPROVED.value)
        for name in sorted(names - set(booths))
    ]
    session.add_all(new_booths)
    await session.flush()
    booths.update({b.name: b for b in new_booths})
    booth_ids = {name: b.id for name, b in booths.items() if b.id is not None}
    products = [
        Product(
            booth_id=booth_ids[r.booth],
            expo_id=expo.id,
            name=r.product,
            description=r.description,
            category_id=category_ids.get(r.category) if r.category else None,
            price_min=r.price_min,
            price_max=r.price_max,
            currency=r.currency,
            moq=r.moq,
        )
        for r in rows
    ]
    session.add_all(products)
    await session.flush()
    parents = await search.category_parents(session, expo.id)
    docs = [search.booth_doc(b) for b in new_booths]
    docs += [
        search.product_doc(p, booths[r.booth], search.ancestry(parents, p.category_id))
        for p, r in zip(products, rows, strict=True)
        if booths[r.booth].status == BoothStatus.APPROVED.value
    ]
    await search.write_docs(session, docs)
    audit.record(
        session,
        "catalog.imported",
        actor_id=actor_id,
        target=f"expo:{expo.id}",
        products=len(products),
        booths_created=len(new_booths),
    )
    await session.commit()
    return Summary(
        booths_created=len(new_booths),
        booths_used=len(names),
        products_created=len(products),
        categories_created=categories_created,
    )
