"""Expo registration: the organizer's form per expo, visitors' registrations with their badge codes
and check-ins, and the outbox of e-mails waiting to be sent.

Revision ID: 0005_registration
Revises: 0004_leads
Create Date: 2026-11-22 07:06:28.599544
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_registration"
down_revision: str | None = "0004_leads"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "outboxmessage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_outboxmessage_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_outboxmessage_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outboxmessage")),
    )
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outboxmessage_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outboxmessage_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outboxmessage_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outboxmessage_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_outboxmessage_user_id"), ["user_id"], unique=False)

    op.create_table(
        "registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("badge_code", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checked_in_by"],
            ["user.id"],
            name=op.f("fk_registration_checked_in_by_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["user.id"], name=op.f("fk_registration_decided_by_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_registration_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_registration_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration")),
        sa.UniqueConstraint("badge_code", name=op.f("uq_registration_badge_code")),
        sa.UniqueConstraint("expo_id", "user_id", name="uq_registration_expo_id_user_id"),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_checked_in_at"), ["checked_in_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_user_id"), ["user_id"], unique=False)

    op.create_table(
        "registrationform",
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_registrationform_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("expo_id", name=op.f("pk_registrationform")),
    )


def downgrade() -> None:
    op.drop_table("registrationform")
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_user_id"))
        batch_op.drop_index(batch_op.f("ix_registration_status"))
        batch_op.drop_index(batch_op.f("ix_registration_expo_id"))
        batch_op.drop_index(batch_op.f("ix_registration_created_at"))
        batch_op.drop_index(batch_op.f("ix_registration_checked_in_at"))

    op.drop_table("registration")
    with op.batch_alter_table("outboxmessage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outboxmessage_user_id"))
        batch_op.drop_index(batch_op.f("ix_outboxmessage_status"))
        batch_op.drop_index(batch_op.f("ix_outboxmessage_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outboxmessage_expo_id"))
        batch_op.drop_index(batch_op.f("ix_outboxmessage_created_at"))

    op.drop_table("outboxmessage")
