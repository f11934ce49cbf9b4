"""The demo payroll books each event by its own figures (issue 14 point 4): three quick corrections of one result
are three grades, and each reversal cancels the line its own correction replaces, whatever the result is by the
time the events arrive (their nested ``result``, which the payroll does not read)."""

from __future__ import annotations

from decimal import Decimal

from hub.demo.systems.consumers import RESULTS, PayrollDesk

NOW = {"grade": "D", "totalScore": 55.0, "calibrated": False, "employee": {"employeeNo": "E1"}}
"""The result as it is after the third correction: what every event's nested result shows when they arrive."""
CYCLE = {"id": "1", "name": "2025", "periodStart": "2025-01-01", "periodEnd": "2025-12-31"}  # a year: whole bonuses


def event(event_id: str, event_type: str, total: float, grade: str) -> dict[str, object]:
    return {
        "cursor": event_id,
        "eventId": event_id,
        "type": event_type,
        "cycle": CYCLE,
        "employeeNo": "E1",
        "totalScore": total,
        "grade": grade,
        "calibrated": False,
        "result": NOW,
    }


def test_three_corrections_in_a_row_are_booked_each_at_its_own_grade() -> None:
    assert "result {" not in RESULTS and "employeeNo grade totalScore calibrated" in RESULTS
    payroll = PayrollDesk(bonus_of=lambda number: Decimal(1000))
    payroll._book(event("p", "result.published", 70.0, "B"))
    payroll._book(event("r1", "result.revised", 82.0, "A"))
    payroll._book(event("r2", "result.revised", 83.0, "A"))
    payroll._book(event("r3", "result.revised", 55.0, "D"))
    booked = [(line["kind"], line["grade"], line["amount"], line["eventId"]) for line in payroll.bonus_lines]
    assert booked == [
        ("bonus", "B", "1000.00", "p"),
        ("reversal", "B", "-1000.00", "r1"),
        ("bonus", "A", "1200.00", "r1"),
        ("reversal", "A", "-1200.00", "r3"),
        ("bonus", "D", "0.00", "r3"),
    ]
