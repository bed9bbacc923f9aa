"""Overdue reminders of the departments' steps: each circulation step remembers the due date its
department was last reminded of, so the periodic sweep sends one reminder per due date (see
expo.promotion.reminders).

Revision ID: 0031_circulation_reminders
Revises: 0030_room_on_air
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0031_circulation_reminders"
down_revision: str | None = "0030_room_on_air"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promotion_circulation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_due_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("promotion_circulation", schema=None) as batch_op:
        batch_op.drop_column("reminded_due_date")
