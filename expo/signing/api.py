"""The signing API: what the room page's signing panel (``signing.js``) and scripts call.

``{ceremony}`` is ``/api/signing/rooms/{room_id}``; ``key`` is always the room's host or guest key
(404 ``room.not_found`` otherwise), ``party`` a party's signing key from its signing link.

- ``GET {ceremony}?key=K[&party=P]`` → the documents with their SHA-256, the parties and who has
  signed what, whether it is complete, its certificate's URL, and ``you``: the party that ``P``
  names, or the one the signed-in user was named as.
- ``POST {ceremony}/signatures`` ``{"key", "party"?, "document_id", "name", "consent"}`` → 201 the
  signature (its time, address and the document's SHA-256). 422 ``signing.name_mismatch`` /
  ``signing.consent_required`` (with the ``field``), 409 ``signing.document_changed`` when the
  stored bytes no longer hash to the recorded SHA-256, ``signing.already_signed``, 404
  ``signing.not_a_party``.
- ``POST {ceremony}/parties`` ``{"party", "signer_name", "email"}`` → 201 the party with its
  signing link, and ``DELETE {ceremony}/parties/{id}`` → 204 (the room's managers; 409
  ``signing.locked`` once anyone signed).

Documents are uploaded from the set-up page (:mod:`expo.signing.pages`), through the checked
upload path.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from starlette.requests import Request

from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.config import Settings
from expo.http.api import Endpoint, Schema, path_int
from expo.http.inputs import Id
from expo.signing import services as signing
from expo.signing.completion import Completions
from expo.signing.models import SigningParty
from streaming import room_services
from streaming.models import Room
from streaming.rooms import RoomPlane

_TAGS = ["signing"]
KEY_MAX = 100


class DocumentOut(Schema):
    id: int
    name: str
    sha256: str = Field(description="SHA-256 of the file's bytes, recorded on upload (hex).")
    size: int
    url: str = Field(description="The PDF, for whoever holds the room's key.")


class PartyOut(Schema):
    id: int
    party: str
    signer_name: str
    signed: list[int] = Field(description="The ids of the documents this party has signed.")


class YouOut(Schema):
    party_id: int
    party: str
    signer_name: str


class CeremonyOut(Schema):
    """A room's ceremony (empty until its managers add a document or a party)."""

    room: int
    title: str
    complete: bool = False
    completed_at: datetime | None = None
    signed: int = 0
    needed: int = Field(default=0, description="signatures needed: documents times parties")
    certificate_url: str = ""
    documents: list[DocumentOut] = Field(default_factory=list)
    parties: list[PartyOut] = Field(default_factory=list)
    you: YouOut | None = Field(default=None, description="the party you sign for, if any")


class StateQuery(Schema):
    key: str = Field(min_length=1, max_length=KEY_MAX)
    party: str = Field(default="", max_length=KEY_MAX)


class SignIn(Schema):
    key: str = Field(min_length=1, max_length=KEY_MAX)
    party: str = Field(default="", max_length=KEY_MAX, description="the party's signing key (its link)")
    document_id: Id
    name: str = Field(max_length=signing.TEXT_MAX, description="the signer's legal name, as named")
    consent: bool = Field(description="must be true: the signer agrees to sign this document")


class SignatureOut(Schema):
    id: int
    document_id: int
    party_id: int
    name: str
    sha256: str
    ip: str
    signed_at: datetime
    complete: bool = Field(description="This signature completed the ceremony.")


class PartyIn(Schema):
    party: str = Field(max_length=1000)
    signer_name: str = Field(max_length=1000)
    email: str = Field(max_length=1000)


class NamedPartyOut(Schema):
    id: int
    party: str
    signer_name: str
    email: str
    signing_url: str


def certificate_url(settings: Settings, code: str) -> str:
    return settings.url(f"/signing/certificates/{code}")


def signing_url(settings: Settings, room: Room, party: SigningParty) -> str:
    """A party's signing link: the room page as a guest, signing as that party."""
    return settings.url(f"{room_services.room_path(room, room_services.RoomRole.GUEST)}&party={party.key}")


def client_ip(request: Request) -> str:
    """The client's address (uvicorn puts a trusted proxy's forwarded address here)."""
    return request.client.host if request.client else ""


