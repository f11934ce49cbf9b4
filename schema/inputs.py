"""Filter inputs of the list and statistics queries: the resolvers' filter records, registered as input types."""

from __future__ import annotations

import strawberry

from resolvers.filters import EmployeeFilter, ResultFilter
from resolvers.ordering import EmployeeOrder, ResultOrder, ResultOrderField, SortDirection
from schema.values import input_type

_THRESHOLD = (
    "Refused (BAD_USER_INPUT) to an analyst without the names grant: score thresholds single people out; "
    "group by grade instead."
)

input_type(
    EmployeeFilter,
    name="EmployeeFilter",
    description="For an analyst without the names grant, a department, post or post family filter matches no one "
    "whose (department, post) cell holds fewer than the minimum group size (they are listed only unfiltered), "
    "and a filter that selects fewer than the minimum is refused (BAD_USER_INPUT).",
    fields={
        "department_id": "The department or any department below it.",
        "name_contains": "Case-insensitive.",
        "cycle_id": "The cycle whose result grade, minScore and maxScore read (required with them): employees with "
        "a result there that the caller may see and that matches.",
        "min_score": _THRESHOLD,
        "max_score": _THRESHOLD,
    },
    ids={"department_id", "post_id", "cycle_id"},
)
input_type(
    ResultFilter,
    name="ResultFilter",
    description="For an analyst without the names grant, a department, post or post family filter of results "
    "matches no one whose (department, post) cell in the cycle holds fewer than the minimum group size (they "
    "are listed only unfiltered), and a filter that selects fewer than the minimum is refused (BAD_USER_INPUT).",
    fields={
        "department_id": "The department (as scored) or any department below it.",
        "min_score": _THRESHOLD,
        "max_score": _THRESHOLD,
        "period_from": "Results of cycles whose period starts on or after this day (with results' cycleId left out: a "
        "range of cycles).",
        "period_to": "Results of cycles whose period ends on or before this day.",
    },
    ids={"department_id", "post_id"},
)

strawberry.enum(ResultOrderField, name="ResultOrderField", description="What a sorted list is ordered by.")
strawberry.enum(SortDirection, name="SortDirection")
_ORDER_FIELDS = {
    "by": "TOTAL_SCORE: the total; INDICATOR_SCORE: the 0-100 score of indicatorId (any version of it); CHANGE: the "
    "total less the same employee's total in the latest PUBLISHED cycle before (as AppraisalResult.change). Rows "
    "without that value are not listed; ties are broken by id, so that paging never repeats or skips a row.",
    "indicator_id": "The indicator of INDICATOR_SCORE.",
}
input_type(
    ResultOrder,
    name="ResultOrder",
    description="How to sort results (top-N: DESC and first: N). Refused to an analyst without the names grant.",
    fields=_ORDER_FIELDS,
    ids={"indicator_id"},
)
input_type(
    EmployeeOrder,
    name="EmployeeOrder",
    description="How to sort employees: by their result in cycleId (one the caller may see); employees without one "
    "are not listed. Refused to an analyst without the names grant.",
    fields=_ORDER_FIELDS,
    ids={"indicator_id", "cycle_id"},
)

__all__ = ["EmployeeFilter", "EmployeeOrder", "ResultFilter", "ResultOrder"]
