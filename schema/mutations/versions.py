"""Mutations that version indicators and schemes."""

from __future__ import annotations

import strawberry

from hub.operations import retirement, schemes, versions
from hub.operations.commands import Caller
from hub.operations.retirement import IndicatorRetire
from hub.operations.schemes import SchemeVersionPublishInput, SchemeVersionRecord
from hub.operations.versions import IndicatorCreateInput, IndicatorVersionCreateInput, IndicatorVersionRecord
from resolvers.context import Context
from resolvers.records import IndicatorRow
from schema.errors import payload
from schema.indicators import Indicator, IndicatorVersion, SchemeVersion
from schema.mutations.declare import mutation
from schema.permissions import HR_ONLY


@strawberry.type
class IndicatorVersionSaved:
    indicator_version: IndicatorVersionRecord = strawberry.field(graphql_type=IndicatorVersion)


@strawberry.type
class SchemeVersionPublished:
    scheme_version: SchemeVersionRecord = strawberry.field(graphql_type=SchemeVersion)


@strawberry.type
class IndicatorRetired:
    indicator: IndicatorRow = strawberry.field(graphql_type=Indicator)


IndicatorVersionPayload = payload("IndicatorVersionPayload", IndicatorVersionSaved)
SchemeVersionPayload = payload("SchemeVersionPayload", SchemeVersionPublished)
IndicatorRetirePayload = payload("IndicatorRetirePayload", IndicatorRetired)


@mutation(HR_ONLY, IndicatorVersionPayload)
async def indicator_create(context: Context, command: IndicatorCreateInput, caller: Caller) -> IndicatorVersionSaved:
    """Creates an indicator with its version 1."""
    return IndicatorVersionSaved(
        indicator_version=await versions.create_indicator(context.sessionmaker, command, caller)
    )


@mutation(HR_ONLY, IndicatorVersionPayload)
async def indicator_version_create(
    context: Context, command: IndicatorVersionCreateInput, caller: Caller
) -> IndicatorVersionSaved:
    """Adds the next version of an indicator; earlier versions never change."""
    return IndicatorVersionSaved(
        indicator_version=await versions.create_indicator_version(context.sessionmaker, command, caller)
    )


@mutation(HR_ONLY, SchemeVersionPayload)
async def scheme_version_publish(
    context: Context, command: SchemeVersionPublishInput, caller: Caller
) -> SchemeVersionPublished:
    """Publishes a post's next scheme version; weights must sum to 100."""
    return SchemeVersionPublished(
        scheme_version=await schemes.publish_scheme_version(context.sessionmaker, command, caller)
    )


@mutation(HR_ONLY, IndicatorRetirePayload, arguments=True)
async def indicator_retire(context: Context, command: IndicatorRetire, caller: Caller) -> IndicatorRetired:
    """Retires an indicator from a day on: no new version of it, and no new scheme version using it, from then;
    its versions and every result scored under it stay readable."""
    retired = await retirement.retire_indicator(context.sessionmaker, command, caller)
    indicator = await context.loaders.indicator_by_id.load(retired.indicator_id)
    assert indicator is not None  # just retired, never deleted
    return IndicatorRetired(indicator=indicator)
