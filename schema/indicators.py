"""Indicators, their versions, and the per-post scheme versions built from them."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from resolvers.records import (
    IndicatorRow,
    IndicatorVersionRow,
    PostRow,
    RaterWeightRow,
    SchemeItemRow,
    SchemeVersionRow,
)
from schema import fields
from schema.enums import Direction, IndicatorCategory, MissingPolicy, RaterRole
from schema.info import Info
from schema.refs import PostRef


@strawberry.type
class Indicator:
    id: strawberry.ID
    code: str
    name: str
    category: IndicatorCategory
    unit: str | None
    direction: Direction

    @fields.field(description="The version in force today.", graphql_type="IndicatorVersion | None")
    async def current_version(self, root: strawberry.Parent[IndicatorRow], info: Info) -> IndicatorVersionRow | None:
        return await info.context.loaders.current_indicator_version_by_indicator.load(root.id)

    @fields.field(description="Every version, oldest first.", graphql_type="list[IndicatorVersion]")
    async def versions(self, root: strawberry.Parent[IndicatorRow], info: Info) -> list[IndicatorVersionRow]:
        return await info.context.loaders.indicator_versions_by_indicator.load(root.id)


@strawberry.type(description="An immutable, numbered definition of an indicator.")
class IndicatorVersion:
    id: strawberry.ID
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    change_note: str | None
    author: str
    source_system: str = strawberry.field(
        description="Where values come from: MANUAL, or the business system and metric that measure it."
    )
    source_metric: str | None
    missing_policy: MissingPolicy
    rule: JSON = strawberry.field(description="The scoring rule that maps a raw value to the 0-100 scale.")

    @fields.field(graphql_type=Indicator)
    async def indicator(self, root: strawberry.Parent[IndicatorVersionRow], info: Info) -> IndicatorRow | None:
        return await info.context.loaders.indicator_by_id.load(root.indicator_id)


@strawberry.type
class SchemeItem:
    weight: float

    @fields.field(graphql_type=IndicatorVersion)
    async def indicator_version(self, root: strawberry.Parent[SchemeItemRow], info: Info) -> IndicatorVersionRow | None:
        return await info.context.loaders.indicator_version_by_id.load(root.indicator_version_id)


@strawberry.type
class RaterWeight:
    role: RaterRole
    weight: float


@strawberry.type(description="A post's appraisal scheme as of a date: weighted indicators and rater weights.")
class SchemeVersion:
    id: strawberry.ID
    version: int
    effective_from: dt.date
    effective_to: dt.date | None
    change_note: str | None
    author: str

    @fields.field(graphql_type=PostRef)
    async def post(self, root: strawberry.Parent[SchemeVersionRow], info: Info) -> PostRow | None:
        return await info.context.loaders.post_by_id.load(root.post_id)

    @fields.field(graphql_type=list[SchemeItem])
    async def items(self, root: strawberry.Parent[SchemeVersionRow], info: Info) -> list[SchemeItemRow]:
        return await info.context.loaders.scheme_items_by_scheme.load(root.id)

    @fields.field(graphql_type=list[RaterWeight])
    async def rater_weights(self, root: strawberry.Parent[SchemeVersionRow], info: Info) -> list[RaterWeightRow]:
        return await info.context.loaders.rater_weights_by_scheme.load(root.id)
