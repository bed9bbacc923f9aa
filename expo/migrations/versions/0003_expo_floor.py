"""The expo floor: halls, the category tree, booths and their staff, products, the search index,
the expo's banner and application switch, and the stream -> booth foreign key.

The search index is not a model: :func:`booths.search.install` creates it (an FTS5 table on
SQLite, a table with a GIN-indexed tsvector on PostgreSQL).

Revision ID: 0003_expo_floor
Revises: 0002_broadcasts
Create Date: 2026-11-22 04:44:16.051396
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from booths import search

revision: str = "0003_expo_floor"
down_revision: str | None = "0002_broadcasts"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_category_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["category.id"], name=op.f("fk_category_parent_id_category"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
    )
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_category_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_category_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "hall",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_hall_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hall")),
    )
    with op.batch_alter_table("hall", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hall_expo_id"), ["expo_id"], unique=False)

    op.create_table(
        "booth",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tagline", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("contact_phone", sa.String(length=40), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("logo_path", sa.String(length=300), nullable=True),
        sa.Column("banner_path", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_booth_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["hall.id"], name=op.f("fk_booth_hall_id_hall"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booth")),
        sa.UniqueConstraint("expo_id", "name", name="uq_booth_expo_id_name"),
    )
    with op.batch_alter_table("booth", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booth_country"), ["country"], unique=False)
        batch_op.create_index(batch_op.f("ix_booth_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_booth_hall_id"), ["hall_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_booth_status"), ["status"], unique=False)

    op.create_table(
        "booth_staff",
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_booth_staff_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_booth_staff_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("booth_id", "user_id", name=op.f("pk_booth_staff")),
    )
    with op.batch_alter_table("booth_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booth_staff_user_id"), ["user_id"], unique=False)

    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("price_min", sa.BigInteger(), nullable=True),
        sa.Column("price_max", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("moq", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_product_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_product_category_id_category"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_product_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
    )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_booth_id"), ["booth_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_category_id"), ["category_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_expo_id"), ["expo_id"], unique=False)

    with op.batch_alter_table("expo", schema=None) as batch_op:
        batch_op.add_column(sa.Column("banner_path", sa.String(length=300), nullable=True))
        # Existing expos keep taking applications; the default only serves this migration.
        batch_op.add_column(
            sa.Column("applications_open", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("expo", schema=None) as batch_op:
        batch_op.alter_column("applications_open", server_default=None)

    with op.batch_alter_table("stream", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_stream_booth_id_booth"), "booth", ["booth_id"], ["id"], ondelete="SET NULL"
        )

    search.install(op.get_bind())


def downgrade() -> None:
    search.uninstall(op.get_bind())
    with op.batch_alter_table("stream", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_stream_booth_id_booth"), type_="foreignkey")

    with op.batch_alter_table("expo", schema=None) as batch_op:
        batch_op.drop_column("applications_open")
        batch_op.drop_column("banner_path")

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_expo_id"))
        batch_op.drop_index(batch_op.f("ix_product_category_id"))
        batch_op.drop_index(batch_op.f("ix_product_booth_id"))

    op.drop_table("product")
    with op.batch_alter_table("booth_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booth_staff_user_id"))

    op.drop_table("booth_staff")
    with op.batch_alter_table("booth", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booth_status"))
        batch_op.drop_index(batch_op.f("ix_booth_hall_id"))
        batch_op.drop_index(batch_op.f("ix_booth_expo_id"))
        batch_op.drop_index(batch_op.f("ix_booth_country"))

    op.drop_table("booth")
    with op.batch_alter_table("hall", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hall_expo_id"))

    op.drop_table("hall")
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_category_parent_id"))
        batch_op.drop_index(batch_op.f("ix_category_expo_id"))

    op.drop_table("category")
