"""Exact search totals on PostgreSQL without reading the table: one bitmap per common term.

Counting a common word's matches through the GIN index reads every matching row of the table:
PostgreSQL's bitmap heap scans fetch each page even when no column is needed (the "skip fetch"
shortcut is gone from the maintained releases), so "boots" (39,000 matches of the Canton Fair's
2.8 million documents) costs ~110 ms and a 90,000-match word ~230 ms, before any ranking. SQLite's
FTS5 counts from its doclists. This module gives PostgreSQL the same: an expo's *tracked terms*
(``search_term``) are the query parts that matched at least ``min_docs`` of its documents when
:func:`rebuild` last chose them; ``search_bits`` holds, per tracked term, one bit per document
(bit ``doc_id & LOCAL_MASK``) in chunks of CHUNK_BITS bits (``bit varying``, 8 KB, stored compressed
when sparse). A query whose every part is tracked is counted as the sum over chunks of
``bit_count(bit_and(...))``: a few milliseconds, whatever the number of matches. A query with an
untracked part matches at most about ``min_docs`` documents, which the GIN index counts quickly.

A term is exactly what one part of a ``tsquery`` (:func:`booths.search.tsquery`) matches:

* a word or a filter lexeme (``lamp``, ``_h3``): the documents with that lexeme;
* a prefix, ``p*`` (``lam*``, a word being typed; ``台*``, a lone CJK character): the documents
  with a lexeme starting with ``p``, as ``'p':*`` matches;
* a CJK phrase of two or three tokens, space-separated (``不锈 锈钢``): the documents with those
  tokens at consecutive positions, as ``'不锈' <-> '锈钢'`` matches.

Terms are read from a document's ``tsvector`` text (:func:`terms_of`), the one the index holds,
so a bitmap and the GIN index agree on every document by construction. The bitmaps change in the
same transaction as the documents (:func:`apply`, called by ``booths.search``), under a shared
advisory lock per expo that :func:`rebuild` takes exclusively: a rebuild sees every committed
document and no writer's change is lost across it. Writes cost one upsert of an 8 KB value per
tracked term and chunk whose bits they change: at Canton Fair scale (9,355 tracked terms) adding
or removing a product ~80 ms (its ~150 tracked words, prefixes and phrases), an edit only the
terms it changes, 500 products in one batch 1.8 s. A store nobody ran ``expo catalog index`` on
tracks nothing and pays one indexed lookup per write.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

CHUNK_SHIFT = 16
CHUNK_BITS = 1 << CHUNK_SHIFT  # 8 KB a chunk: compressed when sparse, ~85 chunks at Canton Fair scale
# booths.search lays doc ids out as ``expo_id << EXPO_SHIFT | local number`` and splits runs of
# these scripts (written without spaces) into bigrams; both are defined here, below it, once.
EXPO_SHIFT = 40
LOCAL_MASK = (1 << EXPO_SHIFT) - 1  # a doc id's place within its expo
CJK_CHARACTERS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
MIN_DOCS = 2_000  # a term matching fewer documents is counted through the GIN index (~10-20 ms)
MAX_PHRASE = 3  # CJK phrases of up to this many tokens (4 characters) are terms
# pg_advisory_xact_lock's first key: "search bits" (the second is the expo).
LOCK_CLASS = 0x5B17
_LEXEME = re.compile(r"'((?:[^'\\]|''|\\.)*)'(?::([0-9A-D,]+))?")
_CJK_TOKEN = re.compile(f"[{CJK_CHARACTERS}]")


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted.replace("''", "'"))


def _positions(listed: str | None) -> list[int]:
    return [int(p.rstrip("ABCD")) for p in listed.split(",")] if listed else []


def _cjk(token: str) -> bool:
    return _CJK_TOKEN.match(token) is not None


@lru_cache(maxsize=1 << 16)
def _word_terms(lexeme: str) -> frozenset[str]:
    """A lexeme's own terms: itself and the prefixes a query can ask for."""
    if lexeme.startswith("_"):
        return frozenset((lexeme,))  # a filter lexeme: never typed, never a prefix
    if _cjk(lexeme):
        return frozenset((lexeme, lexeme[0] + "*"))  # a query's lone CJK character is its only CJK prefix
    return frozenset((lexeme, *(lexeme[:k] + "*" for k in range(2, len(lexeme) + 1))))


