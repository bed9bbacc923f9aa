"""A signing ceremony in real Chromium: two parties sign the contract on the room page (each from
their own signing link, with the fake camera), while a viewer watches the linked broadcast's page;
when the last one signs, the viewer's page and the first party's page show the moment at once.

With ``EXPO_TEST_SHOTS=DIR`` the pages are also photographed at 1280 and 390 px, in English and
Chinese (``DIR/signing_*.png``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from playwright.async_api import Browser, Page, expect

from expo.accounts import services as accounts
from expo.expos import services as expos
from expo.signing import services as signing
from expo.uploads import Received, uploads_dir
from streaming import room_services
from streaming import services as streams
from tests.browser.shots import SHOTS, shot
from tests.conftest import LiveServer
from tests.signing.conftest import make_pdf

DEADLINE_MS = 30_000


@dataclass
class Staged:
    room_id: int
    guest_key: str
    host_key: str
    stream_id: int
    parties: dict[str, str]  # signer -> signing key
    code: str


async def stage(server: LiveServer) -> Staged:
    """An organizer's ceremony room with one contract, two parties and a linked broadcast."""
    platform = server.app.state.platform
    async with platform.db.session() as session:
        host = await accounts.create_user(
            session, email="host@example.com", password="correct horse battery", role="organizer"
        )
        expo = await expos.ensure_expo(
            session, "fair", "Canton Fair", created_by=host.id, timezone="Asia/Shanghai"
        )
        room = await room_services.create_room(
            session, expo=expo, title="Qingdao port investment", owner=host
        )
        room.lobby = False  # the parties meet without a host to let them in from the lobby
        session.add(room)
        await session.commit()
        stream = await streams.create_stream(session, expo=expo, title="Signing ceremony, live", owner=host)
        incoming = uploads_dir(platform.settings) / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        spooled = incoming / secrets.token_hex(8)
        spooled.write_bytes(
            make_pdf("Investment contract: Qingdao Port Group and the HK Chamber of Commerce.")
        )
        received = Received(path=spooled, filename="Investment contract.pdf", size=spooled.stat().st_size)
        await signing.add_document(session, platform.settings, room, host, received)
        zhang = await signing.add_party(
            session, room, host, party="青岛港集团", signer_name="张伟", email="zhang@qingdao.example"
        )
        mary = await signing.add_party(
            session,
            room,
            host,
            party="HK Chamber of Commerce",
            signer_name="Mary Chan",
            email="mary@hkcc.example",
        )
        ceremony = await signing.link_stream(session, room, host, stream.id)
    assert room.id is not None and stream.id is not None
    return Staged(
        room.id,
        room.guest_key,
        room.host_key,
        stream.id,
        {"张伟": zhang.key, "Mary Chan": mary.key},
        ceremony.code,
    )


async def open_page(
    browser: Browser, url: str, errors: list[str], *, locale: str = "en-US", width: int = 1280
) -> Page:
    context = await browser.new_context(locale=locale, viewport={"width": width, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    await page.goto(url)
    return page


async def sign(page: Page, name: str) -> None:
    form = page.locator(".signing-form")
    await form.locator('input[name="name"]').fill(name)
    await form.locator('input[name="consent"]').check()
    await form.locator('button[type="submit"]').click()


async def test_two_parties_sign_and_the_broadcasts_viewers_see_the_moment(
    live_server: LiveServer, browser: Browser
) -> None:
    staged = live_server.call(stage(live_server))
    base = live_server.url
    errors: list[str] = []
    room_url = f"{base}/rooms/{staged.room_id}?key={staged.guest_key}"

    viewer = await open_page(browser, f"{base}/watch/{staged.stream_id}", errors)
    await expect(viewer.locator("#watch")).to_have_attribute(
        "data-channel", "subscribed", timeout=DEADLINE_MS
    )

    zhang = await open_page(browser, f"{room_url}&party={staged.parties['张伟']}", errors, locale="zh-CN")
    panel = zhang.locator("#signing-panel")
    await expect(panel).to_have_attribute("data-state", "open", timeout=DEADLINE_MS)
    await expect(zhang.locator("#signing-you")).to_contain_text("青岛港集团")

    # A wrong name and no consent: refused, the error beside the field, nothing signed.
    form = zhang.locator(".signing-form")
    await form.locator('input[name="name"]').fill("张三")
    await form.locator('input[name="consent"]').check()
    await form.locator('button[type="submit"]').click()
    await expect(form.locator('[data-error="name"]')).to_be_visible(timeout=DEADLINE_MS)
    await expect(form.locator('input[name="name"]')).to_have_attribute("aria-invalid", "true")
    await shot(zhang, "signing_room_error_zh_1280")
    await sign(zhang, "张伟")
    await expect(zhang.locator(".signing-done")).to_be_visible(timeout=DEADLINE_MS)
    await expect(zhang.locator("#signing-progress")).to_contain_text("1")

    mary = await open_page(browser, f"{room_url}&party={staged.parties['Mary Chan']}", errors, width=390)
    await expect(mary.locator("#signing-panel")).to_have_attribute("data-state", "open", timeout=DEADLINE_MS)
    # Zhang's page hears the room's channel once it sees Mary arrive.
    await expect(zhang.locator("video[data-participant]")).to_have_count(1, timeout=DEADLINE_MS)
    await shot(mary, "signing_room_en_390")
    await sign(mary, "mary chan")

    # The moment, at once, on the broadcast's page and in the room.
    for page in (viewer, zhang, mary):
        await expect(page.locator("#ceremony-moment")).to_be_visible(timeout=DEADLINE_MS)
    await expect(viewer.locator("#ceremony-parties li")).to_have_count(2)
    # The room's people get the certificate's link; the broadcast's public audience does not.
    await expect(zhang.locator("#ceremony-certificate")).to_be_visible()
    await expect(viewer.locator("#ceremony-certificate")).to_be_hidden()
    await expect(viewer.locator("#ceremony-title")).to_have_text("Qingdao port investment")
    await expect(zhang.locator("#ceremony-heading")).to_have_text("签约成功\N{FULLWIDTH EXCLAMATION MARK}")
    await expect(zhang.locator("#signing-panel")).to_have_attribute(
        "data-state", "complete", timeout=DEADLINE_MS
    )
    await shot(viewer, "signing_watch_moment_en_1280")
    await shot(zhang, "signing_room_moment_zh_1280")
    await shot(mary, "signing_room_moment_en_390")

    if SHOTS:
        certificate = f"{base}/signing/certificates/{staged.code}"
        for locale, width in (("en-US", 1280), ("zh-CN", 390), ("zh-CN", 1280), ("en-US", 390)):
            page = await open_page(browser, certificate, errors, locale=locale, width=width)
            await shot(page, f"signing_certificate_{locale[:2]}_{width}")
        verify = await open_page(browser, f"{base}/signing/verify", errors, locale="zh-CN", width=390)
        await shot(verify, "signing_verify_zh_390")
        for locale, width in (("en-US", 1280), ("zh-CN", 390)):
            host = await open_page(browser, f"{base}/login", errors, locale=locale, width=width)
            await host.fill('input[name="email"]', "host@example.com")
            await host.fill('input[name="password"]', "correct horse battery")
            await host.locator('form[action="/login"] button[type="submit"]').click()
            await host.wait_for_url(lambda url: "/login" not in url)
            await host.goto(f"{base}/rooms/{staged.room_id}/signing")
            await shot(host, f"signing_setup_{locale[:2]}_{width}")
            await host.goto(f"{base}/rooms")
            await shot(host, f"signing_rooms_{locale[:2]}_{width}")
    assert errors == []
