"""A signing-ceremony room in an expo run by ``host@example.com`` (an organizer), and helpers that
act as its host (set-up page and API) and as its parties (the signing API)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fpdf import FPDF
from starlette.applications import Starlette

from expo.expos import services as expos
from expo.signing.models import SigningParty
from streaming import room_services
from streaming.models import Room
from tests.booths.web import PASSWORD, make_account, post_form
from tests.booths.web import browser as web_client
from tests.browser.conftest import browser

__all__ = ["browser"]  # Chromium, for the ceremony's browser test

HOST = "host@example.com"


def make_pdf(text: str) -> bytes:
    """A small real PDF saying ``text``."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


@dataclass
class Ceremony:
    """The room, the host's page client (signed in) and bearer headers for the API."""

    app: Starlette
    room: Room
    host: httpx.AsyncClient
    host_api: dict[str, str]

    @property
    def setup_url(self) -> str:
        return f"/rooms/{self.room.id}/signing"

    async def upload(self, name: str, data: bytes, *, replace: int | None = None) -> httpx.Response:
        action = f"{self.setup_url}/documents" + (f"/{replace}/replace" if replace else "")
        return await post_form(
            self.host, self.setup_url, action, files={"file": (name, data, "application/pdf")}
        )

    async def name_party(self, party: str, signer: str, email: str) -> dict[str, Any]:
        response = await self.host.post(
            f"/api/signing/rooms/{self.room.id}/parties",
            json={"party": party, "signer_name": signer, "email": email},
            headers=self.host_api,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def state(self, client: httpx.AsyncClient, party: str = "") -> dict[str, Any]:
        query = {"key": self.room.guest_key, **({"party": party} if party else {})}
        response = await client.get(f"/api/signing/rooms/{self.room.id}", params=query)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def sign(
        self, client: httpx.AsyncClient, party: str, document_id: int, name: str, consent: bool = True
    ) -> httpx.Response:
        body = {"key": self.room.guest_key, "party": party, "document_id": document_id, "name": name}
        return await client.post(
            f"/api/signing/rooms/{self.room.id}/signatures", json={**body, "consent": consent}
        )


def party_key(link: dict[str, Any]) -> str:
    """The signing key in a party's signing link."""
    return str(link["signing_url"]).rsplit("party=", 1)[1]


async def parties_of(app: Starlette) -> list[SigningParty]:
    from sqlmodel import select

    async with app.state.platform.db.session() as session:
        return list((await session.exec(select(SigningParty))).all())


@pytest.fixture
async def ceremony(app: Starlette) -> AsyncIterator[Ceremony]:
    host = await make_account(app, HOST, "organizer", "Olga Host")
    async with app.state.platform.db.session() as session:
        expo = await expos.ensure_expo(
            session, "fair", "Canton Fair", created_by=host.id, timezone="Asia/Shanghai"
        )
        room = await room_services.create_room(
            session, expo=expo, title="Qingdao port investment", owner=host
        )
    async with web_client(app, HOST) as client:
        login = await client.post("/api/auth/login", json={"email": HOST, "password": PASSWORD})
        assert login.status_code == 200, login.text
        yield Ceremony(app, room, client, {"Authorization": f"Bearer {login.json()['token']}"})


@pytest.fixture
def contract() -> bytes:
    return make_pdf("Investment contract between Qingdao Port Group and the Hong Kong Chamber of Commerce.")


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
