"""Mutation resolvers: parse ids, call one operation, turn expected errors into failure records.

Each operation receives the mutation's audit recorder (``resolvers.audit.pending``) and writes the
entry in the transaction of its change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any, assert_never

from sqlalchemy import select

from connectors.base import MetricSource, Period
from hub import policy
from hub.db.models import Employee, utcnow
from hub.domain import Direction, Grade, IndicatorCategory, MissingPolicy, RaterRole
from hub.operations import calibration, collect, cycles, metrics, ratings, schemes, scoring, versions
from resolvers.audit import pending
from resolvers.context import Context
from resolvers.errors import parse_id
from resolvers.payloads import (
    CycleChanged,
    CycleScored,
    Failure,
    FailureKind,
    IndicatorVersionSaved,
    MetricsCollected,
    MetricValuesImported,
    RaterAssigned,
    RatingSaved,
    ResultCalibrated,
    SchemeVersionSaved,
    attempt,
    not_found,
)

Outcome = Any  # a success record of resolvers.payloads, a Failure or an ImportFailure


def bad_rule() -> Failure:
    return Failure(FailureKind.INVALID_INPUT, "INVALID_RULE", "the rule must be a JSON object with a 'kind'", "rule")


def naming_rule(outcome: Outcome) -> Outcome:
    """An indicator mutation's outcome, its rule's refusal naming the ``rule`` field it is about."""
    if isinstance(outcome, Failure) and outcome.code == "INVALID_RULE" and outcome.field is None:
        return dataclasses.replace(outcome, field="rule")
    return outcome


async def own_employee_id(context: Context) -> int | None:
    """The id of the principal's own employee row, when it is a person."""
    number = context.principal.employee_number
    if number is None:
        return None
    async with context.sessionmaker() as session:
        found: int | None = await session.scalar(select(Employee.id).where(Employee.employee_no == number))
    return found


def actor(context: Context) -> str:
    """Who the audit trail names for this request."""
    return context.principal.subject


async def indicator_create(
    context: Context,
    *,
    code: str,
    name: str,
    category: IndicatorCategory,
    unit: str | None,
    direction: Direction,
    rule: object,
    source_system: str,
    source_metric: str | None,
    missing_policy: MissingPolicy,
    effective_from: dt.date,
    change_note: str | None,
) -> Outcome:
    if not isinstance(rule, Mapping):
        return bad_rule()

    async def run() -> IndicatorVersionSaved:
        record = await versions.create_indicator(
            context.sessionmaker,
            code=code,
            name=name,
            category=category,
            unit=unit,
            direction=direction,
            rule=rule,
            source_system=source_system,
            source_metric=source_metric,
            missing_policy=missing_policy,
            effective_from=effective_from,
            change_note=change_note,
            author=actor(context),
            audit=pending(),
        )
        return IndicatorVersionSaved(record)

    return naming_rule(await attempt(run))


async def indicator_version_create(
    context: Context,
    *,
    indicator_id: str,
    rule: object,
    source_system: str,
    source_metric: str | None,
    missing_policy: MissingPolicy,
    effective_from: dt.date,
    change_note: str,
) -> Outcome:
    key = parse_id(indicator_id)
    if key is None:
        return not_found("indicator", indicator_id, "indicatorId")
    if not isinstance(rule, Mapping):
        return bad_rule()

    async def run() -> IndicatorVersionSaved:
        record = await versions.create_indicator_version(
            context.sessionmaker,
            indicator_id=key,
            rule=rule,
            source_system=source_system,
            source_metric=source_metric,
            missing_policy=missing_policy,
            effective_from=effective_from,
            change_note=change_note,
            author=actor(context),
            audit=pending(),
        )
        return IndicatorVersionSaved(record)

    return naming_rule(await attempt(run))


async def scheme_version_publish(
    context: Context,
    *,
    post_id: str,
    items: Sequence[tuple[str, float]],
    rater_weights: Mapping[RaterRole, float],
    effective_from: dt.date,
    change_note: str | None,
) -> Outcome:
    post_key = parse_id(post_id)
    if post_key is None:
        return not_found("post", post_id, "postId")
    parsed_items: list[tuple[int, float]] = []
    for version_id, weight in items:
        version_key = parse_id(version_id)
        if version_key is None:
            return not_found("indicatorVersion", version_id, "items")
        parsed_items.append((version_key, weight))

    async def run() -> SchemeVersionSaved:
        record = await schemes.publish_scheme_version(
            context.sessionmaker,
            post_id=post_key,
            items=parsed_items,
            rater_weights=rater_weights,
            effective_from=effective_from,
            change_note=change_note,
            author=actor(context),
            audit=pending(),
        )
        return SchemeVersionSaved(record)

    return await attempt(run)


async def cycle_create(context: Context, *, name: str, period_start: dt.date, period_end: dt.date) -> Outcome:
    async def run() -> CycleChanged:
        return CycleChanged(
            await cycles.create_cycle(
                context.sessionmaker,
                name=name,
                period_start=period_start,
                period_end=period_end,
                actor=actor(context),
                audit=pending(),
            )
        )

    return await attempt(run)


class WorkflowStep(enum.Enum):
    """The cycle workflow steps that only change state (scoring, which computes, has its own resolver)."""

    OPEN = "open"
    REOPEN = "reopen"
    CLOSE_CALIBRATION = "close calibration"
    PUBLISH = "publish"


