"""Bulk scoring: score every employee of a post for a cycle, then grade and rank them all."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from hub.appraisal.errors import AppraisalError, InvalidConfiguration, InvalidValue, ScoringBlocked
from hub.appraisal.grading import GradeBands, rank_and_percentile
from hub.appraisal.rules import Rule
from hub.appraisal.scoring import Scorer, compile_rule
from hub.appraisal.weighting import WEIGHT_TOTAL, clamp_total, validate_weights
from hub.domain import Direction, Grade, MissingPolicy


@dataclass(frozen=True, slots=True)
class SchemeItem:
    """One weighted indicator version of a post's scheme, with its rule, direction and missing policy."""

    indicator_version_id: int
    weight: float
    rule: Rule
    direction: Direction
    missing: MissingPolicy


class ItemScore(NamedTuple):
    """One indicator's part in an employee's total."""

    indicator_version_id: int
    raw: float | None
    normalized: float | None  # None when missing and excluded; 0 when missing under ZERO
    effective_weight: float  # 0 when excluded; the others are scaled back up to 100
    weighted: float  # normalized * effective_weight / 100


class BlockedReason(NamedTuple):
    """Why an employee has no total: a machine code, a message and the indicator at fault (if one)."""

    code: str
    message: str
    indicator_version_id: int | None


class EmployeeScore(NamedTuple):
    """One employee's result; the per-item columns line up with ``indicator_version_ids``.

    Columns rather than a list of ItemScore keep 100,000 rows cheap; ``items()`` builds the rows.
    Either ``total`` or ``blocked`` is None; a blocked row keeps only its ``raws`` (the rest are empty).
    """

    indicator_version_ids: tuple[int, ...]  # shared by every row of a scheme, not copied
    raws: tuple[float | None, ...]
    normalized: tuple[float | None, ...]
    effective_weights: tuple[float, ...]
    weighted: tuple[float, ...]
    total: float | None
    blocked: BlockedReason | None

    def items(self) -> list[ItemScore]:
        """Return one ItemScore per scheme item (empty when the employee is blocked)."""
        if self.blocked is not None:
            return []
        columns = zip(
            self.indicator_version_ids,
            self.raws,
            self.normalized,
            self.effective_weights,
            self.weighted,
            strict=True,
        )
        return [ItemScore(*row) for row in columns]


_EMPTY: tuple[float, ...] = ()
# Missing policies as small ints: the hot loop compares them once per item per employee.
_ZERO, _EXCLUDE, _BLOCK = 0, 1, 2


class CompiledScheme:
    """A scheme checked and compiled once (weights, rules, directions) to score many employees fast."""

    __slots__ = ("_full_weight", "_plan", "ids", "items", "weights")

    def __init__(self, items: Sequence[SchemeItem]) -> None:
        ids = [item.indicator_version_id for item in items]
        if len(set(ids)) != len(ids):
            raise InvalidConfiguration("a scheme lists the same indicator version twice")
        validate_weights([item.weight for item in items])
        self.items = tuple(items)
        self.ids = tuple(ids)
        self.weights = tuple(float(item.weight) for item in items)
        # Summed in item order like the hot loop does, so "nothing excluded" compares exactly equal.
        full_weight = 0.0
        for weight in self.weights:
            full_weight += weight
        self._full_weight = full_weight
        policy_codes = {
            MissingPolicy.ZERO: _ZERO,
            MissingPolicy.EXCLUDE: _EXCLUDE,
            MissingPolicy.BLOCK: _BLOCK,
        }
        self._plan: tuple[tuple[int, float, Scorer, int], ...] = tuple(
            (
                item.indicator_version_id,
                float(item.weight),
                compile_rule(item.rule, item.direction),
                policy_codes[item.missing],
            )
            for item in items
        )

    def score(self, raw_values: Mapping[int, float | None]) -> EmployeeScore:
        """Score one employee from indicator_version_id -> raw value (absent or None = missing)."""
        ids = self.ids
        get = raw_values.get
        raws: list[float | None] = []
        normalized: list[float | None] = []
        kept_weight = 0.0
        for iv_id, weight, scorer, policy in self._plan:
            raw = get(iv_id)
            raws.append(raw)
            if raw is None:
                if policy == _EXCLUDE:
                    normalized.append(None)
                    continue
                if policy == _BLOCK:
                    message = f"indicator version {iv_id} has no value and its missing policy is BLOCK"
                    return self._blocked(raws, ScoringBlocked.code, message, iv_id)
                normalized.append(0.0)
            else:
                try:
                    normalized.append(scorer(raw))
                except AppraisalError as error:
                    return self._blocked(raws, error.code, error.message, iv_id)
            kept_weight += weight
        if kept_weight <= 0.0:
            return self._blocked(raws, ScoringBlocked.code, ScoringBlocked(None).message, None)

        if kept_weight == self._full_weight:  # the common case: nothing excluded, weights used as given
            effective = self.weights
        else:
            scale = WEIGHT_TOTAL / kept_weight
            effective = tuple(0.0 if s is None else w * scale for s, w in zip(normalized, self.weights, strict=True))
        weighted = tuple(0.0 if s is None else s * w / WEIGHT_TOTAL for s, w in zip(normalized, effective, strict=True))
        return EmployeeScore(
            ids, tuple(raws), tuple(normalized), effective, weighted, clamp_total(math.fsum(weighted)), None
        )

    def _blocked(self, raws: list[float | None], code: str, message: str, iv_id: int | None) -> EmployeeScore:
        # The raws seen so far are kept: they tell the reviewer what did arrive.
        raws_row = tuple(raws) + (None,) * (len(self.ids) - len(raws))
        return EmployeeScore(self.ids, raws_row, (), _EMPTY, _EMPTY, None, BlockedReason(code, message, iv_id))


