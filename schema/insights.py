"""The white paper's insights as the API shows them: the high-performer profile and the attrition signals."""

from __future__ import annotations

import strawberry

from hub.analytics import attrition, profile
from hub.analytics.attrition import AttritionRule, SignalMeasure
from hub.analytics.profile import BAND_YEARS, TenureBand
from resolvers import insights as records
from resolvers.cycle_ids import CYCLE_ID_ERRORS
from schema import fields
from schema.enums import Grade
from schema.indicators import Indicator
from schema.record_fields import Relations
from schema.refs import AppraisalResultRef, EmployeeRef, PostRef
from schema.results import Cycle
from schema.rounding import ROUNDED_FIGURE, Scores
from schema.statistics import Withheld

strawberry.enum(TenureBand, description="Years of service on the cycle's last day, from the hire date.")
strawberry.enum(AttritionRule, description="The rule that raised an attrition flag.")
strawberry.enum(SignalMeasure, description="What a number behind an attrition flag measures.")

WITHHELD = "Null with the reason in `withheld` when the caller may not see it."


@strawberry.type(description="One side of a comparison (the top grade, or the rest) on a 0-100 measure.")
class ProfileGroup:
    count: int | None = strawberry.field(description="People in the group. " + WITHHELD)
    mean = Scores[records.GroupFigures].rounded(float | None, lambda row: row.mean, WITHHELD, rounding=ROUNDED_FIGURE)
    stddev = Scores[records.GroupFigures].rounded(
        float | None, lambda row: row.stddev, "The sample standard deviation. " + WITHHELD, rounding=ROUNDED_FIGURE
    )
    withheld: Withheld | None = strawberry.field(description="Why the figures are null; null when they are not.")


@strawberry.type(description="The top grade against the rest on one 0-100 measure, with the effect size.")
class ScoreContrast:
    top: ProfileGroup
    rest: ProfileGroup
    difference = Scores[records.Contrast].rounded(
        float | None, lambda row: row.difference, "The top's mean less the rest's.", rounding=ROUNDED_FIGURE
    )
    hedges_g: float | None = strawberry.field(
        description="Hedges' g: (top mean - rest mean) / pooled sample standard deviation, times "
        "1 - 3 / (4 (n_top + n_rest) - 9). Null when either side is withheld, has fewer than two people, or "
        "nobody's score varies. Rough reading: 0.2 small, 0.5 medium, 0.8 large."
    )


@strawberry.type(description="How the top grade differs from the rest on one indicator's normalised scores.")
class IndicatorContrast:
    indicator = Relations[records.IndicatorContrast].load(
        Indicator, lambda loaders: loaders.indicator_by_id, lambda row: row.indicator_id
    )
    comparison: ScoreContrast = strawberry.field(
        description="Over the scores of every version of the indicator in the cycle (the 0-100 scale is one)."
    )


@strawberry.type(description="How many people of a post, or of a tenure band, hold the top grade.")
class TopShare:
    post = Relations[records.TopShare].load(
        PostRef | None,
        lambda loaders: loaders.post_by_id,
        lambda row: row.post_id,
        "The post; null in a tenure band's row.",
    )
    band: TenureBand | None = strawberry.field(description="The tenure band; null in a post's row.")
    count: int | None = strawberry.field(
        description="People of the row with a result; shown for a withheld row too (its size, as scoreStatistics "
        "lists a withheld group's), only topCount and topShare being null then."
    )
    top_count: int | None = strawberry.field(description="Of them, those with the top grade. " + WITHHELD)
    top_share: float | None = strawberry.field(description="topCount / count, 0..1. " + WITHHELD)
    withheld: Withheld | None = strawberry.field(description="Why the figures are null; null when they are not.")

    @fields.field(description="A tenure band's years of service from (inclusive); null for UNKNOWN and posts.")
    def from_years(self, root: strawberry.Parent[records.TopShare]) -> int | None:
        return BAND_YEARS[TenureBand(root.band)][0] if root.band is not None else None

    @fields.field(description="A tenure band's years of service up to (exclusive); null for the last band.")
    def to_years(self, root: strawberry.Parent[records.TopShare]) -> int | None:
        return BAND_YEARS[TenureBand(root.band)][1] if root.band is not None else None


