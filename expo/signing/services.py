"""The rules of a signing ceremony, its records, and the ceremony moment.

A room becomes a signing ceremony when its managers (those who manage it as a broadcast, see
:func:`streaming.access.can_manage`) add its first document or party. Then:

* documents are PDFs received through the checked upload path (:mod:`expo.uploads`: type from the
  bytes, size limit, stored by SHA-256), their hash recorded on upload;
* parties are named in advance (party, signer's name, email), each given a signing link;
* from the first signature on, documents and parties are fixed: adding, replacing or removing one
  is 409 ``signing.locked``;
* a signature needs the typed name of the named signer (case and spacing aside) and explicit
  consent (422 ``signing.name_mismatch`` / ``signing.consent_required``), and the stored bytes
  must still hash to the recorded SHA-256 (else 409 ``signing.document_changed``, and nothing is
  signed);
* every change, and every refused signature of a changed document, is audited.

When the last party signs the last document, the ceremony is complete: exactly one process marks
it (a conditional update) and announces the moment on the room's realtime channel and, when a
broadcast is linked, on the broadcast's channel::

    {"type": "signature", "kind": "signature", ...}   someone signed (pages refresh the list)
    {"type": "ceremony", "kind": "ceremony", ...}     the last signature: the ceremony moment
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit, realtime, uploads
from expo.accounts.models import User
from expo.bus import Bus
from expo.config import Settings
from expo.db import utcnow
from expo.errors import N_, Conflict, Invalid, NotFound, UnsupportedMediaType
from expo.expos.models import Expo
from expo.permissions import require
from expo.signing.completion import Hook
from expo.signing.models import Signature, SigningCeremony, SigningDocument, SigningParty
from streaming import services as streams
from streaming.access import can_manage
from streaming.models import Room, RoomKind, Stream

log = logging.getLogger(__name__)

TEXT_MAX = 200
EMAIL_MAX = 254
MAX_DOCUMENTS = 20
MAX_PARTIES = 20
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# Records ---------------------------------------------------------------------------------------------------


@dataclass
class SignedBy:
    """One party and its signature of one document (``signature`` is ``None`` until it signs)."""

    party: SigningParty
    signature: Signature | None


@dataclass
class DocumentRecord:
    document: SigningDocument
    signatures: list[SignedBy] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.signatures) and all(s.signature is not None for s in self.signatures)


@dataclass
class Record:
    """A ceremony with everything its certificate shows."""

    ceremony: SigningCeremony
    room: Room
    expo: Expo
    documents: list[DocumentRecord]
    parties: list[SigningParty]

    @property
    def signed(self) -> int:
        return sum(1 for d in self.documents for s in d.signatures if s.signature is not None)

    @property
    def needed(self) -> int:
        return len(self.documents) * len(self.parties)

    @property
    def locked(self) -> bool:
        """Documents and parties are fixed once anyone has signed."""
        return self.signed > 0


def normalise_name(name: str) -> str:
    """A name as compared: spacing collapsed, case folded ("ZHANG  wei" is "Zhang Wei")."""
    return " ".join(name.split()).casefold()


def _text(value: str, what: str, code: str, field_name: str) -> str:
    value = " ".join(value.split())
    if not 1 <= len(value) <= TEXT_MAX:
        raise Invalid(what, code=code, field=field_name)
    return value


# Reading ---------------------------------------------------------------------------------------------------


async def ceremony_of(session: AsyncSession, room_id: int) -> SigningCeremony | None:
    query = select(SigningCeremony).where(SigningCeremony.room_id == room_id)
    return (await session.exec(query)).first()


async def record(session: AsyncSession, ceremony: SigningCeremony) -> Record:
    """Everything about ``ceremony``: its room and expo, documents in upload order, parties in the
    order they were named, and each party's signature of each document."""
    room = await session.get(Room, ceremony.room_id)
    assert room is not None
    expo = await session.get(Expo, room.expo_id)
    assert expo is not None
    documents = list(
        (
            await session.exec(
                select(SigningDocument)
                .where(SigningDocument.ceremony_id == ceremony.id)
                .order_by(col(SigningDocument.id))
            )
        ).all()
    )
    parties = list(
        (
            await session.exec(
                select(SigningParty)
                .where(SigningParty.ceremony_id == ceremony.id)
                .order_by(col(SigningParty.id))
            )
        ).all()
    )
    found: dict[tuple[int, int], Signature] = {}
    if documents:
        rows = await session.exec(
            select(Signature).where(col(Signature.document_id).in_([d.id for d in documents]))
        )
        found = {(s.party_id, s.document_id): s for s in rows.all()}
    records = [
        DocumentRecord(d, [SignedBy(p, found.get((p.id or 0, d.id or 0))) for p in parties])
        for d in documents
    ]
    return Record(ceremony, room, expo, records, parties)


