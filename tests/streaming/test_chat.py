"""Chat, Q&A, likes and moderation: the API in-process, and the live channel on a real server."""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from expo import audit
from expo.accounts import services as accounts
from expo.accounts.models import User
from expo.config import Settings
from expo.db import Database, utcnow
from expo.expos.services import ensure_expo
from expo.permissions import TeamRole
from streaming import chat, services
from streaming.models import Sanction, SanctionKind, Visibility
from tests.bus.test_bus import receive, wait_until
from tests.conftest import LiveServer, make_settings, signup_and_login
from tests.streaming.teams import give_booth, join_team, organizer_of

Headers = dict[str, str]


async def find_user(session: AsyncSession, email: str) -> User:
    user = (await session.exec(select(User).where(User.email == email))).one()
    return user


async def create_stream(
    db: Database, *, owner_email: str | None = None, visibility: Visibility = Visibility.PUBLIC
) -> int:
    """A scheduled stream in the ``demo`` expo, owned by the user with ``owner_email`` if given (an
    exhibitor, given a booth there first so that they may present in it)."""
    if owner_email:
        await give_booth(db, owner_email, "demo")
    async with db.session() as session:
        expo = await ensure_expo(session, "demo", "Demo expo")
        owner = await find_user(session, owner_email) if owner_email else None
        stream = await services.create_stream(
            session, expo=expo, title="Launch of the X200", owner=owner, visibility=visibility
        )
    assert stream.id is not None
    return stream.id


