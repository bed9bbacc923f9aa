"""Expo teams: members with roles, invitations; each expo's creator becomes its owner.

Organizers keep access to the expos they created and lose it to everyone else's. An expo created
from the command line has no creator and so no team: platform administrators manage it.

Revision ID: 0011_expo_teams
Revises: 0010_meeting_rooms
Create Date: 2026-12-02 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011_expo_teams"
down_revision: str | None = "0010_meeting_rooms"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "expo_member",
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_expo_member_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_expo_member_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("expo_id", "user_id", name=op.f("pk_expo_member")),
    )
    op.create_index(op.f("ix_expo_member_user_id"), "expo_member", ["user_id"], unique=False)
    op.create_table(
        "team_invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("expo_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expo_id"], ["expo.id"], name=op.f("fk_team_invite_expo_id_expo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["user.id"], name=op.f("fk_team_invite_invited_by_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_invite")),
        sa.UniqueConstraint("expo_id", "email", name="uq_team_invite_expo_id_email"),
    )
    op.create_index(op.f("ix_team_invite_expo_id"), "team_invite", ["expo_id"], unique=False)
    op.create_index(op.f("ix_team_invite_token_hash"), "team_invite", ["token_hash"], unique=True)
    # Each expo's creator owns it, if that account still exists.
    op.execute(
        "INSERT INTO expo_member (expo_id, user_id, role, created_at) "
        "SELECT expo.id, expo.created_by, 'owner', expo.created_at FROM expo "
        'JOIN "user" ON "user".id = expo.created_by'
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_team_invite_token_hash"), table_name="team_invite")
    op.drop_index(op.f("ix_team_invite_expo_id"), table_name="team_invite")
    op.drop_table("team_invite")
    op.drop_index(op.f("ix_expo_member_user_id"), table_name="expo_member")
    op.drop_table("expo_member")