async def ceremony(request: Request, query: StateQuery) -> CeremonyOut:
    """The ceremony of the room: documents, parties, who signed what, and who you sign as."""
    p = platform(request)
    room_id = path_int(request, "room_id")
    async with p.db.session() as session:
        room, _ = await room_services.admit(session, room_id, query.key)
        done = await signing.record_of_room(session, room_id)
        you = None
        if done is not None:
            user = None if query.party else await current_user(request)
            you = await signing.party_for(session, done.ceremony, key=query.party, user=user)
    if done is None:
        return CeremonyOut(room=room_id, title=room.title)
    documents = [
        DocumentOut(
            id=d.document.id or 0,
            name=d.document.name,
            sha256=d.document.sha256,
            size=d.document.size_bytes,
            url=f"/signing/rooms/{room_id}/documents/{d.document.id}?key={query.key}",
        )
        for d in done.documents
    ]
    parties = [
        PartyOut(
            id=party.id or 0,
            party=party.party,
            signer_name=party.signer_name,
            signed=[
                d.document.id or 0
                for d in done.documents
                for s in d.signatures
                if s.party is party and s.signature
            ],
        )
        for party in done.parties
    ]
    return CeremonyOut(
        room=room_id,
        title=room.title,
        complete=done.ceremony.completed_at is not None,
        completed_at=done.ceremony.completed_at,
        signed=done.signed,
        needed=done.needed,
        certificate_url=certificate_url(p.settings, done.ceremony.code),
        documents=documents,
        parties=parties,
        you=YouOut(party_id=you.id or 0, party=you.party, signer_name=you.signer_name) if you else None,
    )


async def sign(request: Request, body: SignIn) -> SignatureOut:
    """Sign one document as your party: your legal name as named, and your explicit consent."""
    p = platform(request)
    room_id = path_int(request, "room_id")
    user = await current_user(request)
    async with p.db.session() as session:
        room, _ = await room_services.admit(session, room_id, body.key)
        signed = await signing.sign(
            session,
            p.settings,
            room=room,
            party_key=body.party,
            document_id=body.document_id,
            typed_name=body.name,
            consent=body.consent,
            ip=client_ip(request),
            user=user,
            on_complete=p.get(Completions).hooks,
        )
        done = await signing.record_of_room(session, room_id)
    assert done is not None
    await signing.announce(
        p.bus,
        p.get(RoomPlane).channel(room_id),
        done,
        completed=signed.completed,
        certificate_url=certificate_url(p.settings, done.ceremony.code),
    )
    signature = signed.signature
    return SignatureOut(
        id=signature.id or 0,
        document_id=signature.document_id,
        party_id=signature.party_id,
        name=signature.typed_name,
        sha256=signature.sha256,
        ip=signature.ip,
        signed_at=signature.signed_at,
        complete=signed.completed,
    )


async def name_party(request: Request, body: PartyIn, user: User) -> NamedPartyOut:
    """Name a signatory party in advance (the room's managers, before anyone signs)."""
    p = platform(request)
    async with p.db.session() as session:
        room = await room_services.get_room(session, path_int(request, "room_id"))
        party = await signing.add_party(
            session, room, user, party=body.party, signer_name=body.signer_name, email=body.email
        )
    return NamedPartyOut(
        id=party.id or 0,
        party=party.party,
        signer_name=party.signer_name,
        email=party.email,
        signing_url=signing_url(p.settings, room, party),
    )


async def remove_party(request: Request, user: User) -> None:
    """Take a party off the ceremony (the room's managers, before anyone signs)."""
    async with platform(request).db.session() as session:
        room = await room_services.get_room(session, path_int(request, "room_id"))
        await signing.remove_party(session, room, user, path_int(request, "party_id"))


_CEREMONY = "/api/signing/rooms/{room_id:int}"

ROUTES = [
    Endpoint(_CEREMONY, ceremony, query=StateQuery, response=CeremonyOut, tags=_TAGS),
    Endpoint(
        f"{_CEREMONY}/signatures",
        sign,
        method="POST",
        body=SignIn,
        response=SignatureOut,
        status=201,
        tags=_TAGS,
    ),
    Endpoint(
        f"{_CEREMONY}/parties",
        name_party,
        method="POST",
        body=PartyIn,
        response=NamedPartyOut,
        status=201,
        auth="user",
        tags=_TAGS,
    ),
    Endpoint(
        f"{_CEREMONY}/parties/{{party_id:int}}",
        remove_party,
        method="DELETE",
        status=204,
        auth="user",
        tags=_TAGS,
    ),
]
