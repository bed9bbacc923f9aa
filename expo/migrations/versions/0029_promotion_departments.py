"""Promotion departments: the departments of an expo's bureau and their members, the steps of a
project's circulation through them (task, due date, status, version, the step it was handed over
from) and the comments written on each step.

Revision ID: 0029_promotion_departments
Revises: 0028_promotion_reminders
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0029_promotion_departments"
down_revision: str | None = "0028_promotion_reminders"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "promotion_department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_promotion_department_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_department")),
        sa.UniqueConstraint("expo_id", "name", name=op.f("uq_promotion_department_expo_id")),
    )
    op.create_index(
        op.f("ix_promotion_department_expo_id"), "promotion_department", ["expo_id"], unique=False
    )
    op.create_table(
        "promotion_department_member",
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["promotion_department.id"],
            name=op.f("fk_promotion_department_member_department_id_promotion_department"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_promotion_department_member_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("department_id", "user_id", name=op.f("pk_promotion_department_member")),
    )
    op.create_index(
        op.f("ix_promotion_department_member_user_id"),
        "promotion_department_member",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "promotion_circulation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("from_step_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_by"],
            ["user.id"],
            name=op.f("fk_promotion_circulation_assigned_by_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["promotion_department.id"],
            name=op.f("fk_promotion_circulation_department_id_promotion_department"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_step_id"],
            ["promotion_circulation.id"],
            name=op.f("fk_promotion_circulation_from_step_id_promotion_circulation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["promotion_project.id"],
            name=op.f("fk_promotion_circulation_project_id_promotion_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_circulation")),
    )
    op.create_index(
        op.f("ix_promotion_circulation_department_id"),
        "promotion_circulation",
        ["department_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_promotion_circulation_project_id"), "promotion_circulation", ["project_id"], unique=False
    )
    op.create_table(
        "promotion_circulation_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_promotion_circulation_note_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["promotion_circulation.id"],
            name=op.f("fk_promotion_circulation_note_step_id_promotion_circulation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_circulation_note")),
    )
    op.create_index(
        op.f("ix_promotion_circulation_note_step_id"), "promotion_circulation_note", ["step_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_promotion_circulation_note_step_id"), table_name="promotion_circulation_note")
    op.drop_table("promotion_circulation_note")
    op.drop_index(op.f("ix_promotion_circulation_project_id"), table_name="promotion_circulation")
    op.drop_index(op.f("ix_promotion_circulation_department_id"), table_name="promotion_circulation")
    op.drop_table("promotion_circulation")
    op.drop_index(op.f("ix_promotion_department_member_user_id"), table_name="promotion_department_member")
    op.drop_table("promotion_department_member")
    op.drop_index(op.f("ix_promotion_department_expo_id"), table_name="promotion_department")
    op.drop_table("promotion_department")
