"""Bulk scoring of a post's employees, and grades and ranks by post and department."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.appraisal import (
    Band,
    BandsRule,
    CompiledScheme,
    InvalidConfiguration,
    InvalidRule,
    InvalidValue,
    LinearRule,
    Placement,
    RatingScaleRule,
    SchemeItem,
    WeightedInput,
    WeightsDoNotSum,
    assign_grades_and_ranks,
    combine_ratings,
    score_employees,
    weighted_total,
)
from hub.domain import Direction, Grade, MissingPolicy, RaterRole

HIGHER, LOWER = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER
ZERO, EXCLUDE, BLOCK = MissingPolicy.ZERO, MissingPolicy.EXCLUDE, MissingPolicy.BLOCK
FIVE_POINT = RatingScaleRule(1.0, 5.0, {"1": "rarely shows it", "3": "meets expectations", "5": "a model for others"})

# A finance post: 30% core rated by people (3 x 10), 70% extension measured by business systems.
ETHICS, TEAMWORK, LEARNING, ERROR_RATE, CLOSING_ON_TIME = 101, 102, 103, 201, 202
FINANCE_SCHEME = [
    SchemeItem(ETHICS, 10.0, FIVE_POINT, HIGHER, EXCLUDE),
    SchemeItem(TEAMWORK, 10.0, FIVE_POINT, HIGHER, EXCLUDE),
    SchemeItem(LEARNING, 10.0, FIVE_POINT, HIGHER, EXCLUDE),
    SchemeItem(ERROR_RATE, 40.0, LinearRule(floor=5.0, target=0.5), LOWER, BLOCK),
    SchemeItem(CLOSING_ON_TIME, 30.0, BandsRule((Band(80, 60), Band(90, 80), Band(98, 100))), HIGHER, ZERO),
]


def test_whole_employee_worked_example() -> None:
    """A finance officer's total is 77.75 (grade B), computed item by item below."""
    # Ethics from 360 ratings: manager 4, peers (3, 5, 4) -> 4, self 5; weights 50/30/20 -> 4.2.
    ethics = combine_ratings(
        {RaterRole.MANAGER: [4.0], RaterRole.PEER: [3.0, 5.0, 4.0], RaterRole.SELF: [5.0]},
        {RaterRole.MANAGER: 50.0, RaterRole.PEER: 30.0, RaterRole.SELF: 20.0},
    )
    raw = {ETHICS: ethics, TEAMWORK: 4.5, LEARNING: 3.0, ERROR_RATE: 1.4, CLOSING_ON_TIME: 93.0}
    result = score_employees(FINANCE_SCHEME, {1: raw})[1]
    # ethics    4.2 on 1-5 -> (4.2 - 1) / 4 = 80     x 10% =  8.00
    # teamwork  4.5 on 1-5 -> (4.5 - 1) / 4 = 87.5   x 10% =  8.75
    # learning  3.0 on 1-5 -> (3.0 - 1) / 4 = 50     x 10% =  5.00
    # error rate 1.4%, floor 5% target 0.5% -> (5 - 1.4) / 4.5 = 80  x 40% = 32.00
    # closing on time 93% -> band 90..98 = 80        x 30% = 24.00
    #                                                 total = 77.75 -> B (70 <= 77.75 < 80)
    assert result.blocked is None
    assert result.normalized == pytest.approx((80.0, 87.5, 50.0, 80.0, 80.0))
    assert result.effective_weights == (10.0, 10.0, 10.0, 40.0, 30.0)
    assert result.weighted == pytest.approx((8.0, 8.75, 5.0, 32.0, 24.0))
    assert result.total == pytest.approx(77.75)
    items = result.items()
    assert [i.indicator_version_id for i in items] == [
        ETHICS,
        TEAMWORK,
        LEARNING,
        ERROR_RATE,
        CLOSING_ON_TIME,
    ]
    assert items[3].raw == 1.4 and items[3].normalized == pytest.approx(80.0)
    assert result.total is not None
    standing = assign_grades_and_ranks([Placement(1, 7, 3, result.total)])[1]
    assert standing.grade is Grade.B


