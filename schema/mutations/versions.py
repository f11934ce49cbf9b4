"""Mutations that version indicators and schemes."""

from __future__ import annotations

import strawberry

from hub.operations import adoption, retirement, schemes, versions
from hub.operations.adoption import IndicatorVersionAdopt
from hub.operations.commands import Caller
from hub.operations.retirement import IndicatorRetire
from hub.operations.schemes import SchemeVersionPublishInput, SchemeVersionRecord
from hub.operations.sources import Offers, SourceWarning
from hub.operations.versions import (
    IndicatorCreateInput,
    IndicatorVersionCreateInput,
    IndicatorVersionRecord,
    SavedVersion,
)
from resolvers.context import Context
from resolvers.records import IndicatorRow
from schema.errors import payload
from schema.indicators import Indicator, IndicatorVersion, SchemeVersion
from schema.mutations.declare import mutation
from schema.permissions import HR_ONLY
from schema.values import object_type

object_type(
    SourceWarning,
    name="SourceWarning",
    description="A version's source that no configured business system offers: collecting cannot fetch its values.",
    fields={"why": "What is missing, for people."},
)


@strawberry.type
class IndicatorVersionSaved:
    indicator_version: IndicatorVersionRecord = strawberry.field(graphql_type=IndicatorVersion)
    warnings: list[SourceWarning] = strawberry.field(
        default_factory=list,
        description="Where no configured business system offers the version's source (a warning: it is stored).",
    )

    @classmethod
    def of(cls, saved: SavedVersion) -> IndicatorVersionSaved:
        return cls(indicator_version=saved.version, warnings=saved.warnings)


def _offers(context: Context) -> Offers | None:
    """Whether the hub's business systems offer a (system, metric); None when none is configured."""
    systems = context.systems
    if systems is None:
        return None
    return lambda system, metric: systems.source_for(system, metric) is not None


@strawberry.type
class SchemeVersionPublished:
    scheme_version: SchemeVersionRecord = strawberry.field(graphql_type=SchemeVersion)


@strawberry.type(description="The schemes that weighed another version of the indicator now weigh the adopted one.")
class IndicatorVersionAdopted:
    scheme_versions: list[SchemeVersionRecord] = strawberry.field(
        graphql_type=list[SchemeVersion],
        description="The new scheme versions, one per post; none when no scheme "
        "in force that day weighed another version.",
    )


@strawberry.type
class IndicatorRetired:
    indicator: IndicatorRow = strawberry.field(graphql_type=Indicator)


IndicatorVersionPayload = payload("IndicatorVersionPayload", IndicatorVersionSaved)
SchemeVersionPayload = payload("SchemeVersionPayload", SchemeVersionPublished)
IndicatorVersionAdoptPayload = payload("IndicatorVersionAdoptPayload", IndicatorVersionAdopted)
IndicatorRetirePayload = payload("IndicatorRetirePayload", IndicatorRetired)


@mutation(HR_ONLY, IndicatorVersionPayload)
async def indicator_create(context: Context, command: IndicatorCreateInput, caller: Caller) -> IndicatorVersionSaved:
    """Creates an indicator with its version 1; warns where no configured business system offers its source."""
    return IndicatorVersionSaved.of(
        await versions.create_indicator(context.sessionmaker, command, caller, offers=_offers(context))
    )


@mutation(HR_ONLY, IndicatorVersionPayload)
async def indicator_version_create(
    context: Context, command: IndicatorVersionCreateInput, caller: Caller
) -> IndicatorVersionSaved:
    """Adds the next version of an indicator; earlier versions never change. Warns where no configured business
    system offers its source."""
    return IndicatorVersionSaved.of(
        await versions.create_indicator_version(context.sessionmaker, command, caller, offers=_offers(context))
    )


@mutation(HR_ONLY, IndicatorVersionAdoptPayload, arguments=True)
async def indicator_version_adopt(
    context: Context, command: IndicatorVersionAdopt, caller: Caller
) -> IndicatorVersionAdopted:
    """Adopts an indicator version (and alsoAdopt's, taking effect with it) in every scheme in force on
    effectiveFrom that weighs another version of its indicator: each post gets its next scheme version, the items
    swapped, weights kept, with the change note. All posts or none: a post that cannot take it refuses the whole
    call, naming the post."""
    records = await adoption.adopt_indicator_version(context.sessionmaker, command, caller)
    return IndicatorVersionAdopted(scheme_versions=records)


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
