"""Compiled plans: the portal's page of employees answered without graphql-core's per-field execution.

A registered document (hub/persisted.py) whose operation is the portal page's shape, ::

    query ($first: Int!) { employees(first: $first) { edges { cursor node {
        id employeeNo name department { id name code } post { id code name family }
        results { totalScore grade rankInPost } } } } }

(any subset of those fields, in any order; no alias, directive, fragment or other argument) is compiled
once into a plan that reads the page with the resolvers' own calls (``resolvers.organisation.employees``, the
request's loaders, ``small_groups``, ``ids``, the field rules of ``schema.permissions``) and builds the
response dict itself, each leaf serialised by its GraphQL type, as graphql-core completes it. Anything else
runs through the executor as before: another document, an unregistered one, a subscription or mutation.

Equivalence is kept by falling back, not by reproducing errors: where the executor would answer anything but
plain data (a field rule denies ``employeeNo``, a small group withholds ``department``, a null where the type
is non-null, any exception), the plan gives up and the whole operation runs through the executor, which then
answers exactly as without plans. The plan only reads, so running the page twice changes nothing but time.
Every extension around execution (the operation guard, input checks, the cost limit and the rate limit's
charge, error masking) runs as for any operation: the plan replaces ``execute_operation`` and nothing else.
``tests/schema/test_compiled.py`` runs every registered document for every role both ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.pyutils import AwaitableOrValue

from resolvers import ids, small_groups
from resolvers import organisation as employee_reads
from resolvers.context import Context
from resolvers.event_results import SharedEventResults
from resolvers.records import EmployeeRow, ResultRow
from schema.info import Info
from schema.permissions import AUTHENTICATED, NAMES
from schema.rounding import two_decimals

Row = object
Value = object
Column = Callable[["Context", Sequence[EmployeeRow]], Awaitable[list[Value]]]
"""One field of the page's nodes, for every row at once: one await per field and page, not a task per row."""


class GiveUp(Exception):
    """The executor would answer otherwise than plain data here: run the operation through it."""


@dataclass(frozen=True, slots=True)
class Leaf:
    key: str
    read: Callable[[Context, Row], Value]
    serialize: Callable[[Value], Value]
    non_null: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """One compiled operation: the page's ``first`` (a literal or a variable's name) and its fields."""

    schema: GraphQLSchema
    first: int | str | None
    edge_keys: tuple[str, ...]
    """``cursor`` and ``node`` in the document's order."""
    node_keys: tuple[str, ...]
    columns: tuple[Column, ...]


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


class CompiledPlans(SharedEventResults):
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


def _info(context: Context) -> Info:
    return cast(Info, SimpleNamespace(context=context))  # what the field rules read of Info: its context


async def run(plan: Plan, context: Context, variables: Mapping[str, object]) -> dict[str, object] | None:
    """The response's data, or None where the executor must answer (see the module's docstring)."""
    if not AUTHENTICATED.allows(None, _info(context)):
        return None
    first = variables.get(plan.first) if isinstance(plan.first, str) else 50 if plan.first is None else plan.first
    if not isinstance(first, int) or isinstance(first, bool):
        return None  # null, or absent: the executor's business
    try:
        page = await employee_reads.employees(context, first, None, None, False)
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
    edges: list[dict[str, object]] = []
    for edge, row_values in zip(page.edges, zip(*values, strict=True), strict=True):
        node = dict(zip(plan.node_keys, row_values, strict=True))
        edges.append({key: (node if key == "node" else edge.cursor) for key in plan.edge_keys})
    return {"employees": {"edges": edges}}


# --- compiling -------------------------------------------------------------------------------------------


def _plain(selection: SelectionSetNode | None) -> list[FieldNode] | None:
    """The selection's fields when each is a bare field (no alias, directive or argument); else None."""
    if selection is None:
        return None
    fields: list[FieldNode] = []
    for node in selection.selections:
        if not isinstance(node, FieldNode) or node.alias or node.directives or node.arguments:
            return None
        fields.append(node)
    return fields


def _leaf(owner: GraphQLObjectType, node: FieldNode, read: Callable[[Context, Row], Value]) -> Leaf:
    graphql_field: GraphQLField = owner.fields[node.name.value]
    named = get_named_type(graphql_field.type)
    serialize = cast(Callable[[Value], Value], getattr(named, "serialize"))  # noqa: B009 - scalars and enums have it
    return Leaf(node.name.value, read, serialize, isinstance(graphql_field.type, GraphQLNonNull))


def _value(leaf: Leaf, context: Context, row: Row) -> Value:
    value = leaf.read(context, row)
    if value is None:
        if leaf.non_null:
            raise GiveUp(leaf.key)
        return None
    return leaf.serialize(value)


def _object_type(owner: GraphQLObjectType, name: str) -> GraphQLObjectType:
    output: GraphQLOutputType = owner.fields[name].type
    while isinstance(output, GraphQLNonNull | GraphQLList):
        output = output.of_type
    assert isinstance(output, GraphQLObjectType)
    return output


def _attribute(name: str) -> Callable[[Context, Row], Value]:
    return lambda _context, row: getattr(row, name)


