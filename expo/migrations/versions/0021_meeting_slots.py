"""Meeting slots: booths publish availability windows that visitors book places in; meetings
remember their window, place and reminder; outbox messages may carry one attachment (.ics).

Revision ID: 0021_meeting_slots
Revises: 0019_search_filter_lexemes
Create Date: 2026-12-02 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0021_meeting_slots"
down_revision: str | None = "0019_search_filter_lexemes"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

ATTACHMENT_COLUMNS = (
    ("attachment_name", sa.String(length=120)),
    ("attachment_type", sa.String(length=100)),
    ("attachment", sa.Text()),
)


def upgrade() -> None:
    op.create_table(
        "availability_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"], ["booth.id"], name=op.f("fk_availability_window_booth_id_booth"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_availability_window_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
            name=op.f("fk_availability_window_created_by_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_window")),
    )
    with op.batch_alter_table("availability_window", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_availability_window_booth_id"), ["booth_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_availability_window_expo_id"), ["expo_id"], unique=False)

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("slot_place", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reminder_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_meeting_window_id"), ["window_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_window_id_availability_window"),
            "availability_window",
            ["window_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_reminder_id_outboxmessage"),
            "outboxmessage",
            ["reminder_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_unique_constraint(
            "uq_meeting_window_id_slot", ["window_id", "starts_at", "slot_place"]
        )

    # The empty default only fills the existing rows: the model sets the value of every new one.
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        for name, kind in ATTACHMENT_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=""))
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        for name, _ in ATTACHMENT_COLUMNS:
            batch_op.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        for name, _ in reversed(ATTACHMENT_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_constraint("uq_meeting_window_id_slot", type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_meeting_reminder_id_outboxmessage"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_meeting_window_id_availability_window"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_meeting_window_id"))
        batch_op.drop_column("reminder_id")
        batch_op.drop_column("slot_place")
        batch_op.drop_column("window_id")
    with op.batch_alter_table("availability_window", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_window_expo_id"))
        batch_op.drop_index(batch_op.f("ix_availability_window_booth_id"))
    op.drop_table("availability_window")