def score_employees(
    items: Sequence[SchemeItem] | CompiledScheme, raw_values: Mapping[int, Mapping[int, float | None]]
) -> dict[int, EmployeeScore]:
    """Score every employee of a post: employee_id -> (indicator_version_id -> raw value) in, results out.

    The scheme is checked once (InvalidRule, WeightsDoNotSum raise here); a problem with one
    employee's data never stops the batch, it becomes that employee's ``blocked`` reason.
    """
    scheme = items if isinstance(items, CompiledScheme) else CompiledScheme(items)
    score = scheme.score
    return {employee_id: score(values) for employee_id, values in raw_values.items()}


class Placement(NamedTuple):
    """An employee's total with the post and department they are ranked in, and whether it is complete."""

    employee_id: int
    post_id: int
    department_id: int
    total: float
    complete: bool = True
    """False for a total that leaves out what people said (scored without any rating, by HR's leave): it is
    graded, but not ranked against the complete ones (see :func:`assign_grades_and_ranks`)."""


class Standing(NamedTuple):
    """An employee's grade, and rank and percentile (see rank_and_percentile) in post and department; the ranks
    and percentiles are None for an incomplete total."""

    grade: Grade
    rank_in_post: int | None
    percentile_in_post: float | None
    rank_in_department: int | None
    percentile_in_department: float | None


def _rank_groups(placements: Sequence[Placement], group_ids: Iterable[int]) -> list[tuple[int | None, float | None]]:
    # Each group's complete totals are ranked on their own; the results come back in the order of ``placements``.
    groups: dict[int, list[int]] = {}
    for index, group_id in enumerate(group_ids):
        if placements[index].complete:
            groups.setdefault(group_id, []).append(index)
    out: list[tuple[int | None, float | None]] = [(None, None)] * len(placements)
    for members in groups.values():
        for index, standing in zip(members, rank_and_percentile([placements[i].total for i in members]), strict=True):
            out[index] = standing
    return out


def assign_grades_and_ranks(placements: Iterable[Placement], bands: GradeBands | None = None) -> dict[int, Standing]:
    """Grade each total and rank it within its post and within its department; keyed by employee_id.

    Only complete totals are ranked, among themselves: an incomplete one (scored without any rating) would
    otherwise take a place, and move everyone below it, on a number that leaves out what people said. It keeps its
    grade and has no rank or percentile; the group it is not ranked in counts the complete ones only.
    """
    rows = list(placements)
    bands = bands or GradeBands()
    in_post = _rank_groups(rows, (row.post_id for row in rows))
    in_department = _rank_groups(rows, (row.department_id for row in rows))
    grade = bands.grade
    standings = {
        row.employee_id: Standing(grade(row.total), post_rank, post_pct, dept_rank, dept_pct)
        for row, (post_rank, post_pct), (dept_rank, dept_pct) in zip(rows, in_post, in_department, strict=True)
    }
    if len(standings) != len(rows):
        raise InvalidValue("an employee appears twice among the placements")
    return standings
