"""Search across an expo's booths and products: one index, two backends, one results API.

Text is normalised here, in Python, identically for both stores: NFKD with accents dropped,
case-folded, split into letter/digit words; runs of CJK characters (which have no spaces) become
overlapping bigrams (``不锈钢`` -> ``不锈 锈钢``), and a query's CJK run becomes the phrase of its
bigrams, so any fragment of two or more characters finds the text, and a single character finds
words starting with it. Bigrams rather than FTS5's ``trigram`` tokenizer: Chinese words are mostly
two characters long, which a trigram index cannot find, and bigrams keep the index smaller.

* SQLite: an FTS5 table ``search_doc(name, body, tags)`` ranked by bm25 with the name weighted
  ten times the body, with 2- and 3-character prefix indexes for words being typed. ``tags``
  holds filter tokens (``h<hall>``, ``k<country>``, ``c<category>`` for the product's category
  and each ancestor), so filters are index lookups.
  A filter covering a large share of the expo is kept out of the ranking statement, whose bm25
  would otherwise scan its whole doclist (see :func:`_search_sqlite`).
* PostgreSQL: a table ``search_doc`` with a ``tsvector`` (name lexemes weight A, body B) under a
  GIN index, ranked by ``ts_rank`` normalised by document length (like bm25, a short name that
  matches beats a long one). Vectors and queries are written as ``tsvector``/``tsquery`` literals
  from the normalised tokens (never parsed by PostgreSQL's locale-dependent parser), so both
  stores see the same words. The filters are lexemes of the vector too, as FTS5's ``tags``
  (``_e<expo>``, ``_h<hall>``, ``_k<country>``, ``_c<category>``, no position: the underscore
  never occurs in a text token, see :func:`groups`), so the GIN index narrows a filtered search
  before any table row is read (see :func:`_search_postgres`). The filter columns stay, for
  reading and maintenance. A query made only of an expo's common terms is counted and windowed
  from their bitmaps instead (:mod:`booths.search_bits`), kept in step by every write here.

Rows are keyed ``doc_id = expo.id << 40 | 2 * booth.id`` (or ``2 * product.id + 1``): an expo's
documents are one rowid range, which FTS5 seeks to directly (much cheaper than an "expo" token
that every document would carry). Only approved booths and
their products are indexed, so the index holds exactly what is public. The services keep it up to
date in the same transaction as the change (:func:`reindex_booths`, :func:`reindex_products`).
User input only ever reaches the index as quoted letter/digit tokens: no query syntax gets through.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths import search_bits
from booths.models import Booth, BoothStatus, Category, Product
from expo.expos.models import Expo

PAGE_SIZE = 20
MAX_PAGE = 500
MAX_QUERY_GROUPS = 12
# SQLite ranks at most this many matches of one query (bm25 costs ~1 us a match, so a one-word
# query matching 90,000 of 2.76 million products would take ~100 ms to rank in full). Beyond it,
# the first RANK_WINDOW matches in document order are ranked and the total stays exact. It is the
# number of reachable results (MAX_PAGE * PAGE_SIZE): every reachable page is filled, and all of
# them come from that one consistent ranking.
RANK_WINDOW = MAX_PAGE * PAGE_SIZE
# Long descriptions are indexed up to here: enough to find a product, bounded index size.
MAX_BODY_CHARS = 4000
SEARCH_TABLE = "search_doc"
SEARCH_TABLES = (SEARCH_TABLE, "search_term", "search_bits")  # see search_bits
# SQLite keeps separate doclists for every 2- and 3-character prefix of every token: a query being
# typed ("pe", "lam") reads one doclist instead of merging those of every word it begins (all of
# "pen", "pendant", "pepper"...), which it would otherwise do for the whole table, once for the
# count, once for the page and once more for bm25's IDF. It makes the index ~2.4 times larger.
PREFIX_INDEX = "2 3"

_WORD = re.compile(r"[^\W_]+")
_CJK = re.compile(f"([{search_bits.CJK_CHARACTERS}]+)")


# Text normalisation -------------------------------------------------------------------------------


def fold(value: str) -> str:
    """Lower-case without accents (``Café`` -> ``cafe``); CJK characters are unchanged."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def groups(value: str) -> list[list[str]]:
    """The words of ``value``, each a list of tokens: one for a plain word, the bigrams of a CJK run."""
    result: list[list[str]] = []
    for word in _WORD.findall(fold(value)):
        for i, part in enumerate(_CJK.split(word)):
            if not part:
                continue
            if i % 2 == 0 or len(part) == 1:
                result.append([part])
            else:
                result.append([part[j : j + 2] for j in range(len(part) - 1)])
    return result


