"""Telepresence rooms: a title, the expo (and booth) they belong to, and their two access keys.

Revision ID: 0009_rooms
Revises: 0008_search_prefix_index
Create Date: 2026-11-22 11:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_rooms"
down_revision: str | None = "0008_search_prefix_index"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "room",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("host_key", sa.String(length=64), nullable=False),
        sa.Column("guest_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_room_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_room_booth_id_booth"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_room_owner_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room")),
    )
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_booth_id"), ["booth_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_room_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_room_guest_key"), ["guest_key"], unique=True)
        batch_op.create_index(batch_op.f("ix_room_host_key"), ["host_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_host_key"))
        batch_op.drop_index(batch_op.f("ix_room_guest_key"))
        batch_op.drop_index(batch_op.f("ix_room_expo_id"))
        batch_op.drop_index(batch_op.f("ix_room_booth_id"))
    op.drop_table("room")
