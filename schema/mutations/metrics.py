"""Mutations that bring measured values into a cycle: a CSV import, and a collection from the systems."""

from __future__ import annotations

import dataclasses

import strawberry

from connectors.base import MetricSource, Period
from hub.domain import ErrorKind
from hub.operations import collect, metrics
from hub.operations.collect import CycleCollectMetrics, MissingMetric
from hub.operations.commands import Caller
from hub.operations.metrics import MetricValuesImport, MetricValuesImported
from resolvers.context import Context
from resolvers.records import CycleRow
from schema import fields
from schema.errors import payload
from schema.info import Info
from schema.mutations.declare import mutation
from schema.permissions import HR_ONLY
from schema.results import Cycle
from schema.values import object_type

object_type(
    MetricValuesImported,
    name="MetricValuesImported",
    fields={
        "imported": "Rows stored from the file.",
        "replaced": "Of those, how many replaced a value already stored.",
    },
)
object_type(MissingMetric, name="MissingMetric", description="An extension value that could not be collected, and why.")


@strawberry.type(description="What a collection from the business systems stored and what it could not fetch.")
class MetricsCollected:
    stored: int = strawberry.field(description="New values.")
    updated: int = strawberry.field(description="Values already stored that changed.")
    unchanged: int = strawberry.field(description="Values already stored and unchanged: collecting is idempotent.")
    stale: int = strawberry.field(description="Values served from a cache while their system was down.")
    cycle_id: strawberry.Private[int]

    @fields.field(graphql_type=Cycle)
    async def cycle(self, info: Info) -> CycleRow | None:
        return await info.context.loaders.cycle_by_id.load(self.cycle_id)

    missing: list[MissingMetric] = strawberry.field(
        description="Per employee and indicator, what could not be fetched."
    )


MetricValuesImportPayload = payload("MetricValuesImportPayload", MetricValuesImported, ErrorKind.IMPORT_REJECTED)
CycleCollectPayload = payload("CycleCollectPayload", MetricsCollected)


@mutation(HR_ONLY, MetricValuesImportPayload, arguments=True)
async def metric_values_import(context: Context, command: MetricValuesImport, caller: Caller) -> MetricValuesImported:
    """Imports measured values from CSV (employee_no,indicator,value[,fetched_at]); all rows or none."""
    if context.worker is not None:
        report: MetricValuesImported = await context.worker.import_metrics(command, caller)
    else:
        return await metrics.import_metric_values(context.sessionmaker, command, caller)
    return report


@mutation(HR_ONLY, CycleCollectPayload, arguments=True)
async def cycle_collect_metrics(context: Context, command: CycleCollectMetrics, caller: Caller) -> MetricsCollected:
    """Pulls every extension indicator's values of an OPEN cycle from its business system into the cycle,
    with provenance; idempotent. What could not be fetched is listed per employee and indicator."""
    systems = context.systems

    def sources(system: str, metric: str) -> MetricSource | None:
        return None if systems is None else systems.source_for(system, metric)

    if context.worker is not None:
        report = await context.worker.collect(command, caller, make_period=Period)
    else:
        report = await collect.collect_metrics(
            context.sessionmaker, command, caller, sources=sources, make_period=Period
        )
    counts = {field.name: getattr(report, field.name) for field in dataclasses.fields(report)}
    return MetricsCollected(cycle_id=command.cycle_id, **counts)
