"""The access policy's list of rules (hub/policy.py): every rule named and documented, and each decision
checked against what the roles are meant to allow, written out here role by role rather than read back
from the rules themselves."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

import schema.permissions
from hub import policy
from hub.auth import ANONYMOUS, Grant, Principal, Role
from hub.config import Introspection, Settings
from hub.domain import RaterRole
from hub.policy import EmployeeScope, FieldRule, Row

SOURCE = Path(policy.__file__).read_text(encoding="utf-8")

ME = "E0001"
SOMEONE_ELSE = "E0002"


def person(*roles: Role, number: str | None = ME, grants: frozenset[Grant] = frozenset()) -> Principal:
    return Principal(subject="someone", roles=frozenset(roles), employee_number=number, grants=grants)


NAMES_GRANTED_ANALYST = person(Role.ANALYST, grants=frozenset({Grant.NAMES}))

# --- Every rule named and documented -----------------------------------------------------------------


def _module_statements() -> list[ast.stmt]:
    return ast.parse(SOURCE).body


def _documented_constants() -> dict[str, bool]:
    """Each public module-level constant of the policy, and whether a docstring follows it."""
    statements = _module_statements()
    found: dict[str, bool] = {}
    for index, statement in enumerate(statements):
        if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            name = statement.targets[0].id
            if name.startswith("_") or not name.isupper():
                continue
            following = statements[index + 1] if index + 1 < len(statements) else None
            found[name] = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
                and bool(following.value.value.strip())
            )
    return found


def decisions() -> dict[str, Callable[..., object]]:
    """The policy's public decision functions."""
    return {
        name: value
        for name, value in vars(policy).items()
        if inspect.isfunction(value) and value.__module__ == policy.__name__ and not name.startswith("_")
    }


FIELD_RULE_NAMES = {name for name, value in vars(policy).items() if isinstance(value, FieldRule)}


def test_every_constant_of_the_policy_has_a_docstring() -> None:
    documented = _documented_constants()
    assert set(documented) >= FIELD_RULE_NAMES
    assert [name for name, has_docstring in documented.items() if not has_docstring] == []


def test_every_decision_has_a_docstring_naming_who_may() -> None:
    assert len(decisions()) >= 15
    for name, function in decisions().items():
        assert function.__doc__ and function.__doc__.strip(), name


def test_the_field_rules_are_the_ones_the_schema_declares_its_fields_with() -> None:
    """schema.permissions applies the policy's field rules under the same names, and declares none of its own."""
    applied = {
        name: value for name, value in vars(schema.permissions).items() if isinstance(value, schema.permissions.Rule)
    }
    assert set(applied) == FIELD_RULE_NAMES
    for name, rule in applied.items():
        assert rule.field_rule is getattr(policy, name), name


# --- Principal.has, the one idiom --------------------------------------------------------------------


def test_role_and_grant_values_never_coincide() -> None:
    """Principal.has looks for roles and grants in one call; a grant spelled like a role would pass for it."""
    assert {role.value for role in Role}.isdisjoint(grant.value for grant in Grant)


def test_has_answers_for_roles_and_grants() -> None:
    assert person(Role.MANAGER).has(Role.EMPLOYEE, Role.MANAGER)
    assert not person(Role.MANAGER).has(Role.EMPLOYEE, Role.HR_ADMIN)
    assert NAMES_GRANTED_ANALYST.has(Grant.NAMES)
    assert not person(Role.ANALYST).has(Grant.NAMES)
    assert not ANONYMOUS.has(*Role, *Grant)


# --- Row scope ---------------------------------------------------------------------------------------

EVERY_EMPLOYEE = {Role.HR_ADMIN, Role.ANALYST, Role.PAYROLL, Role.TRAINING}


