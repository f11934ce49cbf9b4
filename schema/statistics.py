"""The analysts' statistics types: total scores per group and indicator scores per indicator version."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import strawberry

from hub.analytics.statistics import Figures
from hub.analytics.withheld import DESCRIPTION as WITHHELD_REASONS
from hub.analytics.withheld import Withheld as Withheld  # registered below; the types that show a reason import it here
from resolvers.records import IndicatorVersionRow
from resolvers.statistics import GradeCount, IndicatorGroup
from resolvers.statistics import ScoreGroup as ScoreGroup  # registered below; schema.query imports it from here
from schema import fields
from schema.indicators import IndicatorVersion
from schema.info import Info
from schema.rounding import ROUNDED_FIGURE, two_decimals
from schema.values import object_type

# Registered here, before any type that shows a reason (statistics, trends, needs, insights) is declared.
strawberry.enum(Withheld, name="WithheldReason", description=WITHHELD_REASONS)
WITHHELD_REASONS_IN_SHORT = ", ".join(reason.value for reason in Withheld)
_EXTREME = "Null for an analyst without the names grant: a group's {0} is one person's exact value. " + ROUNDED_FIGURE
F = TypeVar("F", bound=Figures)
_PERCENTILE = "The {0} percentile, interpolated linearly between closest ranks (percentile_cont). " + ROUNDED_FIGURE

object_type(GradeCount, name="GradeCount", description="How many of a group's results hold a grade.")

_FIGURES = {
    "mean": ROUNDED_FIGURE,
    "stddev": "The population standard deviation. " + ROUNDED_FIGURE,
    "min": _EXTREME.format("minimum"),
    "max": _EXTREME.format("maximum"),
    "p25": _PERCENTILE.format("25th"),
    "p50": _PERCENTILE.format("50th (the median)"),
    "p75": _PERCENTILE.format("75th"),
    "p90": _PERCENTILE.format("90th"),
}
_ROUNDED = tuple(_FIGURES)

object_type(
    Figures,
    name="ValueStatistics",
    description="Statistics of one value (an indicator's raw value or its normalised 0-100 score) over a group's "
    "results that have it; every figure but count rounded half-up to two decimals.",
    fields={"count": "Results with a value.", **_FIGURES},
)
object_type(
    ScoreGroup,
    name="ScoreGroup",
    description="Total-score statistics of a group of results; every figure but the counts is rounded half-up to "
    "two decimals, computed from the exact stored totals, in the database (one statement per request).",
    fields={
        "key": "One value per groupBy dimension, in the same order.",
        "count": "Results in the group. For a withheld group, its results before the score bounds (the group's "
        "size, which the caller's `results` show anyway; how many are within the bounds is withheld).",
        **_FIGURES,
        "grades": "The grade distribution: every grade, best first, with its count in the group (0 included); empty "
        "for a withheld group. "
        "Counts are not withheld below the minimum: whoever may ask reads each result's grade of the same scope in "
        "`results`; for an analyst without the names grant they leave out the same people as every figure.",
        "withheld": "Why the group's figures are null (the minimum group size: " + WITHHELD_REASONS_IN_SHORT + "); "
        "null when they are released. A withheld group is listed, not left out, so that a missing key means no "
        "result of the caller's scope (and an analyst without the names grant sees only groups made of large "
        "(department, post) cells: a group of small cells only is not listed).",
    },
)


@strawberry.type(description="One indicator version's statistics in a group: a post, a post family or the cycle.")
class IndicatorStatistics:
    key: list[str] = strawberry.field(
        description="The post's code or the post family, as groupBy asked; empty for the whole cycle."
    )
    raw: Figures | None = strawberry.field(
        description="The raw values (a measured value in its unit, or a people-rated indicator's combined rating); "
        "null when withheld or when no result has one."
    )
    normalized: Figures | None = strawberry.field(
        description="The normalised 0-100 scores; null when withheld or when no result has one."
    )
    withheld: str | None = strawberry.field(
        description="Why raw or normalized is null although results have the value (minimum group size); null "
        "when nothing was withheld."
    )

    @fields.field(graphql_type=IndicatorVersion)
    async def indicator_version(
        self, root: strawberry.Parent[IndicatorGroup], info: Info
    ) -> IndicatorVersionRow | None:
        return await info.context.loaders.indicator_version_by_id.load(root.indicator_version_id)


def _rounded(figures: F) -> F:
    return dataclasses.replace(figures, **{name: two_decimals(getattr(figures, name)) for name in _ROUNDED})


def rounded_statistics(groups: list[ScoreGroup]) -> list[ScoreGroup]:
    """Statistics groups as the API shows them: computed from exact totals, then rounded (``schema.rounding``)."""
    return [_rounded(group) for group in groups]


def rounded_indicator_statistics(groups: list[IndicatorGroup]) -> list[IndicatorGroup]:
    """Indicator statistics as the API shows them (rounded, ``schema.rounding``)."""
    return [
        dataclasses.replace(
            group,
            raw=_rounded(group.raw) if group.raw is not None else None,
            normalized=_rounded(group.normalized) if group.normalized is not None else None,
        )
        for group in groups
    ]
