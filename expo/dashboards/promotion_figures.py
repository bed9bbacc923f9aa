"""The promotion dashboard's figures: what its queries compute, its page draws, its CSV exports list
and its API returns, one type each (as :mod:`expo.dashboards.figures` for the expo's dashboard).

Money is always per currency (:class:`Amount`): sums of different currencies are never added up.
Durations are seconds; percentiles are nearest-rank (the median of 4 values is the 2nd smallest).
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from expo.http.api import Schema


class Amount(Schema):
    currency: str = Field(description="ISO 4217 code, like CNY.")
    amount: int = Field(description="Sum of the projects' planned investments, whole units.")


class StageFigures(Schema):
    """One stage of the pipeline: the projects in it now and how long projects stay in it."""

    stage: str
    projects: int = Field(description="Projects in this stage now.")
    amounts: list[Amount] = Field(description="Their planned investment, one sum per currency.")
    overdue: int = Field(description="Of them, those whose due date has passed (open stages only).")
    median_seconds_in_stage: float | None = Field(
        description="Median time the projects in this stage now have spent in it so far."
    )
    p90_seconds_in_stage: float | None
    stays: int = Field(description="Times a project left this stage, from the projects' history.")
    average_seconds_per_stay: float | None = Field(
        description="Average time a project spent in this stage before it left it."
    )


class SectorFigures(Schema):
    sector: str
    projects: int
    amounts: list[Amount]


class FunnelStep(Schema):
    """How many invitations reached a step of the funnel (an opened one counts as sent too)."""

    step: str = Field(description="sent, opened, registered or filed.")
    invitations: int
    rate_from_previous: float | None = Field(description="Share of the previous step, 0 to 1.")
    rate_from_sent: float | None = Field(description="Share of the invitations sent, 0 to 1.")


class ConsultingFigures(Schema):
    """Consulting questions of one category (or of all, ``category`` ``"all"``)."""

    category: str
    questions: int
    waiting: int = Field(description="Questions whose last word is the investor's.")
    answered: int = Field(description="Questions the bureau answered last.")
    unanswered: int = Field(description="Questions the bureau has never answered.")
    median_first_response_seconds: float | None = Field(
        description="Median time from question to the bureau's first answer (answered ones)."
    )
    p90_first_response_seconds: float | None


class PromotionFigures(Schema):
    slug: str
    today: date = Field(description="Today in the expo's time zone: projects due before it are overdue.")
    projects: int
    overdue: int
    amounts: list[Amount] = Field(description="Planned investment of every project, per currency.")
    stages: list[StageFigures] = Field(description="In pipeline order.")
    sectors: list[SectorFigures] = Field(description="Most projects first.")
    funnel: list[FunnelStep] = Field(description="sent, opened, registered, filed.")
    consulting: list[ConsultingFigures] = Field(description="Per category, in the form's order.")
    consulting_total: ConsultingFigures
