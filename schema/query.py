"""The Query root: thin fields that hand their arguments to the resolvers."""

from __future__ import annotations

import strawberry

from resolvers import cycles as cycle_queries
from resolvers import diagnostics as diagnostic_queries
from resolvers import indicators as indicator_queries
from resolvers import organisation as organisation_queries
from resolvers import results as result_queries
from schema.diagnostics import IndicatorDiagnostics
from schema.enums import GroupDimension, IndicatorCategory
from schema.indicators import Indicator
from schema.info import Info
from schema.inputs import EmployeeFilter, ResultFilter
from schema.organisation import Department, Employee, Post
from schema.pagination import EmployeeConnection, ResultConnection
from schema.results import Cycle, ScoreGroup


@strawberry.type
class Query:
    @strawberry.field(description="An employee by id; null when there is no such employee.")
    async def employee(self, info: Info, id: strawberry.ID) -> Employee | None:
        return await organisation_queries.employee(info.context, id)

    @strawberry.field(description="Employees in id order, a page at a time (at most 500 per page).")
    async def employees(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: EmployeeFilter | None = None,
    ) -> EmployeeConnection:
        return await organisation_queries.employees(info.context, first, after, filter)

    @strawberry.field
    async def departments(self, info: Info) -> list[Department]:
        return await organisation_queries.departments(info.context)

    @strawberry.field
    async def posts(self, info: Info) -> list[Post]:
        return await organisation_queries.posts(info.context)

    @strawberry.field
    async def indicators(self, info: Info, category: IndicatorCategory | None = None) -> list[Indicator]:
        return await indicator_queries.indicators(info.context, category)

    @strawberry.field(description="Every cycle, newest first.")
    async def cycles(self, info: Info) -> list[Cycle]:
        return await cycle_queries.cycles(info.context)

    @strawberry.field
    async def cycle(self, info: Info, id: strawberry.ID) -> Cycle | None:
        return await cycle_queries.cycle(info.context, id)

    @strawberry.field(description="A cycle's results in id order, a page at a time (at most 500 per page).")
    async def results(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        first: int | None = 50,
        after: str | None = None,
        filter: ResultFilter | None = None,
    ) -> ResultConnection:
        return await result_queries.results(info.context, cycle_id, first, after, filter)

    @strawberry.field(description="Total-score statistics of a cycle's results, per group.")
    async def score_statistics(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        group_by: list[GroupDimension],
        filter: ResultFilter | None = None,
    ) -> list[ScoreGroup]:
        return await result_queries.score_statistics(info.context, cycle_id, group_by, filter)

    @strawberry.field(
        description="Per indicator of the scheme a post was scored under in a cycle: spread, ceiling and floor "
        "shares, correlation with the total, missing data, and plain-language flags."
    )
    async def scheme_diagnostics(
        self, info: Info, cycle_id: strawberry.ID, post_id: strawberry.ID
    ) -> list[IndicatorDiagnostics]:
        return await diagnostic_queries.diagnostics(info.context, cycle_id, post_id)
