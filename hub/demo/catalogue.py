"""The demo organisation's static catalogue and the values its sandbox business systems report.

Everything here is plain data or a pure function of its arguments, so that the seed and the demo
business systems (which serve the same metrics over HTTP) agree without sharing any state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from hub.domain import MANUAL_SOURCE, Direction, IndicatorCategory, MissingPolicy, RaterRole


@dataclass(frozen=True, slots=True)
class DepartmentSpec:
    code: str
    name: str
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class PostSpec:
    code: str
    name: str
    family: str
    department_code: str
    # Relative headcount: how the seed spreads employees over the posts.
    headcount_share: int


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
    rule: Mapping[str, Any]
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


ROOT_DEPARTMENT_CODE = "ALD"

DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec(ROOT_DEPARTMENT_CODE, "Administration & Logistics Department", None),
    DepartmentSpec("ADMIN_OFFICE", "Administrative Office", ROOT_DEPARTMENT_CODE),
    DepartmentSpec("FINANCE", "Finance Section", ROOT_DEPARTMENT_CODE),
    DepartmentSpec("SECURITY", "Security Section", ROOT_DEPARTMENT_CODE),
    DepartmentSpec("GENERAL_AFFAIRS", "General Affairs Section", ROOT_DEPARTMENT_CODE),
)

# Post family -> the section that holds its posts.
POST_FAMILIES: Mapping[str, str] = {
    "ADMIN": "ADMIN_OFFICE",
    "FINANCE": "FINANCE",
    "SECURITY": "SECURITY",
    "GENERAL_AFFAIRS": "GENERAL_AFFAIRS",
}

# The paper's case: 12 post types; the Chinese is given where the white paper names the post.
POSTS: tuple[PostSpec, ...] = (
    PostSpec("ADM-01", "Admin officer (行政干事)", "ADMIN", "ADMIN_OFFICE", 4),
    PostSpec("ADM-02", "Secretary", "ADMIN", "ADMIN_OFFICE", 2),
    PostSpec("ADM-03", "Archivist", "ADMIN", "ADMIN_OFFICE", 1),
    PostSpec("FIN-01", "Accountant", "FINANCE", "FINANCE", 3),
    PostSpec("FIN-02", "Cashier", "FINANCE", "FINANCE", 1),
    PostSpec("FIN-03", "Finance staff (财务人员)", "FINANCE", "FINANCE", 3),
    PostSpec("SEC-01", "Security officer (安全科员)", "SECURITY", "SECURITY", 3),
    PostSpec("SEC-02", "Patrol guard", "SECURITY", "SECURITY", 5),
    PostSpec("SEC-03", "Fire-safety officer", "SECURITY", "SECURITY", 2),
    PostSpec("GEN-01", "General affairs staff (总务人员)", "GENERAL_AFFAIRS", "GENERAL_AFFAIRS", 4),
    PostSpec("GEN-02", "Facilities technician", "GENERAL_AFFAIRS", "GENERAL_AFFAIRS", 3),
    PostSpec("GEN-03", "Canteen supervisor", "GENERAL_AFFAIRS", "GENERAL_AFFAIRS", 1),
)

# The root's head holds this post: the paper's 12 posts have no separate director post.
DEPARTMENT_HEAD_POST_CODE = "ADM-01"

INITIAL_NOTE = "Initial version."
_LOWER, _HIGHER = Direction.LOWER_IS_BETTER, Direction.HIGHER_IS_BETTER


def _rating(anchors: tuple[str, str, str, str, str]) -> Mapping[str, Any]:
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
    rule: Mapping[str, Any],
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

# The paper's split: ~30% shared core indicators, ~70% post-specific extension indicators.
CORE_WEIGHT = 30
EXTENSION_WEIGHT = 70
RATER_WEIGHTS: Mapping[RaterRole, int] = {
    RaterRole.SELF: 10,
    RaterRole.MANAGER: 50,
    RaterRole.PEER: 30,
    RaterRole.SUBORDINATE: 10,
}

SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_NAME_CHARACTERS: tuple[str, ...] = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉宇鹏飞琳晨雪梅婷颖佳欣浩然子轩思雨博涵"
    "嘉怡俊凯瑞丹慧晓宁志国海峰波斌彬新春晶立成斐珊璐倩蕾薇亮旭东晖昊鑫琪"
)

_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Quarter:
    """A calendar quarter: the demo's appraisal cycles and metric periods are quarters."""

    start: dt.date
    end: dt.date

    @property
    def name(self) -> str:
        return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"

    def shifted(self, quarters: int) -> Quarter:
        index = self.start.year * 4 + (self.start.month - 1) // 3 + quarters
        return _quarter(index)