_ATTRIBUTES = {"id": "id", "name": "name", "code": "code", "family": "family"}
_RESULT_LEAVES: dict[str, Callable[[Context, Row], Value]] = {
    "totalScore": lambda _context, row: two_decimals(cast(ResultRow, row).total_score),
    "grade": lambda _context, row: cast(ResultRow, row).grade,
}


def _employee_leaf(employee: GraphQLObjectType, node: FieldNode) -> Column:
    name = node.name.value
    if name == "id":
        leaf = _leaf(
            employee, node, lambda context, row: ids.public_id(context, ids.EMPLOYEE, cast(EmployeeRow, row).id)
        )
    else:
        leaf = _leaf(employee, node, _attribute("employee_no" if name == "employeeNo" else "name"))
    guarded = name != "id"

    async def column(context: Context, rows: Sequence[EmployeeRow]) -> list[Value]:
        info = _info(context)
        if guarded and not all(NAMES.allows(row, info) for row in rows):
            raise GiveUp(name)  # the executor's FORBIDDEN error and null
        return [_value(leaf, context, row) for row in rows]

    return column


def _relation(name: str, leaves: list[Leaf]) -> Column:
    async def column(context: Context, rows: Sequence[EmployeeRow]) -> list[Value]:
        for row in rows:
            if not await small_groups.employee_grouping_shown(context, row):
                raise GiveUp(name)  # withheld: the executor's FORBIDDEN error and null
        related: Sequence[object | None]
        if name == "department":
            related = await context.loaders.department_by_id.load_many([row.department_id for row in rows])
        else:
            related = await context.loaders.post_by_id.load_many([row.post_id for row in rows])
        return [None if one is None else {leaf.key: _value(leaf, context, one) for leaf in leaves} for one in related]

    return column


def _results(result_type: GraphQLObjectType, fields: list[FieldNode]) -> Column:
    leaves = [_leaf(result_type, f, _RESULT_LEAVES.get(f.name.value, _attribute("rank_in_post"))) for f in fields]

    async def column(context: Context, rows: Sequence[EmployeeRow]) -> list[Value]:
        per_row: Sequence[Sequence[ResultRow]] = await context.loaders.results_by_employee.load_many(
            [row.id for row in rows]
        )
        answers: list[Value] = []
        for found in per_row:
            shown: list[Value] = []
            for result in found:
                if not await small_groups.result_shown(context, result):
                    continue
                answer: dict[str, Value] = {}
                for leaf in leaves:
                    withheld = leaf.key == "rankInPost" and not await small_groups.result_rank_shown(
                        context, result, "post"
                    )
                    answer[leaf.key] = None if withheld else _value(leaf, context, result)
                shown.append(answer)
            answers.append(shown)
        return answers

    return column


def _employee_column(employee: GraphQLObjectType, node: FieldNode) -> Column | None:
    """The column of one of the node's fields; None for a field the plans do not handle."""
    name = node.name.value
    if name in ("id", "employeeNo", "name"):
        return _employee_leaf(employee, node) if node.selection_set is None else None
    fields = _plain(node.selection_set)
    if name in ("department", "post"):
        if not fields or any(f.name.value not in _ATTRIBUTES or f.selection_set for f in fields):
            return None
        target = _object_type(employee, name)
        return _relation(name, [_leaf(target, f, _attribute(_ATTRIBUTES[f.name.value])) for f in fields])
    if name == "results":
        if not fields or any(f.name.value not in {*_RESULT_LEAVES, "rankInPost"} or f.selection_set for f in fields):
            return None
        return _results(_object_type(employee, name), fields)
    return None


def compile_plan(operation: OperationDefinitionNode, schema: GraphQLSchema) -> Plan | None:
    """The plan of the portal page's shape (see the module's docstring); None for anything else."""
    if operation.operation is not OperationType.QUERY or operation.directives:
        return None
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        return None
    root = roots[0]
    if root.name.value != "employees" or root.alias or root.directives or schema.query_type is None:
        return None
    first: int | str | None = None
    for argument in root.arguments or ():
        if argument.name.value != "first":
            return None
        if isinstance(argument.value, IntValueNode):
            first = int(argument.value.value)
        elif isinstance(argument.value, VariableNode):
            first = argument.value.name.value
        else:
            return None
    connection_fields = _plain(root.selection_set)
    if not connection_fields or [f.name.value for f in connection_fields] != ["edges"]:
        return None
    edge_fields = _plain(connection_fields[0].selection_set)
    if not edge_fields or sorted(f.name.value for f in edge_fields) not in (["node"], ["cursor", "node"]):
        return None
    connection = _object_type(schema.query_type, "employees")
    edge = _object_type(connection, "edges")
    employee = _object_type(edge, "node")
    node = next(f for f in edge_fields if f.name.value == "node")
    node_fields = _plain(node.selection_set)
    if not node_fields or len({f.name.value for f in node_fields}) != len(node_fields):
        return None  # a field asked twice is merged by the executor: not this plan's business
    columns = [_employee_column(employee, f) for f in node_fields]
    if not all(columns):
        return None
    edge_keys = tuple(f.name.value for f in edge_fields)
    node_keys = tuple(f.name.value for f in node_fields)
    return Plan(schema, first, edge_keys, node_keys, tuple(c for c in columns if c is not None))
