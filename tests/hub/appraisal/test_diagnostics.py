"""Scheme diagnostics: statistics and plain-language flags per indicator."""

from __future__ import annotations

import pytest

from hub.appraisal import diagnose_indicator, diagnose_scheme, pearson


def test_statistics_of_a_healthy_indicator() -> None:
    """Scores 20..100 that follow the total give mean 60, stddev 28.28 and correlation 1, with no flags."""
    scores: list[float | None] = [20.0, 40.0, 60.0, 80.0, 100.0]
    totals: list[float | None] = [50.0, 60.0, 70.0, 80.0, 90.0]
    result = diagnose_indicator(scores, totals)
    assert result.mean == pytest.approx(60.0)
    assert result.stddev == pytest.approx(800.0**0.5)  # deviations 40, 20, 0, 20, 40: (1600*2 + 400*2) / 5
    assert result.correlation == pytest.approx(1.0)
    assert result.ceiling_share == pytest.approx(0.2)
    assert result.floor_share == 0.0
    assert result.missing_rate == 0.0
    assert result.flags == []


def test_an_indicator_everyone_maxes_out_is_flagged() -> None:
    """23 of 25 at 100 does not discriminate and has almost no spread; a flat column has no correlation."""
    scores: list[float | None] = [*[100.0] * 23, 90.0, 95.0]
    totals: list[float | None] = [float(70 + i) for i in range(25)]
    result = diagnose_indicator(scores, totals)
    assert result.ceiling_share == pytest.approx(0.92)
    assert "does not discriminate: 92% of employees score at the ceiling" in result.flags
    assert any(flag.startswith("almost no spread (stddev ") for flag in result.flags)
    flat = diagnose_indicator([100.0] * 6, [float(i) for i in range(6)])
    assert flat.correlation is None


def test_missing_data_and_unrelated_indicators_are_flagged() -> None:
    """40% missing is flagged, and an indicator uncorrelated with the total is called unrelated."""
    scores: list[float | None] = [10.0, 90.0, 90.0, 10.0, 50.0, 50.0, None, None, None, None]
    totals: list[float | None] = [10.0, 20.0, 80.0, 90.0, 40.0, 60.0, 30.0, 50.0, 70.0, 90.0]
    result = diagnose_indicator(scores, totals)
    assert result.missing_rate == pytest.approx(0.4)
    assert result.correlation == pytest.approx(0.0, abs=1e-12)
    assert "data missing for 40% of employees" in result.flags
    assert "unrelated to the total (correlation 0.00)" in result.flags


def test_a_negatively_correlated_indicator_is_flagged() -> None:
    """An indicator that falls as the total rises is called out."""
    result = diagnose_indicator([100.0, 75.0, 50.0, 25.0, 0.0], [10.0, 20.0, 30.0, 40.0, 50.0])
    assert "moves against the total (correlation -1.00)" in result.flags


def test_too_few_or_no_scores() -> None:
    """Fewer than MIN_SAMPLE scores are not judged; a column without scores says so."""
    assert diagnose_indicator([50.0, 60.0], [50.0, 60.0]).flags == ["too few scores to judge (2)"]
    empty = diagnose_indicator([None, None], [50.0, 60.0])
    assert empty.mean is None and empty.missing_rate == 1.0
    assert "data missing for 100% of employees" in empty.flags


def test_diagnose_scheme_and_pearson_edge_cases() -> None:
    """diagnose_scheme runs per column; pearson is None with fewer than two points or no spread."""
    report = diagnose_scheme({7: [1.0, 2.0], 8: [None, 3.0]}, [1.0, 2.0])
    assert set(report) == {7, 8}
    assert pearson([1.0], [2.0]) is None
    assert pearson([1.0, 1.0], [1.0, 2.0]) is None
    with pytest.raises(ValueError):
        diagnose_indicator([1.0], [1.0, 2.0])
