"""Translations: language negotiation, and catalogs that cover every string the interface shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from expo import i18n
from web import LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("zh-CN", "zh_Hans"),
        ("zh-Hans-CN,zh;q=0.9", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-TW", None),  # Traditional script: not served Simplified Chinese
        ("zh-Hant-HK, en;q=0.5", "en"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh-CN;q=0.7, en;q=0.3", "zh_Hans"),
        ("zh-CN;q=0.2, en-GB;q=0.8", "en"),
        ("en;q=0, zh;q=0.1", "zh_Hans"),
        ("de, fr", None),
        ("en;q=banana, zh;q=0.5", "zh_Hans"),
        ("*", None),
    ],
)
def test_negotiate(header: str | None, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected


def test_choose_locale_prefers_the_account_then_the_cookie_then_the_browser() -> None:
    assert i18n.choose_locale("zh_Hans", "en", "en", "en") == "zh_Hans"
    assert i18n.choose_locale(None, "zh_Hans", "en", "en") == "zh_Hans"
    assert i18n.choose_locale(None, "xx", "zh-CN", "en") == "zh_Hans"
    assert i18n.choose_locale(None, None, "de", "zh_Hans") == "zh_Hans"


def test_translate_leaves_unknown_text_and_percent_signs_alone() -> None:
    i18n.activate("zh_Hans")
    try:
        assert i18n.translate("Wrong e-mail or password.") == "邮箱或密码错误。"
        assert i18n.translate("Welcome, %(name)s", name="Ann") == "欢迎，Ann"  # noqa: RUF001
        assert i18n.translate("100% not in the catalog") == "100% not in the catalog"
    finally:
        i18n.activate("en")


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parts[-3])
def test_every_message_is_translated(po: Path) -> None:
    with po.open("rb") as f:
        catalog = read_po(f)
    assert len(catalog) > 50
    for message in catalog:
        if not message.id:
            continue
        assert isinstance(message.id, str) and isinstance(message.string, str), message.id
        assert message.string.strip(), f"{po.parts[-3]}: no translation for {message.id!r}"
        assert "fuzzy" not in message.flags, message.id
        # The same placeholders, or formatting fails (or silently drops a name) at render time.
        assert sorted(_PLACEHOLDER.findall(message.string)) == sorted(_PLACEHOLDER.findall(message.id))


def _extracted() -> set[str]:
    """Every string the code and templates mark, extracted exactly as scripts/i18n does."""
    method_map = [
        ("expo/**.py", "python"),
        ("booths/**.py", "python"),
        ("streaming/**.py", "python"),
        ("web/templates/**.html", "jinja2"),
    ]
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(ROOT, method_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_babel_cfg_matches_the_extraction_used_here() -> None:
    sections = re.findall(r"^\[(\w+): ([^\]]+)\]", (ROOT / "babel.cfg").read_text(), re.MULTILINE)
    assert sorted((pattern, method) for method, pattern in sections) == sorted(
        [
            ("expo/**.py", "python"),
            ("booths/**.py", "python"),
            ("streaming/**.py", "python"),
            ("web/templates/**.html", "jinja2"),
        ]
    )


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parts[-3])
def test_every_marked_string_is_in_the_catalog(po: Path) -> None:
    with po.open("rb") as f:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f)}
    extracted = _extracted()
    assert "Log in" in extracted and "Wrong e-mail or password." in extracted  # templates and N_()
    missing = sorted(extracted - known)
    assert not missing, f"run scripts/i18n and translate: {missing}"


def test_template_strings_are_found_by_a_plain_scan_too() -> None:
    """A second, independent check: every literal _("...") in a template is in the catalog."""
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        known = {m.id for m in read_po(f)}
    literal = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
    templates = sorted((ROOT / "web" / "templates").glob("*.html"))
    assert templates
    for template in templates:
        for double, single in literal.findall(template.read_text()):
            assert (double or single) in known, f"{template.name}: {double or single!r}"
