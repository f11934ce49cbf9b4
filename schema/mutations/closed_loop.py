"""The closed loop's configuration (hr_admin): training-need rules per indicator, and the merit matrix."""

from __future__ import annotations

import strawberry

import schema.closed_loop  # noqa: F401  (registers MeritMatrix and the records it shows)
from hub.closedloop import rules
from hub.closedloop.matrix import MeritMatrixSetInput
from hub.closedloop.rules import RuleRecord, TrainingNeedRuleSet
from hub.operations.commands import Caller
from resolvers.closed_loop import MeritMatrixRecord
from resolvers.context import Context
from schema.errors import payload
from schema.mutations.declare import mutation
from schema.permissions import HR_ONLY
from schema.values import object_type

object_type(
    RuleRecord,
    name="TrainingNeedRule",
    description="For one CORE indicator: the threshold of a training need and the related courses.",
    ids={"indicator_id"},
    fields={"threshold": "Null: the default, the C grade's lower bound (PERFHUB_GRADE_BANDS)."},
)


@strawberry.type
class TrainingNeedRuleChanged:
    rule: RuleRecord


@strawberry.type
class MeritMatrixChanged:
    matrix: MeritMatrixRecord


TrainingNeedRulePayload = payload("TrainingNeedRulePayload", TrainingNeedRuleChanged)
MeritMatrixPayload = payload("MeritMatrixPayload", MeritMatrixChanged)


@mutation(HR_ONLY, TrainingNeedRulePayload, arguments=True)
async def training_need_rule_set(
    context: Context, command: TrainingNeedRuleSet, caller: Caller
) -> TrainingNeedRuleChanged:
    """Sets a CORE indicator's training-need rule: the score under which a result shows a need (default: the C
    grade's lower bound) and the courses related to it; the rule applies to trainingNeeds at once and to the
    training.need events of cycles published from now on."""
    return TrainingNeedRuleChanged(rule=await rules.set_training_need_rule(context.sessionmaker, command, caller))


@mutation(HR_ONLY, MeritMatrixPayload)
async def merit_matrix_set(context: Context, command: MeritMatrixSetInput, caller: Caller) -> MeritMatrixChanged:
    """Sets the merit matrix (grade x position in range -> raise percentage and bonus factor) and the salary range of
    each post family it guides; it replaces the one in force, which stays in the history. Every grade needs a cell
    in every band; a refusal names the field."""
    matrix = await rules.set_merit_matrix(context.sessionmaker, command, caller)
    return MeritMatrixChanged(matrix=MeritMatrixRecord.of(matrix))
