"""Photographs of pages for people to look at (1280 and 390 px, English and Chinese), taken only
when ``EXPO_TEST_SHOTS`` names a directory: ``EXPO_TEST_SHOTS=/tmp/shots pytest ...``."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

SHOTS = os.environ.get("EXPO_TEST_SHOTS", "")


async def shot(page: Page, name: str, *, showing: str = "") -> None:
    """Save the whole page as ``{EXPO_TEST_SHOTS}/{name}.png``, the element ``showing`` (a
    selector) scrolled into view first; nothing without ``EXPO_TEST_SHOTS``."""
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    if showing:
        await page.locator(showing).scroll_into_view_if_needed()
    await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
