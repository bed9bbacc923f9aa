"""The HTTP boundary: body parsing, error shapes, headers, metrics, health and the OpenAPI document."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from expo.http.api import Endpoint, Schema
from expo.http.openapi import Components, build_openapi, endpoints
from tests.conftest import signup_and_login

SIGNUP = "/api/auth/signup"
GOOD = {"email": "ok@example.com", "password": "correct horse battery"}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def limit(client: httpx.AsyncClient) -> int:
    app: Starlette = client._transport.app  # type: ignore[attr-defined]
    return int(app.state.platform.settings.max_body_bytes)


# -- request bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "ok@example.com"}, "password"),
        ({"email": 42, "password": "correct horse battery"}, "email"),
        ({**GOOD, "role": "admin"}, "role"),
        ({**GOOD, "is_admin": True}, "is_admin"),
        ({**GOOD, "name": "x" * 121}, "name"),
    ],
)
async def test_invalid_bodies_are_422_with_details(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    error = error_of(await client.post(SIGNUP, json=body), 422)
    assert error["code"] == "validation.invalid"
    assert field in error["message"]
    assert any(d["field"] == field and d["message"] for d in error["details"])


@pytest.mark.parametrize("body", ["[]", "null", '"text"', "42"])
async def test_bodies_that_are_not_objects_are_422(client: httpx.AsyncClient, body: str) -> None:
    response = await client.post(SIGNUP, content=body, headers={"content-type": "application/json"})
    assert error_of(response, 422)["code"] == "validation.invalid"


async def test_business_rule_violations_are_422(client: httpx.AsyncClient) -> None:
    weak = await client.post(SIGNUP, json={**GOOD, "password": "short"})
    assert error_of(weak, 422)["code"] == "account.weak_password"
    email = await client.post(SIGNUP, json={**GOOD, "email": "not an email"})
    assert error_of(email, 422)["code"] == "account.invalid_email"


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_non_json_bodies_are_415(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(SIGNUP, content=b'{"email": "a@b.cd"}', headers=headers)
    assert error_of(response, 415)["code"] == "request.unsupported_media_type"


async def test_json_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    import json

    response = await client.post(
        SIGNUP, content=json.dumps(GOOD), headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("raw", [b'{"email": ', b"{'single': 'quotes'}", b"\xff\xfe\x00", b"[" * 100_000])
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(SIGNUP, content=raw, headers={"content-type": "application/json"})
    assert error_of(response, 400)["code"] == "request.bad_json"


async def test_oversized_body_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"email": "' + b"a" * limit(client) + b'"}'
    response = await client.post(SIGNUP, content=body, headers={"content-type": "application/json"})
    assert error_of(response, 413)["code"] == "request.too_large"


async def test_oversized_chunked_body_is_413(client: httpx.AsyncClient) -> None:
    size = limit(client)
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"email": "'
        # Keep sending well past the limit: the server must stop reading, not buffer it all.
        while sent < size * 4:
            sent += 65536
            yield b"a" * 65536
        yield b'"}'

    response = await client.post(SIGNUP, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert error_of(response, 413)["code"] == "request.too_large"


async def test_body_just_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    import json

    body = json.dumps({**GOOD, "name": "n"}).encode()
    padded = body[:-1] + b" " * (limit(client) - len(body)) + b"}"
    assert len(padded) == limit(client)
    response = await client.post(SIGNUP, content=padded, headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text


# -- routing errors ----------------------------------------------------------------


async def test_unknown_api_route_is_404_json(client: httpx.AsyncClient) -> None:
    assert error_of(await client.get("/api/no/such/thing"), 404)["code"] == "not_found"


async def test_wrong_method_is_405_json(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/me")
    assert error_of(response, 405)["code"] == "request.method_not_allowed"
    assert "GET" in response.headers["allow"]


async def test_unknown_page_is_an_html_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


async def test_unexpected_errors_are_500_json_without_internals(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(request: Request) -> None:
        raise RuntimeError("secret internal detail in /srv/expo/db.py")

    app.router.routes.append(Endpoint("/api/test/explode", explode))
    app.router.routes.append(Route("/test/explode", explode))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with caplog.at_level(logging.ERROR, logger="expo.errors"):
            api = await client.get("/api/test/explode", headers={"X-Request-ID": "trace-500"})
            page = await client.get("/test/explode")
    error = error_of(api, 500)
    assert error["code"] == "server.error"
    for response in (api, page):
        assert response.status_code == 500
        assert "secret" not in response.text and "RuntimeError" not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"
    assert api.headers["x-request-id"] == "trace-500"
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "secret internal detail" in str(logged[0].exc_info[1])  # type: ignore[index]


# -- operations --------------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    auth = await signup_and_login(client, "metrics@example.com")
    for _ in range(3):
        assert (await client.get("/api/me", headers=auth)).status_code == 200
    await client.get("/api/tokens/12345/nothing")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'expo_http_requests_total{method="GET",route="/api/me",status="200"} 3.0' in text
    assert 'expo_http_requests_total{method="POST",route="/api/auth/login",status="200"} 1.0' in text
    # Unmatched paths share one label, so scanners cannot blow up the series count.
    assert 'route="(unmatched)",status="404"' in text
    assert "/api/tokens/12345" not in text
    assert 'expo_http_request_duration_seconds_count{route="/api/me"} 3.0' in text


# -- headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/online", "/api/me", "/healthz", "/no/such/page", "/static/css/expo.css"]
)
async def test_security_headers_on_every_response(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    headers = response.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in headers  # only over HTTPS


async def test_hsts_over_https(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_request_id_is_echoed_or_made_up(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made_up = await client.get("/healthz")
    assert len(made_up.headers["x-request-id"]) >= 8
    # Anything that could smuggle text into the logs is replaced, not echoed.
    hostile = await client.get("/healthz", headers={"X-Request-ID": "a\tb c" + "x" * 100})
    assert hostile.headers["x-request-id"] != "a\tb c" + "x" * 100
    assert hostile.headers["x-request-id"].isalnum()


# -- OpenAPI -----------------------------------------------------------------------


def api_routes(app: Starlette) -> set[tuple[str, str]]:
    """(path template, method) of every /api route the app serves, HEAD aside."""
    found = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/"):
            continue
        template = path.replace(":int}", "}").replace(":str}", "}").replace(":path}", "}")
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((template, method.lower()))
    return found


async def test_openapi_document_describes_every_api_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    app: Starlette = client._transport.app  # type: ignore[attr-defined]
    assert api_routes(app) <= documented
    assert ("/api/openapi.json", "get") in documented
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    login = doc["paths"]["/api/auth/login"]["post"]
    schema_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    login_schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(login_schema["required"]) == {"email", "password"}
    me = doc["paths"]["/api/me"]["get"]
    assert me["security"] == [{"bearer": []}] and "401" in me["responses"]
    revoke = doc["paths"]["/api/auth/tokens/{token_id}"]["delete"]
    assert revoke["parameters"][0]["schema"]["type"] == "integer"


async def test_openapi_document_is_valid(client: httpx.AsyncClient) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    doc = (await client.get("/api/openapi.json")).json()
    validator.validate(doc)


async def test_a_bus_failure_is_a_503_to_retry_not_a_500(
    app: Starlette, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A request that needs the bus while it is down (Redis gone) is told to come back, and the
    outage is not logged again for every such request (the bus logs it once)."""
    await app.state.platform.bus.close()  # every bus operation now raises BusError
    with caplog.at_level("WARNING"):
        response = await client.get("/api/online")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service.unavailable"
    assert int(response.headers["retry-after"]) >= 1
    assert not [r for r in caplog.records if r.name.startswith("expo")], caplog.text