async def user_id(db: Database, email: str) -> int:
    async with db.session() as session:
        user = await find_user(session, email)
    assert user.id is not None
    return user.id


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """SQLite, or PostgreSQL for tests parametrized with ``indirect=["settings"]``."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


BOTH_STORES = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)


class Cast:
    """The people of a broadcast: its owner (an exhibitor), an organizer of its expo and two visitors."""

    def __init__(self, owner: Headers, organizer: Headers, ann: Headers, bob: Headers, stream: int) -> None:
        self.owner, self.organizer, self.ann, self.bob, self.stream = owner, organizer, ann, bob, stream
        self.api = f"/api/streams/{stream}"


@pytest.fixture
async def cast(app: Starlette, client: httpx.AsyncClient) -> Cast:
    owner = await signup_and_login(client, "owner@example.com", "exhibitor")
    organizer = await signup_and_login(client, "org@example.com", "organizer")
    ann = await signup_and_login(client, "ann@example.com")
    bob = await signup_and_login(client, "bob@example.com")
    stream = await create_stream(app.state.platform.db, owner_email="owner@example.com")
    await join_team(app.state.platform.db, "org@example.com", "demo")
    return Cast(owner, organizer, ann, bob, stream)


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def test_chat_is_stored_listed_and_deleted_by_moderators(client: httpx.AsyncClient, cast: Cast) -> None:
    sent = await client.post(f"{cast.api}/chat", json={"body": "  Hello from Lagos  "}, headers=cast.ann)
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["body"] == "Hello from Lagos" and message["kind"] == "chat"
    assert message["user"]["name"] == "ann"
    second = (await client.post(f"{cast.api}/chat", json={"body": "Hi Ann"}, headers=cast.bob)).json()

    history = (await client.get(f"{cast.api}/chat")).json()  # public stream: no sign-in needed
    assert [m["body"] for m in history["items"]] == ["Hello from Lagos", "Hi Ann"]
    assert history["has_more"] is False
    older = (await client.get(f"{cast.api}/chat", params={"before": second["id"], "limit": 1})).json()
    assert [m["id"] for m in older["items"]] == [message["id"]]

    refused = await client.delete(f"{cast.api}/chat/{message['id']}", headers=cast.bob)
    assert refused.status_code == 403 and error_code(refused) == "chat.not_moderator"
    assert (await client.delete(f"{cast.api}/chat/{message['id']}", headers=cast.owner)).status_code == 204
    assert (await client.delete(f"{cast.api}/chat/{second['id']}", headers=cast.organizer)).status_code == 204
    assert (await client.get(f"{cast.api}/chat")).json()["items"] == []
    again = await client.delete(f"{cast.api}/chat/{message['id']}", headers=cast.owner)
    assert again.status_code == 404 and error_code(again) == "chat.unknown_message"


async def test_the_expos_moderators_moderate_and_organizers_of_other_expos_do_not(
    app: Starlette, client: httpx.AsyncClient, cast: Cast
) -> None:
    db: Database = app.state.platform.db
    moderator = await signup_and_login(client, "mod@example.com")  # a visitor account on the team
    await join_team(db, "mod@example.com", "demo", TeamRole.MODERATOR)
    stranger = await organizer_of(client, "a@example.com", "aexpo")  # runs another expo
    ann_id, mod_id = await user_id(db, "ann@example.com"), await user_id(db, "mod@example.com")
    line = (await client.post(f"{cast.api}/chat", json={"body": "Spam"}, headers=cast.ann)).json()
    question = (await client.post(f"{cast.api}/questions", json={"body": "Price?"}, headers=cast.bob)).json()

    for method, path, body in [
        ("DELETE", f"chat/{line['id']}", None),
        ("POST", f"questions/{question['id']}/answered", None),
        ("POST", "sanctions", {"user_id": ann_id, "kind": "mute"}),
        ("DELETE", f"sanctions/{ann_id}", None),
        ("PATCH", "chat-settings", {"slow_mode_seconds": 30}),
    ]:
        refused = await client.request(method, f"{cast.api}/{path}", json=body, headers=stranger)
        assert refused.status_code == 403, (path, refused.text)
        assert error_code(refused) == "chat.not_moderator"
    watch = await client.get(f"/watch/{cast.stream}", headers=stranger)
    assert '"moderator": false' in watch.text

    assert (await client.delete(f"{cast.api}/chat/{line['id']}", headers=moderator)).status_code == 204
    answered = await client.post(f"{cast.api}/questions/{question['id']}/answered", headers=moderator)
    assert answered.status_code == 204
    muted = await client.post(
        f"{cast.api}/sanctions", json={"user_id": ann_id, "kind": "mute"}, headers=moderator
    )
    assert muted.status_code == 201
    slow = await client.patch(f"{cast.api}/chat-settings", json={"slow_mode_seconds": 30}, headers=moderator)
    assert slow.status_code == 200
    assert '"moderator": true' in (await client.get(f"/watch/{cast.stream}", headers=moderator)).text
    # A moderator is no target for another moderator, but manages no broadcast either.
    shielded = await client.post(
        f"{cast.api}/sanctions", json={"user_id": mod_id, "kind": "ban"}, headers=cast.owner
    )
    assert shielded.status_code == 403 and error_code(shielded) == "chat.cannot_sanction_moderator"
    assert (await client.post(f"{cast.api}/end", headers=moderator)).status_code == 403


@pytest.mark.parametrize(
    "payload",
    [
        {"body": ""},
        {"body": "   \n\t "},
        {"body": "x" * 501},
        {"body": 42},
        {"body": ["hi"]},
        {},
        {"body": "hi", "x": 1},
    ],
)
async def test_bad_bodies_are_422(client: httpx.AsyncClient, cast: Cast, payload: dict[str, Any]) -> None:
    for path in ("chat", "questions"):
        response = await client.post(f"{cast.api}/{path}", json=payload, headers=cast.ann)
        assert response.status_code == 422, response.text
    assert (await client.get(f"{cast.api}/chat")).json()["items"] == []


async def test_limits_edges_unknown_streams_and_sign_in(client: httpx.AsyncClient, cast: Cast) -> None:
    longest = await client.post(f"{cast.api}/chat", json={"body": " " + "é" * 500 + " "}, headers=cast.ann)
    assert longest.status_code == 201 and len(longest.json()["body"]) == 500
    anonymous = await client.post(f"{cast.api}/chat", json={"body": "hi"})
    assert anonymous.status_code == 401
    for method, path in [
        ("GET", "/api/streams/999/chat"),
        ("POST", "/api/streams/999/chat"),
        ("GET", "/api/streams/999/questions"),
        ("POST", "/api/streams/999/like"),
    ]:
        response = await client.request(method, path, json={"body": "hi"}, headers=cast.ann)
        assert response.status_code == 404 and error_code(response) == "stream.unknown", path


async def test_mute_and_ban(app: Starlette, client: httpx.AsyncClient, cast: Cast) -> None:
    db: Database = app.state.platform.db
    ann_id = await user_id(db, "ann@example.com")
    refused = await client.post(
        f"{cast.api}/sanctions", json={"user_id": ann_id, "kind": "mute"}, headers=cast.bob
    )
    assert refused.status_code == 403

    muted = await client.post(
        f"{cast.api}/sanctions", json={"user_id": ann_id, "kind": "mute", "minutes": 10}, headers=cast.owner
    )
    assert muted.status_code == 201 and muted.json()["until"] is not None
    for path in ("chat", "questions"):
        response = await client.post(f"{cast.api}/{path}", json={"body": "let me speak"}, headers=cast.ann)
        assert response.status_code == 403 and error_code(response) == "chat.muted"
    assert (await client.get(f"{cast.api}/chat", headers=cast.ann)).status_code == 200  # may still watch
    assert (await client.post(f"{cast.api}/chat", json={"body": "fine"}, headers=cast.bob)).status_code == 201

    assert (await client.delete(f"{cast.api}/sanctions/{ann_id}", headers=cast.owner)).status_code == 204
    assert (await client.post(f"{cast.api}/chat", json={"body": "back"}, headers=cast.ann)).status_code == 201

    banned = await client.post(
        f"{cast.api}/sanctions", json={"user_id": ann_id, "kind": "ban"}, headers=cast.organizer
    )
    assert banned.status_code == 201 and banned.json()["until"] is None
    response = await client.post(f"{cast.api}/chat", json={"body": "hello?"}, headers=cast.ann)
    assert response.status_code == 403 and error_code(response) == "chat.banned"
    assert error_code(await client.get(f"{cast.api}/chat", headers=cast.ann)) == "chat.banned"
    assert (await client.post(f"{cast.api}/like", headers=cast.ann)).status_code == 403
    lifted = await client.delete(f"{cast.api}/sanctions/{ann_id}", params={"kind": "ban"}, headers=cast.owner)
    assert lifted.status_code == 204
    assert (
        await client.post(f"{cast.api}/chat", json={"body": "thanks"}, headers=cast.ann)
    ).status_code == 201

    owner_id = await user_id(db, "owner@example.com")
    shielded = await client.post(
        f"{cast.api}/sanctions", json={"user_id": owner_id, "kind": "ban"}, headers=cast.organizer
    )
    assert shielded.status_code == 403 and error_code(shielded) == "chat.cannot_sanction_moderator"
    unknown = await client.post(
        f"{cast.api}/sanctions", json={"user_id": 9999, "kind": "ban"}, headers=cast.owner
    )
    assert unknown.status_code == 404


async def test_a_new_sanction_replaces_the_same_kind_only_and_is_audited(
    app: Starlette, client: httpx.AsyncClient, cast: Cast
) -> None:
    db: Database = app.state.platform.db
    ann_id = await user_id(db, "ann@example.com")
    sanctions = f"{cast.api}/sanctions"
    banned = await client.post(sanctions, json={"user_id": ann_id, "kind": "ban"}, headers=cast.owner)
    assert banned.status_code == 201
    # Muting a banned user (a moderator's second thought) leaves the ban in force.
    muted = await client.post(sanctions, json={"user_id": ann_id, "kind": "mute"}, headers=cast.owner)
    assert muted.status_code == 201
    assert error_code(await client.get(f"{cast.api}/chat", headers=cast.ann)) == "chat.banned"
    # Muting again, for ten minutes this time, replaces the mute.
    again = await client.post(
        sanctions, json={"user_id": ann_id, "kind": "mute", "minutes": 10}, headers=cast.owner
    )
    assert again.status_code == 201 and again.json()["until"] is not None
    async with db.session() as session:
        assert await chat.active_sanctions(session, cast.stream, ann_id) == {"ban", "mute"}
        [muting] = await audit.recent(session, limit=1, action="chat.mute")
        assert json.loads(muting.detail)["until"] is not None
    lifted = await client.delete(f"{sanctions}/{ann_id}", headers=cast.owner)
    assert lifted.status_code == 204
    async with db.session() as session:
        assert await chat.active_sanctions(session, cast.stream, ann_id) == set()
        [lifting] = await audit.recent(session, limit=1)
    assert (lifting.action, lifting.target) == ("chat.sanction_lifted", f"user:{ann_id}")


async def test_an_expired_mute_no_longer_applies(
    app: Starlette, client: httpx.AsyncClient, cast: Cast
) -> None:
    db: Database = app.state.platform.db
    ann_id = await user_id(db, "ann@example.com")
    async with db.session() as session:
        session.add(
            Sanction(
                stream_id=cast.stream, user_id=ann_id, kind="mute", until=utcnow() - timedelta(seconds=1)
            )
        )
        await session.commit()
        assert await chat.active_sanctions(session, cast.stream, ann_id) == set()
    assert (await client.post(f"{cast.api}/chat", json={"body": "free"}, headers=cast.ann)).status_code == 201


async def test_slow_mode(client: httpx.AsyncClient, cast: Cast) -> None:
    refused = await client.patch(
        f"{cast.api}/chat-settings", json={"slow_mode_seconds": 30}, headers=cast.ann
    )
    assert refused.status_code == 403
    too_slow = await client.patch(
        f"{cast.api}/chat-settings", json={"slow_mode_seconds": -1}, headers=cast.owner
    )
    assert too_slow.status_code == 422
    settings = await client.patch(
        f"{cast.api}/chat-settings", json={"slow_mode_seconds": 30}, headers=cast.owner
    )
    assert settings.json() == {"slow_mode_seconds": 30}

    started = time.monotonic()
    assert (await client.post(f"{cast.api}/chat", json={"body": "one"}, headers=cast.ann)).status_code == 201
    second = await client.post(f"{cast.api}/chat", json={"body": "two"}, headers=cast.ann)
    if time.monotonic() - started < 1:  # (a machine too busy to send both within the second proves nothing)
        assert second.status_code == 429 and error_code(second) == "chat.slow_mode"
    assert 1 <= int(second.headers["retry-after"]) <= 30
    # Others still have their turn; moderators are exempt; questions are not chat lines.
    assert (await client.post(f"{cast.api}/chat", json={"body": "mine"}, headers=cast.bob)).status_code == 201
    for body in ("a", "b"):
        assert (
            await client.post(f"{cast.api}/chat", json={"body": body}, headers=cast.owner)
        ).status_code == 201
    assert (
        await client.post(f"{cast.api}/questions", json={"body": "Price?"}, headers=cast.ann)
    ).status_code == 201

    await client.patch(f"{cast.api}/chat-settings", json={"slow_mode_seconds": 0}, headers=cast.owner)
    assert (await client.post(f"{cast.api}/chat", json={"body": "two"}, headers=cast.ann)).status_code == 201


async def test_a_one_second_slow_mode_applies(client: httpx.AsyncClient, cast: Cast) -> None:
    settings = await client.patch(
        f"{cast.api}/chat-settings", json={"slow_mode_seconds": 1}, headers=cast.owner
    )
    assert settings.status_code == 200, settings.text
    started = time.monotonic()
    assert (await client.post(f"{cast.api}/chat", json={"body": "one"}, headers=cast.ann)).status_code == 201
    second = await client.post(f"{cast.api}/chat", json={"body": "two"}, headers=cast.ann)
    if time.monotonic() - started < 1:  # (a machine too busy to send both within the second proves nothing)
        assert second.status_code == 429 and error_code(second) == "chat.slow_mode"


async def test_chat_is_rate_limited_per_user(client: httpx.AsyncClient, cast: Cast) -> None:
    limit = chat.CHAT_LIMIT[0]
    statuses = [
        (await client.post(f"{cast.api}/chat", json={"body": f"spam {i}"}, headers=cast.ann)).status_code
        for i in range(limit + 1)
    ]
    # A fixed window may roll over during the burst, letting one more through; never fewer.
    if statuses[-1] == 201:
        statuses.append(
            (await client.post(f"{cast.api}/chat", json={"body": "more"}, headers=cast.ann)).status_code
        )
    assert statuses[:limit] == [201] * limit and statuses[-1] == 429
    limited = await client.post(f"{cast.api}/chat", json={"body": "again"}, headers=cast.ann)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert (
        await client.post(f"{cast.api}/chat", json={"body": "not me"}, headers=cast.bob)
    ).status_code == 201


async def test_a_flooder_is_held_off_until_the_ten_second_window_ends(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    # Five lines in 10 s, in wall-clock windows: start early in one so the burst stays inside it.
    await wait_until(lambda: time.time() % 10 < 7, timeout=4, what="the early part of a 10 s window")
    started = time.time()
    for i in range(chat.CHAT_LIMIT[0]):
        sent = await client.post(f"{cast.api}/chat", json={"body": f"spam {i}"}, headers=cast.ann)
        assert sent.status_code == 201
    limited = await client.post(f"{cast.api}/chat", json={"body": "more"}, headers=cast.ann)
    finished = time.time()
    assert limited.status_code == 429 and error_code(limited) != "chat.slow_mode"
    # Retry-After sends them back when the 10 s window ends, not a second later.
    window_end = (started // 10 + 1) * 10
    wait = int(limited.headers["retry-after"])
    assert math.ceil(window_end - finished) <= wait <= math.ceil(window_end - started)


@BOTH_STORES
async def test_questions_vote_once_even_concurrently(
    app: Starlette, client: httpx.AsyncClient, cast: Cast
) -> None:
    first = (await client.post(f"{cast.api}/questions", json={"body": "MOQ?"}, headers=cast.ann)).json()
    second = (
        await client.post(f"{cast.api}/questions", json={"body": "Delivery time?"}, headers=cast.ann)
    ).json()
    assert first["kind"] == "question" and first["votes"] == 0 and first["answered"] is False

    votes = await asyncio.gather(
        *(client.post(f"{cast.api}/questions/{second['id']}/vote", headers=cast.bob) for _ in range(10))
    )
    assert all(v.status_code == 200 for v in votes), [v.text for v in votes]
    assert {v.json()["votes"] for v in votes} == {1}
    again = await client.post(f"{cast.api}/questions/{second['id']}/vote", headers=cast.owner)
    assert again.json() == {"id": second["id"], "votes": 2}

    listed = (await client.get(f"{cast.api}/questions", headers=cast.bob)).json()["items"]
    assert [(q["body"], q["votes"], q["voted"]) for q in listed] == [
        ("Delivery time?", 2, True),
        ("MOQ?", 0, False),
    ]
    chat_ids = {m["id"] for m in (await client.get(f"{cast.api}/chat")).json()["items"]}
    assert chat_ids == set()  # questions are not chat lines

    not_a_question = (await client.post(f"{cast.api}/chat", json={"body": "hey"}, headers=cast.ann)).json()
    response = await client.post(f"{cast.api}/questions/{not_a_question['id']}/vote", headers=cast.bob)
    assert response.status_code == 404

    assert (
        await client.post(f"{cast.api}/questions/{first['id']}/answered", headers=cast.bob)
    ).status_code == 403
    async with app.state.platform.bus.subscribe(services.channel(cast.stream)) as events:
        assert (
            await client.post(f"{cast.api}/questions/{first['id']}/answered", headers=cast.owner)
        ).status_code == 204
        # Every open watch page is told which question to mark answered.
        told = json.loads((await receive(events))[0])
    assert told == {"kind": "question_answered", "id": first["id"]}
    listed = (await client.get(f"{cast.api}/questions")).json()["items"]
    assert [q["answered"] for q in listed] == [False, True] and listed[1]["voted"] is False


@BOTH_STORES
async def test_concurrent_likes_all_count(app: Starlette, client: httpx.AsyncClient, cast: Cast) -> None:
    fans = [await signup_and_login(client, f"fan{i}@example.com") for i in range(20)]
    results = await asyncio.gather(*(client.post(f"{cast.api}/like", headers=fan) for fan in fans))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert sorted(r.json()["likes"] for r in results) == list(range(1, 21))
    async with app.state.platform.db.session() as session:
        assert (await services.get_stream(session, cast.stream)).likes == 20


async def test_likes_are_rate_limited(
    client: httpx.AsyncClient, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An hour-long window: on a loaded machine 25 requests may otherwise straddle a window's end.
    monkeypatch.setattr(chat, "LIKE_LIMIT", (chat.LIKE_LIMIT[0], 3600.0))
    statuses = [(await client.post(f"{cast.api}/like", headers=cast.ann)).status_code for _ in range(25)]
    assert statuses == [200] * chat.LIKE_LIMIT[0] + [429] * (25 - chat.LIKE_LIMIT[0])


async def test_registered_only_streams_need_a_sign_in(app: Starlette, client: httpx.AsyncClient) -> None:
    ann = await signup_and_login(client, "ann@example.com")
    stream = await create_stream(app.state.platform.db, visibility=Visibility.REGISTERED)
    assert (await client.get(f"/api/streams/{stream}/chat")).status_code == 401
    assert (await client.get(f"/api/streams/{stream}/questions")).status_code == 401
    assert (await client.get(f"/api/streams/{stream}/chat", headers=ann)).status_code == 200


# -- the live channel, on a real server ---------------------------------------------------------


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + "/ws"


async def login(server: LiveServer, email: str, role: str = "visitor") -> str:
    password = "correct horse battery"

    async def create() -> None:
        async with server.app.state.platform.db.session() as session:
            await accounts.create_user(session, email=email, password=password, role=role)

    server.call(create())
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post("/api/auth/login", json={"email": email, "password": password})
    token: str = response.json()["token"]
    return token


async def next_frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("type") == kind:
                return frame


async def test_subscribers_receive_chat_and_moderation_live(live_server: LiveServer) -> None:
    owner = await login(live_server, "owner@example.com", "exhibitor")
    ann = await login(live_server, "ann@example.com")
    stream = live_server.call(
        create_stream(live_server.app.state.platform.db, owner_email="owner@example.com")
    )
    async with connect(ws_url(live_server), open_timeout=10) as ws:  # anonymous viewer
        await ws.send(json.dumps({"type": "subscribe", "channel": f"stream:{stream}"}))
        assert (await next_frame(ws, "subscribed"))["channel"] == f"stream:{stream}"
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            sent = await http.post(
                f"/api/streams/{stream}/chat",
                json={"body": "<b>hi</b>"},
                headers={"Authorization": f"Bearer {ann}"},
            )
            assert sent.status_code == 201
            event = (await next_frame(ws, "event"))["data"]
            assert event == {
                "kind": "chat",
                "id": sent.json()["id"],
                "user": {"id": sent.json()["user"]["id"], "name": "ann"},
                "body": "<b>hi</b>",
                "created_at": event["created_at"],
            }
            await http.delete(
                f"/api/streams/{stream}/chat/{event['id']}", headers={"Authorization": f"Bearer {owner}"}
            )
            assert (await next_frame(ws, "event"))["data"] == {"kind": "chat_deleted", "id": event["id"]}
            await http.post(f"/api/streams/{stream}/like", headers={"Authorization": f"Bearer {ann}"})
            assert (await next_frame(ws, "event"))["data"] == {"kind": "likes", "likes": 1}


async def test_registered_only_channel_refuses_anonymous(live_server: LiveServer) -> None:
    ann = await login(live_server, "ann@example.com")
    db = live_server.app.state.platform.db
    stream = live_server.call(create_stream(db, visibility=Visibility.REGISTERED))
    channel = f"stream:{stream}"
    async with connect(ws_url(live_server), open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        assert (await next_frame(ws, "error"))["code"] == "channel.forbidden"
        await ws.send(json.dumps({"type": "subscribe", "channel": "stream:424242"}))
        assert (await next_frame(ws, "error"))["code"] == "channel.forbidden"
    headers = {"Authorization": f"Bearer {ann}"}
    async with connect(ws_url(live_server), open_timeout=10, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        assert (await next_frame(ws, "subscribed"))["channel"] == channel
    # A banned user may not listen either.
    ann_id = live_server.call(user_id(db, "ann@example.com"))

    async def ban() -> None:
        async with db.session() as session:
            session.add(Sanction(stream_id=stream, user_id=ann_id, kind=SanctionKind.BAN.value))
            await session.commit()

    live_server.call(ban())
    async with connect(ws_url(live_server), open_timeout=10, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        assert (await next_frame(ws, "error"))["code"] == "channel.forbidden"