def terms_of(tsv: str) -> set[str]:
    """Every term (see the module docstring) a document with this vector matches."""
    entries = _LEXEME.findall(tsv)
    lexemes = [_unquote(quoted) if "'" in quoted or "\\" in quoted else quoted for quoted, _ in entries]
    terms: set[str] = set().union(*map(_word_terms, lexemes))
    # Phrases: the CJK tokens by position (only their positions are read).
    at = {
        p: lexeme
        for lexeme, (_, listed) in zip(lexemes, entries, strict=True)
        if _cjk(lexeme)
        for p in _positions(listed)
    }
    for p, lexeme in at.items():
        phrase = [lexeme]
        for step in range(1, MAX_PHRASE):
            following = at.get(p + step)
            if following is None:
                break
            phrase.append(following)
            terms.add(" ".join(phrase))
    return terms


def query_terms(found: Sequence[Sequence[str]], prefix: bool, tags: Sequence[str]) -> list[str] | None:
    """The terms whose intersection is exactly what the query matches, or None if one part is not
    a term (a CJK phrase longer than MAX_PHRASE tokens)."""
    terms: list[str] = []
    for i, group in enumerate(found):
        last = i == len(found) - 1
        if len(group) == 1:
            terms.append(group[0] + "*" if prefix and last else group[0])
        elif len(group) <= MAX_PHRASE and not (prefix and last):
            terms.append(" ".join(group))
        else:
            return None
    return [*terms, *tags]


def chunk_of(doc_id: int) -> tuple[int, int]:
    local = doc_id & LOCAL_MASK
    return local >> CHUNK_SHIFT, local & (CHUNK_BITS - 1)


