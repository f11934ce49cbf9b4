"""SCIM filters (RFC 7644 §3.4.2.2) as SQL conditions, for the filters identity providers send.

scim2-models parses a filter and evaluates it in memory (``ScimFilter.match``); this module translates the
parts of it that have an exact SQL equivalent, so that a lookup among ten thousand people reads one row:

- ``eq`` and ``ne`` on a mapped attribute (``userName``, ``externalId``, ``emails.value``, ``displayName``...),
  ``sw``, ``co`` and ``ew`` on the case-insensitive ones, and ``pr``;
- ``active eq``, ``id eq``, the enterprise ``manager.value eq``, ``emails[type eq "work"]``;
- ``gt``, ``ge``, ``lt``, ``le``, ``eq``, ``ne`` on ``meta.created`` and ``meta.lastModified``;
- ``and`` and ``or`` of these, and a value filter on ``emails`` (``emails[type eq "work" and value eq "..."]``).

A string operand is translated only when it is ASCII: SQLite's ``lower()`` folds ASCII alone, and the
library folds with Python's ``str.lower``. Anything else (``not``, ``gt`` on a string, an attribute perfhub
derives, a non-ASCII operand) is not translated. A term of an ``and`` that is not translated is dropped from
the SQL, which then selects a superset, and the translation is marked inexact: the caller evaluates the whole
filter in memory over what SQL selected, so the answer is always the library's.
"""

from __future__ import annotations

import datetime as dt
import operator
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from scim2_models import ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from scim2_models.path.resolution import AttributeBinding, coerce_value
from sqlalchemy import ColumnElement, and_, false, func, or_, true
from sqlalchemy.orm import QueryableAttribute

from hub.scim.models import ScimResource

Mapped = QueryableAttribute[object]
"""A model's column as the attribute maps name it (``Employee.email``)."""
Column = ColumnElement[object]
Condition = ColumnElement[bool]
R = TypeVar("R", bound=ScimResource)
"""The resource type a filter is bound to (``ScimFilter`` is invariant in it)."""
AttributeKey = tuple[str, str, str | None]
"""An attribute as the library resolves it: the schema of the model holding it, its field, its sub-field."""

Special = Callable[[CompareOperator, object], Condition | None]
"""A comparison that is not a plain column (``active``, ``id``, an e-mail's type): None when not translatable."""

STRING_OPERATORS = {CompareOperator.sw: "{}%", CompareOperator.co: "%{}%", CompareOperator.ew: "%{}"}
ORDERED = {
    CompareOperator.gt: operator.gt,
    CompareOperator.ge: operator.ge,
    CompareOperator.lt: operator.lt,
    CompareOperator.le: operator.le,
}


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a resource type's attributes are in SQL: string columns, timestamp columns, and the special cases."""

    strings: Mapping[AttributeKey, Mapped]
    timestamps: Mapping[AttributeKey, Mapped]
    specials: Mapping[AttributeKey, Special] = field(default_factory=dict)
    multivalued: Mapping[str, Mapped] = field(default_factory=dict)
    """A multi-valued attribute perfhub holds at most one value of (``emails``), by field: the column whose
    NULL means no value."""


@dataclass(frozen=True, slots=True)
class Translated:
    """A filter in SQL: ``exact`` when it selects exactly what the filter matches, else a superset of it."""

    condition: Condition
    exact: bool


def translate(scim_filter: ScimFilter[R], attributes: Attributes) -> Translated | None:
    """The filter (bound to one model) as SQL, or None when no part of it can be translated."""
    visitor = _SqlFilter(scim_filter, attributes)
    condition = visitor.visit(scim_filter.ast)
    return None if condition is None else Translated(condition, visitor.exact)


def key_of(binding: AttributeBinding) -> AttributeKey:
    schema = str(getattr(binding.model, "__schema__", "") or "")
    return schema, binding.field_name, binding.sub_field_name


def id_condition(attribute: Mapped) -> Special:
    """A SCIM id (case-exact text) against an integer column: only the canonical digits name a row."""
    column = attribute.expression

    def compare(op: CompareOperator, value: object) -> Condition | None:
        if op not in (CompareOperator.eq, CompareOperator.ne):
            return None
        if value is None:
            return column.is_(None) if op is CompareOperator.eq else column.is_not(None)
        named = value if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18 else None
        if named is not None and str(int(named)) == named:
            return column == int(named) if op is CompareOperator.eq else or_(column.is_(None), column != int(named))
        return false() if op is CompareOperator.eq else true()

    return compare