def tokens(*values: str) -> list[str]:
    """Every index token of ``values``, in order."""
    return [token for value in values for group in groups(value) for token in group]


# The index's documents ----------------------------------------------------------------------------


@dataclass
class Doc:
    """One searchable row: normalised name and body tokens plus the filter values."""

    doc_id: int
    expo_id: int
    name: list[str]
    body: list[str]
    hall_id: int | None = None
    country: str | None = None
    categories: list[int] = field(default_factory=list)

    def tags(self) -> str:
        parts = []
        if self.hall_id is not None:
            parts.append(f"h{self.hall_id}")
        if self.country:
            parts.append(f"k{self.country.lower()}")
        parts.extend(f"c{c}" for c in self.categories)
        return " ".join(parts)

    def sqlite_row(self) -> dict[str, Any]:
        return {
            "rowid": self.doc_id,
            "name": " ".join(self.name),
            "body": " ".join(self.body),
            "tags": self.tags(),
        }

    def tsvector(self) -> str:
        # Positions are capped at 16383 by PostgreSQL; weights A (name) and B (body); the filter
        # lexemes have no position (no phrase can reach them).
        lexemes = [(t, "A") for t in self.name] + [(t, "B") for t in self.body]
        words = [f"{_quote(t)}:{min(i, 16383)}{w}" for i, (t, w) in enumerate(lexemes, start=1)]
        return " ".join([*words, *(_quote(t) for t in self.postgres_tags())])

    def postgres_tags(self) -> list[str]:
        """The filter lexemes of this document in the PostgreSQL index (see the module docstring)."""
        return postgres_tags(self.expo_id, self.hall_id, self.country, self.categories)

    def postgres_row(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "expo_id": self.expo_id,
            "hall_id": self.hall_id,
            "country": self.country,
            "categories": self.categories,
            "tsv": self.tsvector(),
        }


def postgres_tags(
    expo_id: int, hall_id: int | None, country: str | None, categories: Iterable[int]
) -> list[str]:
    """Filter lexemes: the same for a document's values and a search's filters."""
    tags = [f"_e{expo_id}"]
    if hall_id is not None:
        tags.append(f"_h{hall_id}")
    if country:
        tags.append(f"_k{country.lower()}")
    tags.extend(f"_c{c}" for c in categories)
    return tags


def _quote(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


EXPO_SHIFT = search_bits.EXPO_SHIFT
_LOCAL = search_bits.LOCAL_MASK


def booth_doc_id(expo_id: int, booth_id: int) -> int:
    return (expo_id << EXPO_SHIFT) | (booth_id * 2)


def product_doc_id(expo_id: int, product_id: int) -> int:
    return (expo_id << EXPO_SHIFT) | (product_id * 2 + 1)


def expo_doc_range(expo_id: int) -> tuple[int, int]:
    """The first and last doc id an expo's documents can have."""
    return expo_id << EXPO_SHIFT, (expo_id << EXPO_SHIFT) | _LOCAL


def _texts(obj: Booth | Product, *fields: str) -> list[str]:
    out = [str(getattr(obj, f) or "") for f in fields]
    for values in (obj.translations or {}).values():
        if isinstance(values, dict):
            out.extend(str(values.get(f) or "") for f in fields)
    return out


def booth_doc(booth: Booth) -> Doc:
    assert booth.id is not None
    body = " ".join(_texts(booth, "tagline", "description"))[:MAX_BODY_CHARS]
    return Doc(
        doc_id=booth_doc_id(booth.expo_id, booth.id),
        expo_id=booth.expo_id,
        name=tokens(*_texts(booth, "name")),
        body=tokens(body),
        hall_id=booth.hall_id,
        country=booth.country,
    )


def product_doc(product: Product, booth: Booth, categories: Sequence[int]) -> Doc:
    """The product's document; ``categories`` is its category and every ancestor's id."""
    assert product.id is not None
    body = " ".join([*_texts(product, "description"), " ".join(product.tags or [])])[:MAX_BODY_CHARS]
    return Doc(
        doc_id=product_doc_id(product.expo_id, product.id),
        expo_id=product.expo_id,
        name=tokens(*_texts(product, "name")),
        body=[*tokens(body), *tokens(*_texts(booth, "name"))],
        hall_id=booth.hall_id,
        country=booth.country,
        categories=list(categories),
    )


def ancestry(parents: dict[int, int | None], category_id: int | None) -> list[int]:
    """``category_id`` and its ancestors, from a ``{id: parent_id}`` map (cycles cannot loop)."""
    chain: list[int] = []
    current = category_id
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


# Schema ---------------------------------------------------------------------------------------------


def _create_fts5(conn: Connection, prefix: str | None) -> None:
    options = "tokenize = 'unicode61 remove_diacritics 0'" + (f", prefix = '{prefix}'" if prefix else "")
    # options is built from constants only.
    conn.exec_driver_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS search_doc USING fts5(name, body, tags, {options})"
    )
    # The default rank, so that "ORDER BY rank" (which FTS5 optimises) is the weighted bm25.
    conn.exec_driver_sql("INSERT INTO search_doc(search_doc, rank) VALUES ('rank', 'bm25(10.0, 1.0, 0.0)')")


