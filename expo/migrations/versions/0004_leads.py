"""Booth media (images, brochures, videos), leads (inquiries and business cards) with the visitor's
remembered card fields, favourites, and per-day booth analytics (views, distinct visitors, leads).

Revision ID: 0004_leads
Revises: 0003_expo_floor
Create Date: 2026-11-22 05:13:50.394802
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_leads"
down_revision: str | None = "0003_expo_floor"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "favourite",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_favourite_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", "target_id", name=op.f("pk_favourite")),
    )
    op.create_table(
        "visitor_card",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("job_title", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_visitor_card_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_visitor_card")),
    )
    op.create_table(
        "booth_day",
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_booth_day_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("booth_id", "day", name=op.f("pk_booth_day")),
    )
    op.create_table(
        "booth_visitor",
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_booth_visitor_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("booth_id", "day", "visitor", name=op.f("pk_booth_visitor")),
    )
    op.create_table(
        "booth_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("thumb_name", sa.String(length=100), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_booth_media_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_booth_media_product_id_product"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booth_media")),
    )
    with op.batch_alter_table("booth_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booth_media_booth_id"), ["booth_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_booth_media_product_id"), ["product_id"], unique=False)

    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_lead_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_lead_product_id_product"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_lead_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead")),
    )
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_booth_id"), ["booth_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_user_id"))
        batch_op.drop_index(batch_op.f("ix_lead_status"))
        batch_op.drop_index(batch_op.f("ix_lead_booth_id"))

    op.drop_table("lead")
    with op.batch_alter_table("booth_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booth_media_product_id"))
        batch_op.drop_index(batch_op.f("ix_booth_media_booth_id"))

    op.drop_table("booth_media")
    op.drop_table("booth_visitor")
    op.drop_table("booth_day")
    op.drop_table("visitor_card")
    op.drop_table("favourite")