async def record_of_room(session: AsyncSession, room_id: int) -> Record | None:
    ceremony = await ceremony_of(session, room_id)
    return await record(session, ceremony) if ceremony is not None else None


async def record_by_code(session: AsyncSession, code: str) -> Record:
    """The ceremony whose certificate is ``code``: 404 ``signing.no_certificate`` otherwise."""
    ceremony = None
    if 0 < len(code) <= 32:
        ceremony = (await session.exec(select(SigningCeremony).where(SigningCeremony.code == code))).first()
    if ceremony is None:
        raise NotFound(N_("There is no such certificate."), code="signing.no_certificate")
    return await record(session, ceremony)


async def records_matching(session: AsyncSession, sha256: str) -> list[tuple[Record, SigningDocument]]:
    """The signed documents whose recorded SHA-256 is ``sha256``, with their ceremonies (documents
    nobody has signed yet are no signed record)."""
    query = (
        select(SigningDocument)
        .join(Signature, col(Signature.document_id) == col(SigningDocument.id))
        .where(SigningDocument.sha256 == sha256)
        .distinct()
        .order_by(col(SigningDocument.id))
    )
    found = []
    for document in (await session.exec(query)).all():
        ceremony = await session.get(SigningCeremony, document.ceremony_id)
        assert ceremony is not None
        found.append((await record(session, ceremony), document))
    return found


async def party_for(
    session: AsyncSession, ceremony: SigningCeremony, *, key: str = "", user: User | None = None
) -> SigningParty | None:
    """The party that signing ``key`` names, else the party ``user`` was named as (by account or
    email), else ``None``. Keys are compared in constant time."""
    parties = (await session.exec(select(SigningParty).where(SigningParty.ceremony_id == ceremony.id))).all()
    if key:
        for party in parties:
            if secrets.compare_digest(party.key.encode(), key.encode()):
                return party
        return None
    if user is not None and user.id is not None:
        email = user.email.strip().lower()
        for party in parties:
            if party.user_id == user.id or party.email == email:
                return party
    return None


# Setting up ------------------------------------------------------------------------------------------------


async def require_manager(session: AsyncSession, user: User | None, room: Room) -> None:
    """Only the room's managers set a ceremony up (403 ``signing.not_manager``)."""
    allowed = await can_manage(session, user, room)
    require(
        allowed,
        user,
        N_("Only the room's owner, its booth's staff and the expo's organizers prepare its signing."),
        "signing.not_manager",
    )


async def ensure_ceremony(session: AsyncSession, room: Room, actor: User | None) -> SigningCeremony:
    """The room's ceremony, made (and the room turned into a signing ceremony) when it has none.
    409 ``room.ended`` for an ended room."""
    if room.ended_at is not None:
        raise Conflict(N_("This room has ended."), code="room.ended")
    assert room.id is not None
    ceremony = await ceremony_of(session, room.id)
    if ceremony is None:
        ceremony = SigningCeremony(room_id=room.id, code=secrets.token_urlsafe(16))
        session.add(ceremony)
        room.kind = RoomKind.SIGNING_CEREMONY.value
        session.add(room)
        await session.flush()
        audit.record(
            session, "signing.ceremony_created", actor_id=actor.id if actor else None, target=_target(room)
        )
    return ceremony


