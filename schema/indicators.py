"""Indicators, their versions, and the per-post scheme versions built from them."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from resolvers.records import IndicatorVersionRow, SchemeItemRow, SchemeVersionRow
from schema.enums import Direction, IndicatorCategory, MissingPolicy, RaterRole
from schema.record_fields import Relations
from schema.refs import PostRef


@strawberry.type
class Indicator:
    id: strawberry.ID
    code: str
    name: str
    category: IndicatorCategory
    unit: str | None
    direction: Direction

    current_version = Relations.load_by_own_id(
        "IndicatorVersion | None",
        lambda loaders: loaders.current_indicator_version_by_indicator,
        description="The version in force today.",
    )
    versions = Relations.load_by_own_id(
        "list[IndicatorVersion]",
        lambda loaders: loaders.indicator_versions_by_indicator,
        description="Every version, oldest first.",
    )
    retired_on: dt.date | None = strawberry.field(
        description="From this day on no new version and no new scheme version uses it; null while in use. A "
        "retired indicator keeps its versions and every result scored under it."
    )
    retired_reason: str | None = strawberry.field(description="Why it was retired.")


@strawberry.type
class _Version:
    """The fields of an immutable numbered version, which indicator and scheme versions share (as their tables
    share ``hub.db.models.Versioned``). Not a GraphQL type of its own: nothing returns it."""

    id: strawberry.ID
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    change_note: str | None
    author: str


@strawberry.type(description="An immutable, numbered definition of an indicator.")
class IndicatorVersion(_Version):
    source_system: str = strawberry.field(
        description="Where values come from: MANUAL, or the business system and metric that measure it."
    )
    source_metric: str | None
    missing_policy: MissingPolicy
    rule: JSON = strawberry.field(description="The scoring rule that maps a raw value to the 0-100 scale.")
    valid_min: float | None = strawberry.field(
        description="The lowest value that makes sense (measured or rated); a '%' unit means 0 when unset."
    )
    valid_max: float | None = strawberry.field(
        description="The highest value that makes sense (measured or rated); a '%' unit means 100 when unset."
    )

    indicator = Relations[IndicatorVersionRow].load(
        Indicator, lambda loaders: loaders.indicator_by_id, lambda row: row.indicator_id
    )


@strawberry.type
class SchemeItem:
    weight: float

    indicator_version = Relations[SchemeItemRow].load(
        IndicatorVersion, lambda loaders: loaders.indicator_version_by_id, lambda row: row.indicator_version_id
    )


@strawberry.type
class RaterWeight:
    role: RaterRole
    weight: float


@strawberry.type(description="A post's appraisal scheme as of a date: weighted indicators and rater weights.")
class SchemeVersion(_Version):
    post = Relations[SchemeVersionRow].load(PostRef, lambda loaders: loaders.post_by_id, lambda row: row.post_id)
    items = Relations.load_by_own_id(list[SchemeItem], lambda loaders: loaders.scheme_items_by_scheme)
    rater_weights = Relations.load_by_own_id(list[RaterWeight], lambda loaders: loaders.rater_weights_by_scheme)
