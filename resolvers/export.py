"""The rows of the BI export (``hub.export``), read with the API's own rules for the caller.

An export is the ``results`` query without pages: the same parameters (``cycleId`` and the fields of
``ResultFilter``, by their GraphQL names), the same row scope and small-cell rules (``listed_results``, which
the query uses too), and per row what the API shows the same token: names and employee numbers by the
``NAMES`` field rule, ids as pseudonyms for an analyst without the names grant, the post, department, ranks and
indicator scores withheld where ``resolvers.small_groups`` withholds them, scores rounded as the schema rounds
them. Rows are read a chunk at a time: on PostgreSQL, where no row needs a decision in Python, with COPY
(``hub.export.copied``); otherwise through a server-side cursor in id order; for a pseudonymous caller, whose
rows must not come in key order (the keys follow the employee numbers), the keys first, ordered by pseudonym,
then a statement per chunk of them.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import typing
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, fields
from typing import cast

import pyarrow as pa
from sqlalchemy import ColumnElement, Select, String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute

from hub import policy
from hub.db.models import AppraisalResult, Cycle, Indicator, IndicatorScore, IndicatorVersion
from hub.db.models.organisation import Department, Employee, Post
from hub.export.columns import DATASETS
from hub.export.copied import copy_statement, driver_statement
from hub.export.endpoint import Export, ExportRefused, ExportRequest
from hub.export.formats import Array, record_batch
from hub.operations import audit as audit_log
from resolvers import small_groups
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.filters import ResultFilter, unknown_post_families
from resolvers.ids import EMPLOYEE, RESULT
from resolvers.records import ResultRow
from resolvers.results import listed_results

CHUNK = 5_000
"""Rows per record batch (a Parquet row group): the memory an export holds at once."""
KEYS_PER_STATEMENT = 2_000
"""Keys per ``IN`` list when a pseudonymous export reads its rows by key."""

Parser = Callable[[Sequence[str]], object]
E = typing.TypeVar("E", bound=enum.Enum)
Rows = Sequence[Sequence[object]]
"""A chunk of rows, read by position (the columns of ``_RESULT_COLUMNS`` or ``_SCORE_COLUMNS``)."""
Statement = Select[*tuple[object, ...]]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _scalar(kind: object, name: str) -> Callable[[str], object] | None:
    """How one parameter value becomes a filter field's value; None for a type no query parameter carries."""
    if kind is str:
        return str
    if kind is float:
        return lambda value: _finite(float(value), name)
    if kind is dt.date:
        return dt.date.fromisoformat
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return lambda value: kind(value)
    return None


def _finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise ValueError(name)
    return value


def _parser(hint: object, name: str) -> Parser | None:
    kinds = [kind for kind in typing.get_args(hint) or (hint,) if kind is not type(None)]
    if len(kinds) != 1:
        return None
    one = _scalar(kinds[0], name)
    if one is None:
        return None

    def single(values: Sequence[str]) -> object:
        if len(values) != 1:
            raise ExportRefused(400, f"'{_camel(name)}' is given {len(values)} times", "BAD_USER_INPUT", _camel(name))
        return one(values[0])

    return single


FILTER_PARAMETERS: dict[str, tuple[str, Parser]] = {
    _camel(field.name): (field.name, parser)
    for field in fields(ResultFilter)
    if (parser := _parser(typing.get_type_hints(ResultFilter)[field.name], field.name)) is not None
}
"""The export's query parameters beside ``cycleId``: every field of the API's ``ResultFilter``, by its GraphQL
name (``departmentId``, ``postFamily``, ``grade``, ``minScore`` ...)."""


