"""Cloud signing: a kind for every room (booth meeting, negotiation, signing ceremony) and the
signing tables: a ceremony per signing room, its documents (SHA-256 recorded on upload), its
parties named in advance, and their signatures.

Existing rooms become negotiations, the kind of a room opened by hand, except those opened for
booth meetings.

Revision ID: 0022_cloud_signing
Revises: 0021_meeting_slots
Create Date: 2026-12-02 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0022_cloud_signing"
down_revision: str | None = "0021_meeting_slots"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    # The default only fills the existing rows: the model sets the value of every new one.
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=24), nullable=False, server_default="negotiation")
        )
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.alter_column("kind", server_default=None)
    # Except the rooms that booths opened for accepted meetings.
    op.execute(
        "UPDATE room SET kind = 'booth_meeting' "
        "WHERE id IN (SELECT room_id FROM meeting WHERE room_id IS NOT NULL)"
    )

    op.create_table(
        "signing_ceremony",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"], ["room.id"], name=op.f("fk_signing_ceremony_room_id_room"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["stream.id"],
            name=op.f("fk_signing_ceremony_stream_id_stream"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_ceremony")),
        sa.UniqueConstraint("room_id", name=op.f("uq_signing_ceremony_room_id")),
    )
    op.create_index(op.f("ix_signing_ceremony_code"), "signing_ceremony", ["code"], unique=True)
    op.create_index(op.f("ix_signing_ceremony_stream_id"), "signing_ceremony", ["stream_id"], unique=False)

    op.create_table(
        "signing_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ceremony_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ceremony_id"],
            ["signing_ceremony.id"],
            name=op.f("fk_signing_document_ceremony_id_signing_ceremony"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["user.id"],
            name=op.f("fk_signing_document_uploaded_by_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_document")),
    )
    op.create_index(
        op.f("ix_signing_document_ceremony_id"), "signing_document", ["ceremony_id"], unique=False
    )
    op.create_index(op.f("ix_signing_document_sha256"), "signing_document", ["sha256"], unique=False)

    op.create_table(
        "signing_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ceremony_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=200), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ceremony_id"],
            ["signing_ceremony.id"],
            name=op.f("fk_signing_party_ceremony_id_signing_ceremony"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_signing_party_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_party")),
    )
    op.create_index(op.f("ix_signing_party_ceremony_id"), "signing_party", ["ceremony_id"], unique=False)
    op.create_index(op.f("ix_signing_party_key"), "signing_party", ["key"], unique=True)

    op.create_table(
        "signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("typed_name", sa.String(length=200), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["signing_document.id"],
            name=op.f("fk_signature_document_id_signing_document"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["signing_party.id"],
            name=op.f("fk_signature_party_id_signing_party"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_signature_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature")),
        sa.UniqueConstraint("party_id", "document_id", name=op.f("uq_signature_party_id")),
    )
    op.create_index(op.f("ix_signature_document_id"), "signature", ["document_id"], unique=False)
    op.create_index(op.f("ix_signature_party_id"), "signature", ["party_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_signature_party_id"), table_name="signature")
    op.drop_index(op.f("ix_signature_document_id"), table_name="signature")
    op.drop_table("signature")
    op.drop_index(op.f("ix_signing_party_key"), table_name="signing_party")
    op.drop_index(op.f("ix_signing_party_ceremony_id"), table_name="signing_party")
    op.drop_table("signing_party")
    op.drop_index(op.f("ix_signing_document_sha256"), table_name="signing_document")
    op.drop_index(op.f("ix_signing_document_ceremony_id"), table_name="signing_document")
    op.drop_table("signing_document")
    op.drop_index(op.f("ix_signing_ceremony_stream_id"), table_name="signing_ceremony")
    op.drop_index(op.f("ix_signing_ceremony_code"), table_name="signing_ceremony")
    op.drop_table("signing_ceremony")
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_column("kind")
