"""The rules of a signing ceremony, through its set-up page and its API: documents hashed on
upload, parties named in advance, signatures recorded with what they prove, refusals, audit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from expo.audit import AuditEvent
from expo.config import Settings
from expo.signing.models import Signature, SigningDocument
from expo.signing.services import document_path
from streaming.models import Room
from tests.booths.web import PASSWORD, browser, make_account
from tests.conftest import make_settings
from tests.signing.conftest import Ceremony, make_pdf, party_key


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """SQLite, or PostgreSQL for the tests marked so (completing a ceremony is a conditional
    update, a party's lock a join: both stores run the whole signing once)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


async def documents(app: Starlette) -> list[SigningDocument]:
    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(SigningDocument).order_by(col(SigningDocument.id)))).all())


async def audited(app: Starlette) -> list[str]:
    async with app.state.platform.db.session() as session:
        rows = await session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).startswith("signing."))
        )
        return list(rows.all())


async def test_an_uploaded_contract_is_kept_with_its_sha256_and_the_room_becomes_a_ceremony(
    ceremony: Ceremony, contract: bytes
) -> None:
    uploaded = await ceremony.upload("Investment contract.pdf", contract)
    assert uploaded.status_code == 303, uploaded.text
    (document,) = await documents(ceremony.app)
    digest = hashlib.sha256(contract).hexdigest()
    assert document.sha256 == digest and document.name == "Investment contract.pdf"
    assert document.size_bytes == len(contract)
    assert document_path(ceremony.app.state.platform.settings, digest).read_bytes() == contract
    page = (await ceremony.host.get(ceremony.setup_url)).text
    assert digest in page and "Investment contract.pdf" in page
    async with ceremony.app.state.platform.db.session() as session:
        room = await session.get(Room, ceremony.room.id)
        assert room is not None and room.kind == "signing_ceremony"
    # The room's people read it with the room's key; it is not served as a public upload.
    async with browser(ceremony.app) as guest:
        url = f"/signing/rooms/{ceremony.room.id}/documents/{document.id}"
        assert (await guest.get(url, params={"key": ceremony.room.guest_key})).content == contract
        assert (await guest.get(url, params={"key": "wrong"})).status_code in (401, 303)
        assert (await guest.get(f"/media/{digest}.pdf")).status_code == 404
    assert "signing.document_added" in await audited(ceremony.app)


async def test_only_pdf_files_are_taken_and_the_error_shows_beside_the_field(ceremony: Ceremony) -> None:
    refused = await ceremony.upload("contract.pdf", b"<html>not a contract</html>")
    assert refused.status_code == 415
    assert "Upload the contract as a PDF file." in refused.text and 'id="documents-error"' in refused.text
    assert await documents(ceremony.app) == []


