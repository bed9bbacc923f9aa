"""Fixtures for the streaming tests: the real Chromium of tests/browser, for the watch and go-live pages."""

from tests.browser.conftest import browser, console_errors, page

__all__ = ["browser", "console_errors", "page"]
