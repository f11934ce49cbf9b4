"""Relay connections for the paginated lists.

``PageInfo`` is the resolvers' own record, registered as is. A connection and its edges are typed per
node in GraphQL, so each list has its pair of types here; all of them read the resolvers' one
``Connection`` and ``Edge`` (``resolvers/pagination.py``).
"""

from __future__ import annotations

import strawberry

from resolvers.pagination import PageInfo as PageInfo  # registered below; schema modules import it from here
from schema.organisation import Employee
from schema.results import AppraisalResult
from schema.values import object_type

object_type(PageInfo, name="PageInfo")


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
