"""The cycle workflow: create, open, score, reopen, close calibration, publish.

Each step is a mutation of its own, declared with the operation it calls: no step is chosen by a
value at run time, so no unknown value can fall through to publishing, the one step that cannot be
undone.
"""

from __future__ import annotations

import strawberry

from hub.db.models import Cycle as CycleRow
from hub.operations import cycle_warnings, cycles, leaving, scoring
from hub.operations.commands import Caller
from hub.operations.coverage import IncompleteResult as IncompleteResultRecord
from hub.operations.coverage import PostCoverage as PostCoverageRecord
from hub.operations.cycle_warnings import CycleWarning as CycleWarningRecord
from hub.operations.cycles import (
    CycleCloseCalibration,
    CycleCreateInput,
    CycleDelete,
    CycleJoin,
    CycleOpen,
    CyclePublish,
    CycleReopen,
)
from hub.operations.leaving import CycleLeave
from hub.operations.pins import PinWarning as PinWarningRecord
from hub.operations.scoring import BlockedScoreRecord, CycleScore
from resolvers.context import Context
from schema.enums import CycleWarningCode
from schema.errors import payload
from schema.indicators import IndicatorVersion, SchemeVersion
from schema.mutations.declare import mutation
from schema.organisation import Employee, Post
from schema.permissions import HR_ONLY
from schema.record_fields import Relations
from schema.results import Cycle
from schema.rounding import ROUNDED_FIGURE, Scores


@strawberry.type(
    description="A pinned scheme version weighs an indicator version that is not in force for the whole cycle period."
)
class PinWarning:
    why: str = strawberry.field(description="What is out of date, and which version takes over, for people.")

    post = Relations[PinWarningRecord].load(Post, lambda loaders: loaders.post_by_id, lambda row: row.post_id)
    scheme_version = Relations[PinWarningRecord].load(
        SchemeVersion, lambda loaders: loaders.scheme_version_by_id, lambda row: row.scheme_version_id
    )
    indicator_version = Relations[PinWarningRecord].load(
        IndicatorVersion, lambda loaders: loaders.indicator_version_by_id, lambda row: row.indicator_version_id
    )
    successor = Relations[PinWarningRecord].load(
        IndicatorVersion | None, lambda loaders: loaders.indicator_version_by_id, lambda row: row.successor_id
    )


@strawberry.type(
    description="Something a cycle step did that may not be meant: a warning, not a refusal (the step is done)."
)
class CycleWarning:
    code: CycleWarningCode
    message: str = strawberry.field(description="What happened, for people.")
    employees: int | None = strawberry.field(
        description="POST_WITHOUT_SCHEME: how many active people the post holds on the period's last day, left out "
        "of the cycle with it."
    )

    post = Relations[CycleWarningRecord].load(
        Post | None,
        lambda loaders: loaders.post_by_id,
        lambda row: row.post_id,
        description="POST_WITHOUT_SCHEME: the post left out.",
    )
    other_cycle = Relations[CycleWarningRecord].load(
        Cycle | None,
        lambda loaders: loaders.cycle_by_id,
        lambda row: row.other_cycle_id,
        description="PERIOD_OVERLAP: the cycle whose period overlaps.",
    )


@strawberry.type
class CycleChanged:
    cycle: CycleRow = strawberry.field(graphql_type=Cycle)
    warnings: list[PinWarningRecord] = strawberry.field(
        default_factory=list,
        graphql_type=list[PinWarning],
        description="What cycleOpen pinned that may not be meant (a warning: the cycle is open); other steps "
        "answer none.",
    )
    cycle_warnings: list[CycleWarningRecord] = strawberry.field(
        default_factory=list,
        graphql_type=list[CycleWarning],
        description="cycleOpen: each post of its scope left out for want of a scheme in force, with how many "
        "people it holds (with no scope named, only the posts that hold someone); cycleCreate: each other cycle "
        "whose period overlaps. Other steps answer none.",
    )


@strawberry.type(description="Posts or people left an OPEN cycle.")
class CycleLeft:
    cycle: CycleRow = strawberry.field(graphql_type=Cycle)
    withdrawn: int = strawberry.field(
        description="How many rater assignments of the people who left were withdrawn (their ratings received stay "
        "on record but are not scored)."
    )


@strawberry.type(description="An employee the engine could not score, and why.")
class BlockedScore:
    code: str
    message: str

    employee = Relations[BlockedScoreRecord].load(
        Employee, lambda loaders: loaders.employee_by_id, lambda record: record.employee_id
    )
    indicator_version = Relations[BlockedScoreRecord].load(
        IndicatorVersion | None,
        lambda loaders: loaders.indicator_version_by_id,
        lambda record: record.indicator_version_id,
    )


@strawberry.type(description="How complete one post's scored results are.")
class PostCoverage:
    results: int
    without_ratings: int = strawberry.field(
        description="Results with no rating at all although the scheme weighs people-rated indicators (scored on "
        "their measured part alone, re-weighted to 100: only with allowIncomplete)."
    )
    without_measures: int = strawberry.field(
        description="Results with no measured value although the scheme weighs measured indicators."
    )
    completeness = Scores[PostCoverageRecord].rounded(
        float,
        lambda row: row.completeness,
        "The mean share of the scheme's weight that had a value, in percent (0 without results).",
        rounding=ROUNDED_FIGURE,
    )
    blocked: int = strawberry.field(
        description="Participants of the post who could not be scored at all (listed in blocked): a post whose "
        "people were all blocked is listed with no result."
    )

    post = Relations[PostCoverageRecord].load(Post, lambda loaders: loaders.post_by_id, lambda row: row.post_id)


