"""Catalogue imports: a row per catalogue file imported in the background, so that any server
process can report its progress and its result to the exhibitor who uploaded it.

Revision ID: 0018_catalog_imports
Revises: 0017_walk_in_rooms
Create Date: 2026-12-02 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018_catalog_imports"
down_revision: str | None = "0017_walk_in_rooms"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("products_created", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_catalog_import_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_catalog_import_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_import")),
    )
    op.create_index(op.f("ix_catalog_import_booth_id"), "catalog_import", ["booth_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_catalog_import_booth_id"), table_name="catalog_import")
    op.drop_table("catalog_import")
