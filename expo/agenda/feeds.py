"""Personal calendar feeds: the secret link at which a calendar app reads someone's agenda.

Calendar apps subscribe without a cookie, so the link itself is the credential:
``/agenda/feed/{token}.ics`` where the token is the user id and a random key (a
:class:`~expo.agenda.models.CalendarFeed` row), signed with the server's secret. The key is made
the first time the owner asks for their link; :func:`reset_feed` replaces it, after which every
earlier link answers 404. A forged token, a key that is no longer the user's and a disabled
account all look the same from outside: an unknown link.
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.agenda.models import CalendarFeed
from expo.errors import N_, NotFound
from expo.security import sign, unsign

PURPOSE = "agenda-feed"


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def feed_path(secret: str, feed: CalendarFeed) -> str:
    """The feed's path, to append to the public URL."""
    return f"/agenda/feed/{sign(secret, PURPOSE, [feed.user_id, feed.key])}.ics"


async def feed_of(session: AsyncSession, user: User) -> CalendarFeed:
    """``user``'s feed, its key made (and committed) the first time anyone asks."""
    assert user.id is not None
    feed = await session.get(CalendarFeed, user.id)
    if feed is not None:
        return feed
    feed = CalendarFeed(user_id=user.id, key=_new_key())
    session.add(feed)
    try:
        await session.commit()
    except IntegrityError:  # two first requests at once: the other one's key stands
        await session.rollback()
        existing = await session.get(CalendarFeed, user.id)
        assert existing is not None
        return existing
    return feed


async def reset_feed(session: AsyncSession, user: User) -> CalendarFeed:
    """Give ``user``'s feed a new key: the old link stops working, the new one works at once."""
    feed = await feed_of(session, user)
    feed.key = _new_key()
    session.add(feed)
    audit.record(session, "agenda.feed_reset", actor_id=user.id, target=f"user:{user.id}")
    await session.commit()
    return feed


async def feed_owner(session: AsyncSession, secret: str, token: str) -> User:
    """The active user whose current link carries ``token``, or :class:`NotFound` (``program.bad_feed``)."""
    claim = unsign(secret, PURPOSE, token)
    user = None
    if (
        isinstance(claim, list)
        and len(claim) == 2
        and type(claim[0]) is int
        and 0 < claim[0] < 2**63
        and isinstance(claim[1], str)
    ):
        feed = await session.get(CalendarFeed, claim[0])
        if feed is not None and secrets.compare_digest(feed.key.encode(), claim[1].encode()):
            user = await session.get(User, feed.user_id)
    if user is None or not user.is_active:
        raise NotFound(N_("This calendar link is not valid."), code="program.bad_feed")
    return user
