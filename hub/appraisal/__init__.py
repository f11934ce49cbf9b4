"""The appraisal arithmetic: pure, typed functions from raw values to scores, totals, grades and ranks."""

from hub.appraisal.calibration import DistributionWarning, check_distribution
from hub.appraisal.cycle_state import allowed_targets, check_transition, requires_reason
from hub.appraisal.diagnostics import IndicatorDiagnostics, diagnose_indicator, diagnose_scheme, pearson
from hub.appraisal.engine import (
    BlockedReason,
    CompiledScheme,
    EmployeeScore,
    ItemScore,
    Placement,
    SchemeItem,
    Standing,
    assign_grades_and_ranks,
    score_employees,
)
from hub.appraisal.errors import (
    AppraisalError,
    IllegalTransition,
    InvalidConfiguration,
    InvalidRule,
    InvalidValue,
    NonPositiveWeight,
    NotAScalePoint,
    ReasonRequired,
    ScoringBlocked,
    WeightsDoNotSum,
)
from hub.appraisal.grading import GradeBands, rank_and_percentile
from hub.appraisal.raters import combine_ratings
from hub.appraisal.rules import (
    Band,
    BandsRule,
    LinearRule,
    LookupRule,
    RatingScaleRule,
    Rule,
    parse_rule,
    validate_rating,
    validate_rating_point,
)
from hub.appraisal.scoring import Scorer, compile_rule, score
from hub.appraisal.weighting import WeightedInput, WeightedTotal, validate_weights, weighted_total

__all__ = [
    "AppraisalError",
    "Band",
    "BandsRule",
    "BlockedReason",
    "CompiledScheme",
    "DistributionWarning",
    "EmployeeScore",
    "GradeBands",
    "IllegalTransition",
    "IndicatorDiagnostics",
    "InvalidConfiguration",
    "InvalidRule",
    "InvalidValue",
    "ItemScore",
    "LinearRule",
    "LookupRule",
    "NonPositiveWeight",
    "NotAScalePoint",
    "Placement",
    "RatingScaleRule",
    "ReasonRequired",
    "Rule",
    "SchemeItem",
    "Scorer",
    "ScoringBlocked",
    "Standing",
    "WeightedInput",
    "WeightedTotal",
    "WeightsDoNotSum",
    "allowed_targets",
    "assign_grades_and_ranks",
    "check_distribution",
    "check_transition",
    "combine_ratings",
    "compile_rule",
    "diagnose_indicator",
    "diagnose_scheme",
    "parse_rule",
    "pearson",
    "rank_and_percentile",
    "requires_reason",
    "score",
    "score_employees",
    "validate_rating",
    "validate_rating_point",
    "validate_weights",
    "weighted_total",
]