def _ascii(value: object) -> str | None:
    if not isinstance(value, str) or not value.isascii():
        return None
    return unicodedata.normalize("NFC", value)


class _SqlFilter(FilterVisitor[Condition | None], Generic[R]):
    def __init__(self, scim_filter: ScimFilter[R], attributes: Attributes) -> None:
        self.filter = scim_filter
        self.attributes = attributes
        self.exact = True

    def _binding(self, path: AttrPath, *, comparison: bool) -> AttributeBinding | None:
        if comparison:
            return self.filter.resolve_comparison(path, strict=False)
        return self.filter.resolve(path, strict=False)

    def visit_comparison(self, node: Comparison) -> Condition | None:
        binding = self._binding(node.attr_path, comparison=True)
        if binding is None:
            return None
        key = key_of(binding)
        value = coerce_value(binding, node.value, node.op)
        special = self.attributes.specials.get(key)
        if special is not None:
            return special(node.op, value)
        if key in self.attributes.timestamps:
            return _timestamp(self.attributes.timestamps[key].expression, node.op, value)
        if key in self.attributes.strings:
            return _string(self.attributes.strings[key].expression, binding.case_exact, node.op, value)
        return None

    def visit_present(self, node: Present) -> Condition | None:
        binding = self._binding(node.attr_path, comparison=False)
        if binding is None:
            return None
        key = key_of(binding)
        column = self.attributes.strings.get(key)
        if column is None and binding.sub_field_name is None:
            column = self.attributes.multivalued.get(binding.field_name)
        return None if column is None else and_(column.is_not(None), column.expression != "")

    def visit_not(self, node: Not) -> Condition | None:
        return None  # NOT of SQL's three-valued logic is not the library's two-valued one

    def visit_logical_expr(self, node: LogicalExpr) -> Condition | None:
        terms = [self.visit(term) for term in node.terms]
        kept = [term for term in terms if term is not None]
        if node.op is LogicalOperator.and_:
            if len(kept) < len(terms):
                self.exact = False  # a superset: the caller evaluates the whole filter over it
            return and_(*kept) if kept else None
        return or_(*kept) if len(kept) == len(terms) else None

    def visit_value_path(self, node: ValuePath) -> Condition | None:
        """``emails[...]``: perfhub holds at most one e-mail, so "an e-mail matches" is "the e-mail matches",
        each inner comparison read as one on ``emails.<attribute>``."""
        binding = self._binding(node.attr_path, comparison=False)
        holder = None if binding is None else self.attributes.multivalued.get(binding.field_name)
        if holder is None or node.sub_attr is not None:
            return None
        inner = self.visit(_qualified(node.val_filter, node.attr_path))
        return None if inner is None else and_(holder.expression.is_not(None), inner)


def _qualified(node: FilterNode, parent: AttrPath) -> FilterNode:
    """An inner filter of a value path with its attributes as sub-attributes of the parent's."""
    if isinstance(node, Comparison):
        path = AttrPath(attr=parent.attr, sub_attr=node.attr_path.attr, uri=parent.uri)
        return Comparison(attr_path=path, op=node.op, value=node.value)
    if isinstance(node, Present):
        return Present(attr_path=AttrPath(attr=parent.attr, sub_attr=node.attr_path.attr, uri=parent.uri))
    if isinstance(node, LogicalExpr):
        return LogicalExpr(op=node.op, terms=tuple(_qualified(term, parent) for term in node.terms))
    if isinstance(node, Not):
        return Not(expr=_qualified(node.expr, parent))
    return node


def _string(column: Column, case_exact: bool, op: CompareOperator, value: object) -> Condition | None:
    if value is None and op in (CompareOperator.eq, CompareOperator.ne):
        return column.is_(None) if op is CompareOperator.eq else column.is_not(None)
    operand = _ascii(value)
    if operand is None:
        return None
    compared = column if case_exact else func.lower(column)
    operand = operand if case_exact else operand.lower()
    if op is CompareOperator.eq:
        return compared == operand
    if op is CompareOperator.ne:
        return or_(column.is_(None), compared != operand)
    if op in STRING_OPERATORS and not case_exact:  # SQLite's LIKE ignores ASCII case: only where the library does
        escaped = operand.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return compared.like(STRING_OPERATORS[op].format(escaped), escape="\\")
    return None


def _timestamp(column: Column, op: CompareOperator, value: object) -> Condition | None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        return None  # a naive time compares to nothing in the library: left to it
    if op is CompareOperator.eq:
        return column == value
    if op is CompareOperator.ne:
        return column != value
    ordered = ORDERED.get(op)
    return None if ordered is None else cast(Condition, ordered(column, value))