def parameters(given: Mapping[str, Sequence[str]]) -> tuple[int, ResultFilter]:
    """The cycle and the filter of an export's query string; ExportRefused (400) naming what is wrong."""
    accepted = ["cycleId", *FILTER_PARAMETERS]
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        message = f"unknown parameter '{unknown[0]}'; an export takes {', '.join(accepted)}"
        raise ExportRefused(400, message, "BAD_USER_INPUT", unknown[0])
    cycle = given.get("cycleId", [])
    if len(cycle) != 1:
        message = (
            f"'cycleId' is given {len(cycle)} times; it is required once"
            if cycle
            else "'cycleId' is required: a cycle's id, as the API gives it"
        )
        raise ExportRefused(400, message, "BAD_USER_INPUT", "cycleId")
    if not cycle[0].isdigit() or int(cycle[0]) > 2**31 - 1:
        raise ExportRefused(400, f"'cycleId' is not a cycle id: {cycle[0][:40]!r}", "BAD_USER_INPUT", "cycleId")
    values: dict[str, object] = {}
    for name, texts in given.items():
        if name == "cycleId":
            continue
        field, parse = FILTER_PARAMETERS[name]
        try:
            values[field] = parse(texts)
        except (ValueError, KeyError):
            hint = typing.get_type_hints(ResultFilter)[field]
            raise ExportRefused(
                400, f"'{name}' is not a valid {_describe(hint)}: {texts[0][:40]!r}", "BAD_USER_INPUT", name
            ) from None
    return int(cycle[0]), ResultFilter(**values)  # type: ignore[arg-type]  # typed by the parsers above


def _describe(hint: object) -> str:
    kinds = [kind for kind in typing.get_args(hint) or (hint,) if kind is not type(None)]
    kind = kinds[0] if kinds else hint
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "value, one of " + ", ".join(str(member.value) for member in kind)
    return {float: "number", dt.date: "date (YYYY-MM-DD)"}.get(cast(type, kind), "value")


async def open_export(request: ExportRequest) -> Export:
    """Checks an export as the ``results`` query would check its arguments, audits it, and returns its rows to
    stream; ExportRefused for a bad parameter (400) or an unknown cycle (404)."""
    context = Context(request.settings, request.sessionmaker, request.today, request.principal, request.request_id)
    # An analyst's export reads the replica as their queries do; its audit entry goes to the primary (``writer``).
    context.replica = request.replica
    context.bind(request.principal)
    cycle_key, filter_ = parameters(request.parameters)
    async with context.sessionmaker() as session:
        found = (await session.execute(select(Cycle.id).where(Cycle.id == cycle_key))).scalar_one_or_none()
    if found is None:
        raise ExportRefused(404, f"there is no cycle {cycle_key}", "NOT_FOUND", "cycleId")
    if filter_.post_family is not None and await unknown_post_families(context.sessionmaker, [filter_.post_family]):
        # As resultEvents refuses an unknown family: a misspelt one would otherwise be a quietly empty file.
        raise ExportRefused(400, f"unknown post family {filter_.post_family[:40]}", "BAD_USER_INPUT", "postFamily")
    try:
        conditions = await listed_results(context, cycle_key, filter_)
    except BadUserInput as refused:
        raise ExportRefused(400, refused.message, "BAD_USER_INPUT", _parameter(refused)) from None
    # A whole cycle's results with names is the largest read of personal data the hub answers: audited.
    await context.audit(f"export.{request.dataset}", [f"cycle:{cycle_key}"], audit_log.OK)
    reader = _Reader(context, conditions)
    batches = reader.results() if request.dataset == "results" else reader.indicator_scores()
    return Export(DATASETS[request.dataset], f"{request.dataset}-cycle-{cycle_key}", batches)


def _parameter(refused: BadUserInput) -> str:
    """The query parameter a refusal of the API's is about: its argument, or for the ``filter`` argument the
    field its message names (``'filter.minScore' ...``), the export's parameters being the filter's fields."""
    argument = str((refused.extensions or {}).get("argument", "filter"))
    if argument != "filter":
        return argument
    named = re.match(r"'filter\.(\w+)'", refused.message)
    return named[1] if named and named[1] in FILTER_PARAMETERS else "the filter parameters"