async def _unlocked(session: AsyncSession, ceremony: SigningCeremony) -> None:
    signed = (
        await session.exec(
            select(Signature.id)
            .join(SigningParty, col(SigningParty.id) == col(Signature.party_id))
            .where(SigningParty.ceremony_id == ceremony.id)
            .limit(1)
        )
    ).first()
    if signed is not None:
        raise Conflict(
            N_("Someone has signed already: the documents and parties can no longer change."),
            code="signing.locked",
        )


def _target(room: Room) -> str:
    return f"room:{room.id}"


@dataclass(frozen=True)
class Filed:
    """A contract document on disk: its SHA-256 and size."""

    sha256: str
    size: int


def document_path(settings: Settings, sha256: str) -> Path:
    """Where a contract document is kept: beside the uploads, never served by ``/media`` (whoever
    reads a certificate learns the hash; only the room's people may read the contract)."""
    return settings.data_path / "signing" / sha256[:2] / f"{sha256}.pdf"


async def _file_pdf(settings: Settings, received: uploads.Received) -> Filed:
    """File the received upload by its SHA-256 if its bytes are a PDF (415 ``signing.pdf_only``)."""
    assert received.path is not None
    try:
        return await asyncio.to_thread(_file_sync, settings, received.path)
    finally:
        await received.discard()


