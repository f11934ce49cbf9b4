"""The demo catalogue's indicators: three rated core indicators and each post family's extensions.

Every extension indicator names the business-system metric that feeds it (its ``MetricProfile``),
which is how the demo business systems know what to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.domain import MANUAL_SOURCE, Direction, IndicatorCategory, MissingPolicy


@dataclass(frozen=True, slots=True)
class MetricProfile:
    """A business-system metric and the realistic range the demo draws its values from."""

    system: str
    metric: str
    worst: float  # what a weak performer typically reports
    best: float  # what a strong performer typically reports
    noise: float  # quarter-to-quarter scatter, as a share of the worst..best span
    decimals: int
    low: float  # the physical bounds of the metric (a rate cannot exceed 100%)
    high: float


@dataclass(frozen=True, slots=True)
class IndicatorVersionSpec:
    rule: Mapping[str, object]
    # Effective from the start of the quarter this many quarters before the seed's current one.
    quarters_back: int
    change_note: str


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    code: str
    name: str
    category: IndicatorCategory
    unit: str | None
    direction: Direction
    family: str | None  # None for core indicators, which every post shares
    versions: tuple[IndicatorVersionSpec, ...]
    missing_policy: MissingPolicy = MissingPolicy.EXCLUDE
    source: MetricProfile | None = None  # None for people-rated indicators

    @property
    def source_system(self) -> str:
        return self.source.system if self.source else MANUAL_SOURCE

    @property
    def source_metric(self) -> str | None:
        return self.source.metric if self.source else None


INITIAL_NOTE = "Initial version."
_LOWER, _HIGHER = Direction.LOWER_IS_BETTER, Direction.HIGHER_IS_BETTER


def _rating(anchors: tuple[str, str, str, str, str]) -> Mapping[str, object]:
    return {"kind": "rating", "min": 1, "max": 5, "anchors": dict(zip("12345", anchors, strict=True))}


def _core(code: str, name: str, anchors: tuple[str, str, str, str, str]) -> IndicatorSpec:
    version = IndicatorVersionSpec(_rating(anchors), 2, INITIAL_NOTE)
    return IndicatorSpec(code, name, IndicatorCategory.CORE, None, _HIGHER, None, (version,))


# Behaviourally anchored rating scales (BARS): each point says what a rater must have seen.
CORE_INDICATORS: tuple[IndicatorSpec, ...] = (
    _core(
        "PROFESSIONAL_ETHICS",
        "Professional ethics",
        (
            "Breaches rules or confidentiality (shares personal or financial data, bends procedures for "
            "favours) or hides own mistakes.",
            "Follows the rules only when supervised; now and then misreports time, expenses or work status; "
            "needs reminders about confidentiality.",
            "Follows policies and confidentiality rules consistently, reports own errors when asked and "
            "treats colleagues and visitors fairly.",
            "Raises compliance risks unprompted, declines improper requests and explains why, and corrects "
            "own mistakes promptly and openly.",
            "Sets the standard others follow: spots integrity issues others miss, handles sensitive matters "
            "discreetly under pressure and coaches colleagues on the rules.",
        ),
    ),
    _core(
        "TEAMWORK",
        "Teamwork",
        (
            "Withholds information or help, blames others, and lets hand-offs to other sections fail.",
            "Helps only when asked directly, shares information late and leaves conflicts or hand-offs "
            "unresolved at times.",
            "Shares information on time, covers for colleagues when asked and completes hand-offs to other "
            "sections without being chased.",
            "Offers help before being asked, settles disagreements constructively and tells other sections "
            "early about changes that affect them.",
            "Builds cooperation across sections: organises joint fixes for recurring cross-team problems and "
            "is sought out to coordinate and mediate.",
        ),
    ),
    _core(
        "LEARNING",
        "Learning & development",
        (
            "Shows no interest in new procedures or systems and repeats the same mistakes after feedback.",
            "Completes mandatory training only, adopts new procedures slowly and needs repeated guidance.",
            "Completes required training on time, applies new procedures and systems correctly and acts on feedback.",
            "Seeks training or certification beyond the minimum and uses it to improve own work measurably.",
            "Turns learning into team capability: writes guides, trains colleagues and proposes process or "
            "system improvements that are adopted.",
        ),
    ),
)


def _extension(
    family: str,
    code: str,
    name: str,
    unit: str | None,
    direction: Direction,
    source: MetricProfile,
    rule: Mapping[str, object],
    missing_policy: MissingPolicy = MissingPolicy.EXCLUDE,
) -> IndicatorSpec:
    version = IndicatorVersionSpec(rule, 2, INITIAL_NOTE)
    return IndicatorSpec(
        code, name, IndicatorCategory.EXTENSION, unit, direction, family, (version,), missing_policy, source
    )


VOUCHER_ERROR_RATE = IndicatorSpec(
    "VOUCHER_ERROR_RATE",
    "Voucher error rate",
    IndicatorCategory.EXTENSION,
    "%",
    _LOWER,
    "FINANCE",
    (
        IndicatorVersionSpec({"kind": "linear", "floor": 5.0, "target": 1.0}, 2, INITIAL_NOTE),
        IndicatorVersionSpec(
            {"kind": "linear", "floor": 3.0, "target": 0.5},
            0,
            "Tightened after the audit: full marks now need 0.5% errors or fewer (was 1%), "
            "and 3% errors scores zero (was 5%).",
        ),
    ),
    source=MetricProfile("finance", "voucher_error_rate", 5.5, 0.2, 0.12, 2, 0.0, 100.0),
)

EXTENSION_INDICATORS: tuple[IndicatorSpec, ...] = (
    _extension(
        "ADMIN",
        "DOCUMENT_TURNAROUND",
        "Document turnaround",
        "days",
        _LOWER,
        MetricProfile("tickets", "document_turnaround_days", 6.0, 0.8, 0.12, 1, 0.1, 30.0),
        {"kind": "linear", "floor": 5.0, "target": 1.0},
    ),
    _extension(
        "ADMIN",
        "MEETING_SERVICE_SATISFACTION",
        "Meeting service satisfaction",
        "points",
        _HIGHER,
        MetricProfile("tickets", "meeting_service_satisfaction", 66.0, 99.0, 0.10, 1, 0.0, 100.0),
        {"kind": "lookup", "points": [[60, 0], [75, 50], [90, 85], [100, 100]]},
    ),
    VOUCHER_ERROR_RATE,
    _extension(
        "FINANCE",
        "REIMBURSEMENT_CYCLE",
        "Reimbursement cycle",
        "days",
        _LOWER,
        MetricProfile("finance", "reimbursement_cycle_days", 16.0, 2.5, 0.12, 1, 0.5, 60.0),
        {"kind": "linear", "floor": 15.0, "target": 3.0},
    ),
    # No record in the patrol system means no patrol was logged: it scores zero, not "left out".
    _extension(
        "SECURITY",
        "PATROL_COMPLETION",
        "Patrol completion rate",
        "%",
        _HIGHER,
        MetricProfile("security", "patrol_completion_rate", 79.0, 100.0, 0.10, 1, 0.0, 100.0),
        {"kind": "linear", "floor": 80.0, "target": 100.0},
        MissingPolicy.ZERO,
    ),
    _extension(
        "SECURITY",
        "INCIDENT_RESPONSE",
        "Incident response time",
        "minutes",
        _LOWER,
        MetricProfile("security", "incident_response_minutes", 34.0, 3.0, 0.12, 1, 1.0, 240.0),
        {
            "kind": "bands",
            "bands": [
                {"threshold": 5, "score": 100},
                {"threshold": 10, "score": 80},
                {"threshold": 20, "score": 60},
                {"threshold": 30, "score": 30},
            ],
        },
    ),
    _extension(
        "GENERAL_AFFAIRS",
        "WORK_ORDER_RESPONSE",
        "Work-order response time",
        "hours",
        _LOWER,
        MetricProfile("tickets", "work_order_response_hours", 26.0, 1.5, 0.12, 1, 0.1, 168.0),
        {"kind": "linear", "floor": 24.0, "target": 2.0},
    ),
    _extension(
        "GENERAL_AFFAIRS",
        "WORK_ORDER_SATISFACTION",
        "Work-order satisfaction",
        "points",
        _HIGHER,
        MetricProfile("tickets", "work_order_satisfaction", 64.0, 99.0, 0.10, 1, 0.0, 100.0),
        {"kind": "lookup", "points": [[60, 0], [80, 60], [90, 85], [100, 100]]},
    ),
)

INDICATORS: tuple[IndicatorSpec, ...] = CORE_INDICATORS + EXTENSION_INDICATORS

# source_metric -> how its business system reports it (metric names are unique across systems).
METRICS: Mapping[str, MetricProfile] = {
    spec.source.metric: spec.source for spec in EXTENSION_INDICATORS if spec.source is not None
}