@dataclass(frozen=True, slots=True)
class _Shown:
    """What a pseudonymous caller sees of the results of one (cycle, department, post) cell."""

    grouping: bool
    rank_in_post: bool
    rank_in_department: bool


def _as_text(column: InstrumentedAttribute[E]) -> ColumnElement[str]:
    """An enum column read as its stored text: the export writes the text, and converting each value to the
    enum and back costs more than the rest of its reading."""
    return type_coerce(column, String)


_RESULT_COLUMNS = (
    AppraisalResult.id,
    AppraisalResult.cycle_id,
    Cycle.name,
    AppraisalResult.employee_id,
    Employee.employee_no,
    Employee.name,
    Department.code,
    Department.name,
    Post.code,
    Post.name,
    Post.family,
    AppraisalResult.total_score,
    _as_text(AppraisalResult.grade),
    AppraisalResult.computed_total,
    _as_text(AppraisalResult.computed_grade),
    AppraisalResult.calibrated,
    AppraisalResult.rank_in_post,
    AppraisalResult.percentile_in_post,
    AppraisalResult.rank_in_department,
    AppraisalResult.percentile_in_department,
    AppraisalResult.department_id,
    AppraisalResult.post_id,
)
_SCORE_COLUMNS = (
    IndicatorScore.result_id,
    AppraisalResult.cycle_id,
    Indicator.code,
    Indicator.name,
    _as_text(Indicator.category),
    IndicatorVersion.version,
    Indicator.unit,
    IndicatorScore.raw_value,
    IndicatorScore.normalized_score,
    IndicatorScore.weight,
    IndicatorScore.effective_weight,
    IndicatorScore.weighted_score,
    AppraisalResult.department_id,
    AppraisalResult.post_id,
    IndicatorScore.indicator_version_id,
    AppraisalResult.employee_id,
)


def _row_of(row: Sequence[object]) -> policy.Row:
    """The NAMES rule's view of a result row: its employee number, and whether the caller manages it (last column)."""
    return policy.Row(cast(str, row[_NUMBER]), bool(row[-1]))


def _place(columns: Sequence[object], column: object) -> int:
    """Where ``column`` stands in ``columns``, by identity (``==`` on a column builds SQL, it compares nothing)."""
    return next(index for index, candidate in enumerate(columns) if candidate is column)


# The places the masking reads and blanks, found by column rather than written as numbers: a column added to the
# export moves them, and a hard-coded place would then mask the wrong field.
_NUMBER, _NAME = _place(_RESULT_COLUMNS, Employee.employee_no), _place(_RESULT_COLUMNS, Employee.name)
_GROUPING = range(_place(_RESULT_COLUMNS, Department.code), _place(_RESULT_COLUMNS, Post.family) + 1)
_RANKS = {
    _place(_RESULT_COLUMNS, AppraisalResult.rank_in_post): "post",
    _place(_RESULT_COLUMNS, AppraisalResult.percentile_in_post): "post",
    _place(_RESULT_COLUMNS, AppraisalResult.rank_in_department): "department",
    _place(_RESULT_COLUMNS, AppraisalResult.percentile_in_department): "department",
}
# A result's cell and its person: a pseudonymous caller sees a result's grouping only when every cell of the
# person is large (``resolvers.small_groups``).
_CELL_AND_PERSON = (
    AppraisalResult.cycle_id,
    AppraisalResult.department_id,
    AppraisalResult.post_id,
    AppraisalResult.employee_id,
)
_RESULT_CELL = tuple(_place(_RESULT_COLUMNS, column) for column in _CELL_AND_PERSON)
_SCORE_CELL = tuple(_place(_SCORE_COLUMNS, column) for column in _CELL_AND_PERSON)


