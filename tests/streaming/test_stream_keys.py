"""Stream keys start with a letter (issue 12, finding 10): a key starting with ``-`` reads as an
option to the command-line encoders that take it as an argument."""

from __future__ import annotations

import string

import httpx
from starlette.applications import Starlette

from expo import audit
from expo.accounts import services as accounts
from expo.expos.services import ensure_expo
from streaming import services

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def a_fine_key(key: str) -> bool:
    return len(key) == 43 and key[0] in string.ascii_letters and set(key) <= URL_SAFE


def test_new_keys_start_with_a_letter() -> None:
    # A fifth of plain token_urlsafe draws start with a digit, '-' or '_': 5,000 would show it.
    keys = [services.new_key() for _ in range(5000)]
    assert all(a_fine_key(key) for key in keys)
    assert len(set(keys)) == len(keys)


async def test_created_and_regenerated_keys_start_with_a_letter(app: Starlette) -> None:
    async with app.state.platform.db.session() as session:
        expo = await ensure_expo(session, "fair", "Fair")
        stream = await services.create_stream(session, expo=expo, title="Keynote", owner=None)
        seen = {stream.key}
        for _ in range(40):
            stream = await services.regenerate_key(session, stream)
            seen.add(stream.key)
    assert len(seen) == 41
    assert all(a_fine_key(key) for key in seen)


async def test_a_regenerated_key_is_audited_with_who_and_which_stream_but_not_the_key(app: Starlette) -> None:
    async with app.state.platform.db.session() as session:
        owner = await accounts.create_user(
            session, email="olga@example.com", password="x" * 12, role="organizer"
        )
        expo = await ensure_expo(session, "fair", "Fair")
        stream = await services.create_stream(session, expo=expo, title="Keynote", owner=None)
        stream = await services.regenerate_key(session, stream, actor=owner, ip="192.0.2.7")
        [event] = await audit.recent(session, action="stream.key_regenerated")
    assert (event.actor_id, event.target, event.ip) == (owner.id, f"stream:{stream.id}", "192.0.2.7")
    assert stream.key not in event.detail


async def test_a_publisher_with_a_wrong_or_missing_key_is_told_so(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    async with app.state.platform.db.session() as session:
        expo = await ensure_expo(session, "fair", "Fair")
        stream = await services.create_stream(session, expo=expo, title="Keynote", owner=None)
    whip = f"/api/streams/{stream.id}/whip"
    sdp = {"Content-Type": "application/sdp"}
    wrong = await client.post(whip, content="v=0\r\n", headers={**sdp, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == {"code": "stream.bad_key", "message": "The stream key is wrong."}
    for header in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer  "}):
        missing = await client.post(whip, content="v=0\r\n", headers={**sdp, **header})
        assert missing.status_code == 401
        assert missing.json()["error"] == {
            "code": "stream.key_required",
            "message": "Send the stream key as 'Authorization: Bearer <token>'.",
        }
    # The scheme is case-insensitive and spaces around the key do not matter: this key is right,
    # so what is wrong now is the body.
    right = await client.post(
        whip, content="v=0\r\n", headers={**sdp, "Authorization": f"bearer  {stream.key} "}
    )
    assert right.status_code == 400
