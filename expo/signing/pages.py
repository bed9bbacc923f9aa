"""Signing pages: a room's signing set-up, the contract documents, the certificate (HTML and PDF)
and the public verification page.

- ``/rooms/{id}/signing``: the room's managers upload the contract documents (PDF, through the
  checked upload path), name the signatory parties (each gets a signing link), and link the
  broadcast that carries the ceremony. Errors show beside the form that caused them.
- ``/signing/rooms/{id}/documents/{doc}?key=K``: a document, for whoever holds the room's key
  (or manages the room).
- ``/signing/certificates/{code}`` and ``.../certificate.pdf``: what was signed, by whom, when and
  from where, with each document's SHA-256; the code is the certificate's link.
- ``/signing/verify``: upload a file (hashed, never stored); the page says whether its SHA-256
  matches a signed record, and shows the record.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from expo import uploads
from expo.accounts.models import User
from expo.auth import current_user, platform
from expo.errors import N_, ExpoError, Invalid, NotFound
from expo.http.api import path_int
from expo.http.inputs import parse_id
from expo.http.pages import flash, form_str, page_locale, read_form, redirect, render
from expo.i18n import activate
from expo.permissions import require_page_user
from expo.signing import services as signing
from expo.signing.api import certificate_url, signing_url
from expo.signing.certificate import Links, render_pdf
from streaming import access, room_services
from streaming.models import Room, Stream

MAX_LISTED_STREAMS = 100


def _manage_url(room_id: int) -> str:
    return f"/rooms/{room_id}/signing"


async def _managed_room(request: Request, user: User) -> Room:
    p = platform(request)
    async with p.db.session() as session:
        room = await room_services.get_room(session, path_int(request, "room_id"))
        await signing.require_manager(session, user, room)
    return room


async def manage_page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The room's signing set-up: documents, parties with their signing links, the broadcast."""
    user = await require_page_user(request)
    p = platform(request)
    async with p.db.session() as session:
        room = await room_services.get_room(session, path_int(request, "room_id"))
        await signing.require_manager(session, user, room)
        done = await signing.record_of_room(session, room.id or 0)
        streams = [
            stream
            for stream, _ in await access.managed_rows(session, user, Stream, limit=MAX_LISTED_STREAMS)
            if stream.expo_id == room.expo_id
        ]
    links = {party.id: signing_url(p.settings, room, party) for party in (done.parties if done else [])}
    context: dict[str, Any] = {
        "room": room,
        "record": done,
        "links": links,
        "streams": streams,
        "room_url": room_services.room_urls(p.settings, room).host_url,
        "certificate_url": certificate_url(p.settings, done.ceremony.code) if done else "",
        **(extra or {}),
    }
    return await render(request, "signing_manage.html", context, status=status)


async def _on_error(
    request: Request, exc: ExpoError, form: str, values: dict[str, str] | None = None
) -> Response:
    """The set-up page again, the error beside ``form`` (a client mistake), else raised."""
    if exc.status >= 500 or exc.status in (401, 403, 404):
        raise exc
    extra = {
        "error_form": form,
        "error": exc.message,
        "error_field": exc.extra.get("field"),
        "values": values or {},
    }
    return await manage_page(request, extra, exc.status)


def _done(room_id: int, request: Request, message: str, anchor: str) -> Response:
    response = redirect(f"{_manage_url(room_id)}#{anchor}")
    flash(response, request, message, "success")
    return response


async def upload_document(request: Request) -> Response:
    """Add a contract document (a PDF form upload)."""
    user = await require_page_user(request)
    room = await _managed_room(request, user)  # before any of the body is read
    p = platform(request)
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        async with p.db.session() as session:
            await signing.add_document(session, p.settings, room, user, received)
    except ExpoError as exc:
        return await _on_error(request, exc, "documents")
    return _done(room.id or 0, request, N_("The document was added."), "documents")


async def replace_document(request: Request) -> Response:
    """Put a new file in place of a document, before anyone signs."""
    user = await require_page_user(request)
    room = await _managed_room(request, user)
    p = platform(request)
    try:
        received = await uploads.receive(request, p.settings, p.secret)
        async with p.db.session() as session:
            await signing.replace_document(
                session, p.settings, room, user, path_int(request, "document_id"), received
            )
    except ExpoError as exc:
        return await _on_error(request, exc, "documents")
    return _done(room.id or 0, request, N_("The document was replaced."), "documents")


