"""Signing tables: a ceremony per signing room, its documents, its parties and their signatures.

What a signature proves is kept with it: the SHA-256 of the document's bytes at the moment of
signing (hashed again from the stored file, not copied from the upload record), the name typed,
the consent given, the time and the client address. Documents and parties are fixed from the
first signature on (:mod:`expo.signing.services`), so a certificate never describes a document
that was swapped after someone signed it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from expo.db import utcnow

SHA256_HEX = 64


class SigningCeremony(SQLModel, table=True):
    """The signing side of a room of kind "signing ceremony". ``code`` names its public
    certificate; ``stream_id`` is the broadcast that carries the ceremony, if any (its viewers see
    the moment too); ``completed_at`` is set when the last party signed the last document."""

    __tablename__ = "signing_ceremony"

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="room.id", unique=True, ondelete="CASCADE")
    stream_id: int | None = Field(default=None, foreign_key="stream.id", index=True, ondelete="SET NULL")
    code: str = Field(max_length=32, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class SigningDocument(SQLModel, table=True):
    """A contract document: a PDF received through the checked upload path and kept by its
    SHA-256, recorded on upload (see :func:`expo.signing.services.document_path`)."""

    __tablename__ = "signing_document"

    id: int | None = Field(default=None, primary_key=True)
    ceremony_id: int = Field(foreign_key="signing_ceremony.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)  # the uploader's file name: display text only
    sha256: str = Field(max_length=SHA256_HEX, index=True)
    size_bytes: int = 0
    uploaded_by: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class SigningParty(SQLModel, table=True):
    """A signatory party named in advance: the party ("Qingdao Port Group"), the person who signs
    for it and their email. ``key`` is the credential of their signing link; a signed-in account
    with the same email (or ``user_id``) signs without it."""

    __tablename__ = "signing_party"

    id: int | None = Field(default=None, primary_key=True)
    ceremony_id: int = Field(foreign_key="signing_ceremony.id", index=True, ondelete="CASCADE")
    party: str = Field(max_length=200)
    signer_name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    key: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Signature(SQLModel, table=True):
    """One party's signature of one document, with what it was given and the document's hash then."""

    __tablename__ = "signature"
    __table_args__ = (UniqueConstraint("party_id", "document_id"),)

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="signing_party.id", index=True, ondelete="CASCADE")
    document_id: int = Field(foreign_key="signing_document.id", index=True, ondelete="CASCADE")
    typed_name: str = Field(max_length=200)
    consent: bool = True
    sha256: str = Field(max_length=SHA256_HEX)
    ip: str = Field(default="", max_length=64)
    user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    signed_at: datetime = Field(default_factory=utcnow)
