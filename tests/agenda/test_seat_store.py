"""The seat desk's statements: on PostgreSQL a set of ids is one array parameter, so a batch's
statement text (and the prepared statement asyncpg keeps for it) is the same whatever its size."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from expo.agenda.seat_store import PROG


class _Conn:
    """Enough of a ``Connection`` for :func:`one_of`: its dialect."""

    def __init__(self, dialect: sa.engine.Dialect) -> None:
        self.dialect = dialect


def _sql(dialect: sa.engine.Dialect, ids: list[int]) -> str:
    from expo.agenda.seat_store import one_of

    query = sa.select(PROG.c.id).where(one_of(_Conn(dialect), PROG.c.id, ids))  # type: ignore[arg-type]
    return str(query.compile(dialect=dialect))


def test_postgresql_statements_do_not_change_with_the_number_of_ids() -> None:
    dialect = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
    assert _sql(dialect, [1]) == _sql(dialect, [1, 2, 3, 4, 5])
    assert "ANY" in _sql(dialect, [1, 2])


def test_sqlite_keeps_in_lists() -> None:
    assert " IN " in _sql(sqlite.dialect(), [1, 2])