def test_missing_core_rating_is_excluded_and_the_rest_rescaled() -> None:
    """Without a learning rating the other weights scale by 100/90: total = 7275 / 90 = 80.83 (A)."""
    raw = {ETHICS: 4.2, TEAMWORK: 4.5, ERROR_RATE: 1.4, CLOSING_ON_TIME: 93.0}
    result = score_employees(FINANCE_SCHEME, {1: raw})[1]
    # (80 * 10 + 87.5 * 10 + 80 * 40 + 80 * 30) / 90 = (800 + 875 + 3200 + 2400) / 90
    assert result.total == pytest.approx(7275.0 / 90.0)
    assert result.effective_weights == pytest.approx((100 / 9, 100 / 9, 0.0, 400 / 9, 300 / 9))
    assert result.normalized[2] is None and result.raws[2] is None


def test_missing_zero_policy_counts_zero() -> None:
    """A missing closing-on-time value (ZERO) loses its 30 points: 77.75 - 24 = 53.75."""
    raw = {ETHICS: 4.2, TEAMWORK: 4.5, LEARNING: 3.0, ERROR_RATE: 1.4, CLOSING_ON_TIME: None}
    assert score_employees(FINANCE_SCHEME, {1: raw})[1].total == pytest.approx(53.75)


def test_blocked_employees_do_not_stop_the_batch() -> None:
    """A missing BLOCK value or an off-scale rating blocks only that employee, with a reason."""
    good = {ETHICS: 4.0, TEAMWORK: 4.0, LEARNING: 4.0, ERROR_RATE: 0.5, CLOSING_ON_TIME: 99.0}
    results = score_employees(
        FINANCE_SCHEME,
        {
            1: good,
            2: {**good, ERROR_RATE: None},
            3: {**good, TEAMWORK: 7.0},
            4: {**good, ERROR_RATE: math.nan},
        },
    )
    assert results[1].total == pytest.approx(92.5)  # 75 * 30% + 100 * 70%
    blocked = {k: r.blocked for k, r in results.items() if r.blocked is not None}
    assert {k: (b.code, b.indicator_version_id) for k, b in blocked.items()} == {
        2: ("SCORING_BLOCKED", ERROR_RATE),
        3: ("INVALID_VALUE", TEAMWORK),
        4: ("INVALID_VALUE", ERROR_RATE),
    }
    assert results[2].total is None and results[2].items() == []
    assert len(results[2].raws) == len(FINANCE_SCHEME)


def test_everything_excluded_is_blocked() -> None:
    """An employee with no value for any EXCLUDE item has nothing to score."""
    scheme = [
        SchemeItem(1, 50.0, FIVE_POINT, HIGHER, EXCLUDE),
        SchemeItem(2, 50.0, FIVE_POINT, HIGHER, EXCLUDE),
    ]
    result = score_employees(scheme, {9: {}})[9]
    assert result.blocked is not None and result.blocked.indicator_version_id is None


def test_a_bad_scheme_fails_once_up_front() -> None:
    """Bad weights, a rule against its direction or a repeated indicator raise before any row is scored."""
    with pytest.raises(WeightsDoNotSum):
        CompiledScheme([SchemeItem(1, 90.0, FIVE_POINT, HIGHER, ZERO)])
    with pytest.raises(InvalidRule):
        CompiledScheme([SchemeItem(1, 100.0, LinearRule(5.0, 0.5), HIGHER, ZERO)])
    with pytest.raises(InvalidConfiguration):
        CompiledScheme([SchemeItem(1, 50.0, FIVE_POINT, HIGHER, ZERO), SchemeItem(1, 50.0, FIVE_POINT, HIGHER, ZERO)])


IDENTITY = LinearRule(0.0, 100.0)  # raw 0..100 scores itself, so the engine can be checked against weighting


@st.composite
def scheme_and_rows(draw: st.DrawFn) -> tuple[list[SchemeItem], list[dict[int, float | None]]]:
    """A scheme of 1-10 items with weights adding up to 100 and a few employees' raw values."""
    raw_weights = draw(st.lists(st.floats(0.01, 1000.0), min_size=1, max_size=10))
    total = math.fsum(raw_weights)
    items = [
        SchemeItem(i, w / total * 100.0, IDENTITY, HIGHER, draw(st.sampled_from([ZERO, EXCLUDE])))
        for i, w in enumerate(raw_weights)
    ]
    value = st.none() | st.floats(0.0, 100.0)
    rows = draw(st.lists(st.fixed_dictionaries({i: value for i in range(len(items))}), min_size=1, max_size=5))
    return items, rows


