"""Filter inputs of the list and statistics queries."""

from __future__ import annotations

import strawberry

from schema.enums import Grade

_THRESHOLD = (
    "Refused (BAD_USER_INPUT) to an analyst without the names grant: score thresholds single people out; "
    "group by grade instead."
)


@strawberry.input(
    description="For an analyst without the names grant, a department, post or post family filter matches no one "
    "whose (department, post) cell holds fewer than the minimum group size (they are listed only unfiltered), "
    "and a filter that selects fewer than the minimum is refused (BAD_USER_INPUT)."
)
class EmployeeFilter:
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="The department or any department below it."
    )
    post_id: strawberry.ID | None = None
    post_family: str | None = None
    name_contains: str | None = strawberry.field(default=None, description="Case-insensitive.")


@strawberry.input(
    description="For an analyst without the names grant, a department, post or post family filter of results "
    "matches no one whose (department, post) cell in the cycle holds fewer than the minimum group size (they "
    "are listed only unfiltered), and a filter that selects fewer than the minimum is refused (BAD_USER_INPUT)."
)
class ResultFilter:
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="The department (as scored) or any department below it."
    )
    post_id: strawberry.ID | None = None
    post_family: str | None = None
    grade: Grade | None = None
    min_score: float | None = strawberry.field(default=None, description=_THRESHOLD)
    max_score: float | None = strawberry.field(default=None, description=_THRESHOLD)
