"""The promotion site's rules: its six modules, what the letter and a section may hold, who edits
them (the expo's team with :attr:`~expo.permissions.Perm.CHANGE_EXPO`), and the audit of each change.

Forms are checked whole: :class:`FormInvalid` carries one message per field, so a page shows each
beside its field (and an API would answer them as ``details``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from expo import audit
from expo.accounts.models import User
from expo.db import utcnow
from expo.errors import N_, ExpoError, Invalid, NotFound
from expo.expos import services as expos
from expo.expos.models import Expo
from expo.permissions import Perm
from expo.promotion.models import PromotionSection, PromotionSite
from expo.uploads import MediaKind, Stored

OTHER = "zh_Hans"  # the language beside English that every text is written in
MAX_TEXT = 20000
MAX_SECTIONS = 50
MAX_SUBTITLES = 512 * 1024


@dataclass(frozen=True)
class Module:
    """One of the six pages of a promotion site: its address, its name and what it is for."""

    key: str
    title: str
    summary: str


MODULES: tuple[Module, ...] = (
    Module("invitation", N_("Investment invitation"), N_("Why invest here, and who to talk to.")),
    Module("advantages", N_("Investment advantages"), N_("Industries, talent, markets and policies.")),
    Module("services", N_("Investment services"), N_("How the bureau helps from first visit to opening.")),
    Module("city", N_("City overview"), N_("The city in figures and pictures.")),
    Module("project-filing", N_("Project filing"), N_("Tell us about the project you plan here.")),
    Module("consulting", N_("Consulting service"), N_("Questions on tax, land, talent and licences.")),
)
MODULE_KEYS = {m.key: m for m in MODULES}


class FormInvalid(Invalid):
    """A form with mistakes: ``errors`` maps each field to its message (English, marked)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(N_("Check the fields marked below."), code="promotion.invalid", details=errors)
        self.errors = errors


def form_values(form: Any, names: Iterable[str]) -> dict[str, str]:
    """The text of a submitted form's fields ``names`` ("" for one left out), as a page redraws them."""
    return {name: str(form.get(name, "")) for name in names}


def form_version(form: Any) -> int:
    """The ``version`` a form says its change was made from; 0 (never a stored one, so a 409) when
    it is missing or not a number."""
    raw = str(form.get("version", ""))
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


def form_failure(exc: ExpoError, **extra: Any) -> dict[str, Any]:
    """What a page shows with a form that failed: each field's mistake, the message and ``extra``
    (what was typed, which form). A missing sign-in, a refusal or an unknown address is raised
    again: the error page, not the form, answers those."""
    if exc.status in (401, 403, 404):
        raise exc
    errors = exc.errors if isinstance(exc, FormInvalid) else {}
    return {"errors": errors, "form_error": exc.message, **extra}


