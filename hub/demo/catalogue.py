"""The demo organisation's static catalogue: its departments, posts, names, quarters and scheme plans.

Everything here is plain data or a pure function of its arguments. The indicators live in
:mod:`hub.demo.indicators` and the values the demo business systems report in :mod:`hub.demo.values`;
both are re-exported here, so that the whole catalogue still imports from this one module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from hub.demo.indicators import (
    CORE_INDICATORS,
    EXTENSION_INDICATORS,
    INDICATORS,
    INITIAL_NOTE,
    METRICS,
    VOUCHER_ERROR_RATE,
    IndicatorSpec,
    IndicatorVersionSpec,
    MetricProfile,
)
from hub.demo.values import MISSING_VALUE_SHARE, demo_metric_value, latent_performance, metric_checksum
from hub.domain import RaterRole

__all__ = [
    "CORE_INDICATORS",
    "CORE_WEIGHT",
    "DEPARTMENTS",
    "DEPARTMENT_HEAD_POST_CODE",
    "EXTENSION_INDICATORS",
    "EXTENSION_WEIGHT",
    "GIVEN_NAME_CHARACTERS",
    "INDICATORS",
    "INITIAL_NOTE",
    "METRICS",
    "MISSING_VALUE_SHARE",
    "POSTS",
    "POST_FAMILIES",
    "RATER_WEIGHTS",
    "ROOT_DEPARTMENT_CODE",
    "SURNAMES",
    "VOUCHER_ERROR_RATE",
    "DepartmentSpec",
    "IndicatorSpec",
    "IndicatorVersionSpec",
    "MetricProfile",
    "PostSpec",
    "Quarter",
    "SchemePlan",
    "demo_metric_value",
    "latent_performance",
    "metric_checksum",
    "quarter_of",
    "scheme_plans",
]


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