async def remove_document(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    room = await _managed_room(request, user)
    try:
        async with platform(request).db.session() as session:
            await signing.remove_document(session, room, user, path_int(request, "document_id"))
    except ExpoError as exc:
        return await _on_error(request, exc, "documents")
    return _done(room.id or 0, request, N_("The document was removed."), "documents")


async def add_party(request: Request) -> Response:
    form = await read_form(request)
    user = await require_page_user(request)
    room = await _managed_room(request, user)
    values = {name: form_str(form, name, max_length=1000) for name in ("party", "signer_name", "email")}
    try:
        async with platform(request).db.session() as session:
            await signing.add_party(
                session,
                room,
                user,
                party=values["party"],
                signer_name=values["signer_name"],
                email=values["email"],
            )
    except ExpoError as exc:
        return await _on_error(request, exc, "parties", values)
    return _done(room.id or 0, request, N_("The party was named: send them their signing link."), "parties")


async def remove_party(request: Request) -> Response:
    await read_form(request)
    user = await require_page_user(request)
    room = await _managed_room(request, user)
    try:
        async with platform(request).db.session() as session:
            await signing.remove_party(session, room, user, path_int(request, "party_id"))
    except ExpoError as exc:
        return await _on_error(request, exc, "parties")
    return _done(room.id or 0, request, N_("The party was removed."), "parties")


async def link_broadcast(request: Request) -> Response:
    """Link (or, with no broadcast chosen, unlink) the broadcast that carries the ceremony."""
    form = await read_form(request)
    user = await require_page_user(request)
    room = await _managed_room(request, user)
    raw = form_str(form, "stream_id", max_length=20)
    try:
        stream_id = parse_id(raw) if raw else None
        if raw and stream_id is None:
            raise Invalid(N_("Choose one of your broadcasts in this expo."), code="signing.unknown_stream")
        async with platform(request).db.session() as session:
            await signing.link_stream(session, room, user, stream_id)
    except ExpoError as exc:
        return await _on_error(request, exc, "broadcast")
    return _done(room.id or 0, request, N_("The ceremony's broadcast was saved."), "broadcast")


async def document_file(request: Request) -> Response:
    """A contract document, for whoever holds the room's key or manages the room."""
    p = platform(request)
    room_id = path_int(request, "room_id")
    key = request.query_params.get("key", "")
    async with p.db.session() as session:
        room = await room_services.get_room(session, room_id)
        if room_services.role_for(room, key) is None:
            await signing.require_manager(session, await current_user(request), room)
        done = await signing.record_of_room(session, room_id)
    document_id = path_int(request, "document_id")
    found = [d.document for d in (done.documents if done else []) if d.document.id == document_id]
    if not found:
        raise NotFound(N_("There is no such document in this ceremony."), code="signing.no_document")
    path = signing.document_path(p.settings, found[0].sha256)
    if not path.is_file():
        raise NotFound(N_("There is no such document in this ceremony."), code="signing.no_document")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=found[0].name,
        headers=headers,
        content_disposition_type="attachment",
    )


async def certificate_page(request: Request) -> Response:
    """The certificate: each document's SHA-256 and each party's signature."""
    p = platform(request)
    async with p.db.session() as session:
        done = await signing.record_by_code(session, request.path_params["code"])
    context = {
        "record": done,
        "pdf_url": f"/signing/certificates/{done.ceremony.code}/certificate.pdf",
    }
    return await render(request, "signing_certificate.html", context)


async def certificate_pdf(request: Request) -> Response:
    """The certificate as a PDF (in the page's language)."""
    p = platform(request)
    async with p.db.session() as session:
        done = await signing.record_by_code(session, request.path_params["code"])
    activate(await page_locale(request))  # the PDF's language: the page's
    links = Links(certificate_url(p.settings, done.ceremony.code), p.settings.url("/signing/verify"))
    pdf = await asyncio.to_thread(render_pdf, done, links)  # the thread sees the language
    name = f"certificate-{done.ceremony.code[:8]}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )


async def verify_page(request: Request) -> Response:
    """Upload a file to check it against the signed records."""
    return await render(request, "signing_verify.html", {})


def _sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


async def verify(request: Request) -> Response:
    """Hash the uploaded file (never stored) and show the signed records it matches, if any."""
    p = platform(request)
    try:
        received = await uploads.receive(request, p.settings, p.secret)
    except ExpoError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return await render(request, "signing_verify.html", {"error": exc.message}, status=exc.status)
    try:
        assert received.path is not None
        digest = await asyncio.to_thread(_sha256_of, received.path)
    finally:
        await received.discard()
    async with p.db.session() as session:
        matches = await signing.records_matching(session, digest)
    context = {
        "checked": True,
        "filename": received.filename,
        "sha256": digest,
        "matches": [
            {
                "record": done,
                "document": document,
                "certificate": f"/signing/certificates/{done.ceremony.code}",
            }
            for done, document in matches
        ],
    }
    return await render(request, "signing_verify.html", context)


_MANAGE = "/rooms/{room_id:int}/signing"

ROUTES: list[BaseRoute] = [
    Route(_MANAGE, manage_page, methods=["GET"]),
    Route(f"{_MANAGE}/documents", upload_document, methods=["POST"]),
    Route(f"{_MANAGE}/documents/{{document_id:int}}/replace", replace_document, methods=["POST"]),
    Route(f"{_MANAGE}/documents/{{document_id:int}}/remove", remove_document, methods=["POST"]),
    Route(f"{_MANAGE}/parties", add_party, methods=["POST"]),
    Route(f"{_MANAGE}/parties/{{party_id:int}}/remove", remove_party, methods=["POST"]),
    Route(f"{_MANAGE}/broadcast", link_broadcast, methods=["POST"]),
    Route("/signing/rooms/{room_id:int}/documents/{document_id:int}", document_file, methods=["GET"]),
    Route("/signing/certificates/{code:str}", certificate_page, methods=["GET"]),
    Route("/signing/certificates/{code:str}/certificate.pdf", certificate_pdf, methods=["GET"]),
    Route("/signing/verify", verify_page, methods=["GET"]),
    Route("/signing/verify", verify, methods=["POST"]),
]
