"""Expo rules: finding an expo by slug, creating one when missing."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Expo
from expo import audit
from expo.errors import Invalid, NotFound
from expo.i18n import LOCALES

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def check_slug(slug: str) -> str:
    """The slug if it is usable in a URL: lowercase letters, digits and inner dashes, at most 64."""
    if not _SLUG.match(slug):
        raise Invalid(
            "An expo slug is 1 to 64 lowercase letters, digits and dashes, "
            "not starting or ending with a dash.",
            code="expo.invalid_slug",
        )
    return slug


async def find_expo(session: AsyncSession, slug: str) -> Expo | None:
    return (await session.exec(select(Expo).where(Expo.slug == slug))).first()


async def get_expo(session: AsyncSession, slug: str) -> Expo:
    """The expo with this slug, or :class:`NotFound` (``expo.unknown``)."""
    expo = await find_expo(session, slug)
    if expo is None:
        raise NotFound(f"There is no expo {slug!r}.", code="expo.unknown")
    return expo


async def ensure_expo(
    session: AsyncSession,
    slug: str,
    title: str,
    *,
    description: str = "",
    languages: str = "en,zh_Hans",
    timezone: str = "UTC",
    starts_on: date | None = None,
    ends_on: date | None = None,
    created_by: int | None = None,
) -> Expo:
    """The expo with this slug, created and committed with these details when missing.

    An existing expo is returned unchanged. Safe when two callers create the same slug at once:
    the unique index on the slug decides and the loser reads the winner's row.
    """
    existing = await find_expo(session, check_slug(slug))
    if existing is not None:
        return existing
    title = title.strip()
    if not title or len(title) > 200:
        raise Invalid("An expo title has 1 to 200 characters.", code="expo.invalid_title")
    unknown = set(languages.split(",")) - set(LOCALES)
    if unknown:
        raise Invalid(f"Unsupported languages: {', '.join(sorted(unknown))}.", code="expo.invalid_languages")
    if starts_on and ends_on and ends_on < starts_on:
        raise Invalid("An expo cannot end before it starts.", code="expo.invalid_dates")
    expo = Expo(
        slug=slug,
        title=title,
        description=description,
        languages=languages,
        timezone=timezone,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=created_by,
    )
    session.add(expo)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        winner = await find_expo(session, slug)
        if winner is None:  # the conflict was something else: let it surface
            raise
        return winner
    audit.record(session, "expo.created", actor_id=created_by, target=f"expo:{expo.id}", slug=slug)
    await session.commit()
    return expo
