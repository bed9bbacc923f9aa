"""Stream keys start with a letter (issue 12, finding 10): a key starting with ``-`` reads as an
option to the command-line encoders that take it as an argument."""

from __future__ import annotations

import string

from starlette.applications import Starlette

from expo.expos.services import ensure_expo
from streaming import services

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def a_fine_key(key: str) -> bool:
    return len(key) == 43 and key[0] in string.ascii_letters and set(key) <= URL_SAFE


def test_new_keys_start_with_a_letter() -> None:
    # A fifth of plain token_urlsafe draws start with a digit, '-' or '_': 5,000 would show it.
    keys = [services.new_key() for _ in range(5000)]
    assert all(a_fine_key(key) for key in keys)
    assert len(set(keys)) == len(keys)


async def test_created_and_regenerated_keys_start_with_a_letter(app: Starlette) -> None:
    async with app.state.platform.db.session() as session:
        expo = await ensure_expo(session, "fair", "Fair")
        stream = await services.create_stream(session, expo=expo, title="Keynote", owner=None)
        seen = {stream.key}
        for _ in range(40):
            stream = await services.regenerate_key(session, stream)
            seen.add(stream.key)
    assert len(seen) == 41
    assert all(a_fine_key(key) for key in seen)
