"""Search on PostgreSQL: the tables of the term bitmaps that count common queries' matches
without reading the table (see booths.search_bits). Empty until ``expo catalog index`` chooses an
expo's common terms; until then every count goes through the GIN index, as before. SQLite needs
nothing.

Revision ID: 0033_search_bits
Revises: 0032_promotion_filing_questions
Create Date: 2026-12-05 21:40:00.000000
"""

from __future__ import annotations

from alembic import op

from booths import search

revision: str = "0033_search_bits"
down_revision: str | None = "0032_promotion_filing_questions"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    search.install_bits(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        search.uninstall_bits(op.get_bind())
