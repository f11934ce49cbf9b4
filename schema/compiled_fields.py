"""The fields of a compiled plan (``schema/compiled.py``): each a column of values for every row at once,
read with the resolvers' own calls and rules, serialised by the field's GraphQL type. A column raises GiveUp
wherever the executor would answer otherwise than with plain data (a denial, a withheld group, a null in a
non-null field): the plan then gives way to the executor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TypeVar, cast

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    SelectionSetNode,
    get_named_type,
)

from resolvers import ids, small_groups
from resolvers.context import Context
from resolvers.loaders.base import Missing, SharedLoader
from resolvers.records import EmployeeRow, ResultRow
from schema.info import Info
from schema.permissions import NAMES, ORG_CHART
from schema.rounding import two_decimals

Row = object
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
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


def info_of(context: Context) -> Info:
    return cast(Info, SimpleNamespace(context=context))  # what the field rules read of Info: its context


def plain(selection: SelectionSetNode | None) -> list[FieldNode] | None:
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


async def _values(loader: SharedLoader[K, V], keys: list[K]) -> list[V]:
    """The loader's values of ``keys``: as they are when it holds them all (read with the page, or earlier in the
    request), with no future per key; else loaded as the executor's fields would."""
    held = [loader.peek(key) for key in keys]
    if any(isinstance(value, Missing) for value in held):
        return await loader.load_many(keys)
    return cast(list[V], held)


def object_type(owner: GraphQLObjectType, name: str) -> GraphQLObjectType:
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


def _employee_value(employee: GraphQLObjectType, node: FieldNode) -> Leaf:
    """``id`` (pseudonymous where the caller's ids are), ``employeeNo`` or ``name`` of an employee row."""
    name = node.name.value
    if name == "id":
        return _leaf(
            employee, node, lambda context, row: ids.public_id(context, ids.EMPLOYEE, cast(EmployeeRow, row).id)
        )
    return _leaf(employee, node, _attribute("employee_no" if name == "employeeNo" else "name"))


def _employee_leaf(employee: GraphQLObjectType, node: FieldNode) -> Column:
    name = node.name.value
    leaf = _employee_value(employee, node)
    guarded = name != "id"

    async def column(context: Context, rows: Sequence[EmployeeRow]) -> list[Value]:
        info = info_of(context)
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
            departments = await _values(context.loaders.department_by_id, [row.department_id for row in rows])
            related = departments
        else:
            posts = await _values(context.loaders.post_by_id, [row.post_id for row in rows])
            related = posts
        return [None if one is None else {leaf.key: _value(leaf, context, one) for leaf in leaves} for one in related]

    return column


def _results(result_type: GraphQLObjectType, fields: list[FieldNode]) -> Column:
    leaves = [
        _leaf(result_type, f, _RESULT_LEAVES.get(f.name.value, _attribute("rank_in_post")))
        for f in fields
        if f.name.value != "cycle"
    ]
    cycle_fields = next((plain(f.selection_set) or [] for f in fields if f.name.value == "cycle"), None)
    cycle_type = object_type(result_type, "cycle")
    cycle_leaves = [_leaf(cycle_type, f, _attribute(f.name.value)) for f in cycle_fields or []]
    order = [f.name.value for f in fields]

    async def column(context: Context, rows: Sequence[EmployeeRow]) -> list[Value]:
        per_row = await _values(context.loaders.results_by_employee, [row.id for row in rows])
        shown_per_row = [[r for r in found if await small_groups.result_shown(context, r)] for found in per_row]
        cycles: dict[int, object] = {}
        if cycle_fields is not None:
            keys = sorted({result.cycle_id for shown in shown_per_row for result in shown})
            found = await _values(context.loaders.cycle_by_id, keys)
            cycles = dict(zip(keys, found, strict=True))
        answers: list[Value] = []
        for shown in shown_per_row:
            listed: list[Value] = []
            for result in shown:
                answer: dict[str, Value] = {}
                for leaf in leaves:
                    withheld = leaf.key == "rankInPost" and not await small_groups.result_rank_shown(
                        context, result, "post"
                    )
                    answer[leaf.key] = None if withheld else _value(leaf, context, result)
                if cycle_fields is not None:
                    cycle = cycles[result.cycle_id]
                    if cycle is None:
                        raise GiveUp("cycle")  # a non-null field: the executor's error
                    answer["cycle"] = {leaf.key: _value(leaf, context, cycle) for leaf in cycle_leaves}
                listed.append({key: answer[key] for key in order})
            answers.append(listed)
        return answers

    return column


def _manager(employee: GraphQLObjectType, fields: list[FieldNode]) -> Column:
    """``manager { id employeeNo name }``: the ORG_CHART rule on the row, the NAMES rule on the manager's."""
    leaves = [_employee_value(employee, f) for f in fields]
    named = any(f.name.value != "id" for f in fields)

    async def column(context: Context, rows: Sequence[EmployeeRow]) -> list[Value]:
        info = info_of(context)
        if not all(ORG_CHART.allows(row, info) for row in rows):
            raise GiveUp("manager")
        keys = [row.manager_id for row in rows if row.manager_id is not None]
        found = dict(zip(keys, await _values(context.loaders.employee_by_id, keys), strict=True))
        answers: list[Value] = []
        for row in rows:
            manager = None if row.manager_id is None else found[row.manager_id]
            if manager is None:
                answers.append(None)
                continue
            if named and not NAMES.allows(manager, info):
                raise GiveUp("manager's names")
            answers.append({leaf.key: _value(leaf, context, manager) for leaf in leaves})
        return answers

    return column


def employee_column(employee: GraphQLObjectType, node: FieldNode) -> Column | None:
    """The column of one of the node's fields; None for a field the plans do not handle."""
    name = node.name.value
    if name in ("id", "employeeNo", "name"):
        return _employee_leaf(employee, node) if node.selection_set is None else None
    fields = plain(node.selection_set)
    if name in ("department", "post"):
        if not fields or any(f.name.value not in _ATTRIBUTES or f.selection_set for f in fields):
            return None
        target = object_type(employee, name)
        return _relation(name, [_leaf(target, f, _attribute(_ATTRIBUTES[f.name.value])) for f in fields])
    if name == "results":
        result_type = object_type(employee, name)
        for f in fields or []:
            if f.name.value == "cycle":
                cycle = plain(f.selection_set)
                if not cycle or any(c.name.value not in ("id", "name") or c.selection_set for c in cycle):
                    return None
            elif f.name.value not in {*_RESULT_LEAVES, "rankInPost"} or f.selection_set:
                return None
        return _results(result_type, fields) if fields else None
    if name == "manager":
        if not fields or any(f.name.value not in ("id", "employeeNo", "name") or f.selection_set for f in fields):
            return None
        return _manager(employee, fields)
    return None
