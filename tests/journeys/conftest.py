"""Fixtures and helpers for the journey tests: each journey runs once in English and once in
Chinese, in a Chromium profile whose language is the reader's (``Accept-Language`` from the
browser locale, as a real Chinese reader's browser sends it), and checks what the pages say
against the app's own catalog."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from expo.app import create_app
from expo.config import Settings
from expo.i18n import translations
from tests.booths.web import PASSWORD
from tests.browser.conftest import browser, console_errors  # noqa: F401  (fixtures)
from tests.conftest import LiveServer, create_schema, free_port, make_settings

TIMEOUT = 30_000
"""Milliseconds a step may take on the shared, loaded machine."""


@dataclass(frozen=True)
class Reader:
    """A reader's language: the browser's locale and the app's catalog for it."""

    locale: str  # the app's locale: "en" or "zh_Hans"
    browser_locale: str  # what the browser announces: "en-US" or "zh-CN"

    def t(self, message: str) -> str:
        """The catalog's translation of ``message`` (the English text itself in English). In
        Chinese an untranslated message fails the test: the page would show English, and an
        assertion expecting the English text would pass on it."""
        text = translations(self.locale).gettext(message)
        assert not self.chinese or text != message, f"not translated into {self.locale}: {message!r}"
        return text

    @property
    def chinese(self) -> bool:
        return self.locale == "zh_Hans"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The public URL is the live server's own: the links the app prints in full (a room's host
    link on the rooms page) lead back to it, as they do in a real deployment."""
    return make_settings(tmp_path, public_url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """tests/conftest.py's live server, on the port of the settings' public URL."""
    asyncio.run(create_schema(settings.database))
    server = LiveServer(create_app(settings, check_schema=False))
    port = urlsplit(settings.public_url).port
    assert port is not None
    server.port, server.url, server.server.config.port = port, f"http://127.0.0.1:{port}", port
    with server:
        yield server


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """``expect`` waits up to TIMEOUT in these tests (Playwright's default is 5 s), then as before."""
    expect.set_options(timeout=TIMEOUT)
    yield
    expect.set_options(timeout=None)


READERS = [Reader("en", "en-US"), Reader("zh_Hans", "zh-CN")]


@pytest.fixture(params=READERS, ids=["en", "zh"])
def reader(request: pytest.FixtureRequest) -> Reader:
    r: Reader = request.param
    return r


async def new_tab(
    chromium: Browser, reader: Reader, errors: list[str], who: str
) -> tuple[BrowserContext, Page]:
    """A fresh browser profile in the reader's language with one tab; errors go to ``errors``."""
    context = await chromium.new_context(
        locale=reader.browser_locale, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(TIMEOUT)
    page = await context.new_page()
    page.on(
        "console",
        lambda m: errors.append(f"{who}: {m.text} [{m.location.get('url')}]") if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: errors.append(f"{who}: uncaught: {error}"))
    return context, page


async def sign_in(page: Page, server: LiveServer, reader: Reader, email: str) -> None:
    """The login form, as a returning user fills it."""
    t = reader.t
    await page.goto(server.url + "/login")
    await expect(page.get_by_role("heading", name=t("Log in"), level=1)).to_be_visible()
    await page.get_by_label(t("E-mail")).fill(email)
    await page.get_by_label(t("Password")).fill(PASSWORD)
    await page.get_by_role("button", name=t("Log in"), exact=True).click()
    await flashed(page, t("Welcome back!"))


async def flashed(page: Page, message: str) -> None:
    """The page shows ``message`` as a success message (beside its Dismiss button)."""
    await expect(page.locator(".messages .message.success")).to_contain_text(message)
