"""Compiled plans: the portal's page of employees and the employee detail answered without graphql-core's
per-field execution.

A registered document (hub/persisted.py) whose operation is one of these shapes, ::

    query ($first: Int!) { employees(first: $first) { edges { cursor node { EMPLOYEE } } } }
    query ($id: ID!) { employee(id: $id) { EMPLOYEE } }

where EMPLOYEE is any subset, in any order, of ``id employeeNo name department { id name code }
post { id code name family } manager { id employeeNo name } results { totalScore grade rankInPost
cycle { id name } }`` (no alias, directive, fragment or other argument), is compiled once into a plan that reads
the rows with the resolvers' own calls (``resolvers.organisation``, the request's loaders, ``small_groups``,
``ids``, the field rules of ``schema.permissions``; ``schema/compiled_fields.py``) and builds the response dict
itself, each leaf serialised by its GraphQL type, as graphql-core completes it. Anything else runs through the
executor as before: another document, an unregistered one, a subscription or mutation.

Equivalence is kept by falling back, not by reproducing errors: where the executor would answer anything but
plain data (a field rule denies ``employeeNo``, a small group withholds ``department``, a null where the type
is non-null, any exception), the plan gives up and the whole operation runs through the executor, which then
answers exactly as without plans. The plan only reads, so running it first changes nothing but time.
Every extension around execution (the operation guard, input checks, the cost limit and the rate limit's
charge, error masking) runs as for any operation: the plan replaces ``execute_operation`` and nothing else.
``tests/schema/test_compiled.py`` runs every registered document for every role both ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLSchema,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
)
from graphql.pyutils import AwaitableOrValue

from resolvers import organisation as employee_reads
from resolvers.context import Context
from resolvers.loaders.prefetch import EmployeeRelations, ResultRelations
from resolvers.records import EmployeeRow
from schema.compiled_fields import Column, Value, employee_column, info_of, object_type, plain
from schema.event_projection import ProjectedEventResults
from schema.permissions import AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Variable:
    name: str


@dataclass(frozen=True, slots=True)
class Plan:
    """One compiled operation: its root field (``employees`` or ``employee``), that field's one argument
    (``first`` or ``id``: a literal, a Variable, or None when absent) and the employees' fields."""

    root: str
    argument: int | str | Variable | None
    edge_keys: tuple[str, ...]
    """``cursor`` and ``node`` in the document's order (the page only)."""
    node_keys: tuple[str, ...]
    columns: tuple[Column, ...]
    relations: EmployeeRelations
    """What the nodes select of the employees' relations: read with the page (or the employee) on its session,
    one statement per relation (``resolvers.loaders.prefetch``), before the columns find them in the loaders."""


@dataclass
class Stats:
    """How many operations ran by a plan and how many fell back (the tests check both happen)."""

    compiled: int = 0
    fell_back: int = 0


STATS = Stats()
_PLANS: dict[tuple[int, int], tuple[OperationDefinitionNode, GraphQLSchema, Plan | None]] = {}
"""Registered operations by (operation, schema) ids, with both objects (an id is unique only while its object
lives, and the pinned documents and the schema live as long as the process)."""


def register(document: DocumentNode, schema: GraphQLSchema) -> None:
    """Compiles a registered document's operations for ``schema``, once (None: a shape the plans do not handle)."""
    for operation in document.definitions:
        if isinstance(operation, OperationDefinitionNode) and (id(operation), id(schema)) not in _PLANS:
            _PLANS[id(operation), id(schema)] = (operation, schema, compile_plan(operation, schema))


def plan_for(operation: OperationDefinitionNode, schema: GraphQLSchema) -> Plan | None:
    kept = _PLANS.get((id(operation), id(schema)))
    if kept is None or kept[0] is not operation or kept[1] is not schema:
        return None
    return kept[2]


class CompiledPlans(ProjectedEventResults):
    """The hub's executor, answering a registered operation by its plan where it has one."""

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[ExecutionResult]:
        plan = plan_for(self.operation, self.schema)
        if plan is None or not isinstance(self.context_value, Context):
            return super().execute_operation(serially)
        return self._planned(plan, self.context_value, serially)

    async def _planned(self, plan: Plan, context: Context, serially: bool | None) -> ExecutionResult:
        data = await run(plan, context, self.variable_values.coerced)
        if data is not None:
            STATS.compiled += 1
            return ExecutionResult(data, None)
        STATS.fell_back += 1
        result = super().execute_operation(serially)
        return cast(ExecutionResult, await result if self.is_awaitable(result) else result)


# --- running ---------------------------------------------------------------------------------------------