def _quarter(index: int) -> Quarter:
    year, q = divmod(index, 4)
    next_year, next_q = divmod(index + 1, 4)
    return Quarter(dt.date(year, 3 * q + 1, 1), dt.date(next_year, 3 * next_q + 1, 1) - _ONE_DAY)


def quarter_of(day: dt.date) -> Quarter:
    """The calendar quarter that contains ``day``."""
    return _quarter(day.year * 4 + (day.month - 1) // 3)


def _split(total: int, parts: int) -> list[int]:
    # Whole-number weights that add up to exactly ``total``; the first parts take the remainder.
    share, rest = divmod(total, parts)
    return [share + (1 if i < rest else 0) for i in range(parts)]


def _version_at(spec: IndicatorSpec, quarters_back: int) -> int:
    # The number of the version in force ``quarters_back`` quarters ago (versions are listed oldest first).
    return max(n for n, v in enumerate(spec.versions, 1) if v.quarters_back >= quarters_back)


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity: the seed keys row ids by plan
class SchemePlan:
    """One scheme version of one post, as the seed writes it."""

    post: int  # index into POSTS
    version: int
    start: dt.date
    end: dt.date | None
    note: str
    items: tuple[tuple[IndicatorSpec, int, int], ...]  # (indicator, its version number, weight)

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def scheme_plans(current: Quarter) -> list[SchemePlan]:
    """Every post's scheme versions: a new one whenever one of its indicators gets a new version."""
    plans = []
    for p, post in enumerate(POSTS):
        extension = [s for s in EXTENSION_INDICATORS if s.family == post.family]
        specs = [*CORE_INDICATORS, *extension]
        weights = _split(CORE_WEIGHT, len(CORE_INDICATORS)) + _split(EXTENSION_WEIGHT, len(extension))
        epochs = sorted({v.quarters_back for s in specs for v in s.versions}, reverse=True)
        starts = [current.shifted(-q).start for q in epochs]
        for n, quarters_back in enumerate(epochs):
            items = tuple((s, _version_at(s, quarters_back), w) for s, w in zip(specs, weights, strict=True))
            if n == 0:
                note = f"Initial scheme: {CORE_WEIGHT}% core, {EXTENSION_WEIGHT}% {post.family} extension."
            else:
                changed = [
                    f"{s.code} v{v}: {s.versions[v - 1].change_note}"
                    for s, v, _ in items
                    if v != _version_at(s, epochs[n - 1])
                ]
                note = "Adopts " + "; ".join(changed)
            end = starts[n + 1] - _ONE_DAY if n + 1 < len(starts) else None
            plans.append(SchemePlan(p, n + 1, starts[n], end, note, items))
    return plans


# The share of (employee, metric, period) values a demo business system has no record of.
MISSING_VALUE_SHARE = 0.02

_STANDARD_NORMAL = NormalDist()


def _unit(*parts: object) -> float:
    # A uniform draw in (0, 1) from a hash of the arguments, so that a value never depends on
    # the order in which anyone asked for it (unlike a shared random.Random).
    key = "|".join(str(part) for part in parts).encode()
    drawn = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
    return (drawn + 0.5) / 2.0**64


def latent_performance(seed: int, employee_no: str) -> float:
    """An employee's underlying performance in (0, 1): what both the raters and the systems reflect."""
    z = _STANDARD_NORMAL.inv_cdf(_unit(seed, employee_no, "latent"))
    # Logistic of a shifted normal: a bell centred near 0.57, thinning towards both ends.
    return 1.0 / (1.0 + math.exp(-(0.3 + 0.85 * z)))


def demo_metric_value(seed: int, employee_no: str, metric: str, period_start: dt.date) -> float | None:
    """The value a demo business system reports for ``metric`` in the period, or None when it has none."""
    profile = METRICS.get(metric)
    if profile is None:
        raise ValueError(f"unknown demo metric {metric!r}; known: {', '.join(sorted(METRICS))}")
    period = period_start.isoformat()
    if _unit(seed, employee_no, metric, period, "missing") < MISSING_VALUE_SHARE:
        return None
    scatter = _STANDARD_NORMAL.inv_cdf(_unit(seed, employee_no, metric, period, "value"))
    quality = latent_performance(seed, employee_no) + profile.noise * scatter
    raw = profile.worst + (profile.best - profile.worst) * quality
    return round(min(max(raw, profile.low), profile.high), profile.decimals)


def metric_checksum(
    system: str, metric: str, employee_no: str, period_start: dt.date, period_end: dt.date, value: float
) -> str:
    """The sha256 hex of the canonical JSON of one reported value: its provenance fingerprint."""
    record = {
        "employee_no": employee_no,
        "metric": metric,
        "period": f"{period_start.isoformat()}/{period_end.isoformat()}",
        "system": system,
        "value": value,
    }
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
