"""Personal calendar feeds on both stores: one link per person until they replace it, after which
the old link names nobody; forged, legacy and disabled-account links name nobody either."""

from __future__ import annotations

import pytest

from expo.accounts import services as accounts
from expo.accounts.models import User
from expo.agenda import feeds
from expo.db import Database
from expo.errors import NotFound
from expo.security import sign

SECRET = "test-secret-" + "x" * 32


def _token(path: str) -> str:
    return path.removeprefix("/agenda/feed/").removesuffix(".ics")


async def _user(db: Database, email: str) -> User:
    async with db.session() as s:
        return await accounts.create_user(s, email=email, password="correct horse battery", role="visitor")


async def test_a_reset_link_replaces_the_old_one(db: Database) -> None:
    ann, bob = await _user(db, "ann@example.com"), await _user(db, "bob@example.com")
    async with db.session() as s:
        first = feeds.feed_path(SECRET, await feeds.feed_of(s, ann))
    async with db.session() as s:
        assert feeds.feed_path(SECRET, await feeds.feed_of(s, ann)) == first
        assert (await feeds.feed_owner(s, SECRET, _token(first))).id == ann.id
        bobs = feeds.feed_path(SECRET, await feeds.feed_of(s, bob))
        assert (await feeds.feed_owner(s, SECRET, _token(bobs))).id == bob.id
    async with db.session() as s:
        second = feeds.feed_path(SECRET, await feeds.reset_feed(s, ann))
    assert second != first
    async with db.session() as s:
        assert (await feeds.feed_owner(s, SECRET, _token(second))).id == ann.id
        with pytest.raises(NotFound):
            await feeds.feed_owner(s, SECRET, _token(first))
        assert (await feeds.feed_owner(s, SECRET, _token(bobs))).id == bob.id  # Bob's link is his own


async def test_forged_legacy_and_disabled_links_name_nobody(db: Database) -> None:
    ann = await _user(db, "ann@example.com")
    assert ann.id is not None
    async with db.session() as s:
        feed = await feeds.feed_of(s, ann)
        token = _token(feeds.feed_path(SECRET, feed))
        key = feed.key
    bad = [
        "nonsense",
        token + "x",
        _token(feeds.feed_path("another-secret-" + "y" * 32, feed)),
        sign(SECRET, feeds.PURPOSE, ann.id),  # the earlier links signed the user id alone
        sign(SECRET, feeds.PURPOSE, [ann.id, "guessed"]),
        sign(SECRET, feeds.PURPOSE, [ann.id + 1, key]),
        sign(SECRET, feeds.PURPOSE, [2**70, key]),
        sign(SECRET, feeds.PURPOSE, [True, key]),
    ]
    async with db.session() as s:
        for value in bad:
            with pytest.raises(NotFound):
                await feeds.feed_owner(s, SECRET, value)
        user = await s.get(User, ann.id)
        assert user is not None
        user.is_active = False
        s.add(user)
        await s.commit()
    async with db.session() as s:
        with pytest.raises(NotFound):
            await feeds.feed_owner(s, SECRET, token)
