"""Settings from the environment: the organisation's grade bands."""

from __future__ import annotations

import pytest

from hub.appraisal import AppraisalError
from hub.config import Settings
from hub.domain import Grade


def test_grade_bands_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """PERFHUB_GRADE_BANDS sets the lowest total of S, A, B and C for every post."""
    monkeypatch.setenv("PERFHUB_GRADE_BANDS", "[95, 85, 75, 65]")
    bands = Settings().bands()
    assert [bands.grade(total) for total in (96, 90, 80, 70, 50)] == [Grade.S, Grade.A, Grade.B, Grade.C, Grade.D]


def test_default_grade_bands() -> None:
    """Without configuration the bands are 90 / 80 / 70 / 60."""
    assert Settings().bands().grade(71.111) is Grade.B


def test_bands_out_of_order_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounds that do not fall from S to C are an error, not a silent misgrading."""
    monkeypatch.setenv("PERFHUB_GRADE_BANDS", "[60, 70, 80, 90]")
    with pytest.raises(AppraisalError):
        Settings().bands()
