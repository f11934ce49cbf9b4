"""Filter inputs of the list and statistics queries: the resolvers' filter records, registered as input types."""

from __future__ import annotations

from resolvers.filters import EmployeeFilter, ResultFilter
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
    fields={"department_id": "The department or any department below it.", "name_contains": "Case-insensitive."},
    ids={"department_id", "post_id"},
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
    },
    ids={"department_id", "post_id"},
)

__all__ = ["EmployeeFilter", "ResultFilter"]
