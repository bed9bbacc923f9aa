"""Check-in codes: a short random code per registration that desk staff can type.

Existing registrations get a fresh code each before the column becomes required and unique.

Revision ID: 0016_checkin_codes
Revises: 0015_lead_replies
Create Date: 2026-12-02 08:10:00.000000
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision: str = "0016_checkin_codes"
down_revision: str | None = "0015_lead_replies"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# As expo.registration.models has it today; a migration does not import the models that change.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _code(taken: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(8))
        if code not in taken:
            taken.add(code)
            return code


def upgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("short_code", sa.String(length=8), nullable=True))
    bind = op.get_bind()
    table = sa.table("registration", sa.column("id", sa.Integer()), sa.column("short_code", sa.String()))
    taken: set[str] = set()
    for (registration_id,) in bind.execute(sa.select(table.c.id)).all():
        bind.execute(table.update().where(table.c.id == registration_id).values(short_code=_code(taken)))
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.alter_column("short_code", existing_type=sa.String(length=8), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_registration_short_code"), ["short_code"])


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_registration_short_code"), type_="unique")
        batch_op.drop_column("short_code")