async def run(plan: Plan, context: Context, variables: Mapping[str, object]) -> dict[str, object] | None:
    """The response's data, or None where the executor must answer (see the module's docstring)."""
    if not AUTHENTICATED.allows(None, info_of(context)):
        return None
    argument = variables.get(plan.argument.name) if isinstance(plan.argument, Variable) else plan.argument
    if plan.root == "employees" and plan.argument is None:
        argument = 50  # the field's default
    expected = int if plan.root == "employees" else str
    if not isinstance(argument, expected) or isinstance(argument, bool):
        return None  # null, or absent: the executor's business
    try:
        if plan.root == "employee":
            row = await employee_reads.employee(context, cast(str, argument), plan.relations)
            if row is None:
                return {"employee": None}
            rows: list[EmployeeRow] = [row]
        else:
            page = await employee_reads.employees(context, cast(int, argument), None, None, False, None, plan.relations)
            rows = [cast(EmployeeRow, edge.node) for edge in page.edges]
        # Every column to its end, so that none is left loading while the executor answers instead.
        columns = await asyncio.gather(*(column(context, rows) for column in plan.columns), return_exceptions=True)
    except Exception:  # the executor answers it, masked or not, as without plans
        return None
    values: list[list[Value]] = []
    for column in columns:
        if isinstance(column, BaseException):
            return None  # a refusal (GiveUp) or a failure: the executor's answer
        values.append(column)
    nodes = [dict(zip(plan.node_keys, row_values, strict=True)) for row_values in zip(*values, strict=True)]
    if plan.root == "employee":
        return {"employee": nodes[0]}
    edges = [
        {key: (node if key == "node" else edge.cursor) for key in plan.edge_keys}
        for edge, node in zip(page.edges, nodes, strict=True)
    ]
    return {"employees": {"edges": edges}}


def compile_plan(operation: OperationDefinitionNode, schema: GraphQLSchema) -> Plan | None:
    """The plan of the portal page's or the employee detail's shape (see the module's docstring); None for
    anything else."""
    if operation.operation is not OperationType.QUERY or operation.directives or schema.query_type is None:
        return None
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        return None
    root = roots[0]
    name = root.name.value
    if name not in ("employees", "employee") or root.alias or root.directives:
        return None
    argument: int | str | Variable | None = None
    for given in root.arguments or ():
        if given.name.value != ("first" if name == "employees" else "id"):
            return None
        if isinstance(given.value, VariableNode):
            argument = Variable(given.value.name.value)
        elif name == "employees" and isinstance(given.value, IntValueNode):
            argument = int(given.value.value)
        elif name == "employee" and isinstance(given.value, StringValueNode):
            argument = given.value.value
        else:
            return None
    edge_keys: tuple[str, ...] = ()
    if name == "employee":
        if argument is None:
            return None
        employee = object_type(schema.query_type, "employee")
        node = root
    else:
        connection_fields = plain(root.selection_set)
        if not connection_fields or [f.name.value for f in connection_fields] != ["edges"]:
            return None
        edge_fields = plain(connection_fields[0].selection_set)
        if not edge_fields or sorted(f.name.value for f in edge_fields) not in (["node"], ["cursor", "node"]):
            return None
        employee = object_type(object_type(object_type(schema.query_type, "employees"), "edges"), "node")
        node = next(f for f in edge_fields if f.name.value == "node")
        edge_keys = tuple(f.name.value for f in edge_fields)
    node_fields = plain(node.selection_set)
    if not node_fields or len({f.name.value for f in node_fields}) != len(node_fields):
        return None  # a field asked twice is merged by the executor: not this plan's business
    columns = [employee_column(employee, f) for f in node_fields]
    if not all(columns):
        return None
    node_keys = tuple(f.name.value for f in node_fields)
    return Plan(
        name, argument, edge_keys, node_keys, tuple(c for c in columns if c is not None), _relations(node_fields)
    )


def _relations(node_fields: list[FieldNode]) -> EmployeeRelations:
    """The relations a plan's columns load, as the executor's lookahead (``schema.lookahead``) plans them for the
    same selection: a manager's leaves need nothing more, a result's at most its cycle."""
    selected = {f.name.value: f for f in node_fields}
    results = selected.get("results")
    result_fields = plain(results.selection_set) or [] if results is not None else []
    return EmployeeRelations(
        department="department" in selected,
        post="post" in selected,
        manager=EmployeeRelations() if "manager" in selected else None,
        results=None if results is None else ResultRelations(cycle=any(f.name.value == "cycle" for f in result_fields)),
    )
