"""Search on PostgreSQL: the filters (expo, hall, country, categories) become lexemes of each
document's vector, so a search with its filters is one GIN lookup (see booths.search).

Existing documents get theirs from their filter columns; SQLite needs nothing (FTS5 has its
``tags`` column). After upgrading a large PostgreSQL store, ``VACUUM ANALYZE search_doc`` gives
back the space and the visibility map that counting relies on.

Revision ID: 0019_search_filter_lexemes
Revises: 0018_catalog_imports
Create Date: 2026-12-02 12:10:00.000000
"""

from __future__ import annotations

from alembic import op

from booths import search

revision: str = "0019_search_filter_lexemes"
down_revision: str | None = "0018_catalog_imports"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    search.add_filter_lexemes(op.get_bind())


def downgrade() -> None:
    search.drop_filter_lexemes(op.get_bind())
