"""Checking a group's grade distribution against its limits."""

from __future__ import annotations

import pytest

from hub.appraisal import DistributionWarning, InvalidConfiguration, check_distribution
from hub.domain import Grade

S, A, B, C, D = Grade.S, Grade.A, Grade.B, Grade.C, Grade.D


def test_too_many_s_grades_is_a_breach() -> None:
    """3 S out of 20 is 15%, above a 10% limit that allows 2."""
    grades = [S] * 3 + [A] * 5 + [B] * 10 + [C] * 2
    assert check_distribution(grades, {S: 0.10, A: 0.30}) == [DistributionWarning(S, 0.15, 0.10, 3, 2)]
    assert DistributionWarning(S, 0.15, 0.10, 3, 2).message("post Clerk") == (
        "grade S is given to 3 of 20 results in post Clerk (15%), above the target of 10%: at most 2"
    )


def test_exactly_at_the_limit_is_not_a_breach() -> None:
    """1 S out of 10 is exactly 10% and passes despite float rounding."""
    assert check_distribution([S] + [B] * 9, {S: 0.1}) == []


def test_breaches_come_best_grade_first_and_empty_groups_pass() -> None:
    """Several breaches are listed S to D; an empty group breaches nothing."""
    breaches = check_distribution([D, D, S, S], {D: 0.25, S: 0.25})
    assert [b.grade for b in breaches] == [S, D]
    assert check_distribution([], {S: 0.0}) == []


def test_limits_must_be_fractions() -> None:
    """A limit written as a percentage (10 instead of 0.1) is refused with a hint."""
    with pytest.raises(InvalidConfiguration, match=r"10% is 0\.1"):
        check_distribution([S], {S: 10.0})
