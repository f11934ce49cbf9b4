"""Each record kind of ``resolvers.records`` against the table its rows are read from.

mypy accepts a Core row wherever a record kind is expected (a row answers every attribute name), so this is
where a kind's members are checked to be columns its statement selects, nullable exactly when the column is.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import DeclarativeBase

from hub.db import models
from resolvers import records
from resolvers.scope import MANAGED

TABLES: dict[type, type[DeclarativeBase]] = {
    records.DepartmentRow: models.Department,
    records.PostRow: models.Post,
    records.EmployeeRow: models.Employee,
    records.PersonRow: models.Employee,
    records.IndicatorRow: models.Indicator,
    records.IndicatorVersionRow: models.IndicatorVersion,
    records.SchemeVersionRow: models.SchemeVersion,
    records.SchemeItemRow: models.SchemeItem,
    records.RaterWeightRow: models.SchemeRaterWeight,
    records.CycleRow: models.Cycle,
    records.CycleTransitionRow: models.CycleTransition,
    records.ResultRow: models.AppraisalResult,
    records.IndicatorScoreRow: models.IndicatorScore,
    records.RatingRow: models.Rating,
    records.RaterAssignmentRow: models.RaterAssignment,
    records.PostAssignmentRow: models.PostAssignment,
    records.AuditRow: models.AuditEntry,
    records.ResultEventRow: models.ResultEvent,
    records.ResultAdjustmentRow: models.ResultAdjustment,
    records.CycleSchemeRow: models.CycleScheme,
    records.EarlierResultRow: models.AppraisalResult,
}
COMPUTED: dict[type, set[str]] = {records.EmployeeRow: {MANAGED}, records.EarlierResultRow: {"current_id"}}
"""Members a kind's statement adds to the table's columns (``Scope.employee_rows`` adds ``managed``)."""
AGGREGATES = {records.RankGroupsRow}
"""Kinds whose rows a statement computes (group sizes), of no one table."""


@pytest.mark.parametrize(("kind", "model"), TABLES.items(), ids=[kind.__name__ for kind in TABLES])
def test_every_member_is_a_column_of_the_table_nullable_as_it_is(kind: type, model: type[DeclarativeBase]) -> None:
    columns = model.__table__.columns
    # A kind's own members and those it inherits (the versions share ``Versioned``'s).
    members: dict[str, str] = {
        name: annotation for base in kind.__mro__ for name, annotation in vars(base).get("__annotations__", {}).items()
    }
    computed = COMPUTED.get(kind, set())
    assert set(members) - computed <= set(columns.keys())
    for name, annotation in members.items():
        if name not in computed:
            assert annotation.endswith("| None") == bool(columns[name].nullable), name


def test_every_row_kind_is_checked() -> None:
    kinds = {value for name, value in vars(records).items() if name.endswith("Row") and isinstance(value, type)}
    assert kinds == set(TABLES) | AGGREGATES
