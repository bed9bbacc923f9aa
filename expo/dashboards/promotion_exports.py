"""CSV exports of the promotion dashboard's tables, one file per table, with the page's figures.

Money keeps one column per currency (``amount_CNY``, ``amount_EUR``...: those the expo's projects
use), never a total across currencies. Durations are seconds, rates fractions from 0 to 1, empty
where there is nothing to measure. Every cell goes through :func:`.exports.table_csv`, so a sector
named ``=HYPERLINK(...)`` opens in a spreadsheet as text.
"""

from __future__ import annotations

from collections.abc import Sequence

from expo.dashboards.exports import table_csv
from expo.dashboards.promotion_figures import Amount, PromotionFigures


def _currencies(figures: PromotionFigures) -> list[str]:
    return sorted(a.currency for a in figures.amounts)


def _money(amounts: Sequence[Amount], currencies: Sequence[str]) -> list[object]:
    by_currency = {a.currency: a.amount for a in amounts}
    return [by_currency.get(c, 0) for c in currencies]


def _seconds(value: float | None) -> object:
    return "" if value is None else round(value)


def _rate(value: float | None) -> object:
    return "" if value is None else round(value, 4)


def stages_csv(figures: PromotionFigures) -> str:
    """One row per stage: projects, overdue, the amounts per currency and the times in the stage."""
    currencies = _currencies(figures)
    header = (
        "stage",
        "projects",
        "overdue",
        *(f"amount_{c}" for c in currencies),
        "median_seconds_in_stage",
        "p90_seconds_in_stage",
        "stays",
        "average_seconds_per_stay",
    )
    rows = (
        (
            s.stage,
            s.projects,
            s.overdue,
            *_money(s.amounts, currencies),
            _seconds(s.median_seconds_in_stage),
            _seconds(s.p90_seconds_in_stage),
            s.stays,
            _seconds(s.average_seconds_per_stay),
        )
        for s in figures.stages
    )
    return table_csv(header, rows)


def sectors_csv(figures: PromotionFigures) -> str:
    currencies = _currencies(figures)
    header = ("sector", "projects", *(f"amount_{c}" for c in currencies))
    return table_csv(
        header, ((s.sector, s.projects, *_money(s.amounts, currencies)) for s in figures.sectors)
    )


def funnel_csv(figures: PromotionFigures) -> str:
    header = ("step", "invitations", "rate_from_previous", "rate_from_sent")
    rows = (
        (f.step, f.invitations, _rate(f.rate_from_previous), _rate(f.rate_from_sent)) for f in figures.funnel
    )
    return table_csv(header, rows)


def consulting_csv(figures: PromotionFigures) -> str:
    """One row per category, then the row ``all``."""
    header = (
        "category",
        "questions",
        "waiting",
        "answered",
        "unanswered",
        "median_first_response_seconds",
        "p90_first_response_seconds",
    )
    rows = (
        (
            c.category,
            c.questions,
            c.waiting,
            c.answered,
            c.unanswered,
            _seconds(c.median_first_response_seconds),
            _seconds(c.p90_first_response_seconds),
        )
        for c in [*figures.consulting, figures.consulting_total]
    )
    return table_csv(header, rows)


WRITERS = {"stages": stages_csv, "sectors": sectors_csv, "funnel": funnel_csv, "consulting": consulting_csv}
