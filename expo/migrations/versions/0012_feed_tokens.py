"""Revocable calendar feeds: the key in each user's personal calendar-feed link.

Earlier links signed only the user id and could not be revoked; they stop working here, and each
user gets a new link (with a fresh key) the next time they open "My agenda".

Revision ID: 0012_feed_tokens
Revises: 0011_expo_teams
Create Date: 2026-12-02 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_feed_tokens"
down_revision: str | None = "0011_expo_teams"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_calendar_feed_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_feed")),
    )


def downgrade() -> None:
    op.drop_table("calendar_feed")
