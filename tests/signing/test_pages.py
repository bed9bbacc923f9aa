"""The certificate (HTML and PDF) and the public verification page."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.booths.web import browser, post_form
from tests.signing.conftest import Ceremony, make_pdf, party_key, pdf_text


async def signed_ceremony(ceremony: Ceremony, contract: bytes) -> dict[str, Any]:
    """The contract uploaded and signed by both parties (the second signature in Chinese)."""
    await ceremony.upload("Investment contract.pdf", contract)
    qingdao = party_key(await ceremony.name_party("青岛港集团", "张伟", "zhang@qingdao.example"))
    hk = party_key(await ceremony.name_party("HK Chamber of Commerce", "Mary Chan", "mary@hkcc.example"))
    async with browser(ceremony.app) as party:
        state = await ceremony.state(party)
        document = state["documents"][0]["id"]
        assert (await ceremony.sign(party, qingdao, document, "张伟")).status_code == 201
        assert (await ceremony.sign(party, hk, document, "mary chan")).status_code == 201
        return await ceremony.state(party)


async def verify(client: httpx.AsyncClient, name: str, data: bytes) -> httpx.Response:
    return await post_form(
        client, "/signing/verify", "/signing/verify", files={"file": (name, data, "application/pdf")}
    )


async def test_the_pdf_certificate_carries_the_signed_files_sha256(
    ceremony: Ceremony, contract: bytes
) -> None:
    state = await signed_ceremony(ceremony, contract)
    digest = hashlib.sha256(contract).hexdigest()
    assert state["documents"][0]["sha256"] == digest
    async with browser(ceremony.app) as anyone:
        page = await anyone.get(state["certificate_url"].removeprefix("http://testserver"))
        assert page.status_code == 200
        assert digest in page.text and "张伟" in page.text and "Mary Chan" in page.text
        assert "Asia/Shanghai" in page.text and "127.0.0.1" in page.text and "Complete" in page.text
        pdf = await anyone.get(page.url.path + "/certificate.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content).replace("\n", "")
    assert digest in text
    assert "Investment contract.pdf" in text and "张伟" in text and "HK Chamber of Commerce" in text


async def test_the_certificate_speaks_chinese(ceremony: Ceremony, contract: bytes) -> None:
    state = await signed_ceremony(ceremony, contract)
    path = state["certificate_url"].removeprefix("http://testserver")
    async with browser(ceremony.app) as reader:
        headers = {"Accept-Language": "zh-CN,zh;q=0.9"}
        page = await reader.get(path, headers=headers)
        pdf = await reader.get(path + "/certificate.pdf", headers=headers)
    assert "签署证书" in page.text
    assert "签署证书" in pdf_text(pdf.content)


async def test_the_verification_page_says_whether_a_file_is_one_signed(
    ceremony: Ceremony, contract: bytes
) -> None:
    await signed_ceremony(ceremony, contract)
    async with browser(ceremony.app) as anyone:
        match = await verify(anyone, "my copy.pdf", contract)
        assert match.status_code == 200
        assert 'data-match="true"' in match.text and "This file matches a signed record." in match.text
        assert hashlib.sha256(contract).hexdigest() in match.text and "Mary Chan" in match.text

        forged = make_pdf("Investment contract between Qingdao Port Group and nobody.")
        mismatch = await verify(anyone, "forged.pdf", forged)
        assert mismatch.status_code == 200 and 'data-match="false"' in mismatch.text
        assert hashlib.sha256(forged).hexdigest() in mismatch.text
        assert "No signed record matches this file" in mismatch.text


async def test_a_document_nobody_signed_is_no_signed_record(ceremony: Ceremony, contract: bytes) -> None:
    await ceremony.upload("draft.pdf", contract)
    async with browser(ceremony.app) as anyone:
        unsigned = await verify(anyone, "draft.pdf", contract)
    assert 'data-match="false"' in unsigned.text
    assert (await anyone_get(ceremony, "/signing/certificates/not-a-code")).status_code == 404


async def anyone_get(ceremony: Ceremony, path: str) -> httpx.Response:
    async with browser(ceremony.app) as anyone:
        return await anyone.get(path)