class _Reader:
    """The rows of one export, chunk by chunk, as the caller may see them."""

    def __init__(self, context: Context, conditions: list[ColumnElement[bool]]) -> None:
        self.context = context
        self.conditions = conditions
        self.shown: dict[tuple[int, int, int, int], _Shown] = {}

    async def results(self) -> AsyncGenerator[pa.RecordBatch, None]:
        scope = self.context.scope
        statement = (
            select(*_RESULT_COLUMNS, scope.managed_column())
            .join(Cycle, Cycle.id == AppraisalResult.cycle_id)
            .join(Employee, Employee.id == AppraisalResult.employee_id)
            .join(Department, Department.id == AppraisalResult.department_id)
            .join(Post, Post.id == AppraisalResult.post_id)
        )
        if self._copies(policy.sees_every_name(self.context.principal)):
            copied = statement.with_only_columns(*_RESULT_COLUMNS[: len(DATASETS["results"])])
            ordered = copied.where(*self.conditions).order_by(AppraisalResult.id)
            async with aclosing(copy_statement(self.context.sessionmaker, ordered, DATASETS["results"])) as batches:
                async for batch in batches:
                    yield batch
            return
        async with aclosing(self._chunks(statement, AppraisalResult.id, (AppraisalResult.id,))) as chunks:
            async for rows in chunks:
                yield await self._result_batch(rows)

    async def indicator_scores(self) -> AsyncGenerator[pa.RecordBatch, None]:
        statement = (
            select(*_SCORE_COLUMNS)
            .join(AppraisalResult, AppraisalResult.id == IndicatorScore.result_id)
            .join(IndicatorVersion, IndicatorVersion.id == IndicatorScore.indicator_version_id)
            .join(Indicator, Indicator.id == IndicatorVersion.indicator_id)
        )
        order = (IndicatorScore.result_id, IndicatorScore.indicator_version_id)
        if self._copies(True):
            copied = statement.with_only_columns(*_SCORE_COLUMNS[: len(DATASETS["indicator-scores"])])
            ordered = copied.where(*self.conditions).order_by(*order)
            copying = copy_statement(self.context.sessionmaker, ordered, DATASETS["indicator-scores"])
            async with aclosing(copying) as batches:
                async for batch in batches:
                    yield batch
            return
        async with aclosing(self._chunks(statement, IndicatorScore.result_id, order)) as chunks:
            async for rows in chunks:
                if self.context.pseudonyms is not None:
                    # A result whose post is withheld has its indicator scores withheld too (they name the scheme).
                    rows = [row for row in rows if (await self._shown(row, *_SCORE_CELL)).grouping]
                if rows:
                    yield self._score_batch(rows)

    def _copies(self, rows_as_read: bool) -> bool:
        """Whether the export is read with COPY: on PostgreSQL, for a caller who gets every row as the database has
        it (``rows_as_read``, and no pseudonyms), since COPY's rows never pass through Python one by one."""
        bind = self.context.sessionmaker.kw.get("bind")
        on_postgresql = isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql"
        return on_postgresql and rows_as_read and self.context.pseudonyms is None

    async def _chunks(
        self, statement: Statement, result_key: InstrumentedAttribute[int], order: Sequence[InstrumentedAttribute[int]]
    ) -> AsyncGenerator[Rows, None]:
        """The statement's rows under the export's conditions, a chunk at a time, in id order, or in pseudonym
        order of their results for a pseudonymous caller."""
        statement = statement.where(*self.conditions)
        pseudonyms = self.context.pseudonyms
        if pseudonyms is None:
            async with self.context.sessionmaker() as session:
                # The connection's own stream: Core rows, without the ORM's loading step for each.
                connection = await session.connection()
                in_order = statement.order_by(*order)
                if connection.dialect.name != "postgresql":
                    streamed = await connection.stream(in_order.execution_options(yield_per=CHUNK))
                    async for partition in streamed.partitions():
                        yield partition
                    return
                # A cursor's plan is made for its first rows by default (a tenth of them): nested loops over
                # indexes, slower than hash joins for a whole cycle, which is what an export reads.
                await connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
                # asyncpg's own cursor in the session's transaction: its records as they come, without
                # SQLAlchemy's result processing (a third of the export's time); the statement is SQLAlchemy's.
                driver, query, arguments = await driver_statement(connection, in_order)
                cursor = await driver.cursor(query, *arguments)
                while records := await cursor.fetch(CHUNK):
                    yield records
            return
        async with self.context.sessionmaker() as session:
            keys = list((await session.execute(select(AppraisalResult.id).where(*self.conditions))).scalars())
        ordered = [key for _, key in sorted(zip(pseudonyms.encode_many(RESULT, keys), keys, strict=True))]
        del keys
        for start in range(0, len(ordered), KEYS_PER_STATEMENT):
            chunk = ordered[start : start + KEYS_PER_STATEMENT]
            place = {key: index for index, key in enumerate(chunk)}
            async with self.context.sessionmaker() as session:
                rows = (await session.execute(statement.where(result_key.in_(chunk)).order_by(*order))).all()
            yield sorted(rows, key=lambda row: place[cast(int, row[0])])  # stable: each result's own order stays

    async def _shown(self, row: Sequence[object], cycle: int, department: int, post: int, employee: int) -> _Shown:
        """What the caller sees of the row's result: its cycle, department, post and person at these places."""
        cell = (cast(int, row[cycle]), cast(int, row[department]), cast(int, row[post]), cast(int, row[employee]))
        shown = self.shown.get(cell)
        if shown is None:
            result = cast(ResultRow, _Cell(*cell))
            shown = self.shown[cell] = _Shown(
                await small_groups.result_grouping_shown(self.context, result),
                await small_groups.result_rank_shown(self.context, result, "post"),
                await small_groups.result_rank_shown(self.context, result, "department"),
            )
        return shown

    def _ids(self, kind: str, keys: Sequence[object]) -> Array:
        pseudonyms = self.context.pseudonyms
        if pseudonyms is None:
            return pa.array(keys, pa.int64()).cast(pa.string())
        return pa.array(pseudonyms.encode_many(kind, cast(Sequence[int], keys)), pa.string())

    async def _result_batch(self, rows: Rows) -> pa.RecordBatch:
        values = list(zip(*rows, strict=True))
        principal = self.context.principal
        if not policy.sees_every_name(principal):
            for index in (_NUMBER, _NAME):  # the NAMES rule, row by row (own; managed: the last column)
                values[index] = tuple(
                    value if policy.NAMES.admits(principal, _row_of(row)) else None
                    for value, row in zip(values[index], rows, strict=True)
                )
        if self.context.pseudonyms is not None:
            shown = [await self._shown(row, *_RESULT_CELL) for row in rows]
            for index in _GROUPING:
                values[index] = tuple(v if s.grouping else None for v, s in zip(values[index], shown, strict=True))
            for index, among in _RANKS.items():
                values[index] = tuple(
                    v if (s.rank_in_post if among == "post" else s.rank_in_department) else None
                    for v, s in zip(values[index], shown, strict=True)
                )
        arrays = [
            self._ids(RESULT, values[0]),
            pa.array(values[1], pa.int64()).cast(pa.string()),
            pa.array(values[2], pa.string()),
            self._ids(EMPLOYEE, values[3]),
            *(
                pa.array(values[index], column.type)
                for index, column in zip(range(4, 20), DATASETS["results"][4:], strict=True)
            ),
        ]
        return record_batch(DATASETS["results"], arrays)

    def _score_batch(self, rows: Rows) -> pa.RecordBatch:
        values = list(zip(*rows, strict=True))
        columns = DATASETS["indicator-scores"]
        arrays = [
            self._ids(RESULT, values[0]),
            pa.array(values[1], pa.int64()).cast(pa.string()),
            *(pa.array(values[index], column.type) for index, column in enumerate(columns[2:], 2)),
        ]
        return record_batch(columns, arrays)


@dataclass(frozen=True, slots=True)
class _Cell:
    """The part of a result that ``resolvers.small_groups`` reads: the cell it was scored in, and its person."""

    cycle_id: int
    department_id: int
    post_id: int
    employee_id: int


__all__ = ["FILTER_PARAMETERS", "open_export", "parameters"]
