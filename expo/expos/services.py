"""Expos: finding, creating and changing them, and listing the ones a user's team runs.

Creating an expo makes its creator the owner of its team (:mod:`expo.expos.team`) in the same
transaction. Changing one needs :attr:`~expo.permissions.Perm.CHANGE_EXPO` in it.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.config import Settings
from expo.errors import N_, Conflict, Forbidden, Invalid, NotFound
from expo.expos.models import Expo, ExpoMember
from expo.http.inputs import NullRules
from expo.i18n import LOCALES
from expo.permissions import (
    Perm,
    Standing,
    TeamRole,
    is_admin,
    may_create_expo,
    require_permission,
    standing,
)

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_NOT_EMPTY = ("title", "timezone", "languages", "applications_open")


class ExpoText(BaseModel):
    """An expo's title and description in one of its other languages."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20000)


class ExpoFields(NullRules):
    """What organizers set on an expo: absent leaves a field as it is; null empties the
    description and translations, clears the dates, and is refused for the rest."""

    model_config = ConfigDict(extra="forbid")
    not_null = frozenset(_NOT_EMPTY)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    languages: str | None = Field(default=None, max_length=64)
    starts_on: date | None = None
    ends_on: date | None = None
    applications_open: bool | None = None
    translations: dict[str, ExpoText] | None = Field(
        default=None,
        description='the text in other languages: {"zh_Hans": {"title": ..., "description": ...}}',
    )


@cache
def timezones() -> list[str]:
    """The IANA time zones this machine knows, sorted (``Etc/...`` and legacy aliases left out)."""
    legacy = ("Etc/", "SystemV/", "US/")
    return [*sorted(z for z in available_timezones() if "/" in z and not z.startswith(legacy)), "UTC"]


def _check_timezone(name: str) -> str:
    if name != "UTC" and name not in available_timezones():
        raise Invalid(N_("Choose a time zone from the list."), code="expo.invalid_timezone")
    return name


def _check_translations(
    languages: str, translations: dict[str, ExpoText] | None
) -> dict[str, dict[str, Any]]:
    """The translations as stored: only the expo's languages, without empty texts."""
    unknown = set(translations or {}) - set(languages.split(","))
    if unknown:
        raise Invalid(
            f"Translations for languages this expo does not use: {', '.join(sorted(unknown))}.",
            code="expo.invalid_languages",
        )
    stored = {}
    for lang, text in (translations or {}).items():
        kept = {k: v.strip() for k, v in text.model_dump(exclude_none=True).items() if v.strip()}
        if kept:
            stored[lang] = kept
    return stored


def check_slug(slug: str) -> str:
    """The slug if it is usable in a URL: lowercase letters, digits and inner dashes, at most 64."""
    if not _SLUG.fullmatch(slug):
        raise Invalid(
            N_(
                "An expo's address is 1 to 64 lowercase letters, digits and dashes, "
                "not starting or ending with a dash."
            ),
            code="expo.invalid_slug",
        )
    return slug


def _check_languages(languages: str) -> str:
    if not languages:
        raise Invalid(N_("An expo uses at least one language."), code="expo.invalid_languages")
    unknown = set(languages.split(",")) - set(LOCALES)
    if unknown:
        raise Invalid(f"Unsupported languages: {', '.join(sorted(unknown))}.", code="expo.invalid_languages")
    return languages


async def find_expo(session: AsyncSession, slug: str) -> Expo | None:
    return (await session.exec(select(Expo).where(Expo.slug == slug))).first()


async def get_expo(session: AsyncSession, slug: str) -> Expo:
    """The expo with this slug, or :class:`NotFound` (``expo.unknown``)."""
    expo = await find_expo(session, slug)
    if expo is None:
        raise NotFound(f"There is no expo {slug!r}.", code="expo.unknown")
    return expo


async def expo_by_id(session: AsyncSession, expo_id: int) -> Expo:
    expo = await session.get(Expo, expo_id)
    if expo is None:
        raise NotFound(f"There is no expo {expo_id}.", code="expo.unknown")
    return expo


