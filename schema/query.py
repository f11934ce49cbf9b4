"""The Query root: thin fields that hand their arguments to the resolvers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import strawberry

from resolvers import audit as audit_queries
from resolvers import closed_loop as closed_loop_queries
from resolvers import cycles as cycle_queries
from resolvers import diagnostics as diagnostic_queries
from resolvers import events as event_queries
from resolvers import group_needs as group_need_queries
from resolvers import indicators as indicator_queries
from resolvers import insights as insight_queries
from resolvers import organisation as organisation_queries
from resolvers import records
from resolvers import results as result_queries
from resolvers import statistics as statistics_queries
from resolvers import webhooks as webhook_queries
from resolvers.closed_loop import MeritMatrixRecord
from resolvers.cycle_ids import CYCLE_ID_ERRORS, EMPLOYEE_NOS
from resolvers.pagination import Connection
from resolvers.records import (
    CycleRow,
    DepartmentRow,
    EmployeeRow,
    IndicatorRow,
    PostRow,
)
from schema.audit import AuditEntryConnection
from schema.closed_loop import CompensationGuidance, EmployeeTrainingNeeds, GroupTrainingNeed, cycle_page
from schema.diagnostics import IndicatorDiagnostics
from schema.enums import GroupDimension, IndicatorCategory
from schema.events import EVENT_SCOPE, ResultEvent, ResultEventFilter, wanted
from schema.indicators import Indicator
from schema.info import Info
from schema.inputs import EmployeeFilter, EmployeeOrder, ResultFilter, ResultOrder
from schema.insights import ATTRITION_RULES, PROFILE, AttritionSignals, HighPerformerProfile
from schema.lookahead import employee_relations, page_nodes, record_fields, result_relations
from schema.organisation import Department, Employee, Post
from schema.pagination import EmployeeConnection, ResultConnection
from schema.permissions import (
    ATTRITION_SIGNALS,
    AUDIT,
    AUTHENTICATED,
    COMPENSATION,
    DIAGNOSTICS,
    EMPLOYEE_SCOPE,
    GROUPED_FIGURES,
    HR_ONLY,
    INDICATOR_STATISTICS,
    INSIGHTS,
    RESULT_SCOPE,
    STATISTICS,
    TRAINING_NEEDS,
    guarded,
)
from schema.results import Cycle
from schema.selection import selects
from schema.statistics import (
    IndicatorStatistics,
    ScoreGroup,
    rounded_indicator_statistics,
    rounded_statistics,
)
from schema.trends import TrendQueries
from schema.webhooks import WebhookAttemptConnection, WebhookEndpoint


@strawberry.type
class Query(TrendQueries):
    @guarded(
        AUTHENTICATED,
        "employee",
        "An employee by id; null when there is no such employee or it is outside the caller's scope.",
        graphql_type=Employee | None,
    )
    async def employee(self, info: Info, id: strawberry.ID) -> EmployeeRow | None:
        relations = employee_relations(record_fields(info))
        return await organisation_queries.employee(info.context, id, relations)

    @guarded(
        AUTHENTICATED,
        "me",
        "The employee the caller's token binds (its employee number), as `employee` would answer it; null for "
        "a token that binds no employee (hr_admin, analyst, payroll and training tokens usually do not).",
        graphql_type=Employee | None,
    )
    async def me(self, info: Info) -> EmployeeRow | None:
        return await organisation_queries.me(info.context)

    @guarded(
        AUTHENTICATED,
        "employeeByNumber",
        "An employee by employee number; null when there is no such employee or it is outside the caller's "
        "scope (the two answer alike). Null with a FORBIDDEN error for an analyst without the 'names' grant: "
        "employee numbers are names. " + EMPLOYEE_SCOPE,
        graphql_type=Employee | None,
    )
    async def employee_by_number(self, info: Info, employee_no: str) -> EmployeeRow | None:
        return await organisation_queries.employee_by_number(info.context, employee_no)

    @guarded(
        AUTHENTICATED,
        "employees",
        "Employees in id order, or orderBy's, a page at a time (at most 500 per page). " + EMPLOYEE_SCOPE,
        graphql_type=EmployeeConnection,
    )
    async def employees(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: EmployeeFilter | None = None,
        order_by: EmployeeOrder | None = None,
    ) -> Connection:
        count = selects(info, "totalCount")
        relations = employee_relations(page_nodes(info))
        return await organisation_queries.employees(info.context, first, after, filter, count, order_by, relations)

    @guarded(AUTHENTICATED, "departments", graphql_type=list[Department])
    async def departments(self, info: Info) -> Sequence[DepartmentRow]:
        return await organisation_queries.departments(info.context)

    @guarded(AUTHENTICATED, "posts", graphql_type=list[Post])
    async def posts(self, info: Info) -> Sequence[PostRow]:
        return await organisation_queries.posts(info.context)

    @guarded(AUTHENTICATED, "indicators", graphql_type=list[Indicator])
    async def indicators(
        self,
        info: Info,
        category: IndicatorCategory | None = None,
        include_retired: Annotated[
            bool, strawberry.argument(description="False leaves out the indicators retired by today.")
        ] = True,
    ) -> Sequence[IndicatorRow]:
        return await indicator_queries.indicators(info.context, category, include_retired=include_retired)

    @guarded(AUTHENTICATED, "cycles", "Every cycle, newest first.", graphql_type=list[Cycle])
    async def cycles(self, info: Info) -> Sequence[CycleRow]:
        return await cycle_queries.cycles(info.context)

    @guarded(AUTHENTICATED, "cycle", graphql_type=Cycle | None)
    async def cycle(self, info: Info, id: strawberry.ID) -> CycleRow | None:
        return await cycle_queries.cycle(info.context, id)

    @guarded(
        AUTHENTICATED,
        "results",
        "A cycle's results in id order, or orderBy's, a page at a time (at most 500 per page); without cycleId, "
        "every cycle's (filter.periodFrom and periodTo narrow them; analysts without the names grant must name the "
        "cycle). A malformed cycleId is BAD_USER_INPUT, one that names no cycle NOT_FOUND (the answer's data null: "
        "the field is not nullable); a cycle without results in the caller's scope an empty page. " + RESULT_SCOPE,
        graphql_type=ResultConnection,
    )
    async def results(
        self,
        info: Info,
        cycle_id: strawberry.ID | None = None,
        first: int | None = 50,
        after: str | None = None,
        filter: ResultFilter | None = None,
        order_by: ResultOrder | None = None,
    ) -> Connection:
        count = selects(info, "totalCount")
        relations = result_relations(page_nodes(info))
        return await result_queries.results(info.context, cycle_id, first, after, filter, count, order_by, relations)

    @guarded(
        STATISTICS,
        "scoreStatistics",
        "Total-score statistics of a cycle's results, per group: count, mean, population standard deviation, "
        "minimum, maximum, the 25th, 50th, 75th and 90th percentiles and the grade distribution, computed in the "
        "database in one statement. For an analyst without the names grant, "
        "every figure also leaves out the people whose (department, post) cell, or (department, post, grade) "
        "cell when grouped or filtered by grade, holds fewer than the minimum group size, so that no two "
        "groups differ by a few people; min and max are null and score thresholds are refused. " + CYCLE_ID_ERRORS,
        graphql_type=list[ScoreGroup] | None,
    )
    async def score_statistics(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        group_by: list[GroupDimension],
        filter: ResultFilter | None = None,
    ) -> list[statistics_queries.ScoreGroup]:
        return rounded_statistics(await statistics_queries.score_statistics(info.context, cycle_id, group_by, filter))

    @guarded(
        INDICATOR_STATISTICS,
        "indicatorStatistics",
        "Raw values and normalised scores per indicator version of a cycle's results, for the whole cycle "
        "(groupBy []), per post ([POST]) or per post family ([POST_FAMILY]), computed in the database in one "
        "statement. The minimum group size and the differencing rules of scoreStatistics apply to each value "
        "apart; a post's groups are checked against its family's "
        "and the cycle's, so that no coarser group less the released finer ones is a small group. For an analyst "
        "without the names grant, the people of small (department, post) cells are left out and min and max "
        "are null. " + CYCLE_ID_ERRORS,
        graphql_type=list[IndicatorStatistics] | None,
    )
    async def indicator_statistics(
        self, info: Info, cycle_id: strawberry.ID, group_by: list[GroupDimension] | None = None
    ) -> list[statistics_queries.IndicatorGroup]:
        groups = await statistics_queries.indicator_statistics(info.context, cycle_id, group_by or [])
        return rounded_indicator_statistics(groups)

    @guarded(
        DIAGNOSTICS,
        "schemeDiagnostics",
        "Per indicator of the scheme a post was scored under in a cycle: spread, ceiling and floor "
        "shares, correlation with the total, missing data, and plain-language flags. Except for hr_admin: "
        "null (FORBIDDEN) for a post scored for fewer than the minimum group size, and an indicator scored for "
        "fewer keeps only its count and missing rate. For an analyst without the names grant, the people whose "
        "(department, post) cell holds fewer than the minimum group size are left out (as in scoreStatistics). "
        "Empty when the post was not scored under a scheme in the cycle. " + CYCLE_ID_ERRORS + " The same for postId.",
        graphql_type=list[IndicatorDiagnostics] | None,
    )
    async def scheme_diagnostics(
        self, info: Info, cycle_id: strawberry.ID, post_id: strawberry.ID
    ) -> list[records.IndicatorDiagnostics]:
        return await diagnostic_queries.diagnostics(info.context, cycle_id, post_id)

    @guarded(INSIGHTS, "highPerformerProfile", PROFILE, graphql_type=HighPerformerProfile | None)
    async def high_performer_profile(
        self, info: Info, cycle_id: strawberry.ID
    ) -> insight_queries.HighPerformerProfile | None:
        return await insight_queries.high_performer_profile(info.context, cycle_id)

    @guarded(ATTRITION_SIGNALS, "attritionSignals", ATTRITION_RULES, graphql_type=AttritionSignals | None)
    async def attrition_signals(self, info: Info, cycle_id: strawberry.ID) -> insight_queries.AttritionSignals | None:
        return await insight_queries.attrition_signals(info.context, cycle_id)

    @guarded(
        AUDIT,
        "auditLog",
        "Audited accesses, newest first, a page at a time (at most 500 per page).",
        graphql_type=AuditEntryConnection | None,
    )
    async def audit_log(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        subject: str | None = None,
        operation: str | None = None,
    ) -> Connection:
        return await audit_queries.audit_log_page(
            info.context, first, after, subject, operation, selects(info, "totalCount")
        )

    @guarded(
        AUTHENTICATED,
        "resultEvents",
        "Catch-up read of the same stream the subscription delivers, oldest first (at most 500). " + EVENT_SCOPE,
        graphql_type=list[ResultEvent],
    )
    async def result_events(
        self,
        info: Info,
        after: str | None = None,
        first: int | None = 100,
        cycle_id: strawberry.ID | None = None,
        filter: ResultEventFilter | None = None,
    ) -> list[event_queries.DeliveredEvent]:
        return await event_queries.result_events(info.context, after, first, cycle_id, wanted(filter))

    @guarded(
        HR_ONLY,
        "webhookEndpoints",
        "The webhook endpoints, oldest first, with their deliveries counted by state; never their secrets.",
        graphql_type=list[WebhookEndpoint] | None,
    )
    async def webhook_endpoints(self, info: Info) -> list[records.WebhookEndpointRecord]:
        return await webhook_queries.endpoints(info.context)

    @guarded(
        HR_ONLY,
        "webhookDeliveries",
        "An endpoint's delivery log: every attempt (event, attempt number, status or error, latency, when, the "
        "next attempt), newest first, a page at a time (at most 500); null when there is no such endpoint.",
        graphql_type=WebhookAttemptConnection | None,
    )
    async def webhook_deliveries(
        self, info: Info, endpoint_id: strawberry.ID, first: int | None = 50, after: str | None = None
    ) -> Connection | None:
        return await webhook_queries.deliveries(info.context, endpoint_id, first, after)

    training_needs = cycle_page(
        TRAINING_NEEDS,
        "trainingNeeds",
        "Per employee whose result in the cycle has a core indicator scored under its threshold (HR's per indicator, "
        "else the C grade's lower bound), in result id order, a page at a time (at most 500): each such indicator, "
        "the courses HR related to it, and which of them the training system says the employee completed. "
        "employeeNos keeps those employees only. Each published cycle announces these results as training.need "
        "events. " + EMPLOYEE_NOS + CYCLE_ID_ERRORS + " " + RESULT_SCOPE,
        list[EmployeeTrainingNeeds] | None,
        closed_loop_queries.training_needs,
    )

    @guarded(
        GROUPED_FIGURES,
        "groupTrainingNeeds",
        "Training needs by indicator for a group: per group (groupBy DEPARTMENT, POST or POST_FAMILY; null: the "
        "whole cycle) and core indicator scored in the cycle, the people scored on it, how many are under its "
        "threshold (trainingNeeds' rule: HR's per indicator, else the C grade's lower bound), their share and the "
        "mean score; counted in the database in one statement, over the caller's scope, with no names (analysts "
        "may ask). The privacy rules of scoreStatistics apply per indicator: except for hr_admin, a group of fewer "
        "than the minimum group size, or one that a coarser group (the post's family, the whole cycle) less the "
        "groups released beside it would give away, is listed with its reason and null figures; for an analyst "
        "without the names grant the people of small (department, post) cells are left out. By group key, then "
        "indicator code. " + CYCLE_ID_ERRORS,
        graphql_type=list[GroupTrainingNeed] | None,
    )
    async def group_training_needs(
        self, info: Info, cycle_id: strawberry.ID, group_by: GroupDimension | None = None
    ) -> list[group_need_queries.GroupNeed]:
        return await group_need_queries.group_training_needs(info.context, cycle_id, group_by)

    compensation_guidance = cycle_page(
        COMPENSATION,
        "compensationGuidance",
        "Pay guidance for the cycle's results, in result id order, a page at a time (at most 500): HR's merit matrix "
        "(meritMatrix) applied to each employee's compensation record from the payroll system. Advice only: perfhub "
        "never writes to payroll. A result without a record, range or matrix gets no figures and says why; a cycle "
        "whose period is not a year says so in caveats (the matrix is annual). "
        "employeeNos keeps those employees only. " + EMPLOYEE_NOS + CYCLE_ID_ERRORS + " " + RESULT_SCOPE,
        list[CompensationGuidance] | None,
        closed_loop_queries.compensation_guidance,
    )

    @guarded(
        COMPENSATION,
        "meritMatrix",
        "The merit matrix in force (the newest meritMatrixSet); null when HR has set none.",
        graphql_type=MeritMatrixRecord | None,
    )
    async def merit_matrix(self, info: Info) -> closed_loop_queries.MeritMatrixRecord | None:
        return await closed_loop_queries.merit_matrix(info.context)
