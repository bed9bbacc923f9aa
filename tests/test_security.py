"""Signed tokens: whatever a client sends in their place (non-ASCII, malformed) is simply invalid,
answered 4xx, never a 500 (issue 12, finding 3)."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from expo.errors import Forbidden
from expo.expos.services import ensure_expo
from expo.security import sign, unsign, verify_csrf
from streaming import services
from streaming.hls import HlsRegistry
from tests.booths.web import PASSWORD, make_account
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


class _Conn:
    """Just what verify_csrf reads of a request: its cookies."""

    def __init__(self, nonce: str) -> None:
        self.cookies = {"expo_csrf": nonce}


def test_a_non_ascii_csrf_token_is_refused_like_a_wrong_one() -> None:
    with pytest.raises(Forbidden):
        verify_csrf(_Conn("nonce"), SECRET, "é")  # type: ignore[arg-type]


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