async def managed_expo(session: AsyncSession, slug: str, user: User | None, perm: Perm) -> Expo:
    """The expo ``slug`` when ``user`` holds ``perm`` in it: 404 when unknown, 401 signed out, 403
    for anyone off its team (or without that permission)."""
    expo = await get_expo(session, slug)
    assert expo.id is not None
    await require_permission(
        session, user, expo.id, perm, "Only this expo's team may do this.", "expo.forbidden"
    )
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
    translations: dict[str, ExpoText] | None = None,
) -> Expo:
    """The expo with this slug, created and committed with these details when missing; its
    creator (``created_by``) owns it. An expo created from the command line has no owner: only
    platform administrators manage it until they add a team.

    An existing expo is returned unchanged. Safe when two callers create the same slug at once:
    the unique index on the slug decides and the loser reads the winner's row.
    """
    existing = await find_expo(session, check_slug(slug))
    if existing is not None:
        return existing
    title = title.strip()
    if not title or len(title) > 200:
        raise Invalid(N_("An expo title has 1 to 200 characters."), code="expo.invalid_title")
    _check_languages(languages)
    _check_timezone(timezone)
    stored = _check_translations(languages, translations)
    if starts_on and ends_on and ends_on < starts_on:
        raise Invalid(N_("An expo cannot end before it starts."), code="expo.invalid_dates")
    expo = Expo(
        slug=slug,
        title=title,
        description=description,
        languages=languages,
        timezone=timezone,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=created_by,
        translations=stored,
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
    assert expo.id is not None
    if created_by is not None:
        session.add(ExpoMember(expo_id=expo.id, user_id=created_by, role=TeamRole.OWNER.value))
    audit.record(session, "expo.created", actor_id=created_by, target=f"expo:{expo.id}", slug=slug)
    await session.commit()
    return expo


async def create_expo(session: AsyncSession, slug: str, fields: ExpoFields, actor: User) -> Expo:
    """A new expo owned by ``actor`` (organizer accounts only); :class:`Conflict` when the slug is taken."""
    if not may_create_expo(actor):
        raise Forbidden("Only organizers may create expos.", code="expo.organizers_only")
    if await find_expo(session, check_slug(slug)) is not None:
        raise Conflict(N_("This address is taken by another expo."), code="expo.exists")
    if fields.title is None:
        raise Invalid(N_("An expo needs a title."), code="expo.invalid_title")
    return await ensure_expo(
        session,
        slug,
        fields.title,
        description=fields.description or "",
        languages=fields.languages or "en,zh_Hans",
        timezone=fields.timezone or "UTC",
        starts_on=fields.starts_on,
        ends_on=fields.ends_on,
        created_by=actor.id,
        translations=fields.translations,
    )


async def _require_changer(session: AsyncSession, expo: Expo, actor: User) -> None:
    assert expo.id is not None
    message = "Only this expo's organizers may change it."
    await require_permission(session, actor, expo.id, Perm.CHANGE_EXPO, message, "expo.forbidden")


async def update_expo(session: AsyncSession, expo: Expo, fields: ExpoFields, actor: User) -> Expo:
    """Change an expo's settings (its team's organizers only); a refused change stores nothing."""
    assert expo.id is not None
    await _require_changer(session, expo, actor)
    changes = fields.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name in _NOT_EMPTY:
            raise Invalid(f"{name} cannot be empty.", code="expo.invalid")
        if value is None and name in ("description", "translations"):
            changes[name] = "" if name == "description" else {}
    if "title" in changes and not changes["title"].strip():
        raise Invalid(N_("An expo needs a title."), code="expo.invalid_title")
    if "languages" in changes:
        _check_languages(changes["languages"])
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    languages = changes.get("languages", expo.languages)
    if "translations" in changes:
        changes["translations"] = _check_translations(languages, fields.translations)
    elif "languages" in changes:  # a language the expo stops using takes its translation along
        changes["translations"] = {k: v for k, v in expo.translations.items() if k in languages.split(",")}
    starts, ends = changes.get("starts_on", expo.starts_on), changes.get("ends_on", expo.ends_on)
    if starts and ends and ends < starts:
        raise Invalid(N_("An expo cannot end before it starts."), code="expo.invalid_dates")
    for name, value in changes.items():
        setattr(expo, name, value)
    audit.record(session, "expo.updated", actor_id=actor.id, target=f"expo:{expo.id}", fields=sorted(changes))
    session.add(expo)
    await session.commit()
    return expo


async def set_expo_banner(session: AsyncSession, expo: Expo, path: str | None, actor: User) -> Expo:
    """Point the expo at a stored banner (``path`` relative to the uploads directory)."""
    await _require_changer(session, expo, actor)
    expo.banner_path = path
    session.add(expo)
    await session.commit()
    return expo


async def list_expos(session: AsyncSession, limit: int | None = None) -> list[Expo]:
    """Expos newest first (by start date), then by title: the public list."""
    query = select(Expo).order_by(col(Expo.starts_on).desc(), col(Expo.title), col(Expo.id)).limit(limit)
    return list((await session.exec(query)).all())


async def team_expos(session: AsyncSession, user: User) -> list[Expo]:
    """The expos whose team ``user`` is on, by title; every expo for a platform administrator."""
    if is_admin(user):
        return await list_expos(session)
    query = (
        select(Expo)
        .join(ExpoMember, col(ExpoMember.expo_id) == col(Expo.id))
        .where(ExpoMember.user_id == user.id)
        .order_by(col(Expo.title), col(Expo.id))
    )
    return list((await session.exec(query)).all())


async def team_standings(session: AsyncSession, user: User) -> list[tuple[Expo, Standing]]:
    """The expos whose team ``user`` is on (every expo for an administrator), each with what the
    user may do there."""
    found = []
    for expo in await team_expos(session, user):
        assert expo.id is not None
        found.append((expo, await standing(session, user, expo.id)))
    return found


async def expos_where(session: AsyncSession, user: User, perm: Perm) -> list[Expo]:
    """The expos in which ``user`` holds ``perm``, by title."""
    return [expo for expo, st in await team_standings(session, user) if st.has(perm)]


async def default_expo(session: AsyncSession, settings: Settings) -> Expo:
    """The expo named by ``settings.default_expo``, created (without an owner) when missing."""
    slug = settings.default_expo
    return await ensure_expo(session, slug, slug.replace("-", " ").title())


async def expo_or_default(session: AsyncSession, settings: Settings, slug: str | None) -> Expo:
    """The expo ``slug`` names (it must exist: ``expo.unknown``), or without one the default expo,
    created when missing: where ``expo streams create`` and ``expo rooms create`` put things."""
    return await (default_expo(session, settings) if slug is None else get_expo(session, slug))
