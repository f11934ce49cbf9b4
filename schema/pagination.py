"""Relay connections for the paginated lists."""

from __future__ import annotations

import strawberry

from schema.organisation import Employee
from schema.results import AppraisalResult


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class EmployeeEdge:
    cursor: str
    node: Employee


@strawberry.type
class EmployeeConnection:
    edges: list[EmployeeEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class ResultEdge:
    cursor: str
    node: AppraisalResult


@strawberry.type
class ResultConnection:
    edges: list[ResultEdge]
    page_info: PageInfo
    total_count: int