@strawberry.type(
    description="A result that lacks a whole part of its scheme (every rating, or every measured value): let in "
    "by allowIncomplete; one without ratings is not ranked."
)
class IncompleteResult:
    without_ratings: bool
    without_measures: bool

    employee = Relations[IncompleteResultRecord].load(
        Employee, lambda loaders: loaders.employee_by_id, lambda record: record.employee_id
    )


@strawberry.type
class CycleScored:
    cycle: CycleRow = strawberry.field(graphql_type=Cycle)
    scored: int = strawberry.field(description="How many results were computed and stored.")
    blocked: list[BlockedScoreRecord] = strawberry.field(graphql_type=list[BlockedScore])
    coverage: list[PostCoverageRecord] = strawberry.field(
        graphql_type=list[PostCoverage], description="Per post, how complete the results' inputs were."
    )
    incomplete: list[IncompleteResultRecord] = strawberry.field(
        graphql_type=list[IncompleteResult],
        description="Every result that lacks a whole part of its scheme, by employee id.",
    )


@strawberry.type(description="A DRAFT cycle was deleted.")
class CycleDeleted:
    cycle_id: strawberry.ID


CyclePayload = payload("CyclePayload", CycleChanged)
CycleDeletePayload = payload("CycleDeletePayload", CycleDeleted)
CycleLeavePayload = payload("CycleLeavePayload", CycleLeft)
CycleScorePayload = payload("CycleScorePayload", CycleScored)


@mutation(HR_ONLY, CyclePayload)
async def cycle_create(context: Context, command: CycleCreateInput, caller: Caller) -> CycleChanged:
    """Creates a cycle in DRAFT; warns (cycleWarnings) when its period overlaps another cycle's."""
    cycle = await cycles.create_cycle(context.sessionmaker, command, caller)
    return CycleChanged(cycle=cycle, cycle_warnings=await cycle_warnings.overlaps(context.sessionmaker, cycle))


@mutation(HR_ONLY, CycleDeletePayload, arguments=True)
async def cycle_delete(context: Context, command: CycleDelete, caller: Caller) -> CycleDeleted:
    """Deletes a cycle still in DRAFT (made by mistake or twice); any later state is refused."""
    deleted = await cycles.delete_cycle(context.sessionmaker, command, caller)
    return CycleDeleted(cycle_id=strawberry.ID(str(deleted)))


@mutation(HR_ONLY, CyclePayload, arguments=True)
async def cycle_open(context: Context, command: CycleOpen, caller: Caller) -> CycleChanged:
    """DRAFT -> OPEN: pins each post's scheme version (or those of the posts, families and departments named),
    assigns self and manager raters; warns of pinned indicator versions not in force for the whole period and of
    the posts left out for want of a scheme in force (cycleWarnings)."""
    opened = await cycles.open_cycle(context.sessionmaker, command, caller)
    return CycleChanged(cycle=opened.cycle, warnings=opened.warnings, cycle_warnings=opened.left_out)


@mutation(HR_ONLY, CyclePayload, arguments=True)
async def cycle_join(context: Context, command: CycleJoin, caller: Caller) -> CycleChanged:
    """Posts (pinned then, to the scheme in force on the period's first day) and people hired or moved into a
    post of the cycle after it opened join an OPEN cycle, with their default raters (self, manager)."""
    return CycleChanged(cycle=await cycles.join_cycle(context.sessionmaker, command, caller))


@mutation(HR_ONLY, CycleLeavePayload, arguments=True)
async def cycle_leave(context: Context, command: CycleLeave, caller: Caller) -> CycleLeft:
    """Posts (unpinned) and people leave an OPEN cycle, with a reason: their rater assignments as ratees are
    withdrawn; ratings they received stay on record but are not scored. cycleJoin brings them back."""
    left = await leaving.leave_cycle(context.sessionmaker, command, caller)
    return CycleLeft(cycle=left.cycle, withdrawn=left.withdrawn)


@mutation(HR_ONLY, CycleScorePayload, arguments=True)
async def cycle_score(context: Context, command: CycleScore, caller: Caller) -> CycleScored:
    """OPEN -> SCORED: computes and stores every participant's result. Refused (INCOMPLETE_INPUTS) where a result
    would have no rating at all, unless allowIncomplete with a reason."""
    if context.worker is not None:
        report = await context.worker.score(command, caller)
    else:
        report = await scoring.score_cycle(context.sessionmaker, command, caller)
    return CycleScored(
        cycle=report.cycle,
        scored=report.scored,
        blocked=report.blocked,
        coverage=report.coverage,
        incomplete=report.incomplete,
    )


@mutation(HR_ONLY, CyclePayload, arguments=True)
async def cycle_reopen(context: Context, command: CycleReopen, caller: Caller) -> CycleChanged:
    """SCORED -> OPEN with a reason; the unpublished scores are discarded."""
    return CycleChanged(cycle=await cycles.reopen_cycle(context.sessionmaker, command, caller))


@mutation(HR_ONLY, CyclePayload, arguments=True)
async def cycle_close_calibration(context: Context, command: CycleCloseCalibration, caller: Caller) -> CycleChanged:
    """SCORED -> CALIBRATED: ranks are recomputed from the calibrated totals."""
    return CycleChanged(cycle=await cycles.close_calibration(context.sessionmaker, command, caller))


@mutation(HR_ONLY, CyclePayload, arguments=True)
async def cycle_publish(context: Context, command: CyclePublish, caller: Caller) -> CycleChanged:
    """CALIBRATED -> PUBLISHED: the results are final."""
    return CycleChanged(cycle=await cycles.publish_cycle(context.sessionmaker, command, caller))
