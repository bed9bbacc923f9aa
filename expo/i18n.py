"""Translations: gettext catalogs under ``web/locale``, chosen per request.

Catalogs are ``.po`` files compiled in memory at start-up (no build step, nothing binary in the
repository). The language is, in order: the signed-in user's choice, the ``expo_lang`` cookie,
the browser's ``Accept-Language``, then ``default_locale``.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from contextvars import ContextVar
from functools import cache

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from web import LOCALE_DIR

LOCALES = {"en": "English", "zh_Hans": "简体中文"}
LANG_COOKIE = "expo_lang"
_current: ContextVar[str] = ContextVar("expo_locale", default="en")


# CLDR's two-letter territories that are not countries: groupings and placeholders (EU, UN, ZZ...).
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 country codes, as CLDR lists them (read once, on first use)."""
    return frozenset(
        str(code)
        for code in Locale("en").territories
        if len(str(code)) == 2 and str(code).isalpha() and str(code) not in _NOT_COUNTRIES
    )


@cache
def country_choices(locale: str) -> tuple[tuple[str, str], ...]:
    """Every country as ``(code, name in locale)``, sorted by the name as its reader reads it
    (a plain Unicode sort of the names: alphabetical in English, by character in Chinese)."""
    try:
        names = Locale.parse(locale).territories
    except (ValueError, TypeError):
        names = Locale("en").territories
    pairs = ((code, str(names.get(code, code))) for code in countries())
    return tuple(sorted(pairs, key=lambda pair: (pair[1].casefold(), pair[0])))


@cache
def translations(locale: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _match(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        # Traditional-script tags are not Simplified Chinese; everything else zh-* is served zh_Hans.
        return None if tag in ("zh-tw", "zh-hk", "zh-mo", "zh-hant") or "hant" in tag else "zh_Hans"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The best supported locale for an ``Accept-Language`` header, by quality."""
    if not accept_language:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = _match(tag)
        if locale and quality > 0:
            choices.append((-quality, index, locale))
    return min(choices)[2] if choices else None


def choose_locale(
    user_locale: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    for candidate in (user_locale, cookie):
        if candidate in LOCALES:
            return candidate
    return negotiate(accept_language) or default


def activate(locale: str) -> None:
    _current.set(locale if locale in LOCALES else "en")


def current_locale() -> str:
    return _current.get()


def gettext_(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def localized(obj: object, name: str, locale: str | None = None) -> str:
    """The text field ``name`` of organizer or exhibitor content (an expo, hall, booth, program,
    broadcast...) in ``locale`` (default: the request's), else as stored.

    The translations live in the object's ``translations`` attribute or key:
    ``{"zh_Hans": {"title": "..."}}``; an empty translation falls back to the stored text.
    """
    locale = locale or current_locale()
    if isinstance(obj, Mapping):
        translations, stored = obj.get("translations") or {}, obj.get(name)
    else:
        translations, stored = getattr(obj, "translations", None) or {}, getattr(obj, name, "")
    translated = translations.get(locale) if isinstance(translations, dict) else None
    if isinstance(translated, dict) and translated.get(name):
        return str(translated[name])
    return str(stored or "")


def translate(message: str, **params: object) -> str:
    """Translate text known only at run time (an error's message, a flash message).

    Unlike the templates' ``_()``, the text is %-formatted only when ``params`` are given, so a
    message that happens to contain ``%`` is shown as it is. Unknown text comes back unchanged.
    """
    text = gettext_(message)
    return text % params if params else text