def install(conn: Connection) -> None:
    """Create the search structures (idempotent); called by the migration and the test schema."""
    if conn.dialect.name == "sqlite":
        _create_fts5(conn, PREFIX_INDEX)
        return
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS search_doc ("
        "doc_id BIGINT PRIMARY KEY, expo_id INTEGER NOT NULL, hall_id INTEGER, country VARCHAR(2), "
        "categories INTEGER[] NOT NULL DEFAULT '{}', tsv TSVECTOR NOT NULL)"
    )
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_search_doc_tsv ON search_doc USING GIN (tsv)")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_search_doc_expo_id ON search_doc (expo_id)")
    install_bits(conn)


def install_bits(conn: Connection) -> None:
    """The tables of :mod:`booths.search_bits` (PostgreSQL only; idempotent)."""
    if conn.dialect.name == "sqlite":
        return
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS search_term (expo_id INTEGER NOT NULL, term TEXT NOT NULL, "
        "PRIMARY KEY (expo_id, term))"
    )
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS search_bits (expo_id INTEGER NOT NULL, term TEXT NOT NULL, "
        "chunk INTEGER NOT NULL, bits BIT VARYING NOT NULL, PRIMARY KEY (expo_id, term, chunk))"
    )


def uninstall_bits(conn: Connection) -> None:
    conn.exec_driver_sql("DROP TABLE IF EXISTS search_bits")
    conn.exec_driver_sql("DROP TABLE IF EXISTS search_term")


def uninstall(conn: Connection) -> None:
    uninstall_bits(conn)
    conn.exec_driver_sql("DROP TABLE IF EXISTS search_doc")


def rebuild_fts5(conn: Connection, prefix: str | None) -> bool:
    """Recreate the SQLite index with these prefix indexes, keeping its documents (a migration's
    step; a no-op on PostgreSQL or when the table already has them). Whether it rebuilt."""
    if conn.dialect.name != "sqlite":
        return False
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'search_doc'").scalar()
    if sql is None:
        return False
    current = re.search(r"prefix\s*=\s*'([^']*)'", str(sql))
    if (current.group(1) if current else None) == prefix:
        return False
    conn.exec_driver_sql("ALTER TABLE search_doc RENAME TO search_doc_previous")
    _create_fts5(conn, prefix)
    conn.exec_driver_sql(
        "INSERT INTO search_doc(rowid, name, body, tags) "
        "SELECT rowid, name, body, tags FROM search_doc_previous"
    )
    conn.exec_driver_sql("DROP TABLE search_doc_previous")
    conn.exec_driver_sql("INSERT INTO search_doc(search_doc) VALUES ('optimize')")
    return True


# Every stored vector's filter lexemes, from its filter columns (see postgres_tags).
_TAGS_SQL = (
    "ARRAY['_e' || expo_id] "
    "|| CASE WHEN hall_id IS NULL THEN '{}'::text[] ELSE ARRAY['_h' || hall_id] END "
    "|| CASE WHEN coalesce(country, '') = '' THEN '{}'::text[] ELSE ARRAY['_k' || lower(country)] END "
    "|| ARRAY(SELECT '_c' || c FROM unnest(categories) AS c)"
)


def add_filter_lexemes(conn: Connection) -> None:
    """Give every PostgreSQL document its filter lexemes (a migration's step; no-op on SQLite).

    Rewrites every row, with the GIN index dropped meanwhile and built again in one pass (rather
    than millions of index insertions). At Canton Fair scale: minutes, with searches waiting, and
    the table twice its size until the next VACUUM, which also lets counts skip the table again
    (see :func:`_search_postgres`).
    """
    # Adding lexemes without positions shifts no position of the vector's words.
    _rewrite_vectors(conn, f"tsv || array_to_tsvector({_TAGS_SQL})")


def drop_filter_lexemes(conn: Connection) -> None:
    _rewrite_vectors(conn, f"ts_delete(tsv, {_TAGS_SQL})")


