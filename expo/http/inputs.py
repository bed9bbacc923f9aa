"""What every input must be before a handler sees it: ids the store can hold, text without control
characters, and null only where a field can be cleared.

Each rule is applied once, at the boundary: ids in paths by the ``int`` path convertor (registered
by :mod:`expo.http`), ids in bodies and query strings by the :data:`Id` type, text in paths and
query strings by :class:`~expo.http.middleware.BoundaryMiddleware`, in JSON bodies by
:class:`~expo.http.api.Endpoint` and in forms by :func:`~expo.http.pages.read_form`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from starlette.convertors import IntegerConvertor

from expo.errors import N_, Invalid

# Ids are PostgreSQL INTEGER columns (SQLite holds 64 bits, but both stores must answer alike).
MAX_ID = 2**31 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""An id in a request body or query string: out of range is a 422, never a query."""


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_day(value: Any) -> Any:
    # pydantic reads a query string's "0" as 1970-01-01 (a Unix time); the document says format: date.
    if not isinstance(value, str):
        return value
    try:
        if _ISO_DAY.fullmatch(value):
            return date.fromisoformat(value)  # a date, which strict validation accepts as it is
    except ValueError:
        pass
    raise PydanticCustomError("date_format", "a day is written YYYY-MM-DD")


Day = Annotated[date, BeforeValidator(_iso_day)]
"""A calendar day in a query string or body: only as ``YYYY-MM-DD``, never a number."""


def _at_most(limit: int) -> str:
    """A regex for the decimal numbers from 0 to ``limit`` (leading zeros allowed)."""
    digits = str(limit)
    alternatives = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            alternatives.append(digits[:i] + f"[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "0*(?:" + "|".join(alternatives) + ")"


def parse_id(text: str) -> int | None:
    """An id typed into a form field, or ``None`` when it is not one the store could hold."""
    value = int(text) if text.isascii() and text.isdigit() else 0
    return value if 1 <= value <= MAX_ID else None


class IdConvertor(IntegerConvertor):
    """``{name:int}`` in a route: a number above :data:`MAX_ID` does not match, so it is a 404.

    The regex does the refusing because Starlette turns an exception in ``convert`` into a 500.
    """

    regex = _at_most(MAX_ID)


# C0 controls and DEL; tab, line feed and carriage return are what multi-line text is made of.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_IN_QUERY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])")
_CONTROL_IN_PATH = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_MESSAGE = N_("Text cannot contain control characters.")


def _strings(data: Any) -> Iterator[tuple[str, str]]:
    """Every string in decoded JSON (keys too), with where it is; iterative, whatever the nesting."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                yield name, str(key)
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{where}.{i}" if where else str(i), item) for i, item in enumerate(value))


def refuse_control(data: Any, where: str) -> None:
    """:class:`Invalid` (422) when any string in decoded JSON ``data`` holds a control character."""
    _refuse(_strings(data), where)


def refuse_control_in_fields(fields: Iterable[tuple[str, Any]], where: str) -> None:
    """The same for (name, value) pairs, such as a form's fields (files are not text)."""
    _refuse(((name, value) for name, value in fields if isinstance(value, str)), where)


def _refuse(strings: Iterable[tuple[str, str]], where: str) -> None:
    bad = [name or "(body)" for name, text in strings if CONTROL.search(text)]
    if bad:
        details = [{"field": name, "message": CONTROL_MESSAGE} for name in sorted(bad)]
        raise Invalid(f"Invalid {where}: {bad[0]}: {CONTROL_MESSAGE}", code="input.control", details=details)


def control_in_query(query_string: bytes) -> bool:
    """Whether a raw query string decodes to a control character (``%00``, ``%1B``, ...)."""
    return bool(query_string) and _CONTROL_IN_QUERY.search(query_string) is not None


def control_in_path(path: str) -> bool:
    return _CONTROL_IN_PATH.search(path) is not None


def csv_header(
    reader: Iterator[list[str]], columns: Sequence[str], required: Sequence[str], *, shown: int | None = None
) -> list[str]:
    """The column names of an uploaded CSV file's first line, lowercased; :class:`ValueError`
    saying what makes them unusable (not CSV, no header, a column unknown, missing or named twice).
    ``shown``: at most that many characters of each unknown name are quoted back."""
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ValueError(f"the header is not valid CSV: {exc}") from None
    if not header:
        raise ValueError("the file is empty; the first line names the columns")
    names = [h.strip().lower() for h in header]
    unknown = [n[:shown] for n in names if n not in columns]
    missing = [n for n in required if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        problem = (
            f"unknown columns: {', '.join(unknown)}"
            if unknown
            else f"missing columns: {', '.join(missing)}"
            if missing
            else "a column is named twice"
        )
        raise ValueError(f"{problem} (columns: {', '.join(columns)})")
    return names


def _document_not_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The JSON schema of a :class:`NullRules` model: its ``not_null`` fields do not admit null."""
    properties = schema.get("properties", {})
    for name in getattr(model, "not_null", ()):
        prop = properties.get(name)
        if prop is None:
            continue
        branches = prop.pop("anyOf", None)
        if branches is not None:
            kept = [b for b in branches if b.get("type") != "null"]
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
        if prop.get("default", ...) is None:
            del prop["default"]


class NullRules(BaseModel):
    """A body whose fields may be left out: ``null`` is refused (422) for the names in ``not_null``
    (what the store cannot hold empty), and the OpenAPI document says so. Elsewhere ``null``
    means what the service documents (empty, cleared or unchanged)."""

    model_config = ConfigDict(json_schema_extra=_document_not_null)

    not_null: ClassVar[frozenset[str]] = frozenset()

    # After, not before, validation: a before-validator would hand the inner validator a Python
    # value instead of JSON, and strict validation (see Endpoint) then refuses an RFC 3339 string
    # for a date-time. A field that cannot hold None has already refused it by then.
    @field_validator("*", mode="after")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise PydanticCustomError("not_null", "may be left out, but cannot be null")
        return value
