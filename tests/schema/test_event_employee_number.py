"""ResultEvent.employeeNo follows the names rule on the event itself: the rule reads the event's employee number
and whether the principal manages that employee, as it reads an employee row's."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import cast

from hub.auth import Grant, Principal, Role
from hub.domain import CycleState, Grade
from hub.events.contents import EventContents
from resolvers.events import DeliveredEvent
from resolvers.records import CycleRow, ResultRow
from schema.info import Info
from schema.permissions import NAMES

CONTENTS = EventContents(
    result_id=7,
    cycle_id=1,
    cycle_name="2026 Q3",
    period_start=dt.date(2026, 7, 1),
    period_end=dt.date(2026, 9, 30),
    employee_id=3,
    employee_no="E000003",
    post_id=2,
    post_family="FINANCE",
    department_id=4,
    total_score=71.5,
    grade=Grade.B,
    calibrated=False,
    indicator_scores=(),
)


def event(managed: bool) -> DeliveredEvent:
    cycle = SimpleNamespace(id=1, state=CycleState.PUBLISHED)
    return DeliveredEvent(
        id=1,
        event_id="e",
        type="result.published",
        occurred_at=dt.datetime(2026, 12, 3, tzinfo=dt.UTC),
        result=cast(ResultRow, SimpleNamespace(id=7)),
        cycle=cast(CycleRow, cycle),
        contents=CONTENTS,
        managed=managed,
    )


def shown_to(principal: Principal, managed: bool = False) -> bool:
    info = cast(Info, SimpleNamespace(context=SimpleNamespace(principal=principal)))
    return NAMES.allows(event(managed), info)


def test_the_systems_and_the_employee_themselves_see_the_number() -> None:
    assert shown_to(Principal("payroll", frozenset({Role.PAYROLL})))
    assert shown_to(Principal("training", frozenset({Role.TRAINING})))
    assert shown_to(Principal("hr", frozenset({Role.HR_ADMIN})))
    assert shown_to(Principal("me", frozenset({Role.EMPLOYEE}), "E000003"))
    assert shown_to(Principal("analyst", frozenset({Role.ANALYST}), grants=frozenset({Grant.NAMES})))


def test_a_manager_sees_the_number_of_their_people_only() -> None:
    manager = Principal("boss", frozenset({Role.MANAGER}), "E000001")
    assert shown_to(manager, managed=True)
    assert not shown_to(manager, managed=False)


def test_who_may_not_see_names_does_not_get_the_number() -> None:
    assert not shown_to(Principal("analyst", frozenset({Role.ANALYST})))
    assert not shown_to(Principal("someone else", frozenset({Role.EMPLOYEE}), "E000009"))
    assert not shown_to(Principal("scim", frozenset({Role.SCIM})))
