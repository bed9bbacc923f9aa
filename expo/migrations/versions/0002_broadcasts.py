"""Broadcasts: streams, views, per-minute audience, registrations, chat and Q&A, sanctions, recordings.

Revision ID: 0002_broadcasts
Revises: 0001_initial
Create Date: 2026-11-22 04:36:48.620807
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_broadcasts"
down_revision: str | None = "0001_initial"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "stream",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("booth_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=5000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scheduled_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("peak_viewers", sa.Integer(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("slow_mode_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_stream_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_stream_owner_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream")),
    )
    with op.batch_alter_table("stream", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_booth_id"), ["booth_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stream_expo_id"), ["expo_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stream_key"), ["key"], unique=True)
        batch_op.create_index(batch_op.f("ix_stream_status"), ["status"], unique=False)

    op.create_table(
        "chat_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deleted_by"], ["user.id"], name=op.f("fk_chat_message_deleted_by_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["stream.id"], name=op.f("fk_chat_message_stream_id_stream"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_chat_message_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_message")),
    )
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_message_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_message_stream_id"), ["stream_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_message_user_id"), ["user_id"], unique=False)

    op.create_table(
        "recording",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["stream.id"], name=op.f("fk_recording_stream_id_stream"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording")),
    )
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recording_stream_id"), ["stream_id"], unique=False)

    op.create_table(
        "sanction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_sanction_created_by_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["stream.id"], name=op.f("fk_sanction_stream_id_stream"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_sanction_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanction")),
        sa.UniqueConstraint("stream_id", "user_id", "kind", name=op.f("uq_sanction_stream_id")),
    )
    with op.batch_alter_table("sanction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sanction_stream_id"), ["stream_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sanction_user_id"), ["user_id"], unique=False)

    op.create_table(
        "stream_minute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["stream.id"], name=op.f("fk_stream_minute_stream_id_stream"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_minute")),
        sa.UniqueConstraint("stream_id", "minute", name=op.f("uq_stream_minute_stream_id")),
    )
    with op.batch_alter_table("stream_minute", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_minute_stream_id"), ["stream_id"], unique=False)

    op.create_table(
        "stream_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["stream.id"],
            name=op.f("fk_stream_registration_stream_id_stream"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_stream_registration_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_registration")),
        sa.UniqueConstraint("stream_id", "user_id", name=op.f("uq_stream_registration_stream_id")),
    )
    with op.batch_alter_table("stream_registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_registration_stream_id"), ["stream_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stream_registration_user_id"), ["user_id"], unique=False)

    op.create_table(
        "stream_view",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=False),
        sa.Column("viewer", sa.String(length=80), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["stream.id"], name=op.f("fk_stream_view_stream_id_stream"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_view")),
    )
    with op.batch_alter_table("stream_view", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stream_view_stream_id"), ["stream_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stream_view_viewer"), ["viewer"], unique=False)

    op.create_table(
        "question_vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_message.id"],
            name=op.f("fk_question_vote_message_id_chat_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_question_vote_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_vote")),
        sa.UniqueConstraint("message_id", "user_id", name=op.f("uq_question_vote_message_id")),
    )
    with op.batch_alter_table("question_vote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_question_vote_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("question_vote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_question_vote_message_id"))

    op.drop_table("question_vote")
    with op.batch_alter_table("stream_view", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_view_viewer"))
        batch_op.drop_index(batch_op.f("ix_stream_view_stream_id"))

    op.drop_table("stream_view")
    with op.batch_alter_table("stream_registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_registration_user_id"))
        batch_op.drop_index(batch_op.f("ix_stream_registration_stream_id"))

    op.drop_table("stream_registration")
    with op.batch_alter_table("stream_minute", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_minute_stream_id"))

    op.drop_table("stream_minute")
    with op.batch_alter_table("sanction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sanction_user_id"))
        batch_op.drop_index(batch_op.f("ix_sanction_stream_id"))

    op.drop_table("sanction")
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_stream_id"))

    op.drop_table("recording")
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_message_user_id"))
        batch_op.drop_index(batch_op.f("ix_chat_message_stream_id"))
        batch_op.drop_index(batch_op.f("ix_chat_message_created_at"))

    op.drop_table("chat_message")
    with op.batch_alter_table("stream", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_status"))
        batch_op.drop_index(batch_op.f("ix_stream_key"))
        batch_op.drop_index(batch_op.f("ix_stream_expo_id"))
        batch_op.drop_index(batch_op.f("ix_stream_booth_id"))

    op.drop_table("stream")
