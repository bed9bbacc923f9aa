"""Walk-in rooms: a booth's "meet us now" room, whose guest link its booth page offers to everyone.

Existing rooms stay private (joined only through the links their hosts sent).

Revision ID: 0017_walk_in_rooms
Revises: 0016_checkin_codes
Create Date: 2026-12-02 08:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017_walk_in_rooms"
down_revision: str | None = "0016_checkin_codes"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    # The default only fills the existing rows: the model sets the value of every new one.
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(sa.Column("walk_in", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.alter_column("walk_in", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("walk_in")
