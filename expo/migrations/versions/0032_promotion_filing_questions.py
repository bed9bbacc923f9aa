"""The bureau's own questions on the project filing form, and each project's answers.

Revision ID: 0032_promotion_filing_questions
Revises: 0031_circulation_reminders
Create Date: 2026-12-03 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0032_promotion_filing_questions"
down_revision: str | None = "0031_circulation_reminders"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    # Existing rows get an empty list / object; the default is dropped after, as the models set it.
    with op.batch_alter_table("promotion_site") as batch_op:
        batch_op.add_column(
            sa.Column("filing_questions", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("promotion_site") as batch_op:
        batch_op.alter_column("filing_questions", server_default=None)
    with op.batch_alter_table("promotion_project") as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("promotion_project") as batch_op:
        batch_op.alter_column("answers", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("promotion_project") as batch_op:
        batch_op.drop_column("answers")
    with op.batch_alter_table("promotion_site") as batch_op:
        batch_op.drop_column("filing_questions")
