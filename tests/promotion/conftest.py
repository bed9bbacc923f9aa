"""The promotion site's fixtures: a city's expo run by its organizer, a second expo run by another,
and small real files to upload."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from starlette.applications import Starlette

from expo.config import Settings
from expo.expos import services as expos
from expo.expos.services import ExpoFields
from tests.booths.web import make_account
from tests.browser.conftest import browser
from tests.conftest import make_settings

__all__ = ["browser", "make_png", "seed_expos", "settings"]

SITE = "/organizer/expos/city/invest"
# The first bytes of an MP4 file: what the checked upload path reads to call a file a video.
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2mp41" + b"\x00" * 64
VTT_EN = "WEBVTT\n\n00:00.000 --> 00:04.000\nWelcome to Shenzhen.\n"
VTT_ZH = "WEBVTT\n\n00:00.000 --> 00:04.000\n欢迎来到深圳。\n"


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """SQLite; a test parametrized with ``settings=["postgresql"]`` (indirect) runs on PostgreSQL."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


def make_png(colour: str = "teal", size: tuple[int, int] = (320, 180)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


async def seed_expos(app: Starlette) -> None:
    """``city`` run by org@example.com and ``zone`` run by other@example.com."""
    org = await make_account(app, "org@example.com", "organizer")
    other = await make_account(app, "other@example.com", "organizer")
    await make_account(app, "visitor@example.com", "visitor")
    async with app.state.platform.db.session() as session:
        await expos.create_expo(session, "city", ExpoFields(title="Shenzhen Invest"), org)
        await expos.create_expo(session, "zone", ExpoFields(title="Qianhai Zone"), other)