def _rewrite_vectors(conn: Connection, value: str) -> None:
    if conn.dialect.name == "sqlite":
        return
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_search_doc_tsv")
    conn.exec_driver_sql(f"UPDATE search_doc SET tsv = {value}")  # noqa: S608
    conn.exec_driver_sql("CREATE INDEX ix_search_doc_tsv ON search_doc USING GIN (tsv)")
    if conn.exec_driver_sql("SELECT to_regclass('search_term') IS NOT NULL").scalar():
        # The term bitmaps describe the old vectors: forget them, every search goes through the
        # GIN index (exact) until `expo catalog index` builds them again.
        conn.exec_driver_sql("DELETE FROM search_bits")
        conn.exec_driver_sql("DELETE FROM search_term")


def include_name(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Alembic ``include_name`` hook: the search structures are not models, autogenerate skips them."""
    if type_ == "table" and name is not None:
        return not (name in SEARCH_TABLES or name.startswith(SEARCH_TABLE + "_"))
    return True


# Writing the index ------------------------------------------------------------------------------------


def _sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def _remove(session: AsyncSession, doc_ids: Iterable[int]) -> dict[int, str]:
    """Delete these documents; on PostgreSQL, return their vectors as they were (doc id -> text)."""
    ids = list(doc_ids)
    removed: dict[int, str] = {}
    sqlite = _sqlite(session)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if sqlite:
            statement = text("DELETE FROM search_doc WHERE rowid IN :ids")
        else:
            statement = text("DELETE FROM search_doc WHERE doc_id IN :ids RETURNING doc_id, tsv::text")
        statement = statement.bindparams(bindparam("ids", expanding=True))
        result = await session.exec(statement, params={"ids": chunk})  # type: ignore[call-overload]
        if not sqlite:
            removed.update((int(doc_id), str(tsv)) for doc_id, tsv in result)
    return removed


async def _update_bits(session: AsyncSession, old: Mapping[int, str], new: Mapping[int, str]) -> None:
    """Keep the PostgreSQL term bitmaps (:mod:`booths.search_bits`) in step, expo by expo."""
    if _sqlite(session) or not (old or new):
        return
    connection = await session.connection()
    for expo_id in sorted({doc_id >> EXPO_SHIFT for doc_id in (*old, *new)}):
        mine = expo_doc_range(expo_id)
        await search_bits.apply(
            connection,
            expo_id,
            {d: v for d, v in old.items() if mine[0] <= d <= mine[1]},
            {d: v for d, v in new.items() if mine[0] <= d <= mine[1]},
        )


async def delete_docs(session: AsyncSession, doc_ids: Iterable[int]) -> None:
    await _update_bits(session, await _remove(session, doc_ids), {})


async def write_docs(
    session: AsyncSession, docs: Sequence[Doc], removed: Mapping[int, str] | None = None
) -> None:
    """Replace these documents in the index (within the caller's transaction). ``removed``: the
    vectors of documents the caller already took out (see :func:`_remove`), for the bitmaps."""
    old = {**(removed or {}), **await _remove(session, [d.doc_id for d in docs])}
    if not docs:
        await _update_bits(session, old, {})
        return
    connection = await session.connection()
    if _sqlite(session):
        await connection.execute(
            text("INSERT INTO search_doc(rowid, name, body, tags) VALUES (:rowid, :name, :body, :tags)"),
            [d.sqlite_row() for d in docs],
        )
        return
    rows = [d.postgres_row() for d in docs]
    await connection.execute(
        text(
            "INSERT INTO search_doc(doc_id, expo_id, hall_id, country, categories, tsv) "
            "VALUES (:doc_id, :expo_id, :hall_id, :country, :categories, CAST(:tsv AS tsvector))"
        ),
        rows,
    )
    await _update_bits(session, old, {row["doc_id"]: row["tsv"] for row in rows})


async def category_parents(session: AsyncSession, expo_id: int) -> dict[int, int | None]:
    rows = (
        await session.exec(select(Category.id, Category.parent_id).where(Category.expo_id == expo_id))
    ).all()
    return {cid: parent for cid, parent in rows if cid is not None}


async def reindex_products(session: AsyncSession, expo_id: int, product_ids: Sequence[int]) -> None:
    """Bring these products' documents up to date (removed when gone or their booth is not public)."""
    ids = list(product_ids)
    removed = await _remove(session, [product_doc_id(expo_id, i) for i in ids])
    docs: list[Doc] = []
    parents_by_expo: dict[int, dict[int, int | None]] = {}
    for start in range(0, len(ids), 500):
        rows = (
            await session.exec(
                select(Product, Booth)
                .join(Booth, col(Booth.id) == col(Product.booth_id))
                .where(
                    col(Product.id).in_(ids[start : start + 500]), Booth.status == BoothStatus.APPROVED.value
                )
            )
        ).all()
        for product, booth in rows:
            if product.expo_id not in parents_by_expo:
                parents_by_expo[product.expo_id] = await category_parents(session, product.expo_id)
            docs.append(
                product_doc(product, booth, ancestry(parents_by_expo[product.expo_id], product.category_id))
            )
    await write_docs(session, docs, removed)


async def reindex_booths(
    session: AsyncSession, expo_id: int, booth_ids: Sequence[int], *, products: bool = True
) -> None:
    """Bring these booths' documents (and, with ``products``, their products') up to date."""
    ids = list(booth_ids)
    removed = await _remove(session, [booth_doc_id(expo_id, i) for i in ids])
    booths = (
        await session.exec(
            select(Booth).where(col(Booth.id).in_(ids), Booth.status == BoothStatus.APPROVED.value)
        )
    ).all()
    await write_docs(session, [booth_doc(b) for b in booths], removed)
    if products:
        product_ids = (await session.exec(select(Product.id).where(col(Product.booth_id).in_(ids)))).all()
        await reindex_products(session, expo_id, [p for p in product_ids if p is not None])


async def reindex_expo(session: AsyncSession, expo_id: int) -> None:
    """Rebuild every document of an expo (after its category tree changed shape)."""
    booth_ids = (await session.exec(select(Booth.id).where(Booth.expo_id == expo_id))).all()
    await reindex_booths(session, expo_id, [b for b in booth_ids if b is not None])


# Querying ---------------------------------------------------------------------------------------------


@dataclass
class Hit:
    kind: Literal["booth", "product"]
    id: int
    name: str
    booth_id: int
    url: str


@dataclass
class Results:
    total: int
    items: list[Hit]


@dataclass
class Filters:
    category_id: int | None = None
    hall_id: int | None = None
    country: str | None = None


def _query_groups(q: str) -> tuple[list[list[str]], bool]:
    """The query's word groups and whether the last one is matched as a prefix (still being typed)."""
    found = groups(q)[:MAX_QUERY_GROUPS]
    if not found or q[-1:].isspace():
        return found, False
    last = found[-1][-1]
    if _CJK.match(last) is not None:
        # CJK text is indexed as bigrams (or a lone character): only a lone character can grow,
        # and a prefix query costs a merge of every matching term's doclist.
        return found, len(last) == 1
    return found, len(last) >= 2


def fts5_text(found: list[list[str]], prefix: bool) -> str:
    """The text part of an FTS5 MATCH expression: every word as a quoted phrase in name or body."""
    phrases = ['"' + " ".join(g).replace('"', '""') + '"' for g in found]
    if prefix:
        phrases[-1] += "*"
    return "{name body} : (" + " AND ".join(phrases) + ")"


def fts5_tags(filters: Filters, categories: list[int]) -> list[str]:
    """The filter tokens of ``filters`` (see :meth:`Doc.tags`)."""
    tags: list[str] = []
    if filters.hall_id is not None:
        tags.append(f"h{filters.hall_id}")
    if filters.country:
        tags.append(f"k{filters.country.lower()}")
    tags.extend(f"c{c}" for c in categories)
    return tags


def _with_tags(text_part: str, tags: Sequence[str]) -> str:
    return text_part + (" AND tags : (" + " AND ".join(tags) + ")" if tags else "")


def fts5_match(found: list[list[str]], prefix: bool, filters: Filters, categories: list[int]) -> str:
    """An FTS5 MATCH expression: every word as a quoted phrase, the filters on the tags column."""
    return _with_tags(fts5_text(found, prefix), fts5_tags(filters, categories))


def tsquery(found: list[list[str]], prefix: bool) -> str:
    """A ``tsquery`` literal with the same meaning as :func:`fts5_match`'s text part."""
    parts = [" <-> ".join(_quote(t) for t in g) for g in found]
    if prefix:
        parts[-1] += ":*"
    return " & ".join(f"({p})" for p in parts)


async def search(
    session: AsyncSession,
    expo: Expo,
    q: str,
    *,
    filters: Filters | None = None,
    page: int = 1,
    lang: str | None = None,
) -> Results:
    """The page ``page`` (20 a page) of booths and products matching every word of ``q``, best first."""
    assert expo.id is not None
    filters = filters or Filters()
    found, prefix = _query_groups(q)
    if not found or page > MAX_PAGE:
        return Results(total=0, items=[])
    categories = [filters.category_id] if filters.category_id is not None else []
    offset = (page - 1) * PAGE_SIZE
    connection = await session.connection()
    if _sqlite(session):
        total, doc_ids = await _search_sqlite(connection, expo.id, found, prefix, filters, categories, offset)
    else:
        total, doc_ids = await _search_postgres(
            connection, expo.id, found, prefix, filters, categories, offset
        )
    return Results(total=int(total), items=await _hits(session, expo, doc_ids, lang))


def _name(obj: Booth | Product, lang: str | None) -> str:
    if lang:
        translated = (obj.translations or {}).get(lang)
        if isinstance(translated, dict) and translated.get("name"):
            return str(translated["name"])
    return obj.name


async def _hits(session: AsyncSession, expo: Expo, doc_ids: list[int], lang: str | None) -> list[Hit]:
    local = [d & _LOCAL for d in doc_ids]
    booth_ids = [d // 2 for d in local if d % 2 == 0]
    product_ids = [d // 2 for d in local if d % 2 == 1]
    booths = {b.id: b for b in (await session.exec(select(Booth).where(col(Booth.id).in_(booth_ids)))).all()}
    products = {
        p.id: p for p in (await session.exec(select(Product).where(col(Product.id).in_(product_ids)))).all()
    }
    hits: list[Hit] = []
    for doc_id in local:
        ref = doc_id // 2
        if doc_id % 2 == 0 and ref in booths:
            hits.append(Hit("booth", ref, _name(booths[ref], lang), ref, f"/expos/{expo.slug}/booths/{ref}"))
        elif doc_id % 2 == 1 and ref in products:
            p = products[ref]
            hits.append(Hit("product", ref, _name(p, lang), p.booth_id, f"/expos/{expo.slug}/products/{ref}"))
    return hits


# SQLite query strategy ----------------------------------------------------------------------------------

# "split" (the default) keeps common filters out of the ranking statement (see _search_sqlite);
# "baseline" is the earlier strategy (every filter in the ranking MATCH, a 25,000-match window),
# kept so that scripts/bench_catalog.py can measure both side by side. Not a user setting.
STRATEGY: Literal["split", "baseline"] = "split"
BASELINE_RANK_WINDOW = 25_000
# Queries with at most this many matches read them all in their first statement (see _search_sqlite).
FEW_MATCHES = 2_000
# A filter tag covering at least this share of an expo's booths is "common": see _search_sqlite.
COMMON_SHARE = 0.25
# Tag shares are statistics for choosing a plan, never for results: a few minutes stale is fine.
SHARE_TTL_S = 300.0
_shares: dict[tuple[str, int], tuple[float, dict[str, float]]] = {}


async def _tag_shares(connection: AsyncConnection, expo_id: int) -> dict[str, float]:
    """The share of the expo's public booths under each hall and country tag (cached per process).

    Products carry their booth's hall and country, so the booth shares approximate the documents'
    shares well enough to choose a plan; one grouped scan of the booth table (~60,000 rows at
    Canton Fair scale, a few ms) every SHARE_TTL_S seconds.
    """
    key = (str(connection.engine.url), expo_id)
    now = time.monotonic()
    cached = _shares.get(key)
    if cached is not None and now - cached[0] < SHARE_TTL_S:
        return cached[1]
    rows = await connection.execute(
        text(
            "SELECT hall_id, country, count(*) FROM booth WHERE expo_id = :expo AND status = :status "
            "GROUP BY hall_id, country"
        ),
        {"expo": expo_id, "status": BoothStatus.APPROVED.value},
    )
    counts: dict[str, int] = {}
    booths = 0
    for hall_id, country, n in rows:
        booths += n
        if hall_id is not None:
            counts[f"h{hall_id}"] = counts.get(f"h{hall_id}", 0) + n
        if country:
            counts[f"k{country.lower()}"] = counts.get(f"k{country.lower()}", 0) + n
    shares = {tag: n / booths for tag, n in counts.items()}
    if len(_shares) >= 256:  # bounded: one entry per (store, expo) in use
        _shares.clear()
    _shares[key] = (now, shares)
    return shares


async def _search_sqlite(
    connection: AsyncConnection,
    expo_id: int,
    found: list[list[str]],
    prefix: bool,
    filters: Filters,
    categories: list[int],
    offset: int,
) -> tuple[int, list[int]]:
    """The exact total and one page of doc ids, best first, from the FTS5 index.

    bm25 (the ``rank``) costs two things: about a microsecond per ranked match, bounded by ranking
    at most RANK_WINDOW matches; and, once per statement, a scan of the whole doclist of *every*
    phrase in the MATCH to compute its IDF, filter tags included although their weight is 0. A
    country covering half of the Canton Fair's 2.8 million documents costs ~30 ms that way, for
    nothing. So a common filter tag (one covering COMMON_SHARE of the expo or more) is left out of
    the ranking statement: it ranks the rows of a MATCH without that tag that are also in the
    window of the full MATCH (an ``IN`` subquery, evaluated inside SQLite: no ids cross into
    Python). Scores are the same (a weight-0 column adds 0), so are the results. Because the tag
    is common, the text matches in the window's rowid span are at most 1 / COMMON_SHARE times the
    window: bounded. The matches are counted in one pass in rowid order (see the legs below),
    which also yields the first and last match (bounding every later statement's rowid range), the
    window's edge and, for a query with at most FEW_MATCHES matches, their ids.
    """
    low, high = expo_doc_range(expo_id)
    text_part = fts5_text(found, prefix)
    tags = fts5_tags(filters, categories)
    scope = "search_doc MATCH :m AND rowid BETWEEN :low AND :high"
    bound: dict[str, Any] = {"m": _with_tags(text_part, tags), "low": low, "high": high}
    window = BASELINE_RANK_WINDOW if STRATEGY == "baseline" else RANK_WINDOW
    # The first and last match bound every later statement's rowid range (the same matches). Up to
    # FEW_MATCHES, one statement reads them all (their ids as one string, no per-row Python work).
    ids: str | None = None
    edge: int | None = None
    if STRATEGY == "baseline":
        counted = await connection.execute(
            text(f"SELECT count(*), min(rowid), max(rowid) FROM search_doc WHERE {scope}"),  # noqa: S608
            bound,
        )
        total, first, last = counted.one()
    else:
        # One pass over the matches in rowid order, in up to three legs that each go on from the
        # last match read: the first FEW_MATCHES + 1 (ids kept), the rest of the rank window (its
        # last match is the window's edge) and the rest (counted).
        few = await connection.execute(
            text(
                "SELECT count(*), min(rowid), max(rowid), group_concat(rowid) "  # noqa: S608
                f"FROM (SELECT rowid FROM search_doc WHERE {scope} ORDER BY rowid LIMIT :n)"
            ),
            {**bound, "n": FEW_MATCHES + 1},
        )
        total, first, last, ids = few.one()
        if total > FEW_MATCHES:
            ids = None
            legs = [window - total, -1] if total < window else [-1]  # LIMIT -1: no limit
            for limit in legs:
                leg = await connection.execute(
                    text(
                        "SELECT count(*), max(rowid) "  # noqa: S608
                        f"FROM (SELECT rowid FROM search_doc WHERE {scope} ORDER BY rowid LIMIT :n)"
                    ),
                    {**bound, "low": int(last) + 1, "n": limit},
                )
                more, beyond = leg.one()
                total, last = total + more, beyond if more else last
                if total < window:
                    break  # every match has been read
                if limit != -1:
                    edge = int(last)
    total = int(total)
    if offset >= min(total, window):
        return total, []
    bound["low"], bound["high"] = int(first), int(last)
    if total > window:
        # Rank the first `window` matches in rowid order (counting past them is cheap). See RANK_WINDOW.
        if edge is None:
            found_edge = await connection.execute(
                text(f"SELECT rowid FROM search_doc WHERE {scope} ORDER BY rowid LIMIT 1 OFFSET :n"),  # noqa: S608
                {**bound, "n": window - 1},
            )
            edge = int(found_edge.scalar_one())
        bound["high"] = edge
    page = {"limit": PAGE_SIZE, "offset": offset}
    shares = {} if STRATEGY == "baseline" else await _tag_shares(connection, expo_id)
    common = [t for t in tags if shares.get(t, 0.0) >= COMMON_SHARE]
    if common:
        # The window's matches are chosen inside SQLite by the full MATCH (no ids cross into
        # Python) and ranked by a MATCH without the common tags. "+rowid": the IN set must filter
        # FTS5's rows, not drive one FTS5 lookup per id.
        ranked = "search_doc MATCH :ranked AND rowid BETWEEN :low AND :high"
        # A few matches are already known: the set is their ids, not a second full MATCH.
        window_set = (
            "SELECT value FROM json_each(:ids)"
            if ids is not None
            else f"SELECT rowid FROM search_doc WHERE {scope}"  # noqa: S608
        )
        rows = await connection.execute(
            text(
                f"SELECT rowid FROM search_doc WHERE {ranked} AND +rowid IN ({window_set}) "  # noqa: S608
                "ORDER BY rank, rowid LIMIT :limit OFFSET :offset"
            ),
            {
                **bound,
                "ranked": _with_tags(text_part, [t for t in tags if t not in common]),
                "ids": f"[{ids}]",
                **page,
            },
        )
        return total, [int(r[0]) for r in rows]
    rows = await connection.execute(
        text(f"SELECT rowid FROM search_doc WHERE {scope} ORDER BY rank, rowid LIMIT :limit OFFSET :offset"),  # noqa: S608
        {**bound, **page},
    )
    return total, [int(r[0]) for r in rows]


# PostgreSQL query strategy -------------------------------------------------------------------------------


# For this transaction only: a plan for each query's own words, never the generic plan a cached
# prepared statement switches to after five runs (blind to how common the words are, it scanned the
# whole table to rank 10,000 rows: seconds instead of milliseconds); and room for the bitmap of a
# common word's matches, which past 4 MB turns lossy and makes every row of its pages rechecked.
_SEARCH_SETTINGS = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('work_mem', '32MB', true)"
)


async def _search_postgres(
    connection: AsyncConnection,
    expo_id: int,
    found: list[list[str]],
    prefix: bool,
    filters: Filters,
    categories: list[int],
    offset: int,
) -> tuple[int, list[int]]:
    """The exact total and one page of doc ids, best first, from the term bitmaps (a query of
    common terms only, see :mod:`booths.search_bits`) or else the GIN index.

    The text and the filters are one ``tsquery`` (see :func:`postgres_tags`): the index narrows a
    filtered search before the table is read. The expo is a range of doc ids instead, checked on
    the rows read anyway (PostgreSQL 15's bitmap scans read every matching row, even to count):
    in the index, the expo's lexeme is in every document of a one-expo store, and intersecting
    with it doubled the index's share of a search. The page ranks, like SQLite, a bounded window:
    the first RANK_WINDOW matches of the scan, whose vectors ``ts_rank`` reads (ranking every
    match of a word like "pe" would read ~400,000 rows at Canton Fair scale).
    """
    text_part = tsquery(found, prefix)
    tags = postgres_tags(expo_id, filters.hall_id, filters.country, categories)[1:]  # not _e
    condition = " & ".join([f"({text_part})", *(_quote(t) for t in tags)])
    low, high = expo_doc_range(expo_id)
    params: dict[str, Any] = {"q": condition, "ranked": text_part, "low": low, "high": high}
    where = "tsv @@ CAST(:q AS tsquery) AND doc_id BETWEEN :low AND :high"
    await connection.execute(_SEARCH_SETTINGS)
    page = {"limit": PAGE_SIZE, "offset": offset}
    # A query whose every part is a common term is counted from the term bitmaps, which also give
    # its first RANK_WINDOW matches in doc id order (SQLite's window); no GIN scan, whose prefix
    # matches cost ~25 ms for a common word. Any other query matches few documents, which the GIN
    # index counts and ranks quickly (see booths.search_bits).
    terms = search_bits.query_terms(found, prefix, tags)
    matched = (
        await search_bits.matches(connection, expo_id, terms, RANK_WINDOW) if terms is not None else None
    )
    if matched is not None:
        total, window = matched
        if offset >= min(total, RANK_WINDOW):
            return total, []
        rows = await connection.execute(
            text(
                "SELECT doc_id FROM search_doc WHERE doc_id = ANY(:ids) "
                "ORDER BY ts_rank(tsv, CAST(:ranked AS tsquery), 1) DESC, doc_id LIMIT :limit OFFSET :offset"
            ),
            {"ids": window, "ranked": text_part, **page},
        )
        return total, [int(r[0]) for r in rows]
    # where is a constant; every value is a bound parameter.
    counted = await connection.execute(text(f"SELECT count(*) FROM search_doc WHERE {where}"), params)  # noqa: S608
    total = int(counted.scalar_one())
    if offset >= min(total, RANK_WINDOW):
        return total, []
    rows = await connection.execute(
        text(
            f"SELECT doc_id FROM (SELECT doc_id, tsv FROM search_doc WHERE {where} "  # noqa: S608
            "LIMIT :window) AS w ORDER BY ts_rank(tsv, CAST(:ranked AS tsquery), 1) DESC, doc_id "
            "LIMIT :limit OFFSET :offset"
        ),
        {**params, "window": RANK_WINDOW, **page},
    )
    return total, [int(r[0]) for r in rows]
