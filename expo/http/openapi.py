"""The OpenAPI 3.1 document, generated from the app's :class:`Endpoint` declarations."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount

from expo import __version__
from expo.http.api import Endpoint
from expo.http.inputs import MAX_ID

_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
_PARAM_TYPES = {
    "int": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "str": {"type": "string"},
    "path": {"type": "string"},
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def endpoints(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, Endpoint]]:
    found: list[tuple[str, Endpoint]] = []
    for route in routes:
        if isinstance(route, Endpoint):
            found.append((prefix + route.path, route))
        elif isinstance(route, Mount):
            found.extend(endpoints(route.routes, prefix + route.path))
    return found


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi(routes: list[BaseRoute]) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for path, ep in endpoints(routes):
        params: list[dict[str, Any]] = [
            {"name": m[1], "in": "path", "required": True, "schema": _PARAM_TYPES.get(m[2] or "str", {})}
            for m in _PARAM.finditer(path)
        ]
        if ep.query_model is not None:
            query_schema = ep.query_model.model_json_schema()
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        op: dict[str, Any] = {
            "operationId": ep.name,
            "summary": ep.summary,
            "tags": list(ep.tags),
            "parameters": params,
            "responses": {},
        }
        if ep.description and ep.description != ep.summary:
            op["description"] = ep.description
        if ep.body_model is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(ep.body_model, components)}},
            }
        elif ep.body_media is not None:
            op["requestBody"] = {"required": True, "content": {ep.body_media: {"schema": {"type": "string"}}}}
        ok: dict[str, Any] = {"description": "Success"}
        if ep.response_model is not None:
            ok["content"] = {"application/json": {"schema": _schema(ep.response_model, components)}}
        elif ep.response_media is not None:
            ok["content"] = {ep.response_media: {"schema": {"type": "string"}}}
        op["responses"][str(ep.status)] = ok
        error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if ep.auth is not None:
            op["security"] = [{"bearer": []}]
            op["responses"]["401"] = {"description": "Not signed in", **error_ref}
            op["responses"]["403"] = {"description": "Not allowed", **error_ref}
        op["responses"]["4XX"] = {"description": "Client error", **error_ref}
        paths.setdefault(_PARAM.sub(r"{\1}", path), {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "expo", "version": __version__, "description": "Virtual expo platform API."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