@strawberry.type(description="How a cycle's top grade differs from the rest, within the caller's reach.")
class HighPerformerProfile:
    cycle = Relations[records.HighPerformerProfile].load(
        Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.cycle_id
    )
    top_grade: Grade = strawberry.field(description="The grade compared with every other: the best one.")
    minimum_group_size: int = strawberry.field(
        description="The fewest people a figure may be about for the caller (1 for hr_admin)."
    )
    total: ScoreContrast = strawberry.field(description="On the total score.")
    indicators: list[IndicatorContrast] = strawberry.field(description="Per indicator scored in the cycle.")
    posts: list[TopShare] = strawberry.field(description="Per post.")
    tenure: list[TopShare] = strawberry.field(description="Per tenure band.")
    note: str | None = strawberry.field(
        description="Why the comparison on the total is withheld when a side is smaller than the minimum group "
        "size, in words (e.g. the top grade has 4 people, fewer than the minimum group size 5); null otherwise."
    )


@strawberry.type(description="A number behind an attrition flag.")
class SignalFigure:
    measure: SignalMeasure
    cycle = Relations[attrition.SignalFigure].load(Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.cycle_id)
    value = Scores[attrition.SignalFigure].rounded(
        float, lambda row: row.value, "A score (0-100) or a number of courses.", rounding=ROUNDED_FIGURE
    )


@strawberry.type(description="A rule that flagged a person, with the numbers that made it fire.")
class AttritionFlag:
    rule: AttritionRule
    figures: list[SignalFigure]


@strawberry.type(description="A person flagged in a cycle: a reason for a conversation, never a prediction.")
class AttritionSignal:
    employee = Relations[records.AttritionSignal].load(
        EmployeeRef, lambda loaders: loaders.employee_by_id, lambda row: row.employee_id
    )
    result = Relations[records.AttritionSignal].load(
        AppraisalResultRef, lambda loaders: loaders.result_by_id, lambda row: row.result_id
    )
    flags: list[AttritionFlag]


@strawberry.type(description="The people flagged in a cycle, and whether the training rule could be checked.")
class AttritionSignals:
    cycle = Relations[records.AttritionSignals].load(
        Cycle, lambda loaders: loaders.cycle_by_id, lambda row: row.cycle_id
    )
    people: list[AttritionSignal]
    training_checked: bool = strawberry.field(
        description="False when the training system could not answer: TRAINING_STOPPED was not checked."
    )
    training_error: str | None = strawberry.field(description="What the training system answered instead.")


ATTRITION_RULES = (
    "Signals for a conversation between a person and their manager or HR, never a prediction of who will "
    "leave: each flag names its rule and the numbers behind it. DECLINING_RESULTS: the total fell at each of "
    f"the person's last {attrition.DECLINE_STEPS} steps (their results up to this cycle's, by period), by "
    f"{attrition.DECLINE_POINTS:g} points or more in all. PEOPLE_RATED_FELL: since the previous result, the "
    f"mean people-rated (core) score fell by {attrition.CORE_FALL_POINTS:g} points or more while the mean "
    f"measured (extension) score fell by less than {attrition.EXTENSION_HELD_POINTS:g} or rose. TRAINING_STOPPED: "
    "the training system records a course completed in the previous result's cycle period and none in this "
    "cycle's; while this cycle's period is not over, only its days so far count, against as many days from the "
    "start of the previous period (like with like). Leavers (status INACTIVE) are left out. " + CYCLE_ID_ERRORS
)
PROFILE = (
    f"How the top grade ({profile.TOP_GRADE}) differs from the rest: per indicator (means, sample standard "
    "deviations and Hedges' g of the normalised scores), on the total, and per post and tenure band (the share "
    "of top grades), over the results in the caller's scope, with group sizes. " + CYCLE_ID_ERRORS
)
