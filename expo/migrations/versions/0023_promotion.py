"""Investment promotion sites: one per expo (the letter to investors, the promotional film with its
poster and subtitles) and the sections of its six module pages, each text in English and Chinese.

Revision ID: 0023_promotion
Revises: 0022_cloud_signing
Create Date: 2026-12-02 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0023_promotion"
down_revision: str | None = "0022_cloud_signing"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "promotion_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("letter_title", sa.String(length=200), nullable=False),
        sa.Column("letter_body", sa.Text(), nullable=False),
        sa.Column("letter_signatory", sa.String(length=200), nullable=False),
        sa.Column("letter_date", sa.Date(), nullable=True),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("film_name", sa.String(length=100), nullable=True),
        sa.Column("poster_name", sa.String(length=100), nullable=True),
        sa.Column("subtitles_en", sa.Text(), nullable=False),
        sa.Column("subtitles_zh", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_promotion_site_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_site")),
        sa.UniqueConstraint("expo_id", name=op.f("uq_promotion_site_expo_id")),
    )
    op.create_table(
        "promotion_section",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("heading", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("figure_value", sa.String(length=40), nullable=False),
        sa.Column("figure_label", sa.String(length=120), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("picture_name", sa.String(length=100), nullable=True),
        sa.Column("attachment_name", sa.String(length=100), nullable=True),
        sa.Column("attachment_title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_promotion_section_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_section")),
    )
    op.create_index(op.f("ix_promotion_section_expo_id"), "promotion_section", ["expo_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_promotion_section_expo_id"), table_name="promotion_section")
    op.drop_table("promotion_section")
    op.drop_table("promotion_site")
