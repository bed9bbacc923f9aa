"""Projects meet and sign: the online meetings the bureau schedules with a project's investor, and
the cloud-signing ceremony a project at the "signing" stage is signed in.

Revision ID: 0027_promotion_project_links
Revises: 0026_promotion_consulting
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0027_promotion_project_links"
down_revision: str | None = "0026_promotion_consulting"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "project_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("agenda", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["promotion_project.id"],
            name=op.f("fk_project_meeting_project_id_promotion_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["room.id"], name=op.f("fk_project_meeting_room_id_room"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reminder_id"],
            ["outboxmessage.id"],
            name=op.f("fk_project_meeting_reminder_id_outboxmessage"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user.id"], name=op.f("fk_project_meeting_created_by_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_meeting")),
    )
    op.create_index(op.f("ix_project_meeting_project_id"), "project_meeting", ["project_id"], unique=False)
    with op.batch_alter_table("promotion_project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ceremony_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_promotion_project_ceremony_id_signing_ceremony"),
            "signing_ceremony",
            ["ceremony_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("promotion_project", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_promotion_project_ceremony_id_signing_ceremony"), type_="foreignkey"
        )
        batch_op.drop_column("ceremony_id")
    op.drop_index(op.f("ix_project_meeting_project_id"), table_name="project_meeting")
    op.drop_table("project_meeting")
