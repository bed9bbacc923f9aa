"""The floor API: every write route tried as each role, plus search over HTTP, stored-as-text
markup, and failed writes that leave nothing behind."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette

from booths.models import Booth, Product
from tests.conftest import signup_and_login

ROLES = ("anonymous", "visitor", "other exhibitor", "own exhibitor", "organizer")
_names = itertools.count()


@dataclass
class World:
    client: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    booth: int  # the own exhibitor's approved booth
    other_booth: int
    hall: int
    category: int
    product: int

    async def call(self, role: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers[role], **kwargs.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def as_organizer(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.call("organizer", method, url, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, account in [
        ("visitor", "visitor"),
        ("other exhibitor", "exhibitor"),
        ("own exhibitor", "exhibitor"),
        ("organizer", "organizer"),
    ]:
        headers[role] = await signup_and_login(client, f"{role.replace(' ', '.')}@example.com", account)
    await signup_and_login(client, "colleague@example.com", "exhibitor")
    w = World(client, headers, 0, 0, 0, 0, 0)
    await w.as_organizer("POST", "/api/expos", json={"slug": "fair", "title": "Fair"})
    w.hall = (await w.as_organizer("POST", "/api/expos/fair/halls", json={"name": "Hall A"}))["id"]
    w.category = (await w.as_organizer("POST", "/api/expos/fair/categories", json={"name": "Lighting"}))["id"]
    for attr, role, name in [
        ("booth", "own exhibitor", "Lumen Works"),
        ("other_booth", "other exhibitor", "Bolt Tools"),
    ]:
        response = await w.call(role, "POST", "/api/expos/fair/booths", json={"name": name})
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "pending"
        setattr(w, attr, response.json()["id"])
        await w.as_organizer("PUT", f"/api/booths/{getattr(w, attr)}/status", json={"status": "approved"})
    w.product = (await w.as_organizer("POST", f"/api/booths/{w.booth}/products", json={"name": "Desk lamp"}))[
        "id"
    ]
    return w


async def fresh_product(w: World) -> dict[str, Any]:
    created = await w.as_organizer("POST", f"/api/booths/{w.booth}/products", json={"name": "Spare lamp"})
    return {"product": created["id"]}


async def fresh_booth(w: World) -> dict[str, Any]:
    created = await w.as_organizer("POST", "/api/expos/fair/booths", json={"name": f"Spare {next(_names)}"})
    return {"booth": created["id"]}


async def fresh_hall(w: World) -> dict[str, Any]:
    return {"hall": (await w.as_organizer("POST", "/api/expos/fair/halls", json={"name": "Spare"}))["id"]}


async def fresh_category(w: World) -> dict[str, Any]:
    return {
        "category": (await w.as_organizer("POST", "/api/expos/fair/categories", json={"name": "Spare"}))["id"]
    }


async def colleague_on_staff(w: World) -> dict[str, Any]:
    added = await w.as_organizer(
        "POST", f"/api/booths/{w.booth}/staff", json={"email": "colleague@example.com"}
    )
    return {"user": added["user_id"]}


Prepare = Callable[[World], Awaitable[dict[str, Any]]]
CSV = "booth,product\nLumen Works,Uploaded lamp\n"

# method, path, body, prepare, expected status per role (ROLES order)
CASES: list[tuple[str, str, Any, Prepare | None, tuple[int, ...]]] = [
    (
        "POST",
        "/api/expos",
        lambda: {"slug": f"expo-{next(_names)}", "title": "T"},
        None,
        (401, 403, 403, 403, 201),
    ),
    ("PATCH", "/api/expos/fair", {"title": "Renamed"}, None, (401, 403, 403, 403, 200)),
    ("POST", "/api/expos/fair/halls", {"name": "Hall B"}, None, (401, 403, 403, 403, 201)),
    ("PATCH", "/api/expos/fair/halls/{hall}", {"name": "Hall C"}, None, (401, 403, 403, 403, 200)),
    ("DELETE", "/api/expos/fair/halls/{hall}", None, fresh_hall, (401, 403, 403, 403, 204)),
    ("POST", "/api/expos/fair/categories", {"name": "Tools"}, None, (401, 403, 403, 403, 201)),
    ("PATCH", "/api/expos/fair/categories/{category}", {"name": "Lamps"}, None, (401, 403, 403, 403, 200)),
    ("DELETE", "/api/expos/fair/categories/{category}", None, fresh_category, (401, 403, 403, 403, 204)),
    (
        "POST",
        "/api/expos/fair/booths",
        lambda: {"name": f"Booth {next(_names)}"},
        None,
        (401, 403, 201, 201, 201),
    ),
    ("PATCH", "/api/booths/{booth}", {"tagline": "Light for all"}, None, (401, 403, 403, 200, 200)),
    ("PUT", "/api/booths/{booth}/placement", {"number": "A-1"}, None, (401, 403, 403, 403, 200)),
    ("PUT", "/api/booths/{booth}/status", {"status": "approved"}, None, (401, 403, 403, 403, 200)),
    ("DELETE", "/api/booths/{booth}", None, fresh_booth, (401, 403, 403, 403, 204)),
    ("GET", "/api/booths/{booth}/staff", None, None, (401, 403, 403, 200, 200)),
    (
        "POST",
        "/api/booths/{booth}/staff",
        {"email": "colleague@example.com"},
        None,
        (401, 403, 403, 200, 200),
    ),
    ("DELETE", "/api/booths/{booth}/staff/{user}", None, colleague_on_staff, (401, 403, 403, 204, 204)),
    ("POST", "/api/booths/{booth}/products", {"name": "Floor lamp"}, None, (401, 403, 403, 201, 201)),
    ("POST", "/api/booths/{booth}/catalog", CSV, None, (401, 403, 403, 200, 200)),
    ("PATCH", "/api/products/{product}", {"moq": 5}, None, (401, 403, 403, 200, 200)),
    ("DELETE", "/api/products/{product}", None, fresh_product, (401, 403, 403, 204, 204)),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "prepare", "expected"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES]
)
async def test_each_role_gets_exactly_what_the_rules_say(
    world: World, method: str, path: str, body: Any, prepare: Prepare | None, expected: tuple[int, ...]
) -> None:
    got = []
    for role in ROLES:
        params = {
            "booth": world.booth,
            "hall": world.hall,
            "category": world.category,
            "product": world.product,
        }
        if prepare is not None:
            params.update(await prepare(world))
        value = body() if callable(body) else body
        kwargs: dict[str, Any] = {}
        if isinstance(value, str):
            kwargs = {"content": value.encode(), "headers_extra": {"Content-Type": "text/csv"}}
        elif value is not None:
            kwargs = {"json": value}
        extra = kwargs.pop("headers_extra", {})
        response = await world.client.request(
            method, path.format(**params), headers={**world.headers[role], **extra}, **kwargs
        )
        got.append(response.status_code)
        if response.status_code >= 400:
            assert response.json()["error"]["code"], response.text
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, expected, strict=True))


async def test_a_pending_booth_is_hidden_from_everyone_but_its_staff_and_organizers(world: World) -> None:
    applied = await world.call("own exhibitor", "POST", "/api/expos/fair/booths", json={"name": "Pending Co"})
    booth = applied.json()["id"]
    seen = {role: (await world.call(role, "GET", f"/api/booths/{booth}")).status_code for role in ROLES}
    assert seen == {
        "anonymous": 404,
        "visitor": 404,
        "other exhibitor": 404,
        "own exhibitor": 200,
        "organizer": 200,
    }
    edit = await world.call("other exhibitor", "PATCH", f"/api/booths/{booth}", json={"tagline": "mine now"})
    assert edit.status_code == 404
    listed = await world.client.get("/api/expos/fair/booths")
    assert booth not in [b["id"] for b in listed.json()["items"]]
    assert (await world.client.get("/api/expos/fair/booths?status=pending")).status_code == 401
    pending = await world.call("organizer", "GET", "/api/expos/fair/booths?status=pending")
    assert [b["id"] for b in pending.json()["items"]] == [booth]
    mine = await world.call("own exhibitor", "GET", "/api/me/booths")
    assert {b["name"] for b in mine.json()["items"]} == {"Lumen Works", "Pending Co"}


async def test_markup_is_stored_and_returned_as_text(world: World) -> None:
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = await world.call(
        "own exhibitor",
        "PATCH",
        f"/api/booths/{world.booth}",
        json={"description": script, "tagline": script[:100]},
    )
    assert response.status_code == 200
    shown = await world.client.get(f"/api/booths/{world.booth}")
    assert shown.headers["content-type"] == "application/json"
    assert shown.json()["description"] == script
    product = await world.call(
        "own exhibitor", "PATCH", f"/api/products/{world.product}", json={"description": script}
    )
    assert (await world.client.get(f"/api/products/{world.product}")).json()["description"] == script
    assert product.json()["description"] == script


async def count(app: Starlette, model: type[Booth] | type[Product]) -> int:
    async with app.state.platform.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_failed_writes_leave_nothing_behind(world: World, app: Starlette) -> None:
    products = await count(app, Product)
    own = "own exhibitor"
    for body in (
        {"name": "Lamp", "currency": "XYZ", "price_min": 100},
        {"name": "Lamp", "price_min": 500, "price_max": 100, "currency": "USD"},
        {"name": "Lamp", "price_min": 500},
        {"name": "Lamp", "translations": {"fr": {"name": "Lampe"}}},
        {"name": "Lamp", "category_id": 999},
        {"name": ""},
        {"name": "Lamp", "unknown": 1},
    ):
        response = await world.call(own, "POST", f"/api/booths/{world.booth}/products", json=body)
        assert response.status_code in (404, 422), (body, response.text)
    assert await count(app, Product) == products

    before = (await world.client.get(f"/api/booths/{world.booth}")).json()
    bad = await world.call(
        own, "PATCH", f"/api/booths/{world.booth}", json={"name": "New name", "country": "ZZ"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "booth.invalid_country"
    clash = await world.call(own, "PATCH", f"/api/booths/{world.booth}", json={"name": "Bolt Tools"})
    assert clash.status_code == 409
    assert (await world.client.get(f"/api/booths/{world.booth}")).json() == before
    assert (await world.client.get("/api/expos/fair/search?q=new+name")).json()["total"] == 0

    upload = "booth,product,price_min\nLumen Works,Good lamp,1\nLumen Works,Bad lamp,abc\n"
    response = await world.call(
        own,
        "POST",
        f"/api/booths/{world.booth}/catalog",
        content=upload.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert [d["line"] for d in response.json()["error"]["details"]] == [2, 3]  # a price needs a currency, too
    wrong_booth = "booth,product\nBolt Tools,Sneaky lamp\n"
    response = await world.client.post(
        f"/api/booths/{world.booth}/catalog",
        content=wrong_booth.encode(),
        headers={**world.headers[own], "Content-Type": "text/csv"},
    )
    assert response.status_code == 422 and response.json()["error"]["details"][0]["line"] == 2
    assert await count(app, Product) == products

    unknown = await world.call(
        own, "POST", f"/api/booths/{world.booth}/staff", json={"email": "nobody@example.com"}
    )
    assert unknown.status_code == 404
    cycle_child = await world.as_organizer(
        "POST", "/api/expos/fair/categories", json={"name": "Lamps", "parent_id": world.category}
    )
    cycle = await world.call(
        "organizer",
        "PATCH",
        f"/api/expos/fair/categories/{world.category}",
        json={"parent_id": cycle_child["id"]},
    )
    assert cycle.status_code == 422 and cycle.json()["error"]["code"] == "category.cycle"


async def test_search_over_http_follows_the_contract(world: World) -> None:
    await world.call(
        "own exhibitor",
        "PATCH",
        f"/api/products/{world.product}",
        json={"translations": {"zh_Hans": {"name": "不锈钢台灯"}}, "category_id": world.category},
    )
    response = await world.client.get("/api/expos/fair/search", params={"q": "lamp"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"total", "items"}
    assert body["total"] == 1
    assert body["items"] == [
        {
            "kind": "product",
            "id": world.product,
            "name": "Desk lamp",
            "booth_id": world.booth,
            "url": f"/expos/fair/products/{world.product}",
        }
    ]
    chinese = await world.client.get(
        "/api/expos/fair/search", params={"q": "台灯", "category": world.category}
    )
    assert [i["id"] for i in chinese.json()["items"]] == [world.product]
    zh = await world.client.get("/api/expos/fair/search", params={"q": "台灯", "lang": "zh_Hans"})
    assert zh.json()["items"][0]["name"] == "不锈钢台灯"
    booth = await world.client.get("/api/expos/fair/search", params={"q": "lumen", "hall": world.hall})
    assert booth.json()["total"] == 0  # not placed in the hall yet
    for q in ['"', "*", "NEAR(", "lamp OR bolt", 'lamp"*)', "-", "AND"]:
        hostile = await world.client.get("/api/expos/fair/search", params={"q": q})
        assert hostile.status_code == 200, q
        assert set(hostile.json()) == {"total", "items"}
    assert (await world.client.get("/api/expos/nope/search?q=lamp")).status_code == 404
    assert (await world.client.get("/api/expos/fair/search")).status_code == 422
    assert (await world.client.get("/api/expos/fair/search?q=lamp&page=0")).status_code == 422
    assert (await world.client.get("/api/expos/fair/search?q=lamp&category=99999")).status_code == 404
    assert (await world.client.get("/api/expos/fair/search?q=lamp&country=China")).status_code == 422


async def test_reads_are_public(world: World) -> None:
    expo = (await world.client.get("/api/expos/fair")).json()
    assert expo["slug"] == "fair" and expo["languages"] == ["en", "zh_Hans"]
    assert [h["name"] for h in (await world.client.get("/api/expos/fair/halls")).json()["items"]] == [
        "Hall A"
    ]
    assert [c["id"] for c in (await world.client.get("/api/expos/fair/categories")).json()["items"]] == [
        world.category
    ]
    booths = (await world.client.get("/api/expos/fair/booths")).json()
    assert booths["total"] == 2
    products = (await world.client.get(f"/api/booths/{world.booth}/products")).json()
    assert [p["name"] for p in products["items"]] == ["Desk lamp"]
    assert (await world.client.get("/api/booths/99999")).status_code == 404
    assert (await world.client.get("/api/products/99999")).status_code == 404
