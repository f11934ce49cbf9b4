"""Who may see what: every role against every sensitive field, through the schema itself.

The schema is executed with a Context per principal (what the HTTP layer builds from a token), on the
seeded demo: the past cycle is PUBLISHED; the current one is scored here so that there are results of
an unpublished cycle. Expected rows are computed with SQL of the test's own, not with the scope code.
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import GraphQLFormattedError
from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Grant, Principal, Role
from hub.config import Settings
from hub.db.models import AppraisalResult, AuditEntry, Cycle, Employee, Rating
from hub.demo.organisation import SeedSummary
from resolvers.context import Context
from resolvers.ids import EMPLOYEE, public_id, row_key
from schema import build_schema
from tests.conftest import TODAY
from tests.schema.conftest import Org


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


class As:
    """Runs documents as one principal."""

    def __init__(
        self,
        schema: strawberry.Schema,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        principal: Principal,
    ) -> None:
        self.schema, self.settings, self.sessionmaker, self.principal = schema, settings, sessionmaker, principal

    def context(self) -> Context:
        return Context(
            settings=self.settings,
            sessionmaker=self.sessionmaker,
            today=TODAY,
            principal=self.principal,
            request_id="matrix",
        )

    def employee_id(self, key: int) -> str:
        """The id this principal knows an employee by (a pseudonym for an analyst without the names grant)."""
        return public_id(self.context(), EMPLOYEE, key)

    def employee_key(self, id_: str) -> int:
        key = row_key(self.context(), EMPLOYEE, id_, "id")
        assert key is not None
        return key

    async def run(self, query: str, **variables: Any) -> tuple[dict[str, Any] | None, list[GraphQLFormattedError]]:
        context = self.context()
        if "id" in variables and context.pseudonyms is not None:
            # The tests name employees by row key; this principal knows them by the pseudonym its lists gave.
            variables["id"] = self.employee_id(int(variables["id"]))
        result = await self.schema.execute(query, variable_values=variables, context_value=context)
        errors = [error.formatted for error in result.errors or []]
        return result.data, errors


@pytest.fixture
def principals(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> dict[str, As]:
    def make(subject: str, role: Role, number: str | None = None, grants: frozenset[Grant] = frozenset()) -> As:
        return As(schema, settings, sessionmaker, Principal(subject, frozenset({role}), number, grants))

    return {
        "hr_admin": make("hr", Role.HR_ADMIN),
        "manager": make("boss", Role.MANAGER, org.manager_no),
        "employee": make("staff", Role.EMPLOYEE, org.staff_no),
        "analyst": make("analyst", Role.ANALYST),
        "analyst_named": make("analyst2", Role.ANALYST, grants=frozenset({Grant.NAMES})),
        "payroll": make("payroll-system", Role.PAYROLL),
        "training": make("training-system", Role.TRAINING),
    }


def forbidden(errors: list[GraphQLFormattedError]) -> bool:
    return bool(errors) and all(error["extensions"]["code"] == "FORBIDDEN" for error in errors)


EMPLOYEE_IDS = "{ employees(first: 500) { totalCount edges { node { id } } } }"


@pytest.mark.parametrize("role", ["hr_admin", "analyst", "payroll", "training", "manager", "employee"])
async def test_employee_rows_are_scoped(role: str, principals: dict[str, As], org: Org, seeded: SeedSummary) -> None:
    data, errors = await principals[role].run(EMPLOYEE_IDS)
    assert not errors
    assert data is not None
    ids = {principals[role].employee_key(edge["node"]["id"]) for edge in data["employees"]["edges"]}
    expected = {"manager": set(org.team), "employee": {org.staff_id}}.get(role)
    if expected is None:
        assert len(ids) == data["employees"]["totalCount"] == seeded.employees
    else:
        assert ids == expected
        assert data["employees"]["totalCount"] == len(expected)


async def test_a_managers_list_is_limited_in_sql(principals: dict[str, As], engine: Any, org: Org) -> None:
    # The scope is a condition of the statement that fetches the page, not a filter applied afterwards.
    from sqlalchemy import event

    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        await principals["manager"].run(EMPLOYEE_IDS)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)
    page = [s for s in statements if "FROM employees" in s and "LIMIT" in s]
    assert page and all("reporting_line" in s for s in page), page


@pytest.mark.parametrize(
    ("role", "visible"),
    [("hr_admin", True), ("manager", False), ("employee", False), ("payroll", True), ("analyst", True)],
)
async def test_other_departments_employee_by_id(role: str, visible: bool, principals: dict[str, As], org: Org) -> None:
    data, errors = await principals[role].run("query($id: ID!) { employee(id: $id) { id } }", id=str(org.outsider_id))
    assert not errors
    assert data is not None
    assert (data["employee"] is not None) is visible


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("hr_admin", True),
        ("manager", True),
        ("employee", True),
        ("payroll", True),
        ("training", True),
        ("analyst", False),
        ("analyst_named", True),
    ],
)
async def test_names_need_the_grant_for_analysts(role: str, allowed: bool, principals: dict[str, As], org: Org) -> None:
    data, errors = await principals[role].run(
        "query($id: ID!) { employee(id: $id) { id name employeeNo } }", id=str(org.staff_id)
    )
    if allowed:
        assert not errors
        assert data is not None and data["employee"]["name"]
    else:
        assert forbidden(errors)
        assert "name requires" in errors[0]["message"]


RATINGS = "query($id: ID!, $c: ID!) { employee(id: $id) { ratingsReceived(cycleId: $c) { role value rater { id } } } }"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("hr_admin", True),
        ("manager", True),
        ("employee", True),
        ("analyst", False),
        ("analyst_named", False),
        ("payroll", False),
        ("training", False),
    ],
)
async def test_ratings_received(
    role: str,
    allowed: bool,
    principals: dict[str, As],
    org: Org,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    data, errors = await principals[role].run(RATINGS, id=str(org.staff_id), c=str(org.published_cycle))
    async with sessionmaker() as session:
        by_role = (
            await session.execute(
                select(Rating.role, func.count(), func.count(distinct(Rating.rater_id)))
                .where(Rating.ratee_id == org.staff_id, Rating.cycle_id == org.published_cycle)
                .group_by(Rating.role)
            )
        ).all()
        audits = (await session.execute(select(AuditEntry.subject, AuditEntry.operation, AuditEntry.ids))).all()
    if not allowed:
        assert forbidden(errors)
        refused = [(a.operation, a.ids) for a in audits]  # a refused read is audited too (issue 11)
        assert refused == [("Employee.ratingsReceived", [f"employee:{org.staff_id}@cycle:{org.published_cycle}"])]
        return
    assert not errors
    assert data is not None
    ratings = data["employee"]["ratingsReceived"]
    # Everyone but hr_admin sees an anonymous role's ratings only from enough distinct raters.
    withheld = {"PEER", "SUBORDINATE"} if role != "hr_admin" else set()
    stored = sum(n for r, n, raters in by_role if r not in withheld or raters >= settings.min_anonymous_raters)
    assert len(ratings) == stored > 0
    # Reading somebody else's ratings is audited; reading one's own is not.
    reads = [a for a in audits if a.operation == "Employee.ratingsReceived"]
    if role == "employee":
        assert reads == []
        # The ratee never learns who their peers are.
        assert all(r["rater"] is None for r in ratings if r["role"] in ("PEER", "SUBORDINATE"))
    else:
        assert len(reads) == 1
        assert f"employee:{org.staff_id}" in reads[0].ids


RESULT = "query($id: ID!, $c: ID!) { employee(id: $id) { result(cycleId: $c) { totalScore } } }"
RESULTS = "query($c: ID!) { results(cycleId: $c, first: 500) { totalCount } }"


@pytest.mark.parametrize(
    ("role", "sees_unpublished"),
    [
        ("hr_admin", True),
        ("manager", True),
        ("analyst", True),
        ("employee", False),
        ("payroll", False),
        ("training", False),
    ],
)
async def test_results_of_unpublished_cycles(
    role: str, sees_unpublished: bool, principals: dict[str, As], org: Org
) -> None:
    runner = principals[role]
    published, errors = await runner.run(RESULT, id=str(org.staff_id), c=str(org.published_cycle))
    assert not errors and published is not None
    assert published["employee"]["result"] is not None
    unpublished, errors = await runner.run(RESULT, id=str(org.staff_id), c=str(org.unpublished_cycle))
    assert not errors and unpublished is not None
    assert (unpublished["employee"]["result"] is not None) is sees_unpublished
    listed, errors = await runner.run(RESULTS, c=str(org.unpublished_cycle))
    assert not errors and listed is not None
    assert (listed["results"]["totalCount"] > 0) is sees_unpublished


async def test_results_list_follows_the_employee_scope(
    principals: dict[str, As], org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        team_results = await session.scalar(
            select(func.count())
            .select_from(AppraisalResult)
            .where(AppraisalResult.cycle_id == org.published_cycle, AppraisalResult.employee_id.in_(org.team))
        )
    data, errors = await principals["manager"].run(RESULTS, c=str(org.published_cycle))
    assert not errors and data is not None
    assert data["results"]["totalCount"] == team_results
    data, errors = await principals["employee"].run(RESULTS, c=str(org.published_cycle))
    assert not errors and data is not None
    assert data["results"]["totalCount"] == 1


STATISTICS = "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [POST]) { key count mean p50 } }"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("hr_admin", True),
        ("analyst", True),
        ("manager", True),
        ("employee", False),
        ("payroll", False),
        ("training", False),
    ],
)
async def test_score_statistics(
    role: str, allowed: bool, principals: dict[str, As], org: Org, settings: Settings
) -> None:
    data, errors = await principals[role].run(STATISTICS, c=str(org.published_cycle))
    if not allowed:
        assert forbidden(errors)
        return
    assert not errors and data is not None
    groups = data["scoreStatistics"]
    assert groups
    small = [g for g in groups if g["count"] < settings.min_group_size]
    large = [g for g in groups if g["count"] >= settings.min_group_size]
    assert all(g["mean"] is not None for g in large)
    if role == "hr_admin":
        assert all(g["mean"] is not None for g in groups)
    else:
        # No aggregate over fewer people than the minimum group size: it could reveal one person's score.
        assert all(g["mean"] is None and g["p50"] is None for g in small)
    if role == "manager":
        assert sum(g["count"] for g in groups) <= len(org.team)


async def test_statistics_hide_small_groups_made_by_filters(principals: dict[str, As], org: Org) -> None:
    # Narrowing a filter until one person is left must not reveal that person's score.
    query = "query($c: ID!) { scoreStatistics(cycleId: $c, groupBy: [CYCLE], filter: {minScore: 95}) { count mean } }"
    data, errors = await principals["manager"].run(query, c=str(org.published_cycle))
    assert not errors and data is not None
    for group in data["scoreStatistics"]:
        assert group["count"] >= 5 or group["mean"] is None
    # A pseudonymous analyst may not use a score threshold at all.
    data, errors = await principals["analyst"].run(query, c=str(org.published_cycle))
    assert errors and errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "filter"}


MUTATION = (
    'mutation { cycleCreate(input: {name: "Q9", periodStart: "2027-01-01", periodEnd: "2027-03-31"}) { __typename } }'
)


@pytest.mark.parametrize("role", ["manager", "employee", "analyst", "payroll", "training"])
async def test_only_hr_mutates_cycles_and_denials_are_audited(
    role: str, principals: dict[str, As], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    data, errors = await principals[role].run(MUTATION)
    assert forbidden(errors)
    assert data == {"cycleCreate": None}  # the denied field only: a mutation field is nullable too
    async with sessionmaker() as session:
        cycles = await session.scalar(select(func.count()).select_from(Cycle).where(Cycle.name == "Q9"))
        audits = (
            await session.execute(
                select(AuditEntry.subject, AuditEntry.operation, AuditEntry.outcome, AuditEntry.request_id)
            )
        ).all()
    assert cycles == 0
    assert [(a.operation, a.outcome, a.request_id) for a in audits] == [("cycleCreate", "denied", "matrix")]


async def test_hr_mutations_are_audited(
    principals: dict[str, As], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    data, errors = await principals["hr_admin"].run(MUTATION)
    assert not errors and data is not None
    assert data["cycleCreate"]["__typename"] == "CycleChanged"
    log, errors = await principals["hr_admin"].run(
        "{ auditLog(first: 10) { totalCount edges { node { subject roles operation ids outcome requestId } } } }"
    )
    assert not errors and log is not None
    entry = log["auditLog"]["edges"][0]["node"]
    assert entry["subject"] == "hr" and entry["roles"] == "hr_admin" and entry["operation"] == "cycleCreate"
    assert entry["outcome"] == "ok" and entry["requestId"] == "matrix"
    assert any(i.startswith("cycle:") for i in entry["ids"])


@pytest.mark.parametrize("role", ["manager", "employee", "analyst", "payroll", "training"])
async def test_audit_log_is_for_hr_only(role: str, principals: dict[str, As]) -> None:
    _, errors = await principals[role].run("{ auditLog { totalCount } }")
    assert forbidden(errors)


async def test_raters_submit_only_their_own_ratings(
    principals: dict[str, As], org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        other = (
            await session.execute(
                select(Rating.ratee_id, Rating.rater_id, Rating.indicator_version_id)
                .where(Rating.cycle_id == org.unpublished_cycle, Rating.rater_id != org.staff_id)
                .limit(1)
            )
        ).first()
        before = await session.scalar(select(func.count()).select_from(Rating))
    if other is None:
        pytest.skip("the demo's current cycle has no ratings to impersonate")
    data, errors = await principals["employee"].run(
        "mutation($c: ID!, $ratee: ID!, $rater: ID!, $iv: ID!) { ratingSubmit(input: {cycleId: $c, rateeId: $ratee, "
        "raterId: $rater, indicatorVersionId: $iv, value: 1}) { __typename ... on MutationError { code } } }",
        c=str(org.unpublished_cycle),
        ratee=str(other.ratee_id),
        rater=str(other.rater_id),
        iv=str(other.indicator_version_id),
    )
    assert not errors and data is not None
    assert data["ratingSubmit"]["code"] == "NOT_YOUR_RATING"
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Rating)) == before


@pytest.fixture
def employee_and_analyst(schema: strawberry.Schema, settings: Settings, sessionmaker: Any, org: Org) -> As:
    """A person who is also an analyst: the analyst role reaches every row, but lends no employee rights."""
    principal = Principal("staff-analyst", frozenset({Role.EMPLOYEE, Role.ANALYST}), org.staff_no)
    return As(schema, settings, sessionmaker, principal)


async def test_several_roles_never_lend_field_rights_to_each_others_rows(employee_and_analyst: As, org: Org) -> None:
    own, errors = await employee_and_analyst.run("query($id: ID!) { employee(id: $id) { name } }", id=str(org.staff_id))
    assert not errors and own is not None and own["employee"]["name"]
    other, errors = await employee_and_analyst.run(
        "query($id: ID!) { employee(id: $id) { id name } }", id=str(org.outsider_id)
    )
    # The analyst role reaches the row; the employee role's right to names does not extend to it.
    assert forbidden(errors)
    outsider = employee_and_analyst.employee_id(org.outsider_id)
    assert other == {"employee": {"id": outsider, "name": None}}  # only the denied field is null
    _, errors = await employee_and_analyst.run(RATINGS, id=str(org.outsider_id), c=str(org.published_cycle))
    assert forbidden(errors)
    _, errors = await employee_and_analyst.run(
        "query($id: ID!) { employee(id: $id) { trainingRecords { id } } }", id=str(org.outsider_id)
    )
    assert forbidden(errors)


@pytest.mark.parametrize(("role", "allowed"), [("analyst", False), ("analyst_named", True), ("hr_admin", True)])
async def test_searching_by_name_needs_the_names_grant(role: str, allowed: bool, principals: dict[str, As]) -> None:
    data, errors = await principals[role].run('{ employees(filter: {nameContains: "王"}) { totalCount } }')
    if allowed:
        assert not errors and data is not None
    else:
        assert forbidden(errors)
        assert "names" in errors[0]["message"]


async def test_ratings_reach_the_ratee_only_when_the_cycle_is_published(
    principals: dict[str, As], org: Org, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The current cycle was scored, not published: its ratings are the manager's and HR's to read.
    _, errors = await principals["employee"].run(RATINGS, id=str(org.staff_id), c=str(org.unpublished_cycle))
    assert forbidden(errors)
    data, errors = await principals["manager"].run(RATINGS, id=str(org.staff_id), c=str(org.unpublished_cycle))
    assert not errors and data is not None


async def test_subordinates_rate_their_manager_anonymously(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> None:
    async with sessionmaker() as session:
        upward = (
            await session.execute(
                select(Rating.ratee_id, Rating.cycle_id, Employee.employee_no)
                .join(Employee, Employee.id == Rating.ratee_id)
                .where(Rating.role == "SUBORDINATE", Rating.cycle_id == org.published_cycle)
                .limit(1)
            )
        ).first()
    assert upward is not None, "the demo seeds upward ratings"
    ratee = As(schema, settings, sessionmaker, Principal("ratee", frozenset({Role.MANAGER}), upward.employee_no))
    data, errors = await ratee.run(
        "query($id: ID!, $c: ID!) { employee(id: $id) { ratingsReceived(cycleId: $c) { role rater { id } } "
        "ratingsWithheld(cycleId: $c) { role raters } } }",
        id=str(upward.ratee_id),
        c=str(upward.cycle_id),
    )
    assert not errors and data is not None
    received = data["employee"]["ratingsReceived"]
    assert all(r["rater"] is None for r in received if r["role"] in ("SUBORDINATE", "PEER"))
    # Shown from enough distinct raters, else withheld with their count (tests/insider covers both).
    async with sessionmaker() as session:
        raters = await session.scalar(
            select(func.count(distinct(Rating.rater_id))).where(
                Rating.ratee_id == upward.ratee_id, Rating.cycle_id == upward.cycle_id, Rating.role == "SUBORDINATE"
            )
        )
    assert raters
    shown = any(r["role"] == "SUBORDINATE" for r in received)
    withheld = {"role": "SUBORDINATE", "raters": raters} in data["employee"]["ratingsWithheld"]
    assert (shown, withheld) == ((True, False) if raters >= settings.min_anonymous_raters else (False, True))


async def test_a_mutation_that_fails_unexpectedly_is_still_audited(
    principals: dict[str, As], sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.operations import cycles

    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cycles, "create_cycle", broken)
    _, errors = await principals["hr_admin"].run(MUTATION)
    assert errors
    async with sessionmaker() as session:
        outcomes = (await session.execute(select(AuditEntry.operation, AuditEntry.outcome))).all()
    assert [(o.operation, o.outcome) for o in outcomes] == [("cycleCreate", "error")]
