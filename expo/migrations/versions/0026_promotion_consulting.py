"""Promotion consulting and invitations: investors' questions to the bureau with their threads of
messages (each message's time and the thread's first answer kept for response times), and the
invitation letters sent to investors with how far each got (sent, opened, registered, filed).

Revision ID: 0026_promotion_consulting
Revises: 0025_promotion_projects
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0026_promotion_consulting"
down_revision: str | None = "0025_promotion_projects"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "consulting_thread",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_consulting_thread_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["investor_id"],
            ["user.id"],
            name=op.f("fk_consulting_thread_investor_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consulting_thread")),
    )
    op.create_index(op.f("ix_consulting_thread_expo_id"), "consulting_thread", ["expo_id"], unique=False)
    op.create_index(
        op.f("ix_consulting_thread_investor_id"), "consulting_thread", ["investor_id"], unique=False
    )
    op.create_table(
        "consulting_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("from_team", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user.id"], name=op.f("fk_consulting_message_author_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["consulting_thread.id"],
            name=op.f("fk_consulting_message_thread_id_consulting_thread"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consulting_message")),
    )
    op.create_index(
        op.f("ix_consulting_message_thread_id"), "consulting_message", ["thread_id"], unique=False
    )
    op.create_table(
        "promotion_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_promotion_invitation_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_promotion_invitation_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_invitation")),
        sa.UniqueConstraint("expo_id", "email", name=op.f("uq_promotion_invitation_expo_id")),
    )
    op.create_index(
        op.f("ix_promotion_invitation_expo_id"), "promotion_invitation", ["expo_id"], unique=False
    )
    op.create_index(
        op.f("ix_promotion_invitation_user_id"), "promotion_invitation", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_promotion_invitation_user_id"), table_name="promotion_invitation")
    op.drop_index(op.f("ix_promotion_invitation_expo_id"), table_name="promotion_invitation")
    op.drop_table("promotion_invitation")
    op.drop_index(op.f("ix_consulting_message_thread_id"), table_name="consulting_message")
    op.drop_table("consulting_message")
    op.drop_index(op.f("ix_consulting_thread_investor_id"), table_name="consulting_thread")
    op.drop_index(op.f("ix_consulting_thread_expo_id"), table_name="consulting_thread")
    op.drop_table("consulting_thread")
