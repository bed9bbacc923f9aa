"""Overdue reminders of the project pipeline: each project remembers the due date its owner was last
reminded of, so the periodic sweep sends one reminder per due date (see expo.promotion.reminders).

Revision ID: 0028_promotion_reminders
Revises: 0027_promotion_project_links
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0028_promotion_reminders"
down_revision: str | None = "0027_promotion_project_links"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("promotion_project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_due_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("promotion_project", schema=None) as batch_op:
        batch_op.drop_column("reminded_due_date")
