"""What the boundary refuses before any handler or query sees it (issue 12, findings 1, 2 and 4):
ids the store cannot hold, control characters in text, and null where a field cannot be empty.
Every check runs on both stores: PostgreSQL is the one that fails loudly (int32 ids, NUL bytes)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from booths.models import Booth
from expo.config import Settings
from expo.http.inputs import MAX_ID, IdConvertor
from tests.booths.conftest import Floor, seed_floor
from tests.booths.web import PASSWORD, browser, csrf_of
from tests.conftest import make_settings

HUGE = [MAX_ID + 1, 2**63]  # PostgreSQL's INTEGER ends at the first, SQLite's at the second
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


@dataclass
class World:
    client: httpx.AsyncClient
    auth: dict[str, str]  # an administrator's bearer token: every route gets past its permission check
    floor: Floor

    @property
    def slug(self) -> str:
        return self.floor.expo.slug

    @property
    def booth(self) -> Booth:
        return next(iter(self.floor.booths.values()))


@pytest.fixture
async def world(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[World]:
    floor = await seed_floor(app.state.platform.db, by_admin=True)
    login = await client.post("/api/auth/login", json={"email": floor.organizer.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    yield World(client, {"Authorization": f"Bearer {login.json()['token']}"}, floor)


def http_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, route
        elif isinstance(route, Mount):
            yield from http_routes(route.routes, prefix + route.path)


def id_routes(app: Starlette) -> list[tuple[str, Route]]:
    return [(path, route) for path, route in http_routes(app.routes) if ":int}" in path]


# Finding 1: ids ------------------------------------------------------------------------------------------


def test_the_id_convertor_matches_exactly_the_ids_the_store_can_hold() -> None:
    pattern = re.compile(f"^{IdConvertor.regex}$")
    for text in ("0", "1", "7", "42", "007", "999999999", "1000000000", "2147483647", "0002147483647"):
        assert pattern.match(text), text
    for text in (
        "2147483648",
        "2147483650",
        "2200000000",
        "9999999999",
        "10000000000",
        "9223372036854775808",
    ):
        assert not pattern.match(text), text
    for n in range(0, MAX_ID + 2, 9_999_991):  # a sweep across the whole range and just past it
        assert bool(pattern.match(str(n))) == (n <= MAX_ID), n


def test_every_int_route_parameter_is_a_bounded_id(app: Starlette) -> None:
    routes = id_routes(app)
    assert len(routes) > 100
    loose = [
        path
        for path, route in routes
        for name, kind in _PARAM.findall(route.path)
        if kind == "int" and not isinstance(route.param_convertors[name], IdConvertor)
    ]
    assert loose == []


@pytest.mark.parametrize("huge", HUGE)
async def test_huge_ids_in_any_path_are_404(app: Starlette, world: World, huge: int) -> None:
    """Every route with an id in its path, every method, as an administrator: the page or API
    answers 404 (never 5xx, which also drops the keep-alive connection)."""
    answers: dict[str, int] = {}
    for path, route in id_routes(app):
        url = _PARAM.sub(
            lambda m: str(huge) if m[2] == "int" else world.slug if m[1] == "slug" else "x", path
        )
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = await world.client.request(method, url, headers=world.auth, **kwargs)
            if response.status_code != 404:
                answers[f"{method} {url}"] = response.status_code
    assert answers == {}


async def test_a_huge_id_page_is_the_usual_not_found_page(world: World) -> None:
    response = await world.client.get(f"/watch/{2**63}")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    api = await world.client.get(f"/api/booths/{MAX_ID + 1}")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def field_error(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert field in [d["field"] for d in error["details"]], error
    return str(error["code"])


@pytest.mark.parametrize("huge", HUGE)
async def test_huge_ids_in_query_strings_and_bodies_are_422(world: World, huge: int) -> None:
    c, auth, expo = world.client, world.auth, f"/api/expos/{world.slug}"
    field_error(await c.get(f"{expo}/search", params={"q": "a", "hall": huge}), "hall")
    field_error(await c.get(f"{expo}/search", params={"q": "a", "category": huge}), "category")
    field_error(await c.get(f"{expo}/booths", params={"hall": huge}), "hall")
    created = await c.post(f"{expo}/categories", json={"name": "Deep", "parent_id": huge}, headers=auth)
    field_error(created, "parent_id")
    booth = f"{expo}/booths"
    field_error(
        await c.post(booth, json={"name": "B", "placement": {"hall_id": huge}}, headers=auth),
        "placement.hall_id",
    )
    product = {"name": "P", "category_id": huge}
    field_error(
        await c.post(f"/api/booths/{world.booth.id}/products", json=product, headers=auth), "category_id"
    )
    field_error(
        await c.post("/api/streams", json={"title": "T", "expo": world.slug, "booth_id": huge}, headers=auth),
        "booth_id",
    )
    stream = await c.post("/api/streams", json={"title": "T", "expo": world.slug}, headers=auth)
    assert stream.status_code == 201, stream.text
    chat = f"/api/streams/{stream.json()['id']}"
    field_error(await c.get(f"{chat}/chat", params={"before": huge}), "before")
    field_error(
        await c.post(f"{chat}/sanctions", json={"user_id": huge, "kind": "mute"}, headers=auth), "user_id"
    )


async def test_the_document_bounds_every_integer_a_client_sends(client: httpx.AsyncClient) -> None:
    """Whatever a client may send as an integer has a maximum the store can hold (or its own)."""
    doc = (await client.get("/api/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], where, seen | {name})
            return
        for branch in schema.get("anyOf", []):
            walk(branch, where, seen)
        if schema.get("type") == "integer" and "maximum" not in schema:
            unbounded.append(where)
        for name, prop in schema.get("properties", {}).items():
            walk(prop, f"{where}.{name}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{where}.*", seen)

    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for param in op["parameters"]:
                walk(param["schema"], f"{method} {path} {param['name']}", frozenset())
            for content in op.get("requestBody", {}).get("content", {}).values():
                walk(content["schema"], f"{method} {path} body", frozenset())
    assert unbounded == []


# Finding 2: control characters -------------------------------------------------------------------------


async def test_control_characters_in_json_text_are_422(world: World) -> None:
    c, auth, expo = world.client, world.auth, f"/api/expos/{world.slug}"
    login = await c.post("/api/auth/login", json={"email": "nu\u0000l@p.test", "password": "whatever it is"})
    assert field_error(login, "email") == "input.control"
    signup = {"email": "new@p.test", "password": "a long enough password", "name": "Esc\u001b[31m"}
    field_error(await c.post("/api/auth/signup", json=signup), "name")
    field_error(await c.post(f"{expo}/booths", json={"name": "Nul\u0000Booth"}, headers=auth), "name")
    tagline = await c.patch(f"/api/booths/{world.booth.id}", json={"tagline": "bell\u0007"}, headers=auth)
    field_error(tagline, "tagline")
    links = {"links": [{"label": "x\u007f", "url": "https://example.com"}]}
    field_error(await c.patch(f"/api/booths/{world.booth.id}", json=links, headers=auth), "links.0.label")
    field_error(await c.patch(expo, json={"title": "Fair\u0000"}, headers=auth), "title")
    stream = await c.post("/api/streams", json={"title": "T\u0000", "expo": world.slug}, headers=auth)
    field_error(stream, "title")
    stream = await c.post("/api/streams", json={"title": "T", "expo": world.slug}, headers=auth)
    chat = await c.post(f"/api/streams/{stream.json()['id']}/chat", json={"body": "hi\u0000"}, headers=auth)
    field_error(chat, "body")
    # Multi-line text keeps its tabs and line breaks, and nothing was stored by the refusals.
    text = "first line\r\nsecond\tline"
    kept = await c.patch(f"/api/booths/{world.booth.id}", json={"description": text}, headers=auth)
    assert kept.status_code == 200 and kept.json()["description"] == text
    assert (await c.get(f"/api/booths/{world.booth.id}")).json()["tagline"] != "bell\u0007"


async def test_a_line_break_never_ends_an_address(world: World) -> None:
    # A "$" anchor matches before a final newline: an expo at "/expos/fair2%0A" would be unreachable.
    made = await world.client.post(
        "/api/expos", json={"slug": "fair2\n", "title": "Fair 2"}, headers=world.auth
    )
    assert made.status_code == 422 and made.json()["error"]["code"] == "expo.invalid_slug"


@pytest.mark.parametrize("query", ["a%00b", "a%1Bb", "%7F", "a%7fb"])
async def test_control_characters_in_query_strings_are_422(world: World, query: str) -> None:
    api = await world.client.get(f"/api/expos/{world.slug}/search?q={query}")
    assert api.status_code == 422 and api.json()["error"]["code"] == "input.control"
    page = await world.client.get(f"/expos/{world.slug}?q={query}")
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]


async def test_a_search_with_a_line_break_is_still_a_search(world: World) -> None:
    assert (await world.client.get(f"/api/expos/{world.slug}/search?q=a%0Ab")).status_code == 200


async def test_control_characters_in_paths_are_404(world: World) -> None:
    assert (await world.client.get("/expos/fa%00ir")).status_code == 404
    response = await world.client.get(f"/api/expos/{world.slug}%00/booths")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


async def test_control_characters_in_forms_are_422(app: Starlette, world: World) -> None:
    async with browser(app) as anonymous:
        page = await anonymous.get("/login")
        data = {"csrf_token": csrf_of(page.text), "email": "nu\u0000l@p.test", "password": PASSWORD}
        response = await anonymous.post("/login", data=data)
        assert response.status_code == 422
        assert "control characters" in response.text
    async with browser(app, world.floor.organizer.email) as organizer:
        page = await organizer.get("/organizer/expos/fair/settings")
        data = {"csrf_token": csrf_of(page.text), "title": "Fair\u0000"}
        assert (await organizer.post("/organizer/expos/fair/settings", data=data)).status_code == 422
    assert (await world.client.get("/api/expos/fair")).json()["title"] == world.floor.expo.title


# Finding 4: null -----------------------------------------------------------------------------------------


async def test_null_for_a_field_that_cannot_be_empty_is_422(world: World) -> None:
    c, auth, expo = world.client, world.auth, f"/api/expos/{world.slug}"
    for field in ("title", "timezone", "languages", "applications_open"):
        assert (
            field_error(await c.patch(expo, json={field: None}, headers=auth), field) == "validation.invalid"
        )
    field_error(await c.patch(f"/api/booths/{world.booth.id}", json={"name": None}, headers=auth), "name")
    hall = next(iter(world.floor.halls.values()))
    field_error(await c.patch(f"{expo}/halls/{hall.id}", json={"position": None}, headers=auth), "position")
    stream = await c.post("/api/streams", json={"title": "T", "expo": world.slug}, headers=auth)
    for field in ("title", "visibility", "scheduled_start"):
        field_error(
            await c.patch(f"/api/streams/{stream.json()['id']}", json={field: None}, headers=auth), field
        )
    # Where the document allows null, it means what it says: an emptied description, a cleared date.
    cleared = await c.patch(expo, json={"description": None, "starts_on": None}, headers=auth)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["description"] == "" and cleared.json()["starts_on"] is None


async def test_json_values_of_another_type_than_the_document_says_are_422(world: World) -> None:
    """Issue 12, finding 8: booleans are not integers, numbers are not date-times nor strings, and
    no value is coerced; the documented forms (RFC 3339 strings, JSON numbers) still work."""
    c, auth, expo = world.client, world.auth, f"/api/expos/{world.slug}"
    created = await c.post("/api/streams", json={"title": "T", "expo": world.slug}, headers=auth)
    assert created.status_code == 201, created.text
    stream = f"/api/streams/{created.json()['id']}"
    hall = next(iter(world.floor.halls.values()))
    wrong: list[tuple[str, str, dict[str, Any], str]] = [
        ("PATCH", f"{stream}/chat-settings", {"slow_mode_seconds": False}, "slow_mode_seconds"),
        ("PATCH", f"{stream}/chat-settings", {"slow_mode_seconds": "5"}, "slow_mode_seconds"),
        ("PATCH", f"{stream}/chat-settings", {"slow_mode_seconds": 5.0}, "slow_mode_seconds"),
        ("PATCH", stream, {"planned_end": 0}, "planned_end"),
        ("PATCH", stream, {"scheduled_start": 1767225600}, "scheduled_start"),
        ("PATCH", stream, {"title": 42}, "title"),
        ("PATCH", f"{expo}/halls/{hall.id}", {"position": True}, "position"),
        ("POST", f"{expo}/halls", {"name": "Hall Z", "position": False}, "position"),
    ]
    for method, url, body, field in wrong:
        response = await c.request(method, url, json=body, headers=auth)
        assert field_error(response, field) == "validation.invalid", (method, url, body)
    right = await c.patch(f"{stream}/chat-settings", json={"slow_mode_seconds": 5}, headers=auth)
    assert right.status_code == 200 and right.json()["slow_mode_seconds"] == 5, right.text
    end = {"scheduled_start": "2030-01-02T10:00:00Z", "planned_end": "2030-01-02T11:30:00+00:00"}
    patched = await c.patch(stream, json=end, headers=auth)
    assert patched.status_code == 200, patched.text
    assert patched.json()["planned_end"].startswith("2030-01-02T11:30:00")


async def test_the_document_says_which_fields_can_be_null(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/api/openapi.json")).json()["components"]["schemas"]

    def nullable(model: str, field: str) -> bool:
        prop = schemas[model]["properties"][field]
        return (
            any(branch.get("type") == "null" for branch in prop.get("anyOf", []))
            or prop.get("type") == "null"
        )

    assert not nullable("ExpoFields", "title") and nullable("ExpoFields", "description")
    assert not nullable("BoothFields", "name") and nullable("BoothFields", "country")
    assert not nullable("StreamPatch", "title") and not nullable("StreamPatch", "planned_end")
    assert not nullable("ProgramFields", "starts_at") and nullable("ProgramFields", "capacity")
    assert "default" not in schemas["ExpoFields"]["properties"]["title"]


@pytest.mark.parametrize("huge", HUGE)
async def test_huge_ids_in_page_forms_are_refused_clearly(app: Starlette, world: World, huge: int) -> None:
    """Forms that name a record by id (the product of an inquiry, where a deleted hall's booths
    go, the registration to check in) answer with a message, not a server error."""
    hall = next(iter(world.floor.halls.values()))
    booth = f"/expos/{world.slug}/booths/{world.booth.id}"
    forms = [
        (booth, f"{booth}/inquiry", {"product_id": str(huge), "message": "Do you ship abroad?"}),
        (
            f"/organizer/expos/{world.slug}",
            f"/organizer/expos/{world.slug}/halls/{hall.id}/delete",
            {"move_to": str(huge)},
        ),
        (
            f"/organizer/expos/{world.slug}/check-in",
            f"/organizer/expos/{world.slug}/check-in",
            {"registration_id": str(huge)},
        ),
    ]
    async with browser(app, world.floor.organizer.email) as organizer:
        for page, action, data in forms:
            opened = await organizer.get(page)
            assert opened.status_code == 200, page
            response = await organizer.post(action, data={"csrf_token": csrf_of(opened.text), **data})
            assert response.status_code < 500, (action, response.status_code)
