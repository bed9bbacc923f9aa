"""What the floor pages show: text in the reader's language, prices in their format, the category
tree, and browsing booths and products without a search query (search itself is :mod:`booths.search`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from booths.models import Booth, BoothStatus, Category, Product
from booths.search import PAGE_SIZE
from expo.expos.models import Expo
from expo.i18n import localized as localized  # the floor's callers import it from here

BROWSE_PAGE_SIZE = 24


def money(hundredths: int, currency: str, locale: str) -> str:
    try:
        return format_currency(hundredths / 100, currency, locale=locale)
    except (UnknownLocaleError, ValueError):
        return f"{hundredths / 100:.2f} {currency}"


def price_range(product: Product, locale: str) -> str:
    """``US$1.00 - US$2.50`` (an en dash between) in the reader's number format, or ``""`` without a price."""
    low, high, currency = product.price_min, product.price_max, product.currency
    if currency is None or (low is None and high is None):
        return ""
    if low is not None and high is not None and low != high:
        return f"{money(low, currency, locale)} \u2013 {money(high, currency, locale)}"
    value = low if low is not None else high
    assert value is not None
    return money(value, currency, locale)


def country_name(code: str | None, locale: str) -> str:
    """The country's name in the reader's language (``CN`` is "China" or "中国")."""
    if not code:
        return ""
    try:
        return str(Locale.parse(locale).territories.get(code, code))
    except (UnknownLocaleError, ValueError):
        return code


def number(value: int, locale: str) -> str:
    return format_decimal(value, locale=locale)


@dataclass(frozen=True)
class Node:
    category: Category
    depth: int


def category_tree(categories: Sequence[Category]) -> list[Node]:
    """The categories depth-first, parents before their children, each with its depth."""
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    out: list[Node] = []

    def walk(parent: int | None, depth: int) -> None:
        for category in children.get(parent, []):
            out.append(Node(category, depth))
            if depth < 20:  # the services refuse cycles; the bound keeps a damaged tree finite
                walk(category.id, depth + 1)

    walk(None, 0)
    return out


def subtree(categories: Sequence[Category], root: int) -> set[int]:
    """``root`` and every category below it."""
    found = {root}
    changed = True
    while changed:
        changed = False
        for category in categories:
            if category.parent_id in found and category.id is not None and category.id not in found:
                found.add(category.id)
                changed = True
    return found


async def browse_booths(
    session: AsyncSession, expo: Expo, *, hall_id: int | None, country: str | None, page: int
) -> tuple[int, list[Booth]]:
    """A page of the expo's approved booths, by hall, number and name."""
    where = [Booth.expo_id == expo.id, Booth.status == BoothStatus.APPROVED.value]
    if hall_id is not None:
        where.append(Booth.hall_id == hall_id)
    if country is not None:
        where.append(Booth.country == country)
    total = (await session.exec(select(func.count()).select_from(Booth).where(*where))).one()
    query = (
        select(Booth)
        .where(*where)
        .order_by(col(Booth.hall_id), col(Booth.number), col(Booth.name), col(Booth.id))
        .offset((page - 1) * BROWSE_PAGE_SIZE)
        .limit(BROWSE_PAGE_SIZE)
    )
    return int(total), list((await session.exec(query)).all())


async def browse_products(
    session: AsyncSession, expo: Expo, category_ids: set[int], page: int
) -> tuple[int, list[tuple[Product, Booth]]]:
    """A page of the approved booths' products in these categories."""
    where: list[ColumnElement[bool]] = [
        col(Product.expo_id) == expo.id,
        col(Product.category_id).in_(category_ids),
        col(Booth.status) == BoothStatus.APPROVED.value,
    ]
    joined = select(func.count()).select_from(Product).join(Booth, col(Booth.id) == col(Product.booth_id))
    total = (await session.exec(joined.where(*where))).one()
    query = (
        select(Product, Booth)
        .join(Booth, col(Booth.id) == col(Product.booth_id))
        .where(*where)
        .order_by(col(Product.id))
        .offset((page - 1) * BROWSE_PAGE_SIZE)
        .limit(BROWSE_PAGE_SIZE)
    )
    return int(total), [(p, b) for p, b in (await session.exec(query)).all()]


async def booths_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Booth]:
    if not ids:
        return {}
    found = (await session.exec(select(Booth).where(col(Booth.id).in_(ids)))).all()
    return {b.id: b for b in found if b.id is not None}


def pages(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


async def list_expos(session: AsyncSession, limit: int = 200) -> list[Expo]:
    """The newest expos first."""
    return list((await session.exec(select(Expo).order_by(col(Expo.id).desc()).limit(limit))).all())
