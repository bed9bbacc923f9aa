"""The OpenAPI 3.1 document, generated from the app's :class:`Endpoint` declarations."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Mount

from expo import __version__
from expo.http.api import Endpoint
from expo.http.inputs import MAX_ID

REF = "#/components/schemas/"
_REF = re.compile(r'"\$ref": "#/components/schemas/([^"]+)"')
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

Mode = Literal["validation", "serialization"]


def endpoints(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, Endpoint]]:
    found: list[tuple[str, Endpoint]] = []
    for route in routes:
        if isinstance(route, Endpoint):
            found.append((prefix + route.path, route))
        elif isinstance(route, Mount):
            found.extend(endpoints(route.routes, prefix + route.path))
    return found


class Components:
    """Every model's schema, generated in one pass so that two models that share a name (a
    ``RegistrationOut`` in two domains) get distinct component names instead of one overwriting
    the other: pydantic qualifies a name with its module only where it would collide."""

    def __init__(self, found: list[tuple[str, Endpoint]]) -> None:
        wanted: list[tuple[type[BaseModel], Mode]] = []
        for _, ep in found:
            uses: tuple[tuple[type[BaseModel] | None, Mode], ...] = (
                (ep.body_model, "validation"),
                (ep.query_model, "validation"),
                (ep.response_model, "serialization"),
            )
            for model, mode in uses:
                if model is not None and (model, mode) not in wanted:
                    wanted.append((model, mode))
        refs, top = models_json_schema(wanted, ref_template=REF + "{model}")
        self.names = {key: str(ref["$ref"]).removeprefix(REF) for key, ref in refs.items()}
        self.schemas: dict[str, Any] = {"Error": _ERROR, **top.get("$defs", {})}

    def ref(self, model: type[BaseModel], mode: Mode) -> dict[str, Any]:
        """A ``$ref`` to ``model``'s component (request bodies validate, responses serialize)."""
        return {"$ref": REF + self.names[(model, mode)]}

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        """``model``'s own schema: a query string's fields become parameters, not a component."""
        schema: dict[str, Any] = self.schemas[self.names[(model, "validation")]]
        return schema

    def referenced_from(self, paths: dict[str, Any]) -> dict[str, Any]:
        """The components that ``paths`` refer to, directly or through other components."""
        keep: set[str] = set()
        todo = _REF.findall(json.dumps(paths))
        while todo:
            name = todo.pop()
            if name not in keep:
                keep.add(name)
                todo.extend(_REF.findall(json.dumps(self.schemas[name])))
        return {name: schema for name, schema in self.schemas.items() if name in keep}


def build_openapi(routes: list[BaseRoute]) -> dict[str, Any]:
    found = endpoints(routes)
    components = Components(found)
    paths: dict[str, dict[str, Any]] = {}
    for path, ep in found:
        params: list[dict[str, Any]] = [
            {"name": m[1], "in": "path", "required": True, "schema": _PARAM_TYPES.get(m[2] or "str", {})}
            for m in _PARAM.finditer(path)
        ]
        if ep.query_model is not None:
            query_schema = components.inline(ep.query_model)
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
                "content": {"application/json": {"schema": components.ref(ep.body_model, "validation")}},
            }
        elif ep.body_media is not None:
            op["requestBody"] = {"required": True, "content": {ep.body_media: {"schema": {"type": "string"}}}}
        ok: dict[str, Any] = {"description": "Success"}
        if ep.response_model is not None:
            ok["content"] = {
                "application/json": {"schema": components.ref(ep.response_model, "serialization")}
            }
        elif ep.response_media is not None:
            ok["content"] = {ep.response_media: {"schema": {"type": "string"}}}
        op["responses"][str(ep.status)] = ok
        error_ref = {"content": {"application/json": {"schema": {"$ref": REF + "Error"}}}}
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
            "schemas": components.referenced_from(paths),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
