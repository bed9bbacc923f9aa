"""Input shapes of the expo floor, shared by the API, the pages and the catalogue import, and the
checks of single values (currency, country, translations)."""

from __future__ import annotations

import re
from typing import Any

from babel.numbers import is_currency
from pydantic import ConfigDict, Field
from sqlmodel import SQLModel

from expo.errors import N_, Invalid
from expo.expos.models import Expo
from expo.http.inputs import Id, NullRules
from expo.i18n import countries

MAX_PRICE = 10**13  # hundredths: ten thousand billion units is more than any listed price
_SPACES = re.compile(r"[\s\u00a0\u202f']")  # spaces, no-break and narrow no-break spaces, apostrophes
_GROUPED = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


def parse_price(raw: str) -> int | None:
    """A price typed by a person, in hundredths: ``"19.99"``, ``"19,99"``, ``"1,234.50"``,
    ``"1.234,50"`` and ``"1 234,50"`` all read as they are meant; empty is ``None``.

    The last separator followed by one or two digits is the decimal one; separators followed by
    groups of three digits group thousands (1,000 and 1.234.567,50). Anything else (letters, a
    negative amount, more than two decimals, a lone 12.345 that could be either) is refused,
    never guessed: 9,80 is 9.80, not 980.
    """
    text = _SPACES.sub("", raw)
    if not text:
        return None
    whole, decimals = text, ""
    last = max(text.rfind(","), text.rfind("."))
    if last >= 0 and 1 <= len(text) - last - 1 <= 2:
        whole, decimals = text[:last], text[last + 1 :]
    if "," in whole or "." in whole:
        # "12.345" alone may be twelve with three decimals or twelve thousand: asked, not guessed.
        lone_dot = not decimals and whole.count(".") == 1 and "," not in whole
        if lone_dot or not _GROUPED.match(whole) or len({c for c in whole if c in ",."}) > 1:
            raise Invalid(N_("A price is a number like 19.99 or 19,99."), code="product.invalid_price")
        whole = whole.replace(",", "").replace(".", "")
    if not whole.isdigit() or (decimals and not decimals.isdigit()):
        raise Invalid(N_("A price is a number like 19.99 or 19,99."), code="product.invalid_price")
    cents = int(whole) * 100 + int(decimals.ljust(2, "0") or 0)
    if cents > MAX_PRICE:
        raise Invalid(N_("This price is too large."), code="product.invalid_price")
    return cents


def check_currency(code: str) -> str:
    """An ISO 4217 code (upper case, as CLDR lists them), or :class:`Invalid`."""
    if not (len(code) == 3 and code.isascii() and code.isupper() and is_currency(code)):
        raise Invalid(
            f"{code!r} is not an ISO 4217 currency code (e.g. USD, CNY).", code="product.invalid_currency"
        )
    return code


def check_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased, or :class:`Invalid`."""
    upper = code.strip().upper()
    if upper not in countries():
        raise Invalid(
            f"{code!r} is not an ISO 3166 country code (e.g. CN, DE).", code="booth.invalid_country"
        )
    return upper


class Fields(NullRules):
    model_config = ConfigDict(extra="forbid")


class TextFields(Fields):
    """One language's version of an object's text fields."""

    name: str | None = Field(default=None, max_length=200)
    tagline: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20000)


class Link(Fields):
    label: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=500, pattern=r"^https?://")


class HallFields(Fields):
    not_null = frozenset({"name", "description", "translations", "position"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    translations: dict[str, TextFields] | None = None
    position: int | None = Field(default=None, ge=0, le=100000)


class CategoryFields(Fields):
    not_null = frozenset({"name", "translations", "position"})  # a null parent_id: a top category

    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent_id: Id | None = None
    translations: dict[str, TextFields] | None = None
    position: int | None = Field(default=None, ge=0, le=100000)


class BoothFields(Fields):
    """What booth staff edit. Placement and status are the organizers' (:class:`Placement`).
    A null text empties it; a null country clears it."""

    not_null = frozenset({"name"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tagline: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    translations: dict[str, TextFields] | None = None
    country: str | None = Field(default=None, max_length=2)
    contact_name: str | None = Field(default=None, max_length=120)
    contact_email: str | None = Field(default=None, max_length=254)
    contact_phone: str | None = Field(default=None, max_length=40)
    website: str | None = Field(default=None, max_length=500, pattern=r"^(https?://.*)?$")
    links: list[Link] | None = Field(default=None, max_length=20)


class Placement(Fields):
    not_null = frozenset({"tier"})  # a null hall or number: not placed

    hall_id: Id | None = None
    number: str | None = Field(default=None, max_length=32)
    tier: str | None = Field(default=None, min_length=1, max_length=16)


class ProductFields(Fields):
    not_null = frozenset({"name"})  # null empties the other texts and clears the other values

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    translations: dict[str, TextFields] | None = None
    category_id: Id | None = None
    price_min: int | None = Field(default=None, ge=0, le=MAX_PRICE, description="hundredths of the currency")
    price_max: int | None = Field(default=None, ge=0, le=MAX_PRICE, description="hundredths of the currency")
    currency: str | None = Field(default=None, max_length=3)
    moq: int | None = Field(default=None, ge=1, le=10**9)
    tags: list[str] | None = Field(default=None, max_length=30)


def check_translations(expo: Expo, translations: dict[str, TextFields] | None) -> dict[str, Any]:
    if not translations:
        return {}
    unknown = set(translations) - set(expo.language_list)
    if unknown:
        raise Invalid(
            f"Translations for languages this expo does not use: {', '.join(sorted(unknown))}.",
            code="expo.invalid_languages",
        )
    return {lang: t.model_dump(exclude_none=True) for lang, t in translations.items()}


def assign(obj: SQLModel, changes: dict[str, Any]) -> None:
    """Set checked values. Services check everything first and assign last, so a refused change
    leaves the caller's objects as they were (and nothing for a later commit to store)."""
    for name, value in changes.items():
        setattr(obj, name, value)
