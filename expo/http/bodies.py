"""Reading request bodies under a size limit, before anything else touches them."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from expo.errors import BadRequest, TooLarge, UnsupportedMediaType


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest("Content-Length is not a number.", code="request.bad_length") from None
        if size > limit:
            raise TooLarge(f"Request bodies are limited to {limit} bytes.")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLarge(f"Request bodies are limited to {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    return decode_json(await read_json_bytes(request, limit))


async def read_json_bytes(request: Request, limit: int) -> bytes:
    """The raw body of an ``application/json`` request (415 for any other media type)."""
    if media_type(request) != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    return await read_body(request, limit)


def decode_json(raw: bytes) -> Any:
    """``raw`` decoded, or 400 ``request.bad_json`` saying why it is not JSON."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}", code="request.bad_json") from None
    except RecursionError:
        # json's decoder recurses per nesting level: "[[[[..." within the size limit exhausts the stack.
        raise BadRequest("The body is nested too deeply.", code="request.bad_json") from None
