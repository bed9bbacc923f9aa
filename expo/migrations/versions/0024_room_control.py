"""Room control: a room's capacity, its lobby and its lock; and its attendance, who was in it when.

``capacity`` and ``lobby`` stay empty for the rooms that follow their kind's default (all existing
rooms do); ``locked`` starts off.

Revision ID: 0024_room_control
Revises: 0023_promotion
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0024_room_control"
down_revision: str | None = "0023_promotion"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lobby", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("locked", sa.Boolean(), nullable=False, server_default=sa.false()))
    # The default only fills the existing rows: the model sets the value of every new one.
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.alter_column("locked", server_default=None)

    op.create_table(
        "room_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("participant", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_how", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["room.id"], name=op.f("fk_room_attendance_room_id_room"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_room_attendance_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_attendance")),
    )
    op.create_index(op.f("ix_room_attendance_room_id"), "room_attendance", ["room_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_room_attendance_room_id"), table_name="room_attendance")
    op.drop_table("room_attendance")
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("locked")
        batch_op.drop_column("lobby")
        batch_op.drop_column("capacity")
