"""Rooms on air: a room's people feed a broadcast (one row per room while it is on air).

Revision ID: 0030_room_on_air
Revises: 0029_promotion_departments
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0030_room_on_air"
down_revision: str | None = "0029_promotion_departments"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "room_on_air",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["room.id"], name=op.f("fk_room_on_air_room_id_room"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["stream.id"], name=op.f("fk_room_on_air_stream_id_stream"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["started_by"], ["user.id"], name=op.f("fk_room_on_air_started_by_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_on_air")),
        sa.UniqueConstraint("stream_id", name=op.f("uq_room_on_air_stream_id")),
    )


def downgrade() -> None:
    op.drop_table("room_on_air")