async def test_parties_are_named_in_advance_with_their_own_signing_links(
    ceremony: Ceremony, contract: bytes
) -> None:
    qingdao = await ceremony.name_party("Qingdao Port Group", "Zhang Wei", "zhang@qingdao.example")
    assert qingdao["signing_url"].startswith(f"http://testserver/rooms/{ceremony.room.id}?key=")
    assert ceremony.room.guest_key in qingdao["signing_url"]
    bad = await ceremony.host.post(
        f"/api/signing/rooms/{ceremony.room.id}/parties",
        json={"party": "HK Chamber", "signer_name": "  ", "email": "not-an-email"},
        headers=ceremony.host_api,
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "signing.invalid_signer"
    twice = await ceremony.host.post(
        f"/api/signing/rooms/{ceremony.room.id}/parties",
        json={"party": "Other", "signer_name": "Li Na", "email": "ZHANG@qingdao.example"},
        headers=ceremony.host_api,
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "signing.duplicate_email"
    # A guest of the room sees who signs; the party's own link says whom it signs for.
    async with browser(ceremony.app) as guest:
        state = await ceremony.state(guest)
        assert [p["signer_name"] for p in state["parties"]] == ["Zhang Wei"] and state["you"] is None
        mine = await ceremony.state(guest, party_key(qingdao))
        assert mine["you"]["party"] == "Qingdao Port Group"
    # Nobody but the room's managers names parties.
    async with browser(ceremony.app) as stranger:
        refused = await stranger.post(
            f"/api/signing/rooms/{ceremony.room.id}/parties",
            json={"party": "Mallory Ltd", "signer_name": "Mallory", "email": "m@example.com"},
        )
        assert refused.status_code == 401


@pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
async def test_each_party_signs_with_its_legal_name_and_consent_and_the_signature_records_it(
    ceremony: Ceremony, contract: bytes
) -> None:
    await ceremony.upload("contract.pdf", contract)
    (document,) = await documents(ceremony.app)
    qingdao = party_key(await ceremony.name_party("Qingdao Port Group", "Zhang Wei", "zhang@qingdao.example"))
    hk = party_key(await ceremony.name_party("HK Chamber of Commerce", "Mary Chan", "mary@hkcc.example"))
    async with browser(ceremony.app) as party:
        wrong = await ceremony.sign(party, qingdao, document.id or 0, "Zhang Wu")
        assert wrong.status_code == 422
        assert wrong.json()["error"]["code"] == "signing.name_mismatch"
        unconsented = await ceremony.sign(party, qingdao, document.id or 0, "Zhang Wei", consent=False)
        assert unconsented.status_code == 422
        assert unconsented.json()["error"]["code"] == "signing.consent_required"
        signed = await ceremony.sign(party, qingdao, document.id or 0, "  zhang   WEI ")
        assert signed.status_code == 201, signed.text
        body = signed.json()
        assert body["sha256"] == hashlib.sha256(contract).hexdigest() and body["ip"] == "127.0.0.1"
        assert body["complete"] is False
        again = await ceremony.sign(party, qingdao, document.id or 0, "Zhang Wei")
        assert again.status_code == 409 and again.json()["error"]["code"] == "signing.already_signed"
        last = await ceremony.sign(party, hk, document.id or 0, "Mary Chan")
        assert last.status_code == 201 and last.json()["complete"] is True
        state = await ceremony.state(party)
        assert state["complete"] and state["signed"] == state["needed"] == 2
    async with ceremony.app.state.platform.db.session() as session:
        rows = list((await session.exec(select(Signature).order_by(col(Signature.id)))).all())
    assert [r.typed_name for r in rows] == ["zhang WEI", "Mary Chan"]
    assert all(r.consent and r.sha256 == document.sha256 and r.signed_at is not None for r in rows)
    actions = await audited(ceremony.app)
    assert actions.count("signing.signed") == 2 and "signing.completed" in actions


async def test_documents_and_parties_are_fixed_once_anyone_has_signed(
    ceremony: Ceremony, contract: bytes
) -> None:
    await ceremony.upload("contract.pdf", contract)
    (document,) = await documents(ceremony.app)
    key = party_key(await ceremony.name_party("Qingdao Port Group", "Zhang Wei", "zhang@qingdao.example"))
    # Before anyone signs, the host may still replace the file: the new hash is recorded.
    amended = make_pdf("Investment contract, amended in clause 4.")
    replaced = await ceremony.upload("contract v2.pdf", amended, replace=document.id)
    assert replaced.status_code == 303, replaced.text
    (document,) = await documents(ceremony.app)
    assert document.sha256 == hashlib.sha256(amended).hexdigest()
    async with browser(ceremony.app) as party:
        assert (await ceremony.sign(party, key, document.id or 0, "Zhang Wei")).status_code == 201

    again = await ceremony.upload("contract v3.pdf", make_pdf("v3"), replace=document.id)
    assert again.status_code == 409 and "can no longer change" in again.text
    added = await ceremony.upload("annex.pdf", make_pdf("Annex"))
    assert added.status_code == 409
    late = await ceremony.host.post(
        f"/api/signing/rooms/{ceremony.room.id}/parties",
        json={"party": "Late Ltd", "signer_name": "Late", "email": "late@example.com"},
        headers=ceremony.host_api,
    )
    assert late.status_code == 409 and late.json()["error"]["code"] == "signing.locked"
    (kept,) = await documents(ceremony.app)
    assert kept.sha256 == hashlib.sha256(amended).hexdigest()
    assert "signing.document_replaced" in await audited(ceremony.app)


async def test_a_document_whose_stored_bytes_changed_cannot_be_signed(
    ceremony: Ceremony, contract: bytes
) -> None:
    await ceremony.upload("contract.pdf", contract)
    (document,) = await documents(ceremony.app)
    key = party_key(await ceremony.name_party("Qingdao Port Group", "Zhang Wei", "zhang@qingdao.example"))
    stored = document_path(ceremony.app.state.platform.settings, document.sha256)
    changed = bytearray(contract)
    changed[len(changed) // 2] ^= 0x01  # one bit of the stored file flipped on disk
    stored.write_bytes(bytes(changed))
    async with browser(ceremony.app) as party:
        refused = await ceremony.sign(party, key, document.id or 0, "Zhang Wei")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "signing.document_changed"
        assert (await ceremony.state(party))["signed"] == 0
    async with ceremony.app.state.platform.db.session() as session:
        assert (await session.exec(select(Signature))).all() == []
        event = (
            await session.exec(
                select(AuditEvent).where(AuditEvent.action == "signing.refused_changed_document")
            )
        ).one()
    assert json.loads(event.detail)["recorded_sha256"] == document.sha256


async def test_a_signed_in_account_named_as_a_party_signs_without_the_link(
    ceremony: Ceremony, contract: bytes
) -> None:
    await ceremony.upload("contract.pdf", contract)
    (document,) = await documents(ceremony.app)
    await make_account(ceremony.app, "mary@hkcc.example", "visitor", "Mary")
    await ceremony.name_party("HK Chamber of Commerce", "Mary Chan", "Mary@HKCC.example")
    async with browser(ceremony.app, "mary@hkcc.example") as mary:
        state = await ceremony.state(mary)
        assert state["you"]["party"] == "HK Chamber of Commerce"
        token = (
            await mary.post("/api/auth/login", json={"email": "mary@hkcc.example", "password": PASSWORD})
        ).json()
        body = {
            "key": ceremony.room.guest_key,
            "document_id": document.id,
            "name": "Mary Chan",
            "consent": True,
        }
        signed = await mary.post(
            f"/api/signing/rooms/{ceremony.room.id}/signatures",
            json=body,
            headers={"Authorization": f"Bearer {token['token']}"},
        )
        assert signed.status_code == 201, signed.text
        assert signed.json()["complete"] is True
    async with browser(ceremony.app) as anonymous:
        assert (await ceremony.state(anonymous))["you"] is None
        refused = await anonymous.post(f"/api/signing/rooms/{ceremony.room.id}/signatures", json=body)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "signing.not_a_party"
