"""Leads get replies (the booth's answers, shown to the visitor) and a mark of when booth staff first
opened them, so the exhibitor's home counts the new ones.

Revision ID: 0015_lead_replies
Revises: 0014_content_translations
Create Date: 2026-12-02 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015_lead_replies"
down_revision: str | None = "0014_content_translations"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "lead_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["lead.id"], name=op.f("fk_lead_reply_lead_id_lead"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user.id"], name=op.f("fk_lead_reply_author_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_reply")),
    )
    op.create_index(op.f("ix_lead_reply_lead_id"), "lead_reply", ["lead_id"], unique=False)
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True))
    # Leads staff already answered or closed were read: only those still "new" count as new.
    op.execute("UPDATE lead SET opened_at = updated_at WHERE status <> 'new'")


def downgrade() -> None:
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.drop_column("opened_at")
    op.drop_index(op.f("ix_lead_reply_lead_id"), table_name="lead_reply")
    op.drop_table("lead_reply")
