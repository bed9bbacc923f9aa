"""The catalogue import API: permission before the body, the documented synchronous answer, and the
background import whose progress any process reports."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette

from booths.models import Booth, Product
from tests.booths.conftest import make_user, seed_floor
from tests.booths.web import PASSWORD, add_owner, csrf_of, floor_of, make_account
from tests.conftest import LiveServer, signup_and_login

HEADER = "booth,product,description,category,price_min,price_max,currency,moq\n"
DECLARED = 60 * 1024 * 1024


def first_answer(server: LiveServer, path: str, headers: dict[str, str], content_type: str) -> bytes:
    """Send a request declaring a 60 MiB body but only its first 64 KiB, and return the status line
    the server answers with. The rest is never sent: only a server that answers before reading
    the body gets to answer at all (the socket's timeout fails the test otherwise)."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Content-Type: {content_type}",
        f"Content-Length: {DECLARED}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"x" * 65536)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection without answering"
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_a_stranger_is_refused_before_the_body_is_read(live_server: LiveServer) -> None:
    platform = live_server.app.state.platform
    floor = live_server.call(seed_floor(platform.db))
    booth = floor.booths["Lumen Works"]
    live_server.call(make_user(platform.db, "v@example.com", "visitor"))
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        token = client.post("/api/auth/login", json={"email": "v@example.com", "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        login_page = client.get("/login")
        client.post(
            "/login",
            data={"csrf_token": csrf_of(login_page.text), "email": "v@example.com", "password": PASSWORD},
        )
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    for path in (f"/api/booths/{booth.id}/catalog", f"/api/booths/{booth.id}/catalog/imports"):
        assert first_answer(live_server, path, bearer, "text/csv").split()[1] == b"403"
        assert first_answer(live_server, path, {}, "text/csv").split()[1] == b"401"
    # The pages' uploads too: the catalogue, a booth's media, an expo's banner.
    for path in (f"/booths/{booth.id}/catalog", f"/booths/{booth.id}/upload", "/organizer/expos/fair/banner"):
        page = first_answer(live_server, path, {"Cookie": cookie}, "multipart/form-data; boundary=x")
        assert page.split()[1] == b"403", path


async def products(app: Starlette, booth: Booth) -> int:
    async with app.state.platform.db.session() as session:
        count = select(func.count()).select_from(Product).where(Product.booth_id == booth.id)
        return int((await session.exec(count)).one())


async def poll(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, object]:
    """The import's status once it has finished (polled, at most 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = (await client.get(url, headers=headers)).json()
        if status["status"] in ("done", "failed"):
            return status  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    pytest.fail(f"the import did not finish: {status}")


async def test_background_import_reports_progress_then_its_result(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    floor = await floor_of(app)
    booth = floor.booths["Lumen Works"]
    owner = await make_account(app, "me@example.com", "exhibitor")
    await add_owner(app, booth, owner)
    headers = await signup_and_login(client, "other@example.com", "exhibitor")
    login = await client.post("/api/auth/login", json={"email": "me@example.com", "password": PASSWORD})
    mine = {"Authorization": f"Bearer {login.json()['token']}"}
    before = await products(app, booth)
    rows = "".join(f"Lumen Works,Lamp {i},,,{i}.00,,USD,\n" for i in range(1, 1201))
    started = await client.post(
        f"/api/booths/{booth.id}/catalog/imports",
        content=(HEADER + rows).encode(),
        headers={**mine, "Content-Type": "text/csv"},
    )
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] in ("checking", "writing", "done") and body["url"].endswith(
        f"/imports/{body['id']}"
    )
    # Another exhibitor cannot read it; the booth's owner can, until it is done.
    assert (await client.get(body["url"], headers=headers)).status_code == 403
    done = await poll(client, body["url"], mine)
    assert done == {**done, "status": "done", "rows_done": 1200, "rows_total": 1200, "products_created": 1200}
    assert done["error"] is None
    assert await products(app, booth) == before + 1200

    bad = HEADER + "Lumen Works,Good lamp,,,1,,USD,\nLumen Works,Bad lamp,,,1,,,\n"
    started = await client.post(
        f"/api/booths/{booth.id}/catalog/imports",
        content=bad.encode(),
        headers={**mine, "Content-Type": "text/csv"},
    )
    failed = await poll(client, started.json()["url"], mine)
    assert failed["status"] == "failed" and failed["products_created"] == 0
    error = failed["error"]
    assert isinstance(error, dict) and error["code"] == "catalog.invalid"
    assert error["details"] == [{"line": 3, "message": "A price needs a currency."}]
    assert await products(app, booth) == before + 1200
    # Another booth's import number is not this booth's.
    await add_owner(app, floor.booths["Harbor Electric"], owner)
    elsewhere = f"/api/booths/{floor.booths['Harbor Electric'].id}/catalog/imports/{body['id']}"
    assert (await client.get(elsewhere, headers=mine)).status_code == 404

    # A body that is no catalogue (empty, or JSON) is refused at once, not started as a job.
    for body in (b"", b" \n", b"{}"):
        refused = await client.post(
            f"/api/booths/{booth.id}/catalog/imports",
            content=body,
            headers={**mine, "Content-Type": "text/csv"},
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "catalog.invalid", body
