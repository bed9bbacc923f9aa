"""Booth meetings get a video room when accepted.

Revision ID: 0010_meeting_rooms
Revises: 0009_rooms
Create Date: 2026-11-22 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_meeting_rooms"
down_revision: str | None = "0009_rooms"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("room_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_room_id_room"), "room", ["room_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_meeting_room_id_room"), type_="foreignkey")
        batch_op.drop_column("room_id")