async def cycle_transition(context: Context, cycle_id: str, step: WorkflowStep, reason: str | None) -> Outcome:
    """One workflow step. An enum, dispatched exhaustively: an unknown step can never fall through to the
    last branch, which publishes (the one step that cannot be undone)."""
    key = parse_id(cycle_id)
    if key is None:
        return not_found("cycle", cycle_id, "cycleId")
    who, audit, sessionmaker = actor(context), pending(), context.sessionmaker

    async def run() -> CycleChanged:
        match step:
            case WorkflowStep.OPEN:
                cycle = await cycles.open_cycle(sessionmaker, key, actor=who, audit=audit)
            case WorkflowStep.REOPEN:
                cycle = await cycles.reopen_cycle(sessionmaker, key, actor=who, reason=reason, audit=audit)
            case WorkflowStep.CLOSE_CALIBRATION:
                bands = context.settings.bands()
                cycle = await cycles.close_calibration(
                    sessionmaker, key, actor=who, reason=reason, bands=bands, audit=audit
                )
            case WorkflowStep.PUBLISH:
                cycle = await cycles.publish_cycle(sessionmaker, key, actor=who, reason=reason, audit=audit)
            case _:
                assert_never(step)
        return CycleChanged(cycle)

    return await attempt(run)


async def cycle_score(context: Context, cycle_id: str) -> Outcome:
    key = parse_id(cycle_id)
    if key is None:
        return not_found("cycle", cycle_id, "cycleId")

    async def run() -> CycleScored:
        bands = context.settings.bands()
        if context.worker is not None:
            report = await context.worker.score(key, actor=actor(context), bands=bands, audit=pending())
        else:
            report = await scoring.score_cycle(
                context.sessionmaker, key, actor=actor(context), bands=bands, audit=pending()
            )
        return CycleScored(report.cycle, report.scored, report.blocked)

    return await attempt(run)


def parse_ids(named: Mapping[str, str]) -> dict[str, int] | Failure:
    """Parses the ids of an input, keyed by argument name; the first that names nothing fails."""
    keys: dict[str, int] = {}
    for name, value in named.items():
        key = parse_id(value)
        if key is None:
            return not_found(name.removesuffix("Id"), value, name)
        keys[name] = key
    return keys


async def rater_assign(context: Context, *, cycle_id: str, ratee_id: str, rater_id: str, role: RaterRole) -> Outcome:
    keys = parse_ids({"cycleId": cycle_id, "rateeId": ratee_id, "raterId": rater_id})
    if isinstance(keys, Failure):
        return keys

    async def run() -> RaterAssigned:
        record = await ratings.assign_rater(
            context.sessionmaker,
            cycle_id=keys["cycleId"],
            ratee_id=keys["rateeId"],
            rater_id=keys["raterId"],
            role=role,
            audit=pending(),
        )
        return RaterAssigned(record)

    return await attempt(run)


async def rating_submit(
    context: Context,
    *,
    cycle_id: str,
    ratee_id: str,
    rater_id: str,
    indicator_version_id: str,
    value: float,
    comment: str | None,
) -> Outcome:
    keys = parse_ids(
        {
            "cycleId": cycle_id,
            "rateeId": ratee_id,
            "raterId": rater_id,
            "indicatorVersionId": indicator_version_id,
        }
    )
    if isinstance(keys, Failure):
        return keys
    if not policy.rates_for_anyone(context.principal) and keys["raterId"] != await own_employee_id(context):
        return Failure(FailureKind.NOT_ALLOWED, "NOT_YOUR_RATING", "you may submit only your own ratings", "raterId")

    async def run() -> RatingSaved:
        record = await ratings.submit_rating(
            context.sessionmaker,
            cycle_id=keys["cycleId"],
            ratee_id=keys["rateeId"],
            rater_id=keys["raterId"],
            indicator_version_id=keys["indicatorVersionId"],
            value=value,
            comment=comment,
            now=utcnow(),
            audit=pending(),
        )
        return RatingSaved(record)

    return await attempt(run)


async def metric_values_import(context: Context, *, cycle_id: str, csv: str) -> Outcome:
    key = parse_id(cycle_id)
    if key is None:
        return not_found("cycle", cycle_id, "cycleId")

    async def run() -> MetricValuesImported:
        if context.worker is not None:
            report = await context.worker.import_metrics(key, csv_text=csv, now=utcnow(), audit=pending())
        else:
            report = await metrics.import_metric_values(
                context.sessionmaker, cycle_id=key, csv_text=csv, now=utcnow(), audit=pending()
            )
        return MetricValuesImported(report.imported, report.replaced)

    return await attempt(run)


async def result_calibrate(
    context: Context,
    *,
    result_id: str,
    total_score: float | None,
    grade: Grade | None,
    reason: str,
    target_distribution: Mapping[Grade, float] | None,
) -> Outcome:
    key = parse_id(result_id)
    if key is None:
        return not_found("result", result_id, "resultId")

    async def run() -> ResultCalibrated:
        outcome = await calibration.calibrate_result(
            context.sessionmaker,
            result_id=key,
            total_score=total_score,
            grade=grade,
            reason=reason,
            actor=actor(context),
            target_distribution=target_distribution,
            bands=context.settings.bands(),
            audit=pending(),
        )
        return ResultCalibrated(outcome.result, outcome.warnings)

    return await attempt(run)


async def cycle_collect_metrics(context: Context, cycle_id: str) -> Outcome:
    key = parse_id(cycle_id)
    if key is None:
        return not_found("cycle", cycle_id, "cycleId")

    systems = context.systems

    def sources(system: str, metric: str) -> MetricSource | None:
        return None if systems is None else systems.source_for(system, metric)

    async def run() -> MetricsCollected:
        if context.worker is not None:
            report = await context.worker.collect(key, make_period=Period, audit=pending())
        else:
            report = await collect.collect_metrics(
                context.sessionmaker, key, sources=sources, make_period=Period, audit=pending()
            )
        return MetricsCollected(key, report.stored, report.updated, report.unchanged, report.stale, report.missing)

    return await attempt(run)
