"""A real Chromium (Debian's /usr/bin/chromium) driven by Playwright's async API.

Async so that browser tests can await the app, the bus or a second page alongside the browser;
the sync API would also hold an event loop open in the test thread and break ``asyncio.run``
in other fixtures. Without Chromium the tests are skipped with the reason, except in CI.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("EXPO_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium with a fake camera and microphone that are always allowed."""
    if not Path(CHROMIUM).is_file():
        message = f"Chromium not found at {CHROMIUM} (set EXPO_TEST_CHROMIUM)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the browser tests are required)")
        pytest.skip(message)
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Errors the page reported: console errors (CSP violations among them) and uncaught exceptions."""
    return []


@pytest.fixture
async def page(browser: Browser, console_errors: list[str]) -> AsyncIterator[Page]:
    """A fresh, English-speaking browser profile with one tab; errors land in ``console_errors``."""
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    tab = await context.new_page()
    tab.on(
        "console",
        lambda message: (
            console_errors.append(f"{message.text} [{message.location.get('url')}]")
            if message.type == "error"
            else None
        ),
    )
    tab.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    try:
        yield tab
    finally:
        await context.close()
