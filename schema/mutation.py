"""The Mutation root: perfhub's own design for versions, the cycle workflow, ratings and calibration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry

from hub.domain import RaterRole
from resolvers import mutations
from resolvers.payloads import Failure, FailureKind
from schema.info import Info
from schema.mutation_inputs import (
    CycleCreateInput,
    IndicatorCreateInput,
    IndicatorVersionCreateInput,
    RaterAssignInput,
    RaterWeightInput,
    RatingSubmitInput,
    ResultCalibrateInput,
    SchemeVersionPublishInput,
)
from schema.payloads import (
    CycleCollectPayload,
    CyclePayload,
    CycleScorePayload,
    IndicatorVersionPayload,
    MetricValuesImportPayload,
    RaterAssignPayload,
    RatingSubmitPayload,
    ResultCalibratePayload,
    SchemeVersionPayload,
)
from schema.permissions import HR_ONLY, RATERS, guarded_mutation


def _rater_weights(weights: Sequence[RaterWeightInput]) -> dict[RaterRole, float] | Failure:
    by_role = {weight.role: weight.weight for weight in weights}
    if len(by_role) != len(weights):
        return Failure(FailureKind.INVALID_INPUT, "INVALID_INPUT", "a rater role is listed twice", "raterWeights")
    return by_role


@strawberry.type
class Mutation:
    @guarded_mutation(HR_ONLY, "indicatorCreate", description="Creates an indicator with its version 1.")
    async def indicator_create(self, info: Info, input: IndicatorCreateInput) -> IndicatorVersionPayload | None:
        return await mutations.indicator_create(
            info.context,
            code=input.code,
            name=input.name,
            category=input.category,
            unit=input.unit,
            direction=input.direction,
            rule=input.rule,
            source_system=input.source_system,
            source_metric=input.source_metric,
            missing_policy=input.missing_policy,
            effective_from=input.effective_from,
            change_note=input.change_note,
        )

    @guarded_mutation(
        HR_ONLY,
        "indicatorVersionCreate",
        description="Adds the next version of an indicator; earlier versions never change.",
    )
    async def indicator_version_create(
        self, info: Info, input: IndicatorVersionCreateInput
    ) -> IndicatorVersionPayload | None:
        return await mutations.indicator_version_create(
            info.context,
            indicator_id=input.indicator_id,
            rule=input.rule,
            source_system=input.source_system,
            source_metric=input.source_metric,
            missing_policy=input.missing_policy,
            effective_from=input.effective_from,
            change_note=input.change_note,
        )

    @guarded_mutation(
        HR_ONLY, "schemeVersionPublish", description="Publishes a post's next scheme version; weights must sum to 100."
    )
    async def scheme_version_publish(self, info: Info, input: SchemeVersionPublishInput) -> SchemeVersionPayload | None:
        rater_weights = _rater_weights(input.rater_weights)
        if isinstance(rater_weights, Failure):
            return rater_weights
        return await mutations.scheme_version_publish(
            info.context,
            post_id=input.post_id,
            items=[(item.indicator_version_id, item.weight) for item in input.items],
            rater_weights=rater_weights,
            effective_from=input.effective_from,
            change_note=input.change_note,
        )

    @guarded_mutation(HR_ONLY, "cycleCreate", description="Creates a cycle in DRAFT.")
    async def cycle_create(self, info: Info, input: CycleCreateInput) -> CyclePayload | None:
        return await mutations.cycle_create(
            info.context, name=input.name, period_start=input.period_start, period_end=input.period_end
        )

    @guarded_mutation(
        HR_ONLY,
        "cycleOpen",
        description="DRAFT -> OPEN: pins each post's scheme version, assigns self and manager raters.",
    )
    async def cycle_open(self, info: Info, cycle_id: strawberry.ID) -> CyclePayload | None:
        return await mutations.cycle_transition(info.context, cycle_id, mutations.WorkflowStep.OPEN, None)

    @guarded_mutation(
        HR_ONLY, "cycleScore", description="OPEN -> SCORED: computes and stores every participant's result."
    )
    async def cycle_score(self, info: Info, cycle_id: strawberry.ID) -> CycleScorePayload | None:
        return await mutations.cycle_score(info.context, cycle_id)

    @guarded_mutation(
        HR_ONLY, "cycleReopen", description="SCORED -> OPEN with a reason; the unpublished scores are discarded."
    )
    async def cycle_reopen(self, info: Info, cycle_id: strawberry.ID, reason: str) -> CyclePayload | None:
        return await mutations.cycle_transition(info.context, cycle_id, mutations.WorkflowStep.REOPEN, reason)

    @guarded_mutation(
        HR_ONLY,
        "cycleCloseCalibration",
        description="SCORED -> CALIBRATED: ranks are recomputed from the calibrated totals.",
    )
    async def cycle_close_calibration(
        self, info: Info, cycle_id: strawberry.ID, reason: str | None = None
    ) -> CyclePayload | None:
        return await mutations.cycle_transition(
            info.context, cycle_id, mutations.WorkflowStep.CLOSE_CALIBRATION, reason
        )

    @guarded_mutation(HR_ONLY, "cyclePublish", description="CALIBRATED -> PUBLISHED: the results are final.")
    async def cycle_publish(self, info: Info, cycle_id: strawberry.ID) -> CyclePayload | None:
        return await mutations.cycle_transition(info.context, cycle_id, mutations.WorkflowStep.PUBLISH, None)

    @guarded_mutation(
        HR_ONLY, "raterAssign", description="Adds or changes an evaluation relationship (peers, subordinates, ...)."
    )
    async def rater_assign(self, info: Info, input: RaterAssignInput) -> RaterAssignPayload | None:
        return await mutations.rater_assign(
            info.context,
            cycle_id=input.cycle_id,
            ratee_id=input.ratee_id,
            rater_id=input.rater_id,
            role=input.role,
        )

    @guarded_mutation(
        RATERS, "ratingSubmit", description="Submits (or, before scoring, replaces) a rating of a core indicator."
    )
    async def rating_submit(self, info: Info, input: RatingSubmitInput) -> RatingSubmitPayload | None:
        return await mutations.rating_submit(
            info.context,
            cycle_id=input.cycle_id,
            ratee_id=input.ratee_id,
            rater_id=input.rater_id,
            indicator_version_id=input.indicator_version_id,
            value=input.value,
            comment=input.comment,
        )

    @guarded_mutation(
        HR_ONLY,
        "metricValuesImport",
        description="Imports measured values from CSV (employee_no,indicator,value[,fetched_at]); all rows or none.",
    )
    async def metric_values_import(
        self, info: Info, cycle_id: strawberry.ID, csv: str
    ) -> MetricValuesImportPayload | None:
        return await mutations.metric_values_import(info.context, cycle_id=cycle_id, csv=csv)

    @guarded_mutation(
        HR_ONLY,
        "cycleCollectMetrics",
        description="Pulls every extension indicator's values of an OPEN cycle from its business system into the "
        "cycle, with provenance; idempotent. What could not be fetched is listed per employee and indicator.",
    )
    async def cycle_collect_metrics(self, info: Info, cycle_id: strawberry.ID) -> CycleCollectPayload | None:
        return await mutations.cycle_collect_metrics(info.context, cycle_id)

    @guarded_mutation(
        HR_ONLY, "resultCalibrate", description="Adjusts a result's total or grade with a reason; the original is kept."
    )
    async def result_calibrate(self, info: Info, input: ResultCalibrateInput) -> ResultCalibratePayload | None:
        distribution: dict[Any, float] | None = None
        if input.target_distribution is not None:
            distribution = {share.grade: share.max_share for share in input.target_distribution}
        return await mutations.result_calibrate(
            info.context,
            result_id=input.result_id,
            total_score=input.total_score,
            grade=input.grade,
            reason=input.reason,
            target_distribution=distribution,
        )