@pytest.mark.parametrize("role", list(Role))
def test_employee_scope_of_each_role(role: Role) -> None:
    expected = {
        Role.HR_ADMIN: EmployeeScope.EVERY_EMPLOYEE,
        Role.ANALYST: EmployeeScope.EVERY_EMPLOYEE,
        Role.PAYROLL: EmployeeScope.EVERY_EMPLOYEE,
        Role.TRAINING: EmployeeScope.EVERY_EMPLOYEE,
        Role.MANAGER: EmployeeScope.SELF_AND_REPORTING_LINE,
        Role.EMPLOYEE: EmployeeScope.SELF,
        Role.SCIM: EmployeeScope.NOBODY,
    }[role]
    assert policy.employee_scope(person(role)) is expected


def test_a_person_without_an_employee_number_reaches_nobody() -> None:
    assert policy.employee_scope(person(Role.MANAGER, number=None)) is EmployeeScope.NOBODY
    assert policy.employee_scope(person(Role.EMPLOYEE, number=None)) is EmployeeScope.NOBODY
    assert policy.employee_scope(ANONYMOUS) is EmployeeScope.NOBODY
    assert not policy.manages_reporting_line(person(Role.MANAGER, number=None))


def test_a_token_with_several_roles_reaches_the_widest_scope() -> None:
    assert policy.employee_scope(person(Role.EMPLOYEE, Role.ANALYST)) is EmployeeScope.EVERY_EMPLOYEE
    assert policy.employee_scope(person(Role.EMPLOYEE, Role.MANAGER)) is EmployeeScope.SELF_AND_REPORTING_LINE


@pytest.mark.parametrize("role", list(Role))
def test_who_sees_unpublished_results_and_names(role: Role) -> None:
    principal = person(role)
    assert policy.sees_unpublished_results(principal) is (role in {Role.HR_ADMIN, Role.ANALYST})
    assert policy.sees_every_name(principal) is (role in {Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING})
    assert policy.is_pseudonymous(principal) is (role is Role.ANALYST)
    assert policy.may_search_names(principal) is (role is not Role.ANALYST)


def test_the_names_grant_counts_for_analysts_only() -> None:
    assert policy.sees_every_name(NAMES_GRANTED_ANALYST)
    assert not policy.is_pseudonymous(NAMES_GRANTED_ANALYST)
    assert policy.may_search_names(NAMES_GRANTED_ANALYST)
    granted_manager = person(Role.MANAGER, grants=frozenset({Grant.NAMES}))
    assert not policy.sees_every_name(granted_manager)
    # An analyst who is also payroll sees every name through payroll: not pseudonymous.
    assert not policy.is_pseudonymous(person(Role.ANALYST, Role.PAYROLL))


# --- Field rules -------------------------------------------------------------------------------------

ADMITTED_ON_EVERY_ROW: dict[str, set[Role]] = {
    "AUTHENTICATED": set(Role),
    "NAMES": {Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING},
    "ORG_CHART": {Role.HR_ADMIN, Role.PAYROLL, Role.TRAINING},
    "COMPENSATION": {Role.HR_ADMIN, Role.PAYROLL},
    "TRAINING_RECORDS": {Role.HR_ADMIN, Role.TRAINING},
    "TRAINING_NEEDS": {Role.HR_ADMIN, Role.TRAINING, Role.MANAGER, Role.EMPLOYEE},
    "RATINGS": {Role.HR_ADMIN},
    "STATISTICS": {Role.HR_ADMIN, Role.ANALYST, Role.MANAGER},
    "GROUPED_FIGURES": {Role.HR_ADMIN, Role.ANALYST, Role.MANAGER},
    "INDICATOR_STATISTICS": {Role.HR_ADMIN, Role.ANALYST, Role.MANAGER},
    "DIAGNOSTICS": {Role.HR_ADMIN, Role.ANALYST},
    "INSIGHTS": {Role.HR_ADMIN, Role.ANALYST, Role.MANAGER},
    "ATTRITION_SIGNALS": {Role.HR_ADMIN, Role.MANAGER},
    "AUDIT": {Role.HR_ADMIN},
    "HR_ONLY": {Role.HR_ADMIN},
    "RATERS": {Role.HR_ADMIN, Role.MANAGER, Role.EMPLOYEE},
    "RATING_TASKS": {Role.HR_ADMIN},
    "EXPECTED_RATERS": {Role.HR_ADMIN},
    "RATING_PROGRESS": {Role.HR_ADMIN, Role.MANAGER},
    "PEER_NOMINATIONS": {Role.HR_ADMIN},
    "NOMINATES_PEERS": {Role.EMPLOYEE, Role.MANAGER},
    "DECIDES_NOMINATIONS": {Role.HR_ADMIN, Role.MANAGER},
}
"""Who may use each field on any row it reaches, written out by hand."""
ADMITTED_ON_OWN_ROWS: dict[str, set[Role]] = {
    "NAMES": {Role.EMPLOYEE, Role.MANAGER},
    "ORG_CHART": {Role.EMPLOYEE, Role.MANAGER},
    "TRAINING_RECORDS": {Role.EMPLOYEE, Role.MANAGER},
    "RATINGS": {Role.EMPLOYEE, Role.MANAGER},
    "RATING_TASKS": {Role.EMPLOYEE, Role.MANAGER},
    "EXPECTED_RATERS": {Role.MANAGER},
    "PEER_NOMINATIONS": {Role.EMPLOYEE, Role.MANAGER},
}
"""Who may use each field on their own row only (and a manager on their people's rows)."""
OWN_ROW_ONLY = {"RATING_TASKS"}
"""Rules whose own rights stop at the person's own row: a manager's people's rows are not theirs."""
PEOPLES_ROWS_ONLY = {"EXPECTED_RATERS"}
"""Rules whose own rights are a manager's on their people's rows, never on their own."""
ADMITS_NAMES_GRANT = {"NAMES", "ORG_CHART"}

