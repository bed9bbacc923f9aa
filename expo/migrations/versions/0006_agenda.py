"""The agenda: programs on an expo's timetable and session registrations (seats and waiting list).

Revision ID: 0006_agenda
Revises: 0005_registration
Create Date: 2026-11-22 07:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_agenda"
down_revision: str | None = "0005_registration"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "program",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("speakers", sa.JSON(), nullable=False),
        sa.Column("track", sa.String(length=100), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=True),
        sa.Column("room_url", sa.String(length=500), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_program_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["hall_id"], ["hall.id"], name=op.f("fk_program_hall_id_hall"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["stream.id"], name=op.f("fk_program_stream_id_stream"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program")),
    )
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_program_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "programregistration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["program.id"],
            name=op.f("fk_programregistration_program_id_program"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_programregistration_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programregistration")),
        sa.UniqueConstraint("program_id", "user_id", name="uq_programregistration_program_id_user_id"),
    )
    with op.batch_alter_table("programregistration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_programregistration_program_id"), ["program_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_programregistration_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("programregistration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_programregistration_user_id"))
        batch_op.drop_index(batch_op.f("ix_programregistration_program_id"))

    op.drop_table("programregistration")
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_starts_at"))
        batch_op.drop_index(batch_op.f("ix_program_expo_id"))

    op.drop_table("program")
