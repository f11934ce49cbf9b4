"""The demo payroll's bonus lines (``PayrollDesk``): a cycle pays its share of a year's bonus, an employee without a
bonus component gets no line, and a correction's lines say unambiguously which line each reverses or corrects."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from hub.demo.systems.consumers import RESULT_PUBLISHED, RESULT_REVISED, PayrollDesk, period_share

QUARTER = {"id": "7", "name": "2026 Q1", "periodStart": "2026-01-01", "periodEnd": "2026-03-31"}  # 90 days
YEAR = {"id": "8", "name": "2025", "periodStart": "2025-01-01", "periodEnd": "2025-12-31"}
BONUSES = {"E000001": Decimal("12000.00"), "E000002": None}
_ids = itertools.count(1)


def _event(kind: str, cycle: dict[str, str], number: str, grade: str) -> dict[str, object]:
    # The event's own figures (a snapshot taken when it was written), as the payroll's subscription selects them.
    figures = {"employeeNo": number, "grade": grade, "totalScore": 80.0, "calibrated": False}
    return {"eventId": f"event-{next(_ids)}", "type": kind, "cycle": cycle, **figures}


def _desk() -> PayrollDesk:
    return PayrollDesk(BONUSES.get)


def test_a_quarter_pays_its_share_of_the_annual_bonus_and_a_year_the_whole(capsys: pytest.CaptureFixture[str]) -> None:
    desk = _desk()
    desk._book(_event(RESULT_PUBLISHED, QUARTER, "E000001", "A"))
    desk._book(_event(RESULT_PUBLISHED, YEAR, "E000001", "A"))
    quarter, year = desk.bonus_lines
    assert (quarter["periodDays"], quarter["periodShare"], quarter["factor"]) == (90, "0.2466", "1.2")
    assert Decimal(str(quarter["amount"])) == Decimal("3551.04")  # 12000 x 1.2 x 0.2466, not 14400 (the whole year)
    assert (year["periodDays"], year["periodShare"], year["amount"]) == (365, "1", "14400.00")
    said = capsys.readouterr().out
    assert "3551.04 CNY (12000.00 x 1.2 x 0.2466, 90 days of a year's bonus)" in said


def test_four_quarters_pay_about_one_annual_bonus() -> None:
    quarters = [("2026-01-01", "2026-03-31"), ("2026-04-01", "2026-06-30"), ("2026-07-01", "2026-09-30")]
    quarters.append(("2026-10-01", "2026-12-31"))
    desk = _desk()
    for index, (start, end) in enumerate(quarters):
        cycle = {"id": str(index), "name": f"Q{index + 1}", "periodStart": start, "periodEnd": end}
        desk._book(_event(RESULT_PUBLISHED, cycle, "E000001", "B"))
    paid = sum(Decimal(str(line["amount"])) for line in desk.bonus_lines)
    assert abs(paid - Decimal("12000")) <= Decimal("2.00"), paid


def test_the_share_follows_the_annual_rule_of_the_merit_matrix() -> None:
    import datetime as dt

    assert period_share(dt.date(2024, 1, 1), dt.date(2024, 12, 31)) == (366, Decimal(1))  # leap year: still a year
    assert period_share(dt.date(2025, 1, 1), dt.date(2026, 6, 30))[1] == Decimal("1.4959")  # 546 days


def test_no_bonus_component_no_line(capsys: pytest.CaptureFixture[str]) -> None:
    desk = _desk()
    desk._book(_event(RESULT_PUBLISHED, QUARTER, "E000002", "S"))
    desk._book(_event(RESULT_REVISED, QUARTER, "E000002", "C"))
    assert desk.bonus_lines == []
    said = capsys.readouterr().out
    assert "no bonus line for E000002, grade S in 2026 Q1: no bonus component in payroll" in said
    assert "no bonus line of that cycle to correct" in said


def test_each_correction_line_names_one_line_unambiguously() -> None:
    desk = _desk()
    desk._book(_event(RESULT_PUBLISHED, QUARTER, "E000001", "A"))
    desk._book(_event(RESULT_REVISED, QUARTER, "E000001", "D"))
    desk._book(_event(RESULT_REVISED, QUARTER, "E000001", "B"))
    shown = [(line["lineId"], line["kind"], line["corrects"], line["reverses"]) for line in desk.bonus_lines]
    assert shown == [
        (1, "bonus", None, None),
        (2, "reversal", None, 1),
        (3, "bonus", 1, None),
        (4, "reversal", None, 3),  # reverses line 3 only; line 3's corrects: 1 is not carried over
        (5, "bonus", 3, None),
    ]
    assert [line["amount"] for line in desk.bonus_lines] == ["3551.04", "-3551.04", "0.00", "0.00", "2959.20"]
