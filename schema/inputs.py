"""Filter inputs of the list and statistics queries."""

from __future__ import annotations

import strawberry

from schema.enums import Grade


@strawberry.input
class EmployeeFilter:
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="The department or any department below it."
    )
    post_id: strawberry.ID | None = None
    post_family: str | None = None
    name_contains: str | None = strawberry.field(default=None, description="Case-insensitive.")


@strawberry.input
class ResultFilter:
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="The department (as scored) or any department below it."
    )
    post_id: strawberry.ID | None = None
    post_family: str | None = None
    grade: Grade | None = None
    min_score: float | None = None
    max_score: float | None = None