def check_date(values: dict[str, str], field: str, errors: dict[str, str]) -> date | None:
    """The optional year-month-day date in ``values[field]``; a mistake goes into ``errors``."""
    raw = values.get(field, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = N_("Give dates as year-month-day, like 2026-10-15.")
        return None


def module(key: str) -> Module:
    """The module at ``/invest/{key}``; :class:`NotFound` for any other address."""
    found = MODULE_KEYS.get(key)
    if found is None:
        raise NotFound(N_("There is nothing at this address."), code="promotion.unknown_module")
    return found


# Reading -------------------------------------------------------------------------------------------------


async def find_site(session: AsyncSession, expo: Expo) -> PromotionSite | None:
    return (await session.exec(select(PromotionSite).where(PromotionSite.expo_id == expo.id))).first()


async def site_of(session: AsyncSession, expo: Expo) -> PromotionSite:
    """The expo's site, unsaved and empty when nothing was written yet."""
    assert expo.id is not None
    return await find_site(session, expo) or PromotionSite(expo_id=expo.id)


async def sections(session: AsyncSession, expo: Expo, key: str | None = None) -> list[PromotionSection]:
    """The sections of one module (or of all), in the order they are shown."""
    query = select(PromotionSection).where(PromotionSection.expo_id == expo.id)
    if key is not None:
        query = query.where(PromotionSection.module == key)
    order = (col(PromotionSection.module), col(PromotionSection.position), col(PromotionSection.id))
    return list((await session.exec(query.order_by(*order))).all())


async def section_of(session: AsyncSession, expo: Expo, key: str, section_id: int) -> PromotionSection:
    section = await session.get(PromotionSection, section_id)
    if section is None or section.expo_id != expo.id or section.module != key:
        raise NotFound(N_("This page has no such section."), code="promotion.unknown_section")
    return section


async def editable_expo(session: AsyncSession, slug: str, user: User | None) -> Expo:
    """The expo ``slug`` when ``user`` may edit its promotion site (its team's organizers)."""
    return await expos.managed_expo(session, slug, user, Perm.CHANGE_EXPO)


# Checking forms ------------------------------------------------------------------------------------------


class _Checker:
    """Reads text fields of a submitted form, collecting a message per bad field."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.errors: dict[str, str] = {}

    def text(self, name: str, limit: int, *, required: bool = False) -> str:
        value = self.values.get(name, "").strip()
        if len(value) > limit:
            self.errors[name] = N_("This is too long.")
        elif required and not value:
            self.errors[name] = N_("This is required.")
        return value[:limit]

    def translations(self, names: dict[str, int]) -> dict[str, Any]:
        text = {name: self.text(f"{name}_{OTHER}", limit) for name, limit in names.items()}
        return {OTHER: {k: v for k, v in text.items() if v}}

    def done(self) -> None:
        if self.errors:
            raise FormInvalid(self.errors)


LETTER_TEXT = {"letter_title": 200, "letter_body": MAX_TEXT, "letter_signatory": 200}
SECTION_TEXT = {"heading": 200, "body": MAX_TEXT, "figure_label": 120, "attachment_title": 200}


def letter_values(site: PromotionSite) -> dict[str, str]:
    """The letter as its form shows it."""
    values = {name: str(getattr(site, name)) for name in LETTER_TEXT}
    values["letter_date"] = site.letter_date.isoformat() if site.letter_date else ""
    for name in LETTER_TEXT:
        values[f"{name}_{OTHER}"] = str(site.translations.get(OTHER, {}).get(name, ""))
    return values


def section_values(section: PromotionSection) -> dict[str, str]:
    values = {name: str(getattr(section, name)) for name in SECTION_TEXT}
    values["figure_value"] = section.figure_value
    values["position"] = str(section.position)
    for name in SECTION_TEXT:
        values[f"{name}_{OTHER}"] = str(section.translations.get(OTHER, {}).get(name, ""))
    return values


# Writing -------------------------------------------------------------------------------------------------


async def _stored_site(session: AsyncSession, expo: Expo) -> PromotionSite:
    site = await site_of(session, expo)
    session.add(site)
    return site


async def save_letter(
    session: AsyncSession, expo: Expo, values: dict[str, str], actor: User
) -> PromotionSite:
    """Write the letter to investors; :class:`FormInvalid` names every bad field."""
    check = _Checker(values)
    title = check.text("letter_title", 200, required=True)
    body = check.text("letter_body", MAX_TEXT, required=True)
    signatory = check.text("letter_signatory", 200)
    raw_date = check.text("letter_date", 10)
    letter_date: date | None = None
    if raw_date:
        try:
            letter_date = date.fromisoformat(raw_date)
        except ValueError:
            check.errors["letter_date"] = N_("Give dates as year-month-day, like 2026-10-15.")
    translations = check.translations(LETTER_TEXT)
    check.done()
    site = await _stored_site(session, expo)
    site.letter_title, site.letter_body, site.letter_signatory = title, body, signatory
    site.letter_date, site.translations, site.updated_at = letter_date, translations, utcnow()
    audit.record(session, "promotion.letter_saved", actor_id=actor.id, target=f"expo:{expo.id}")
    await session.commit()
    return site


FILM_SLOTS = ("film", "poster")
SUBTITLE_SLOTS = {"subtitles_en": "subtitles_en", f"subtitles_{OTHER}": "subtitles_zh"}


async def set_film_file(session: AsyncSession, expo: Expo, slot: str, stored: Stored, actor: User) -> None:
    """Make a stored upload the promotional ``film`` (a video) or its ``poster`` (an image)."""
    if slot == "film" and stored.kind is not MediaKind.VIDEO:
        raise Invalid(N_("The film is an MP4 or WebM video."), code="upload.not_a_video")
    if slot == "poster" and stored.kind is not MediaKind.IMAGE:
        raise Invalid(N_("A poster is an image."), code="upload.not_an_image")
    site = await _stored_site(session, expo)
    setattr(site, f"{slot}_name", stored.name)
    site.updated_at = utcnow()
    audit.record(
        session, f"promotion.{slot}_set", actor_id=actor.id, target=f"expo:{expo.id}", name=stored.name
    )
    await session.commit()


def check_subtitles(data: bytes) -> str:
    """WebVTT text from an uploaded file, or :class:`Invalid`: UTF-8, starting with ``WEBVTT``."""
    if len(data) > MAX_SUBTITLES:
        raise Invalid(N_("Subtitle files can be at most 512 KiB."), code="upload.too_large")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise Invalid(N_("Subtitles are a WebVTT file in UTF-8."), code="upload.not_webvtt") from None
    first = text.split("\n", 1)[0].rstrip("\r")
    if not (first == "WEBVTT" or first.startswith(("WEBVTT ", "WEBVTT\t"))) or "\x00" in text:
        raise Invalid(N_("Subtitles are a WebVTT file in UTF-8."), code="upload.not_webvtt")
    return text.replace("\r\n", "\n")


async def set_subtitles(session: AsyncSession, expo: Expo, slot: str, text: str, actor: User) -> None:
    site = await _stored_site(session, expo)
    setattr(site, SUBTITLE_SLOTS[slot], text)
    site.updated_at = utcnow()
    audit.record(session, f"promotion.{slot}_set", actor_id=actor.id, target=f"expo:{expo.id}")
    await session.commit()


REMOVABLE = (*FILM_SLOTS, *SUBTITLE_SLOTS)


async def remove_film_file(session: AsyncSession, expo: Expo, slot: str, actor: User) -> None:
    """Stop showing the film, its poster or one language's subtitles (stored files stay)."""
    if slot not in REMOVABLE:
        raise Invalid(N_("Choose what to remove."), code="upload.invalid_slot")
    site = await _stored_site(session, expo)
    if slot in SUBTITLE_SLOTS:
        setattr(site, SUBTITLE_SLOTS[slot], "")
    else:
        setattr(site, f"{slot}_name", None)
    site.updated_at = utcnow()
    audit.record(session, f"promotion.{slot}_removed", actor_id=actor.id, target=f"expo:{expo.id}")
    await session.commit()


def _section_fields(values: dict[str, str]) -> dict[str, Any]:
    check = _Checker(values)
    fields: dict[str, Any] = {
        "heading": check.text("heading", 200, required=True),
        "body": check.text("body", MAX_TEXT),
        "figure_value": check.text("figure_value", 40),
        "figure_label": check.text("figure_label", 120),
        "attachment_title": check.text("attachment_title", 200),
    }
    if fields["figure_value"] and not fields["figure_label"] and "figure_label" not in check.errors:
        check.errors["figure_label"] = N_("Say what the figure counts.")
    raw_position = values.get("position", "").strip()
    if raw_position:
        if raw_position.lstrip("-").isdigit() and abs(int(raw_position)) <= 1000:
            fields["position"] = int(raw_position)
        else:
            check.errors["position"] = N_("Give a whole number from -1000 to 1000.")
    fields["translations"] = check.translations(SECTION_TEXT)
    check.done()
    return fields


async def add_section(
    session: AsyncSession, expo: Expo, key: str, values: dict[str, str], actor: User
) -> PromotionSection:
    """Add a section at the end of the module ``key`` (or at the position given)."""
    module(key)
    fields = _section_fields(values)
    existing = await sections(session, expo, key)
    if len(existing) >= MAX_SECTIONS:
        raise FormInvalid({"heading": N_("This page has too many sections; remove some first.")})
    fields.setdefault("position", max((s.position for s in existing), default=0) + 1)
    assert expo.id is not None
    section = PromotionSection(expo_id=expo.id, module=key, **fields)
    session.add(section)
    await session.flush()
    audit.record(
        session, "promotion.section_added", actor_id=actor.id, target=f"expo:{expo.id}", section=section.id
    )
    await session.commit()
    return section


async def save_section(
    session: AsyncSession, section: PromotionSection, values: dict[str, str], actor: User
) -> PromotionSection:
    fields = _section_fields(values)
    for name, value in fields.items():
        setattr(section, name, value)
    section.updated_at = utcnow()
    session.add(section)
    target = f"expo:{section.expo_id}"
    audit.record(session, "promotion.section_saved", actor_id=actor.id, target=target, section=section.id)
    await session.commit()
    return section


async def set_section_file(
    session: AsyncSession, section: PromotionSection, slot: str, stored: Stored, actor: User
) -> None:
    """Show a stored ``picture`` (an image) or ``attachment`` (a PDF) in a section."""
    if slot == "picture" and stored.kind is not MediaKind.IMAGE:
        raise Invalid(N_("A picture is an image."), code="upload.not_an_image")
    if slot == "attachment" and stored.kind is not MediaKind.BROCHURE:
        raise Invalid(N_("Attachments are PDF documents."), code="upload.not_a_pdf")
    if slot not in ("picture", "attachment"):
        raise Invalid(N_("Choose where the file goes."), code="upload.invalid_slot")
    setattr(section, f"{slot}_name", stored.name)
    section.updated_at = utcnow()
    session.add(section)
    target = f"expo:{section.expo_id}"
    audit.record(
        session, f"promotion.section_{slot}_set", actor_id=actor.id, target=target, section=section.id
    )
    await session.commit()


async def remove_section(session: AsyncSession, section: PromotionSection, actor: User) -> None:
    target = f"expo:{section.expo_id}"
    audit.record(session, "promotion.section_removed", actor_id=actor.id, target=target, section=section.id)
    await session.delete(section)
    await session.commit()


# Presenting ----------------------------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """Organizer text as paragraphs (blank lines split them); the templates escape each one."""
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def page_paths(slug: str) -> list[str]:
    """Every page of an expo's promotion site, the letter first."""
    return [f"/expos/{slug}/invest", *(f"/expos/{slug}/invest/{m.key}" for m in MODULES)]
