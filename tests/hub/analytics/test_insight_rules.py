"""The insights' arithmetic and rules over plain values: worked examples and the rules' edges."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from hub.analytics.attrition import AttritionRule, Standing, result_flags, training_flag
from hub.analytics.profile import Moments, hedges_g, years_before


def moments(values: list[float]) -> Moments:
    return Moments(len(values), sum(values), sum(value * value for value in values))


def test_hedges_g_of_a_worked_example() -> None:
    """Top 80, 90 against rest 60, 70, 80: d = (85 - 70) / sqrt((50 + 200) / 3) = 1.6432, J = 1 - 3/11."""
    g = hedges_g(moments([80.0, 90.0]), moments([60.0, 70.0, 80.0]))
    assert g == pytest.approx(15 / math.sqrt(250 / 3) * (1 - 3 / 11))


def test_hedges_g_is_none_without_spread_or_a_second_value() -> None:
    assert hedges_g(moments([80.0]), moments([60.0, 70.0])) is None
    assert hedges_g(moments([80.0, 80.0]), moments([70.0, 70.0])) is None


def test_moments_give_the_sample_variance() -> None:
    assert moments([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).variance == pytest.approx(32 / 7)


def test_a_leap_day_years_before_is_the_28th() -> None:
    assert years_before(dt.date(2024, 2, 29), 1) == dt.date(2023, 2, 28)


def standing(cycle: int, total: float, core: float | None = None, extension: float | None = None) -> Standing:
    year = 2020 + cycle
    return Standing(cycle, cycle, dt.date(year, 1, 1), dt.date(year, 12, 31), total, core, extension)


@pytest.mark.parametrize(("totals", "flagged"), [((70.0, 72.5, 75.0), True), ((70.01, 72.5, 75.0), False)])
def test_declining_results_needs_five_points_over_two_falls(totals: tuple[float, float, float], flagged: bool) -> None:
    """Newest first: a fall at each step, by 5 points in all; 4.99 is not enough."""
    rules = [flag.rule for flag in result_flags([standing(3 - i, t) for i, t in enumerate(totals)])]
    assert (AttritionRule.DECLINING_RESULTS in rules) is flagged


def test_a_rise_between_two_falls_is_no_decline() -> None:
    assert result_flags([standing(3, 60.0), standing(2, 80.0), standing(1, 70.0)]) == []


@pytest.mark.parametrize(
    ("extension_before", "extension_now", "flagged"), [(50.0, 47.01, True), (50.0, 47.0, False), (50.0, 60.0, True)]
)
def test_people_rated_fell_while_measured_held(extension_before: float, extension_now: float, flagged: bool) -> None:
    """Core 10 lower; the extension mean may fall by less than 3, or rise."""
    flags = result_flags([standing(2, 70.0, 60.0, extension_now), standing(1, 70.0, 70.0, extension_before)])
    assert ([flag.rule for flag in flags] == [AttritionRule.PEOPLE_RATED_FELL]) is flagged


def test_training_stopped_needs_a_previous_result_and_a_course_then() -> None:
    history = [standing(2, 70.0), standing(1, 70.0)]
    over = dt.date(2023, 1, 1)
    assert training_flag(history[:1], [dt.date(2021, 5, 1)], over) is None
    assert training_flag(history, [None, dt.date(2020, 5, 1)], over) is None
    assert training_flag(history, [dt.date(2021, 5, 1), dt.date(2022, 5, 1)], over) is None
    flag = training_flag(history, [dt.date(2021, 5, 1), dt.date(2021, 6, 1)], over)
    assert flag is not None and [figure.value for figure in flag.figures] == [2.0, 0.0]


@pytest.mark.parametrize(
    ("today", "flagged"),
    [
        # This period (2022) runs: its days so far against as many from 2021's start.
        (dt.date(2022, 4, 30), False),  # 1 January to 30 April 2021: before the May course
        (dt.date(2022, 5, 1), True),  # the May course is in the matching days, and nothing in 2022 yet
        (dt.date(2022, 12, 31), True),  # the last day is not over yet: every day of 2021's period
        (dt.date(2023, 1, 1), True),  # over: the whole periods
    ],
)
def test_training_stopped_compares_like_with_like_until_the_period_is_over(today: dt.date, flagged: bool) -> None:
    history = [standing(2, 70.0), standing(1, 70.0)]
    assert (training_flag(history, [dt.date(2021, 5, 1)], today) is not None) is flagged