ROWS = {
    "no row": None,
    "someone else's row": Row(employee_number=SOMEONE_ELSE, managed=False),
    "their own row": Row(employee_number=ME, managed=False),
    "a row of their people": Row(employee_number=SOMEONE_ELSE, managed=True),
}


def test_the_table_names_every_field_rule() -> None:
    assert set(ADMITTED_ON_EVERY_ROW) == FIELD_RULE_NAMES
    assert set(ADMITTED_ON_OWN_ROWS) <= FIELD_RULE_NAMES


@pytest.mark.parametrize("rule_name", sorted(FIELD_RULE_NAMES))
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("row_kind", list(ROWS))
def test_each_field_rule_admits_and_refuses_each_role(rule_name: str, role: Role, row_kind: str) -> None:
    rule: FieldRule = getattr(policy, rule_name)
    row = ROWS[row_kind]
    own_rights = role in ADMITTED_ON_OWN_ROWS.get(rule_name, set())
    on_own_row = own_rights and rule_name not in PEOPLES_ROWS_ONLY
    on_peoples_rows = own_rights and role is Role.MANAGER and rule_name not in OWN_ROW_ONLY
    expected = (
        role in ADMITTED_ON_EVERY_ROW[rule_name]
        or (row_kind == "their own row" and on_own_row)
        or (row_kind == "a row of their people" and on_peoples_rows)
    )
    assert rule.admits(person(role), row) is expected


@pytest.mark.parametrize("rule_name", sorted(FIELD_RULE_NAMES))
def test_the_names_grant_opens_names_and_the_org_chart_only(rule_name: str) -> None:
    rule: FieldRule = getattr(policy, rule_name)
    expected = rule_name in ADMITS_NAMES_GRANT or Role.ANALYST in ADMITTED_ON_EVERY_ROW[rule_name]
    assert rule.admits(NAMES_GRANTED_ANALYST, ROWS["someone else's row"]) is expected
    # Without the grant, an analyst is refused names (and the org chart) on every row.
    if rule_name in ADMITS_NAMES_GRANT:
        assert not rule.admits(person(Role.ANALYST), ROWS["someone else's row"])


def test_one_role_never_lends_its_field_rights_to_another_roles_rows() -> None:
    # An employee who is also an analyst reaches every row, but names only their own.
    employee_analyst = person(Role.EMPLOYEE, Role.ANALYST)
    assert policy.NAMES.admits(employee_analyst, ROWS["their own row"])
    assert not policy.NAMES.admits(employee_analyst, ROWS["someone else's row"])
    # A row flagged as managed admits a manager, not an employee who holds no manager role.
    assert not policy.RATINGS.admits(person(Role.EMPLOYEE), ROWS["a row of their people"])
    # A principal without an employee number owns no row.
    assert not policy.NAMES.admits(person(Role.EMPLOYEE, number=None), Row(employee_number=None, managed=False))


