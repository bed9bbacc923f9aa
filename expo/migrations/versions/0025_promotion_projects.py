"""Promotion projects: the projects investors file with an expo's bureau, their PDF attachments and
the bureau's comments (moves are written to the audit log).

Revision ID: 0025_promotion_projects
Revises: 0024_room_control
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0025_promotion_projects"
down_revision: str | None = "0024_room_control"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "promotion_project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("investor_id", sa.Integer(), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=120), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("land_sqm", sa.Integer(), nullable=True),
        sa.Column("office_sqm", sa.Integer(), nullable=True),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.Column("timeline", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_promotion_project_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["investor_id"],
            ["user.id"],
            name=op.f("fk_promotion_project_investor_id_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.id"], name=op.f("fk_promotion_project_owner_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_project")),
    )
    op.create_index(op.f("ix_promotion_project_expo_id"), "promotion_project", ["expo_id"], unique=False)
    op.create_index(
        op.f("ix_promotion_project_investor_id"), "promotion_project", ["investor_id"], unique=False
    )
    op.create_table(
        "promotion_project_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["promotion_project.id"],
            name=op.f("fk_promotion_project_file_project_id_promotion_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_project_file")),
    )
    op.create_index(
        op.f("ix_promotion_project_file_project_id"), "promotion_project_file", ["project_id"], unique=False
    )
    op.create_table(
        "promotion_project_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["promotion_project.id"],
            name=op.f("fk_promotion_project_comment_project_id_promotion_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_promotion_project_comment_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_project_comment")),
    )
    op.create_index(
        op.f("ix_promotion_project_comment_project_id"),
        "promotion_project_comment",
        ["project_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_promotion_project_comment_project_id"), table_name="promotion_project_comment")
    op.drop_table("promotion_project_comment")
    op.drop_index(op.f("ix_promotion_project_file_project_id"), table_name="promotion_project_file")
    op.drop_table("promotion_project_file")
    op.drop_index(op.f("ix_promotion_project_investor_id"), table_name="promotion_project")
    op.drop_index(op.f("ix_promotion_project_expo_id"), table_name="promotion_project")
    op.drop_table("promotion_project")
