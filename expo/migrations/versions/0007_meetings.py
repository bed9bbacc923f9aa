"""Booth meetings: visitors request a face-to-face meeting with a booth; its staff decide.

Revision ID: 0007_meetings
Revises: 0006_agenda
Create Date: 2026-11-22 08:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_meetings"
down_revision: str | None = "0006_agenda"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("staff_note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_meeting_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_meeting_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["user.id"], name=op.f("fk_meeting_requester_id_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["user.id"], name=op.f("fk_meeting_decided_by_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
    )
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_booth_id"), ["booth_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_requester_id"), ["requester_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_status"))
        batch_op.drop_index(batch_op.f("ix_meeting_requester_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_expo_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_created_at"))
        batch_op.drop_index(batch_op.f("ix_meeting_booth_id"))

    op.drop_table("meeting")
