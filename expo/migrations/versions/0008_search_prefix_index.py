"""Search: 2- and 3-character prefix indexes on the SQLite FTS5 index (see booths.search.PREFIX_INDEX).

FTS5 options cannot be altered, so the table is recreated and refilled from the old one (its
documents are kept). Stores created since this revision already have them (the index comes from
:func:`booths.search.install`), and PostgreSQL needs nothing: both are no-ops.

Revision ID: 0008_search_prefix_index
Revises: 0007_meetings
Create Date: 2026-11-22 11:00:00.000000
"""

from __future__ import annotations

from alembic import op

from booths import search

revision: str = "0008_search_prefix_index"
down_revision: str | None = "0007_meetings"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    search.rebuild_fts5(op.get_bind(), search.PREFIX_INDEX)


def downgrade() -> None:
    search.rebuild_fts5(op.get_bind(), None)
