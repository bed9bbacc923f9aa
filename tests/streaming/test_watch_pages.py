"""The watch, go-live and broadcasts pages: rendered in-process, and the watch page in Chromium."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
from playwright.async_api import Browser, Dialog, Page, expect
from starlette.applications import Starlette

from expo.db import utcnow
from streaming import services
from streaming.models import Recording, Visibility
from tests.conftest import LiveServer, signup_and_login
from tests.streaming.test_chat import create_stream, login

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


async def test_watch_page_renders_without_javascript(app: Starlette, client: httpx.AsyncClient) -> None:
    ann = await signup_and_login(client, "ann@example.com")
    stream = await create_stream(app.state.platform.db)
    for body in [*HOSTILE, "Bonjour"]:
        response = await client.post(f"/api/streams/{stream}/chat", json={"body": body}, headers=ann)
        assert response.status_code == 201

    page = await client.get(f"/watch/{stream}")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Launch of the X200</h1>" in html
    assert 'data-status="scheduled">Scheduled</span>' in html
    # Chat history is on the page, escaped: the markup shows as text and never becomes elements.
    assert '<span class="chat-body">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in html
    assert '<span class="chat-body">&lt;img src=x onerror=alert(1)&gt;</span>' in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "Bonjour" in html
    assert "Sign in to chat" in html  # anonymous: no chat form
    assert 'id="chat-form"' not in html


async def test_hostile_questions_show_as_text_on_the_page(app: Starlette, client: httpx.AsyncClient) -> None:
    ann = await signup_and_login(client, "ann@example.com")
    stream = await create_stream(app.state.platform.db)
    for body in HOSTILE:
        response = await client.post(f"/api/streams/{stream}/questions", json={"body": body}, headers=ann)
        assert response.status_code == 201, response.text

    html = (await client.get(f"/watch/{stream}")).text
    listed = html[html.index('id="question-list"') : html.index('id="question-empty"')]
    assert listed.count('class="question-item') == 2
    # The server-rendered question list shows the markup as text; it never becomes elements.
    assert '<span class="chat-body">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in listed
    assert '<span class="chat-body">&lt;img src=x onerror=alert(1)&gt;</span>' in listed
    assert "<script>alert(1)" not in html and "<img src=x" not in html

    chinese = await client.get(f"/watch/{stream}", headers={"accept-language": "zh-CN"})
    assert "聊天" in chinese.text


async def test_watch_page_access(app: Starlette, client: httpx.AsyncClient) -> None:
    db = app.state.platform.db
    assert (await client.get("/watch/4242")).status_code == 404
    private = await create_stream(db, visibility=Visibility.REGISTERED)
    redirected = await client.get(f"/watch/{private}")
    assert redirected.status_code == 303 and redirected.headers["location"].startswith("/login?next=")


async def test_go_live_page_is_for_managers_only(app: Starlette, client: httpx.AsyncClient) -> None:
    owner = await signup_and_login(client, "owner@example.com", "exhibitor")
    other = await signup_and_login(client, "other@example.com", "exhibitor")
    stream = await create_stream(app.state.platform.db, owner_email="owner@example.com")

    signed_out = await client.get(f"/streams/{stream}/live")
    assert signed_out.status_code == 303
    assert (await client.get(f"/streams/{stream}/live", headers=other)).status_code == 403

    page = await client.get(f"/streams/{stream}/live", headers=owner)
    assert page.status_code == 200
    key = (await client.get(f"/api/streams/{stream}", headers=owner)).json()["key"]
    assert key and f'id="stream-key" aria-labelledby="stream-key-label">{key}</code>' in page.text
    assert f"http://testserver/api/streams/{stream}/whip</code>" in page.text

    mine = await client.get("/streams", headers=owner)
    assert f'href="/streams/{stream}/live"' in mine.text
    assert f'href="/streams/{stream}/live"' not in (await client.get("/streams", headers=other)).text


# -- in Chromium --------------------------------------------------------------------------------


async def sign_in(page: Page, server: LiveServer, email: str) -> None:
    await page.goto(server.url + "/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).not_to_have_url(re.compile(r"/login"))


async def test_live_chat_in_the_browser_is_escaped_and_moderated(
    live_server: LiveServer, browser: Browser, page: Page, console_errors: list[str]
) -> None:
    ann = await login(live_server, "ann@example.com")
    await login(live_server, "owner@example.com", "exhibitor")
    db = live_server.app.state.platform.db
    stream = live_server.call(create_stream(db, owner_email="owner@example.com"))
    dialogs: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    # The viewer: an anonymous visitor.
    page.on("dialog", on_dialog)
    await page.goto(f"{live_server.url}/watch/{stream}")
    await expect(page.locator("#watch")).to_have_attribute("data-channel", "subscribed")
    await expect(page.locator("#chat-empty")).to_be_visible()

    # The moderator, in a browser profile of their own.
    context = await browser.new_context(locale="en-US")
    moderator = await context.new_page()
    moderator.on("dialog", on_dialog)
    moderator.on("pageerror", lambda error: console_errors.append(f"moderator: {error}"))
    await sign_in(moderator, live_server, "owner@example.com")
    await moderator.goto(f"{live_server.url}/watch/{stream}")
    await expect(moderator.locator("#watch")).to_have_attribute("data-channel", "subscribed")

    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for body in [*HOSTILE, "Nice product"]:
            response = await http.post(
                f"/api/streams/{stream}/chat", json={"body": body}, headers={"Authorization": f"Bearer {ann}"}
            )
            assert response.status_code == 201

    bodies = page.locator("#chat-list .chat-body")
    await expect(bodies).to_have_text([*HOSTILE, "Nice product"])
    await expect(page.locator("#chat-list .chat-author").first).to_have_text("ann")
    # Nothing of the messages became markup: no image element, no script ran.
    assert await page.locator("#chat-list img, #chat-list script").count() == 0
    await expect(moderator.locator("#chat-list .chat-body")).to_have_text([*HOSTILE, "Nice product"])
    # Viewers get no moderation buttons; the moderator does.
    assert await page.locator("#chat-list .mod-actions").count() == 0

    item = moderator.locator("#chat-list .chat-item", has_text="<img src=x onerror=alert(1)>")
    await item.get_by_role("button", name="Delete").click()
    await expect(bodies).to_have_text([HOSTILE[0], "Nice product"])
    await expect(moderator.locator("#chat-list .chat-body")).to_have_text([HOSTILE[0], "Nice product"])

    # A reload renders the same history on the server, still escaped.
    await page.reload()
    await expect(page.locator("#chat-list .chat-body")).to_have_text([HOSTILE[0], "Nice product"])

    assert dialogs == []
    assert console_errors == []
    await context.close()


async def test_a_signed_in_viewer_chats_asks_votes_and_likes(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    await login(live_server, "ann@example.com")
    stream = live_server.call(create_stream(live_server.app.state.platform.db))
    await sign_in(page, live_server, "ann@example.com")
    await page.goto(f"{live_server.url}/watch/{stream}")
    await expect(page.locator("#watch")).to_have_attribute("data-channel", "subscribed")

    await page.get_by_label("Message").fill("<b>bold?</b>")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator("#chat-list .chat-body")).to_have_text(["<b>bold?</b>"])
    await expect(page.get_by_label("Message")).to_have_value("")

    await page.get_by_role("button", name="Like").click()
    await expect(page.locator("#like-count")).to_have_text("1")

    await page.get_by_role("tab", name="Q&A").click()
    await page.get_by_label("Your question").fill("What is the MOQ?")
    await page.get_by_role("button", name="Ask").click()
    question = page.locator("#question-list .question-item")
    await expect(question.locator(".chat-body")).to_have_text("What is the MOQ?")
    await question.get_by_role("button", name="Up-vote").click()
    await expect(question.locator(".question-votes")).to_have_text("1")
    await expect(question.get_by_role("button", name="Up-vote")).to_be_disabled()

    await page.get_by_role("button", name="Register for this broadcast").click()
    await expect(page.locator("#registered")).to_have_text("You are registered for this broadcast")
    assert console_errors == []


async def test_a_live_stream_without_media_shows_offline_and_counts_the_viewer(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    db = live_server.app.state.platform.db
    stream = live_server.call(create_stream(db))

    async def go_live() -> None:
        async with db.session() as session:
            await services.go_live(session, await services.get_stream(session, stream))

    live_server.call(go_live())
    await page.goto(f"{live_server.url}/watch/{stream}")
    await expect(page.locator("#watch-status")).to_have_text("Live")
    # Nothing is published: WHEP answers an error and so does the HLS playlist; the page says so.
    await expect(page.locator("#player-state")).to_have_text(
        "Offline: the broadcast is not reaching this server."
    )
    # The page's heartbeat counts this viewer.
    await expect(page.locator("#viewer-count")).to_have_text("1")
    unexpected = [e for e in console_errors if "Failed to load resource" not in e]
    assert unexpected == []


async def test_go_live_page_previews_the_camera(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    await login(live_server, "owner@example.com", "exhibitor")
    stream = live_server.call(
        create_stream(live_server.app.state.platform.db, owner_email="owner@example.com")
    )
    await sign_in(page, live_server, "owner@example.com")
    await page.goto(f"{live_server.url}/streams/{stream}/live")
    await expect(page.get_by_role("button", name="Copy the token")).to_be_visible()
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#publish-state")).to_have_text("Preview only: viewers do not see this yet.")
    # The fake camera's frames reach the preview.
    # (Polled from Playwright's own world: the page's CSP forbids evaluating strings in it.)
    deadline = time.monotonic() + 30
    while await page.eval_on_selector("#preview", "v => v.videoWidth") == 0:
        assert time.monotonic() < deadline, "the preview shows no picture"
        await asyncio.sleep(0.1)
    old_key = await page.locator("#stream-key").text_content()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Regenerate the key").click()
    await expect(page.locator("#stream-key")).not_to_have_text(old_key or "")
    assert console_errors == []


async def test_an_ended_broadcast_offers_its_latest_recording(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    p = app.state.platform
    stream = await create_stream(p.db)
    replay_url = f"/watch/{stream}/replay"
    assert (await client.get(replay_url)).status_code == 404
    recordings = p.settings.data_path / "recordings"
    recordings.mkdir(parents=True)
    (recordings / "take1.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    async with p.db.session() as session:
        session.add(Recording(stream_id=stream, path="recordings/take1.mp4", ended_at=utcnow()))
        await session.commit()
        # Not offered while the stream has not ended.
        assert 'id="replay"' not in (await client.get(f"/watch/{stream}")).text
        await services.end(session, await services.get_stream(session, stream))

    page = await client.get(f"/watch/{stream}")
    assert (
        f'id="replay" class="player-video" controls playsinline preload="metadata" src="{replay_url}"'
        in page.text
    )
    video = await client.get(replay_url, headers={"range": "bytes=0-7"})
    assert video.status_code == 206 and video.content == b"\x00\x00\x00\x18ftyp"
    assert video.headers["content-type"] == "video/mp4"

    # A recording whose file lies outside the data directory is never served.
    async with p.db.session() as session:
        session.add(Recording(stream_id=stream, path="/etc/hostname", ended_at=utcnow()))
        await session.commit()
    assert (await client.get(replay_url)).status_code == 404
    assert 'id="replay"' not in (await client.get(f"/watch/{stream}")).text