def _bits_literal(positions: Iterable[int]) -> str:
    """A chunk's bits, MSB first (bit 0 is position 0, as ``get_bit`` numbers them), as hex."""
    mask = bytearray(CHUNK_BITS // 8)
    for position in positions:
        mask[position >> 3] |= 0x80 >> (position & 7)
    return mask.hex()


@dataclass
class Change:
    """Bits to set and clear in one (term, chunk)."""

    set: list[int]
    clear: list[int]


def changes(
    old: Mapping[int, set[str]], new: Mapping[int, set[str]], tracked: set[str]
) -> dict[tuple[str, int], Change]:
    """Per (term, chunk), the bits that documents going from the terms ``old`` to ``new`` (doc id
    -> terms; absent: no document) set and clear, for the tracked terms only."""
    out: dict[tuple[str, int], Change] = {}
    for doc_id in old.keys() | new.keys():
        before = old.get(doc_id, set()) & tracked
        after = new.get(doc_id, set()) & tracked
        chunk, position = chunk_of(doc_id)
        for term in after - before:
            out.setdefault((term, chunk), Change([], [])).set.append(position)
        for term in before - after:
            out.setdefault((term, chunk), Change([], [])).clear.append(position)
    return out


def _upsert_rows(
    expo_id: int, old: Mapping[int, set[str]], new: Mapping[int, set[str]], tracked: set[str]
) -> list[dict[str, object]]:
    # One order for every writer: two transactions never wait on each other's rows in a cycle.
    return [
        {
            "expo": expo_id,
            "term": term,
            "chunk": chunk,
            "set": _bits_literal(change.set),
            "clear": _bits_literal(change.clear),
        }
        for (term, chunk), change in sorted(changes(old, new, tracked).items())
    ]


# A chunk's bits travel as hex text (driver-neutral), read by bit varying's "x..." input syntax.
_INSERT_SQL = (
    "INSERT INTO search_bits (expo_id, term, chunk, bits) "
    "VALUES (:expo, :term, :chunk, CAST('x' || CAST(:set AS text) AS bit varying))"
)
_INSERT = text(_INSERT_SQL)
_UPSERT = text(
    _INSERT_SQL + " ON CONFLICT (expo_id, term, chunk) DO UPDATE SET bits = (search_bits.bits "
    "& ~CAST('x' || CAST(:clear AS text) AS bit varying)) | excluded.bits"
)


def _terms_by_doc(vectors: Mapping[int, str]) -> dict[int, set[str]]:
    return {doc_id: terms_of(tsv) for doc_id, tsv in vectors.items()}


async def apply(
    connection: AsyncConnection, expo_id: int, old: Mapping[int, str], new: Mapping[int, str]
) -> None:
    """Bring the expo's bitmaps from documents ``old`` to ``new`` (doc id -> ``tsvector`` text), in
    the caller's transaction. The terms are worked out in a thread: an import's batch of 500
    documents is ~60 ms of Python."""
    if not old and not new:
        return
    # The lock first, then a fresh snapshot: a rebuild that committed meanwhile is seen.
    await connection.execute(
        text("SELECT pg_advisory_xact_lock_shared(:cls, :expo)"), {"cls": LOCK_CLASS, "expo": expo_id}
    )
    tracks = await connection.execute(
        text("SELECT EXISTS (SELECT 1 FROM search_term WHERE expo_id = :expo)"), {"expo": expo_id}
    )
    if not tracks.scalar():
        return
    before, after = await asyncio.gather(
        asyncio.to_thread(_terms_by_doc, old), asyncio.to_thread(_terms_by_doc, new)
    )
    candidates = set().union(*before.values(), *after.values())
    tracked = set(
        (
            await connection.execute(
                text("SELECT term FROM search_term WHERE expo_id = :expo AND term = ANY(:terms)"),
                {"expo": expo_id, "terms": sorted(candidates)},
            )
        ).scalars()
    )
    rows = await asyncio.to_thread(_upsert_rows, expo_id, before, after, tracked) if tracked else []
    if rows:
        await connection.execute(_UPSERT, rows)


# Every chunk where each term has bits, ANDed, with the number of matches in the chunks before it.
_MATCHES = text(
    "WITH anded AS (SELECT chunk, bit_and(bits) AS b FROM search_bits "
    "WHERE expo_id = :expo AND term = ANY(:terms) GROUP BY chunk HAVING count(*) = :n), "
    "counted AS (SELECT chunk, b, bit_count(b) AS n FROM anded), "
    "running AS (SELECT chunk, b, n, sum(n) OVER (ORDER BY chunk) - n AS before FROM counted WHERE n > 0) "
    "SELECT t.tracked, r.chunk, r.n, CASE WHEN r.before < :window THEN varbit_send(r.b) END "
    "FROM (SELECT count(*) AS tracked FROM search_term WHERE expo_id = :expo AND term = ANY(:terms)) AS t "
    "LEFT JOIN running AS r ON true ORDER BY r.chunk"
)
# The offsets of the set bits of each byte value, most significant bit first.
_SET_BITS = [tuple(k for k in range(8) if value & (0x80 >> k)) for value in range(256)]
_NONZERO = re.compile(rb"[^\x00]")
_SEND_HEADER = 4  # varbit_send's bytes: the bit length (int32), then the bits


async def matches(
    connection: AsyncConnection, expo_id: int, terms: Sequence[str], window: int
) -> tuple[int, list[int]] | None:
    """The number of the expo's documents matching every term and the ids of the first ``window``
    of them in doc id order, or None when a term is not tracked."""
    wanted = sorted(set(terms))
    rows = (
        await connection.execute(
            _MATCHES, {"expo": expo_id, "terms": wanted, "n": len(wanted), "window": window}
        )
    ).all()
    if not rows or int(rows[0][0]) != len(wanted):
        return None
    total = 0
    first: list[int] = []
    for _, chunk, n, sent in rows:
        if n is None:
            continue  # no chunk has bits of every term: nothing matches
        total += int(n)
        if sent is None or len(first) >= window:
            continue
        base = (expo_id << EXPO_SHIFT) | (int(chunk) << CHUNK_SHIFT)
        for byte in _NONZERO.finditer(bytes(sent), _SEND_HEADER):
            at = base + (byte.start() - _SEND_HEADER) * 8
            first.extend(at + k for k in _SET_BITS[byte.group()[0]])
    return total, first[:window]


@dataclass
class Rebuilt:
    documents: int
    terms: int
    chunks: int


async def rebuild(connection: AsyncConnection, expo_id: int, min_docs: int = MIN_DOCS) -> Rebuilt:
    """Choose the expo's tracked terms afresh (those matching ``min_docs`` documents or more) and
    write their bitmaps, in the caller's transaction; writers of the expo's documents wait.

    Two passes over the expo's documents, a batch of rows at a time: the first counts every term's
    documents, the second fills the tracked terms' bitmaps one chunk at a time (memory: one chunk
    of every tracked term).
    """
    await connection.execute(
        text("SELECT pg_advisory_xact_lock(:cls, :expo)"), {"cls": LOCK_CLASS, "expo": expo_id}
    )
    low, high = expo_id << EXPO_SHIFT, (expo_id << EXPO_SHIFT) | LOCAL_MASK
    documents = 0
    frequency: Counter[str] = Counter()
    async for batch in _documents(connection, low, high):
        documents += len(batch)
        for _, tsv in batch:
            frequency.update(terms_of(tsv))
    tracked = {term for term, n in frequency.items() if n >= min_docs}
    await connection.execute(text("DELETE FROM search_bits WHERE expo_id = :expo"), {"expo": expo_id})
    await connection.execute(text("DELETE FROM search_term WHERE expo_id = :expo"), {"expo": expo_id})
    if tracked:
        await connection.execute(
            text("INSERT INTO search_term (expo_id, term) SELECT :expo, unnest(CAST(:terms AS text[]))"),
            {"expo": expo_id, "terms": sorted(tracked)},
        )
    chunks = 0
    current: int | None = None
    bits: dict[str, list[int]] = defaultdict(list)

    async def flush() -> None:
        nonlocal chunks
        if current is None or not bits:
            return
        rows = [
            {"expo": expo_id, "term": term, "chunk": current, "set": _bits_literal(ps)}
            for term, ps in sorted(bits.items())
        ]
        await connection.execute(_INSERT, rows)
        chunks += len(rows)
        bits.clear()

    async for batch in _documents(connection, low, high):  # in doc id order: chunk by chunk
        for doc_id, tsv in batch:
            chunk, position = chunk_of(doc_id)
            if chunk != current:
                await flush()
                current = chunk
            for term in terms_of(tsv) & tracked:
                bits[term].append(position)
    await flush()
    return Rebuilt(documents=documents, terms=len(tracked), chunks=chunks)


async def _documents(
    connection: AsyncConnection, low: int, high: int, size: int = 5_000
) -> AsyncIterator[list[tuple[int, str]]]:
    """The documents between two doc ids, in doc id order, ``size`` at a time (keyset pages)."""
    after = low - 1
    while True:
        rows = (
            await connection.execute(
                text(
                    "SELECT doc_id, tsv::text FROM search_doc WHERE doc_id > :after AND doc_id <= :high "
                    "ORDER BY doc_id LIMIT :n"
                ),
                {"after": after, "high": high, "n": size},
            )
        ).all()
        if not rows:
            return
        yield [(int(r[0]), str(r[1])) for r in rows]
        after = int(rows[-1][0])
