"""Signed tokens: whatever a client sends in their place (non-ASCII, malformed) is simply invalid,
answered 4xx, never a 500 (issue 12, finding 3)."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from expo.errors import Forbidden
from expo.expos.services import ensure_expo
from expo.security import csrf_token, sign, unsign, verify_csrf
from streaming import services
from streaming.hls import HlsRegistry
from tests.booths.web import PASSWORD, csrf_of, make_account
from tests.streaming.synthetic import feed, h264_packets

SECRET = "s" * 40


@pytest.mark.parametrize(
    "value",
    [
        "abc.é",
        "é",
        "éé.abc",
        "abc.éé",
        ".",
        "",
        "abc.",
        ".abc",
        "a.b.c",
        "abc.\x00",
        "ab\u2028c.de",
        "%%%.!!",
    ],
)
def test_unsign_refuses_non_ascii_and_malformed_values(value: str) -> None:
    assert unsign(SECRET, "flash", value) is None


def test_unsign_still_reads_what_sign_wrote() -> None:
    token = sign(SECRET, "flash", [{"message": "héllo"}])
    assert unsign(SECRET, "flash", token) == [{"message": "héllo"}]
    assert unsign(SECRET, "other", token) is None
    assert unsign(SECRET, "flash", token[:-1] + "é") is None


def test_signed_values_keep_their_format_so_links_sent_earlier_still_work() -> None:
    data = {"next": "/booths/7", "n": [1, "é"]}
    # Written by this version; an upgrade must still read it (and write the same).
    earlier = "eyJuZXh0IjoiL2Jvb3Rocy83IiwibiI6WzEsIlx1MDBlOSJdfQ.W0YPQz5a4Fyp3vB2RpP5ACFEcu7sv6O9X9eUFZJ2j80"
    assert sign(SECRET, "flash", data) == earlier
    assert unsign(SECRET, "flash", earlier) == data
    # URL- and cookie-safe as they are: no padding, no characters that need quoting.
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", sign(SECRET, "flash", "x" * 50))


class _Conn:
    """Just what verify_csrf reads of a request: its cookies."""

    def __init__(self, nonce: str) -> None:
        self.cookies = {"expo_csrf": nonce}


def test_a_non_ascii_csrf_token_is_refused_like_a_wrong_one() -> None:
    with pytest.raises(Forbidden):
        verify_csrf(_Conn("nonce"), SECRET, "é")  # type: ignore[arg-type]


def test_a_refused_form_tells_the_user_what_to_do() -> None:
    for nonce, token in [("nonce", "made-up"), ("nonce", ""), ("", "made-up")]:
        with pytest.raises(Forbidden) as caught:
            verify_csrf(_Conn(nonce), SECRET, token)  # type: ignore[arg-type]
        assert caught.value.code == "auth.csrf_failed"
        assert caught.value.message == (
            "The form expired or did not come from this site. Reload the page and try again."
        )


def _browser_with(nonce: str) -> HTTPConnection:
    return HTTPConnection({"type": "http", "headers": [(b"cookie", f"expo_csrf={nonce}".encode())]})


def set_cookies(response: httpx.Response) -> dict[str, set[str]]:
    """The attributes of each cookie the response sets, by name (``name=value`` first)."""
    found = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        found[first.split("=", 1)[0]] = {first, *(a.lower() for a in attributes)}
    return found


@pytest.mark.parametrize(("scheme", "secure"), [("http", set()), ("https", {"secure"})])
async def test_a_new_browser_gets_a_csrf_cookie_that_its_forms_carry(
    app: Starlette, scheme: str, secure: set[str]
) -> None:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver") as browser:
        page = await browser.get("/login")
        nonce = browser.cookies["expo_csrf"]
        assert len(nonce) == 32  # 24 random bytes
        # Unreadable by scripts, sent on same-site navigation only, over HTTPS only when served so.
        expected = {f"expo_csrf={nonce}", "httponly", "path=/", "samesite=lax", *secure}
        assert set_cookies(page)["expo_csrf"] == expected
        token = csrf_of(page.text)
        assert token == csrf_token(_browser_with(nonce), app.state.platform.secret)
        # The next page keeps the browser's nonce: a form opened in another tab still goes through.
        again = await browser.get("/login")
        assert "expo_csrf" not in set_cookies(again) and csrf_of(again.text) == token
        data = {"csrf_token": token, "email": "nobody@example.com", "password": "wrong"}
        assert (await browser.post("/login", data=data)).status_code != 403


async def test_a_planted_overlong_csrf_cookie_is_replaced(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        for length, replaced in [(100, False), (101, True)]:
            page = await browser.get("/login", headers={"cookie": "expo_csrf=" + "n" * length})
            assert ("expo_csrf" in set_cookies(page)) is replaced
            nonce = page.cookies["expo_csrf"] if replaced else "n" * length
            assert len(nonce) == (32 if replaced else 100)
            assert csrf_of(page.text) == csrf_token(_browser_with(nonce), app.state.platform.secret)


async def test_non_ascii_tokens_in_urls_cookies_and_codes_are_4xx(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    feed_response = await client.get("/agenda/feed/abc.%C3%A9.ics")
    assert feed_response.status_code == 404

    # A flash cookie that is not one is ignored: the page renders.
    flashed = await client.get("/login", headers={"Cookie": "expo_flash=abc.é".encode()})
    assert flashed.status_code == 200

    # A live HLS stream: a media playlist asked with a forged, non-ASCII viewer token is refused.
    async with app.state.platform.db.session() as session:
        expo = await ensure_expo(session, "fair", "Fair")
        stream = await services.create_stream(session, expo=expo, title="Keynote", owner=None)
    assert stream.id is not None
    packager = await app.state.platform.get(HlsRegistry).open(stream.id, audio=False)
    await feed(packager, [("video", packet) for packet in h264_packets(3)])
    assert packager.ready
    playlist = await client.get(f"/live/{stream.id}/media.m3u8?v=abc.%C3%A9")
    assert playlist.status_code == 403

    # A check-in code typed or scanned at the desk.
    organizer = await make_account(app, "org@example.com", "organizer")
    async with app.state.platform.db.session() as session:
        organizer_expo = await ensure_expo(session, "spring", "Spring", created_by=organizer.id)
    login = await client.post("/api/auth/login", json={"email": "org@example.com", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json()['token']}"}
    for code in ("abc.éé", "é", "abc.é.é"):
        checked = await client.post(
            f"/api/expos/{organizer_expo.slug}/check-in", json={"code": code}, headers=bearer
        )
        assert 400 <= checked.status_code < 500, checked.text
        assert checked.json()["error"]["code"] in ("badge.invalid", "badge.unknown_code")