def test_field_rules_are_refused_to_the_anonymous() -> None:
    for name in FIELD_RULE_NAMES:
        assert not getattr(policy, name).admits(ANONYMOUS, None), name


# --- The named exceptions ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_ratings_after_publication(role: Role) -> None:
    """hr_admin any time, a manager their people's any time; the ratee (and anyone else) after publication."""
    principal = person(role)
    assert policy.reads_ratings_before_publication(principal, ratee_managed=True) is (
        role in {Role.HR_ADMIN, Role.MANAGER}
    )
    assert policy.reads_ratings_before_publication(principal, ratee_managed=False) is (role is Role.HR_ADMIN)


@pytest.mark.parametrize("role", list(Role))
def test_own_rating_anonymous_raters_and_small_groups_except_for_hr(role: Role) -> None:
    principal = person(role)
    settings = Settings(min_group_size=7)
    is_hr = role is Role.HR_ADMIN
    assert policy.rates_for_anyone(principal) is is_hr
    assert policy.decides_any_nomination(principal) is is_hr
    assert policy.sees_every_rating(principal) is is_hr
    assert policy.sees_small_groups(principal) is is_hr
    assert policy.minimum_group_size(principal, settings) == (1 if is_hr else 7)


def test_anonymous_raters() -> None:
    assert {RaterRole.PEER, RaterRole.SUBORDINATE} == policy.ANONYMOUS_RATER_ROLES
    settings = Settings(min_anonymous_raters=3)
    assert policy.anonymous_role_released(3, settings, cycle_open=False)
    assert policy.anonymous_role_released(4, settings, cycle_open=False)
    assert not policy.anonymous_role_released(2, settings, cycle_open=False)
    # While the cycle takes ratings, no count is enough: each new rating would be timed.
    assert not policy.anonymous_role_released(30, settings, cycle_open=True)


@pytest.mark.parametrize("role", list(Role))
def test_only_hr_names_anonymous_raters_or_counts_their_submissions_while_open(role: Role) -> None:
    principal = person(role)
    is_hr = role is Role.HR_ADMIN
    assert policy.names_anonymous_raters(principal) is is_hr
    assert policy.counts_anonymous_submissions(principal, cycle_open=True) is is_hr
    assert policy.counts_anonymous_submissions(principal, cycle_open=False)


def test_minimum_group_size() -> None:
    settings = Settings(min_group_size=5)
    assert policy.large_enough_group(5, settings)
    assert not policy.large_enough_group(4, settings)
    assert policy.releasable_cell(members=5, unfiltered=5, minimum=5)
    assert not policy.releasable_cell(members=4, unfiltered=4, minimum=5)
    # A filter that removed a few people (fewer than the minimum) would single them out by difference.
    assert not policy.releasable_cell(members=5, unfiltered=7, minimum=5)
    assert policy.releasable_cell(members=5, unfiltered=10, minimum=5)


@pytest.mark.parametrize("role", list(Role))
def test_who_may_provision_and_who_provisions_only(role: Role) -> None:
    """/scim/v2 admits scim and hr_admin; /graphql refuses a token whose only role is scim."""
    assert policy.may_provision(person(role)) is (role in {Role.SCIM, Role.HR_ADMIN})
    assert policy.provisions_only(person(role)) is (role is Role.SCIM)
    assert not policy.provisions_only(person(Role.SCIM, Role.HR_ADMIN))


@pytest.mark.parametrize("introspection", list(Introspection))
def test_introspection(introspection: Introspection) -> None:
    settings = Settings(introspection=introspection)
    assert policy.nobody_may_introspect(settings) is (introspection is Introspection.OFF)
    assert policy.may_introspect(ANONYMOUS, settings) is (introspection is Introspection.PUBLIC)
    for role in Role:
        assert policy.may_introspect(person(role), settings) is (introspection is not Introspection.OFF)
