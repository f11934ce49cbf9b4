"""Scheme diagnostics: tells whether an appraisal scheme's indicators work, from the data."""

from __future__ import annotations

import strawberry

from resolvers import records
from resolvers.records import IndicatorVersionRow
from schema import fields
from schema.indicators import IndicatorVersion
from schema.info import Info
from schema.rounding import ROUNDED_FIGURE, Scores


@strawberry.type(description="How one indicator of a scheme behaved in a cycle (scores on the 0-100 scale).")
class IndicatorDiagnostics:
    count: int = strawberry.field(description="Results with a score for the indicator.")
    mean = Scores[records.IndicatorDiagnostics].rounded(float | None, lambda row: row.mean, rounding=ROUNDED_FIGURE)
    stddev = Scores[records.IndicatorDiagnostics].rounded(float | None, lambda row: row.stddev, rounding=ROUNDED_FIGURE)
    ceiling_share: float | None = strawberry.field(description="Share of scores at 100, 0..1.")
    floor_share: float | None = strawberry.field(description="Share of scores at 0, 0..1.")
    correlation: float | None = strawberry.field(description="Pearson correlation with the computed total.")
    missing_rate: float = strawberry.field(description="Share of results without a score, 0..1.")
    flags: list[str] = strawberry.field(description="Plain-language warnings, e.g. when it does not discriminate.")

    @fields.field(graphql_type=IndicatorVersion)
    async def indicator_version(
        self, root: strawberry.Parent[records.IndicatorDiagnostics], info: Info
    ) -> IndicatorVersionRow | None:
        return await info.context.loaders.indicator_version_by_id.load(root.indicator_version_id)
