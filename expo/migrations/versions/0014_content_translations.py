"""Organizer content in both languages: a ``translations`` JSON column on expos, programs,
broadcasts, rooms and registration forms (``{"zh_Hans": {"title": ...}}``, as halls and booths).

Revision ID: 0014_content_translations
Revises: 0013_password_resets
Create Date: 2026-12-02 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014_content_translations"
down_revision: str | None = "0013_password_resets"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TABLES = ("expo", "program", "stream", "room", "registrationform")


def upgrade() -> None:
    for table in TABLES:
        # Existing rows start without translations; the default only serves this migration.
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("translations", server_default=None)


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("translations")