def _two_models_named_out() -> tuple[type[Schema], type[Schema]]:
    """Two different models that share a name, as RegistrationOut does in two domains."""

    def booth_side() -> type[Schema]:
        class Out(Schema):
            booth: str

        return Out

    def registration_side() -> type[Schema]:
        class Out(Schema):
            registered: bool
            when: datetime

        return Out

    return booth_side(), registration_side()


def _component(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].removeprefix("#/components/schemas/")
    component: dict[str, Any] = doc["components"]["schemas"][name]
    return component


async def _nothing(request: Request) -> None:
    return None


def test_models_that_share_a_name_get_a_component_each() -> None:
    booth_out, registration_out = _two_models_named_out()
    doc = build_openapi(
        [
            Endpoint("/api/a", _nothing, response=booth_out, name="a"),
            Endpoint(
                "/api/b", _nothing, method="POST", body=registration_out, response=registration_out, name="b"
            ),
        ]
    )
    a = _component(
        doc, doc["paths"]["/api/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )
    b_ok = doc["paths"]["/api/b"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    b_in = doc["paths"]["/api/b"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(a["properties"]) == {"booth"}
    assert set(_component(doc, b_ok)["properties"]) == {"registered", "when"}
    assert set(_component(doc, b_in)["properties"]) == {"registered", "when"}
    assert _component(doc, b_in)["properties"]["when"]["format"] == "date-time"


async def test_every_reference_in_the_document_is_the_model_the_route_declares(app: Starlette) -> None:
    """No two models share a component: each name stands for one model (identity, not name), and
    every operation's body and answer refer to the component of exactly its declared model."""
    found = endpoints(app.routes)
    components = Components(found)
    models_by_name: dict[str, set[type[BaseModel]]] = {}
    for (model, _mode), name in components.names.items():
        models_by_name.setdefault(name, set()).add(model)
    assert {name: models for name, models in models_by_name.items() if len(models) > 1} == {}
    doc = build_openapi(app.routes)
    checked = 0
    for path, ep in found:
        op = doc["paths"][re.sub(r":[a-z]+}", "}", path)][ep.method.lower()]
        if ep.body_model is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert set(_component(doc, schema)["properties"]) == set(ep.body_model.model_fields), path
            checked += 1
        if ep.response_model is not None:
            content = op["responses"][str(ep.status)]["content"]["application/json"]
            fields = set(ep.response_model.model_fields) | set(ep.response_model.model_computed_fields)
            assert set(_component(doc, content["schema"])["properties"]) == fields, path
            checked += 1
    assert checked > 100
    # Both RegistrationOut models are in the document, each under its own name.
    titles = [c.get("title") for c in doc["components"]["schemas"].values()]
    assert titles.count("RegistrationOut") == 2


async def test_the_document_states_types_bounds_and_formats(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/api/openapi.json")).json()["components"]["schemas"]
    slow = schemas["ChatSettingsIn"]["properties"]["slow_mode_seconds"]
    assert slow["type"] == "integer" and slow["minimum"] == 0 and "maximum" in slow
    planned_end = schemas["StreamPatch"]["properties"]["planned_end"]
    assert planned_end == {**planned_end, "type": "string", "format": "date-time"}
    title = schemas["StreamIn"]["properties"]["title"]
    assert title["minLength"] == 1 and title["maxLength"] > 1
    visibility = schemas["StreamPatch"]["properties"]["visibility"]["$ref"].rsplit("/", 1)[1]
    assert schemas[visibility]["enum"] == ["public", "registered"]


class Typed(Schema):
    count: int = 0
    flag: bool = False
    when: datetime | None = None
    name: str = ""


async def _echo(request: Request, body: Typed) -> dict[str, Any]:
    return body.model_dump(mode="json")


@pytest.fixture
def typed(app: Starlette) -> str:
    app.router.routes.append(Endpoint("/api/test/typed", _echo, method="POST", body=Typed))
    return "/api/test/typed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": False}, "count"),
        ({"count": "3"}, "count"),
        ({"count": 3.0}, "count"),
        ({"flag": 0}, "flag"),
        ({"flag": "true"}, "flag"),
        ({"when": 0}, "when"),
        ({"when": 1767225600.5}, "when"),
        ({"name": 7}, "name"),
    ],
)
async def test_json_bodies_are_validated_strictly(
    client: httpx.AsyncClient, typed: str, body: dict[str, Any], field: str
) -> None:
    error = error_of(await client.post(typed, json=body), 422)
    assert any(d["field"] == field for d in error["details"]), error


async def test_strict_bodies_still_take_what_the_document_describes(
    client: httpx.AsyncClient, typed: str
) -> None:
    body = {"count": 3, "flag": True, "when": "2030-05-01T09:30:00+02:00", "name": "x"}
    response = await client.post(typed, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["when"] == "2030-05-01T09:30:00+02:00"