@given(scheme_and_rows())
def test_engine_agrees_with_weighted_total(
    case: tuple[list[SchemeItem], list[dict[int, float | None]]],
) -> None:
    """The fast engine gives the same total and effective weights as weighted_total, within 0..100."""
    items, rows = case
    results = score_employees(items, dict(enumerate(rows)))
    for index, row in enumerate(rows):
        result = results[index]
        inputs = [WeightedInput(row[item.indicator_version_id], item.weight, item.missing) for item in items]
        if result.blocked is not None:
            assert all(row[i.indicator_version_id] is None and i.missing is EXCLUDE for i in items)
            continue
        expected = weighted_total(inputs)
        assert result.total == pytest.approx(expected.total, abs=1e-9)
        assert result.effective_weights == pytest.approx(expected.effective_weights)
        assert result.total is not None and 0.0 <= result.total <= 100.0
        assert math.fsum(result.effective_weights) == pytest.approx(100.0, abs=1e-6)


def test_grades_and_ranks_by_post_and_department() -> None:
    """Ranks and percentiles are computed within the post and within the department separately."""
    placements = [
        Placement(employee_id=1, post_id=10, department_id=1, total=92.0),
        Placement(employee_id=2, post_id=10, department_id=1, total=75.0),
        Placement(employee_id=3, post_id=20, department_id=1, total=75.0),
        Placement(employee_id=4, post_id=20, department_id=2, total=55.0),
    ]
    standings = assign_grades_and_ranks(placements)
    assert [standings[e].grade for e in (1, 2, 3, 4)] == [Grade.S, Grade.B, Grade.B, Grade.D]
    # Post 10: 92 > 75 -> ranks 1, 2; percentiles (1 + 0.5)/2 = 75 and 0.5/2 = 25.
    assert (standings[1].rank_in_post, standings[1].percentile_in_post) == (1, 75.0)
    assert (standings[2].rank_in_post, standings[2].percentile_in_post) == (2, 25.0)
    # Department 1: 92, 75, 75 -> ranks 1, 2, 2; the tied pair sits at (0 + 1)/3 = 33.3.
    assert [standings[e].rank_in_department for e in (1, 2, 3)] == [1, 2, 2]
    assert standings[3].percentile_in_department == pytest.approx(100 / 3)
    # Alone in department 2: rank 1, percentile 50.
    assert (standings[4].rank_in_department, standings[4].percentile_in_department) == (1, 50.0)


def test_an_incomplete_total_is_graded_but_not_ranked_against_the_complete_ones() -> None:
    """A total scored without any rating takes no place: the complete ones are ranked among themselves, as if it
    were not there, and it keeps its grade with no rank or percentile."""
    placements = [
        Placement(employee_id=1, post_id=10, department_id=1, total=92.0),
        Placement(employee_id=2, post_id=10, department_id=1, total=97.0, complete=False),
        Placement(employee_id=3, post_id=10, department_id=1, total=75.0),
    ]
    standings = assign_grades_and_ranks(placements)
    assert standings[2] == (Grade.S, None, None, None, None)
    assert [(standings[e].rank_in_post, standings[e].percentile_in_post) for e in (1, 3)] == [(1, 75.0), (2, 25.0)]
    assert [standings[e].rank_in_department for e in (1, 3)] == [1, 2]
    # The same totals, all complete: the incomplete one would have pushed everyone down.
    everyone = assign_grades_and_ranks([placement._replace(complete=True) for placement in placements])
    assert [everyone[e].rank_in_post for e in (1, 2, 3)] == [2, 1, 3]


def test_an_employee_placed_twice_is_refused() -> None:
    """Two placements for one employee would silently overwrite each other, so they raise."""
    with pytest.raises(InvalidValue, match="twice"):
        assign_grades_and_ranks([Placement(1, 1, 1, 50.0), Placement(1, 2, 1, 60.0)])
