"""What a list (or a single record) selects of its records' relations, read off the query before any record
resolves: the plan ``resolvers.loaders.prefetch`` reads the whole page's relations by.

Only the relations ``prefetch`` knows are planned (an employee's department, post, manager and results; a
result's cycle, post and employee, at any depth along those); a field not planned still loads through its
loader when it resolves, so a plan that leaves something out costs a statement, never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from strawberry.types.nodes import SelectedField

from resolvers.loaders.prefetch import EmployeeRelations, ResultRelations
from schema.info import Info
from schema.selection import fields_in


def _below(fields: Iterable[SelectedField], name: str) -> list[SelectedField] | None:
    """The fields selected under every selection of ``name`` among ``fields`` (aliases merged); None when
    ``name`` is not selected."""
    found = [field for field in fields if field.name == name]
    if not found:
        return None
    return [child for field in found for child in fields_in(field.selections)]


def _resolved(info: Info) -> list[SelectedField]:
    """The fields selected under the field being resolved."""
    return [child for field in fields_in(info.selected_fields) for child in fields_in(field.selections)]


def page_nodes(info: Info) -> list[SelectedField]:
    """The fields a connection's ``edges { node { ... } }`` select, through fragments."""
    edges = _below(_resolved(info), "edges") or []
    return _below(edges, "node") or []


def record_fields(info: Info) -> list[SelectedField]:
    """The fields selected of the one record the field being resolved returns (``employee(id:)``)."""
    return _resolved(info)


def employee_relations(fields: list[SelectedField]) -> EmployeeRelations:
    """What ``fields`` (an ``Employee``'s) select of the relations ``prefetch_employees`` reads."""
    manager = _below(fields, "manager")
    results = _below(fields, "results")
    return EmployeeRelations(
        department=_below(fields, "department") is not None,
        post=_below(fields, "post") is not None,
        manager=None if manager is None else employee_relations(manager),
        results=None if results is None else result_relations(results),
    )


def result_relations(fields: list[SelectedField]) -> ResultRelations:
    """What ``fields`` (an ``AppraisalResult``'s) select of the relations ``prefetch_results`` reads."""
    employee = _below(fields, "employee")
    return ResultRelations(
        cycle=_below(fields, "cycle") is not None,
        post=_below(fields, "post") is not None,
        employee=None if employee is None else employee_relations(employee),
    )