def _file_sync(settings: Settings, source: Path) -> Filed:
    with source.open("rb") as f:
        kind = uploads.sniff(f.read(64))
    if kind is None or kind.ext != "pdf":
        raise UnsupportedMediaType(
            N_("Upload the contract as a PDF file."), code="signing.pdf_only", field="file"
        )
    digest = _sha256_of(source)
    target = document_path(settings, digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    size = source.stat().st_size
    os.replace(source, target)  # one file per content: the same contract twice is stored once
    return Filed(digest, size)


def _display_name(filename: str) -> str:
    name = " ".join(Path(filename.replace("\\", "/")).name.split())[:TEXT_MAX]
    return name or "contract.pdf"


async def add_document(
    session: AsyncSession, settings: Settings, room: Room, user: User, received: uploads.Received
) -> SigningDocument:
    """Add a contract document to the room's ceremony (managers only, before anyone signs)."""
    try:
        await require_manager(session, user, room)
        ceremony = await ensure_ceremony(session, room, user)
        await _unlocked(session, ceremony)
        count = len(
            (
                await session.exec(
                    select(SigningDocument.id).where(SigningDocument.ceremony_id == ceremony.id)
                )
            ).all()
        )
        if count >= MAX_DOCUMENTS:
            raise Conflict(N_("A ceremony holds at most 20 documents."), code="signing.too_many_documents")
        filed = await _file_pdf(settings, received)
    finally:
        await received.discard()
    assert ceremony.id is not None
    document = SigningDocument(
        ceremony_id=ceremony.id,
        name=_display_name(received.filename),
        sha256=filed.sha256,
        size_bytes=filed.size,
        uploaded_by=user.id,
    )
    session.add(document)
    await session.flush()
    audit.record(
        session,
        "signing.document_added",
        actor_id=user.id,
        target=_target(room),
        document=document.id,
        name=document.name,
        sha256=document.sha256,
    )
    await session.commit()
    return document


async def _document(
    session: AsyncSession, ceremony: SigningCeremony | None, document_id: int
) -> SigningDocument:
    document = await session.get(SigningDocument, document_id)
    if ceremony is None or document is None or document.ceremony_id != ceremony.id:
        raise NotFound(N_("There is no such document in this ceremony."), code="signing.no_document")
    return document


async def replace_document(
    session: AsyncSession,
    settings: Settings,
    room: Room,
    user: User,
    document_id: int,
    received: uploads.Received,
) -> SigningDocument:
    """Put a new file in place of a document (its new SHA-256 recorded), before anyone signs."""
    try:
        await require_manager(session, user, room)
        assert room.id is not None
        document = await _document(session, await ceremony_of(session, room.id), document_id)
        ceremony = await ensure_ceremony(session, room, user)
        await _unlocked(session, ceremony)
        filed = await _file_pdf(settings, received)
    finally:
        await received.discard()
    previous = document.sha256
    document.name = _display_name(received.filename)
    document.sha256, document.size_bytes = filed.sha256, filed.size
    document.uploaded_by, document.created_at = user.id, utcnow()
    session.add(document)
    audit.record(
        session,
        "signing.document_replaced",
        actor_id=user.id,
        target=_target(room),
        document=document.id,
        previous_sha256=previous,
        sha256=document.sha256,
    )
    await session.commit()
    return document


async def remove_document(session: AsyncSession, room: Room, user: User, document_id: int) -> None:
    """Take a document out of the ceremony, before anyone signs."""
    await require_manager(session, user, room)
    assert room.id is not None
    ceremony = await ceremony_of(session, room.id)
    document = await _document(session, ceremony, document_id)
    assert ceremony is not None
    await _unlocked(session, ceremony)
    await session.delete(document)
    audit.record(
        session,
        "signing.document_removed",
        actor_id=user.id,
        target=_target(room),
        document=document_id,
        sha256=document.sha256,
    )
    await session.commit()


def check_party(party: str, signer_name: str, email: str) -> tuple[str, str, str]:
    """A party's name, its signer's name and e-mail as :func:`add_party` stores them; 422
    ``signing.invalid_party`` / ``signing.invalid_signer`` / ``signing.invalid_email`` (with the
    field) for a bad one. For whoever names parties on behalf of the room's managers and checks
    them all before changing anything."""
    party = _text(party, N_("Name the party (1 to 200 characters)."), "signing.invalid_party", "party")
    signer_name = _text(
        signer_name,
        N_("Type the signer's legal name (1 to 200 characters)."),
        "signing.invalid_signer",
        "signer_name",
    )
    email = email.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise Invalid(N_("Enter a valid e-mail address."), code="signing.invalid_email", field="email")
    return party, signer_name, email


async def add_party(
    session: AsyncSession,
    room: Room,
    user: User,
    *,
    party: str,
    signer_name: str,
    email: str,
    commit: bool = True,
) -> SigningParty:
    """Name a signatory party in advance (managers only, before anyone signs): 422
    ``signing.invalid_party`` / ``signing.invalid_signer`` / ``signing.invalid_email``, 409
    ``signing.duplicate_email`` for a second party with the same email. ``commit=False`` leaves the
    commit to the caller's transaction (a ceremony opened with its parties at once)."""
    await require_manager(session, user, room)
    party, signer_name, email = check_party(party, signer_name, email)
    ceremony = await ensure_ceremony(session, room, user)
    await _unlocked(session, ceremony)
    existing = (await session.exec(select(SigningParty).where(SigningParty.ceremony_id == ceremony.id))).all()
    if len(existing) >= MAX_PARTIES:
        raise Conflict(N_("A ceremony has at most 20 parties."), code="signing.too_many_parties")
    if any(p.email == email for p in existing):
        raise Conflict(
            N_("A party with this e-mail address is named already."),
            code="signing.duplicate_email",
            field="email",
        )
    account = (await session.exec(select(User).where(col(User.email) == email))).first()
    assert ceremony.id is not None
    named = SigningParty(
        ceremony_id=ceremony.id,
        party=party,
        signer_name=signer_name,
        email=email,
        user_id=account.id if account is not None else None,
        key=secrets.token_urlsafe(24),
    )
    session.add(named)
    await session.flush()
    audit.record(
        session,
        "signing.party_added",
        actor_id=user.id,
        target=_target(room),
        party_id=named.id,
        party=party,
        signer_name=signer_name,
        email=email,
    )
    if commit:
        await session.commit()
    return named


async def remove_party(session: AsyncSession, room: Room, user: User, party_id: int) -> None:
    """Take a party off the ceremony, before anyone signs."""
    await require_manager(session, user, room)
    assert room.id is not None
    ceremony = await ceremony_of(session, room.id)
    named = await session.get(SigningParty, party_id)
    if ceremony is None or named is None or named.ceremony_id != ceremony.id:
        raise NotFound(N_("There is no such party in this ceremony."), code="signing.no_party")
    await _unlocked(session, ceremony)
    await session.delete(named)
    audit.record(session, "signing.party_removed", actor_id=user.id, target=_target(room), party_id=party_id)
    await session.commit()


async def link_stream(
    session: AsyncSession, room: Room, user: User, stream_id: int | None
) -> SigningCeremony:
    """Link the broadcast that carries the ceremony (its viewers see the moment), or unlink it
    (``None``): a broadcast of the same expo that ``user`` manages too (422 ``signing.unknown_stream``)."""
    await require_manager(session, user, room)
    ceremony = await ensure_ceremony(session, room, user)
    if stream_id is not None:
        stream = await session.get(Stream, stream_id)
        if stream is None or stream.expo_id != room.expo_id or not await can_manage(session, user, stream):
            raise Invalid(
                N_("Choose one of your broadcasts in this expo."),
                code="signing.unknown_stream",
                field="stream_id",
            )
    if ceremony.stream_id != stream_id:
        ceremony.stream_id = stream_id
        session.add(ceremony)
        audit.record(
            session, "signing.stream_linked", actor_id=user.id, target=_target(room), stream_id=stream_id
        )
    await session.commit()
    return ceremony


# Signing ---------------------------------------------------------------------------------------------------


def _sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


async def current_sha256(settings: Settings, document: SigningDocument) -> str | None:
    """The SHA-256 of the document's stored bytes now (``None`` when the file is gone)."""
    path = document_path(settings, document.sha256)
    try:
        return await asyncio.to_thread(_sha256_of, path)
    except OSError:
        return None


@dataclass(frozen=True)
class Signed:
    """The outcome of :func:`sign`: the signature, and whether it completed the ceremony."""

    signature: Signature
    completed: bool


async def sign(
    session: AsyncSession,
    settings: Settings,
    *,
    room: Room,
    party_key: str,
    document_id: int,
    typed_name: str,
    consent: bool,
    ip: str,
    user: User | None,
    on_complete: Sequence[Hook] = (),
) -> Signed:
    """Sign ``document_id`` as the party whose signing key is ``party_key`` (or the party the
    signed-in ``user`` was named as). See the module's rules for the refusals. The signature that
    completes the ceremony runs ``on_complete`` (:mod:`expo.signing.completion`)."""
    if room.ended_at is not None:
        raise Conflict(N_("This room has ended."), code="room.ended")
    assert room.id is not None
    ceremony = await ceremony_of(session, room.id)
    if ceremony is None:
        raise NotFound(N_("This room holds no documents to sign."), code="signing.no_ceremony")
    party = await party_for(session, ceremony, key=party_key, user=None if party_key else user)
    if party is None:
        raise NotFound(N_("You are not named as a signatory party here."), code="signing.not_a_party")
    document = await _document(session, ceremony, document_id)
    if not consent:
        raise Invalid(
            N_("Tick the box to confirm that you sign this document."),
            code="signing.consent_required",
            field="consent",
        )
    if normalise_name(typed_name) != normalise_name(party.signer_name) or not typed_name.strip():
        raise Invalid(
            N_("Type your legal name exactly as the host named you."),
            code="signing.name_mismatch",
            field="name",
        )
    already = (
        await session.exec(
            select(Signature.id).where(Signature.party_id == party.id, Signature.document_id == document.id)
        )
    ).first()
    if already is not None:
        raise Conflict(N_("You have signed this document already."), code="signing.already_signed")
    digest = await current_sha256(settings, document)
    if digest != document.sha256:
        audit.record(
            session,
            "signing.refused_changed_document",
            actor_id=user.id if user else None,
            target=_target(room),
            ip=ip or None,
            document=document.id,
            recorded_sha256=document.sha256,
            stored_sha256=digest,
        )
        await session.commit()
        raise Conflict(
            N_("The stored document no longer matches the one that was uploaded: it cannot be signed."),
            code="signing.document_changed",
        )
    assert party.id is not None and document.id is not None
    signature = Signature(
        party_id=party.id,
        document_id=document.id,
        typed_name=" ".join(typed_name.split())[:TEXT_MAX],
        consent=True,
        sha256=digest,
        ip=ip[:64],
        user_id=user.id if user else None,
    )
    session.add(signature)
    audit.record(
        session,
        "signing.signed",
        actor_id=user.id if user else None,
        target=_target(room),
        ip=ip or None,
        party_id=party.id,
        document=document.id,
        sha256=digest,
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(N_("You have signed this document already."), code="signing.already_signed") from None
    return Signed(signature, await _complete_if_done(session, ceremony, on_complete))


async def _complete_if_done(
    session: AsyncSession, ceremony: SigningCeremony, on_complete: Sequence[Hook] = ()
) -> bool:
    """Mark the ceremony complete once every party signed every document, and run ``on_complete``
    in the same transaction. True for the one call that marked it, whichever process it ran in (a
    conditional update)."""
    done = await record(session, ceremony)
    if done.needed == 0 or done.signed < done.needed:
        return False
    result = await session.exec(
        update(SigningCeremony)
        .where(col(SigningCeremony.id) == ceremony.id, col(SigningCeremony.completed_at).is_(None))
        .values(completed_at=utcnow())
    )
    marked = bool(result.rowcount)
    if marked:
        audit.record(session, "signing.completed", target=_target(done.room), ceremony=ceremony.id)
        for hook in on_complete:
            await hook(session, ceremony)
    await session.commit()
    return marked


# The moment ------------------------------------------------------------------------------------------------


def moment(done: Record, certificate_url: str) -> dict[str, Any]:
    """The ceremony moment's event: watch pages read ``kind``, room pages ``type``."""
    return {
        "type": "ceremony",
        "kind": "ceremony",
        "room": done.room.id,
        "title": done.room.title,
        "documents": [{"name": d.document.name, "sha256": d.document.sha256} for d in done.documents],
        "parties": [{"party": p.party, "signer": p.signer_name} for p in done.parties],
        "completed_at": done.ceremony.completed_at.isoformat() if done.ceremony.completed_at else None,
        "certificate_url": certificate_url,
    }


async def announce(
    bus: Bus, room_channel: str, done: Record, *, completed: bool, certificate_url: str
) -> None:
    """Tell the room's pages that someone signed, and when ``completed`` everyone in the room and
    every viewer of the linked broadcast that the ceremony is complete."""
    try:
        progress = {"type": "signature", "kind": "signature", "signed": done.signed, "needed": done.needed}
        await realtime.publish_event(bus, room_channel, progress)
        if completed:
            event = moment(done, certificate_url)
            await realtime.publish_event(bus, room_channel, event)
            if done.ceremony.stream_id is not None:
                # The broadcast's audience is the public: no certificate link (it shows the signers'
                # addresses) and no hashes, only what the ceremony on air shows anyway.
                public = {
                    **event,
                    "certificate_url": "",
                    "documents": [{"name": d["name"]} for d in event["documents"]],
                }
                await realtime.publish_event(bus, streams.channel(done.ceremony.stream_id), public)
    except Exception:
        # The signature is stored; pages show the ceremony's state on their next load.
        log.exception("signing: announcing room %s failed", done.room.id)
