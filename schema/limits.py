"""Limits on abusive documents: depth, aliases, expanded size and estimated cost, all checked before execution.

Depth and alias counts are strawberry's own validation rules, made once per schema so that the
ValidationCache keeps hitting (a rule class made per request would be a new cache key every time).
They expand fragment spreads without memoising, which a document of fragments that each spread the
next one twice turns exponential; a memoised count of the expanded document guards them.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from schema.operation_guard import RateLimited

SYSTEM_FIELDS = frozenset(
    {"trainingRecords", "compensationRecords", "attritionSignals", "completedCourses", "trainingTaken", "advice"}
)
"""Fields fed by a business system: each costs a call to that system per batch, not a SQL statement."""
INTROSPECTION_ROOTS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
"""The introspection fields that open a subtree: counted in depth and cost like any other field."""
UNWRAPPING_FIELD = "ofType"
"""``__Type.ofType``: a chain of it ends at the schema's deepest type wrapper (a list of non-null lists, at
most a few levels), so it adds no depth; standard introspection queries nest it 7 to 9 times."""


def limit_error(message: str, limit: str, maximum: int, **extensions: object) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": "QUERY_TOO_COMPLEX", "limit": limit, "maximum": maximum, **extensions}
    )


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def expanded_size(document: DocumentNode, stop_above: int) -> int:
    """How many fields the document selects once every fragment spread is expanded (stops early)."""
    fragments = _fragments(document)
    memo: dict[str, int] = {}

    def count(selection_set: SelectionSetNode, visiting: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + (count(selection.selection_set, visiting) if selection.selection_set else 0)
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if name not in memo and fragment is not None and name not in visiting:
                    memo[name] = count(fragment.selection_set, visiting | {name})
                total += memo.get(name, 0)  # unknown and cyclic spreads are other rules' errors
            if total > stop_above:
                break
        return total

    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += count(definition.selection_set, frozenset())
    return total


def document_rules(*, max_depth: int, max_aliases: int, max_fields: int) -> list[type[ASTValidationRule]]:
    """The validation rules that bound a document's shape; build once per schema."""
    depth_rule = depth_validator(max_depth, should_ignore=None)
    alias_rule = alias_validator(max_aliases)

    class DocumentShapeLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            size = expanded_size(document, stop_above=max_fields)
            if size > max_fields:
                context.report_error(
                    limit_error(f"the document expands to more than {max_fields} fields", "fields", max_fields)
                )
                return
            defined = set(_fragments(document))
            if _spreads(document) - defined:
                return  # KnownFragmentNames reports it; the limiters below would fail on the missing fragment
            # Both do all their work in their constructors; errors land in the context.
            depth_rule(context)
            alias_rule(context)
            # Strawberry's depth rule skips every field under __schema and __type; an introspection
            # subtree nested without end (__type { fields { type { fields ... } } }) was unlimited.
            depth = introspection_depth(document)
            if depth > max_depth:
                context.report_error(
                    limit_error(
                        f"the introspection query's depth {depth} exceeds the maximum depth of {max_depth}",
                        "depth",
                        max_depth,
                        depth=depth,
                    )
                )

    return [DocumentShapeLimits]


def introspection_depth(document: DocumentNode) -> int:
    """The depth of the deepest field under ``__schema`` or ``__type``, counted from the operation's root.

    Every field counts one level but ``ofType`` (see UNWRAPPING_FIELD); 0 when nothing is introspected.
    Fragments are followed once per path, so a cycle (another rule's error) ends the walk.
    """
    fragments = _fragments(document)

    def walk(selection_set: SelectionSetNode, depth: int, inside: bool, visiting: frozenset[str]) -> int:
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                entered = inside or name in INTROSPECTION_ROOTS
                level = depth if name == UNWRAPPING_FIELD else depth + 1
                if entered:
                    deepest = max(deepest, level)
                if selection.selection_set is not None:
                    deepest = max(deepest, walk(selection.selection_set, level, entered, visiting))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, walk(selection.selection_set, depth, inside, visiting))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in visiting:
                    deepest = max(deepest, walk(fragment.selection_set, depth, inside, visiting | {name}))
        return deepest

    return max(
        (
            walk(definition.selection_set, 0, False, frozenset())
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ),
        default=0,
    )


def _spreads(document: DocumentNode) -> set[str]:
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                names.add(selection.name.value)
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set is not None:
                walk(selection.selection_set)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            walk(definition.selection_set)
    return names


@dataclass(frozen=True, slots=True)
class CostModel:
    """What the estimate charges: 1 per field per parent, lists multiply, system fields weigh more."""

    max_cost: int
    list_size: int
    system_field: int
    max_page_size: int
    system_fields: frozenset[str] = SYSTEM_FIELDS


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, object],
    model: CostModel,
) -> int:
    """An upper-bound estimate of the work an operation asks for, before anything runs.

    Every field costs 1 for each parent it is resolved on, a business-system field ``system_field``;
    ``__schema`` and ``__type`` and everything under them too (only ``__typename`` is free).
    A field with a ``first`` argument multiplies its children by the page size (as sent, else the
    argument's default, clamped to the maximum page size); any other list by ``list_size``. The lists
    inside a connection (``edges``) are the page already counted.
    """
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _CostWalk(schema, document, variables, model).unit_cost(operation.selection_set, root)


class _CostWalk:
    """One estimate's walk of a document. A class rather than nested functions: a recursive closure refers to
    itself, so every request's walk (and its memo) would wait for the cycle collector to be freed."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, object], model: CostModel
    ) -> None:
        self.schema = schema
        self.fragments = _fragments(document)
        self.variables = variables
        self.model = model
        self.memo: dict[tuple[str, str, int], int] = {}
        self.deepest_wrapping = wrapping_depth(schema)

    def page_size(self, node: FieldNode, default: object) -> int:
        value: object = default
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value, default)
        if not isinstance(value, int) or isinstance(value, bool):
            return self.model.list_size
        return max(0, min(value, self.model.max_page_size))

    def unit_cost(self, selection_set: SelectionSetNode, parent: GraphQLNamedType, unwrapped: int = 0) -> int:
        """The cost of a selection set resolved on one parent; the cost of N parents is N times this.

        ``unwrapped`` counts the ``ofType`` fields just above: past the schema's deepest wrapping one is
        null, and nothing under it runs.
        """
        model, schema = self.model, self.schema
        fields = getattr(parent, "fields", {})
        in_connection = parent.name.endswith("Connection")
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                field = fields.get(name) or INTROSPECTION_ROOTS.get(name)
                if field is None:  # __typename: free
                    continue
                below = unwrapped + 1 if name == UNWRAPPING_FIELD else 0
                if below > self.deepest_wrapping:
                    continue
                total += model.system_field if name in model.system_fields else 1
                if selection.selection_set is None:
                    continue
                field_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
                if "first" in field.args:
                    size = self.page_size(selection, field.args["first"].default_value)
                elif isinstance(field_type, GraphQLList) and not in_connection:
                    size = model.list_size
                else:
                    size = 1
                total += size * self.unit_cost(selection.selection_set, get_named_type(field.type), below)
            elif isinstance(selection, InlineFragmentNode):
                narrowed = _narrow(schema, selection.type_condition, parent)
                total += self.unit_cost(selection.selection_set, narrowed, unwrapped)
            elif isinstance(selection, FragmentSpreadNode):
                key = (selection.name.value, parent.name, unwrapped)
                if key not in self.memo:
                    fragment = self.fragments[selection.name.value]  # validated: it exists, no cycles
                    narrowed = _narrow(schema, fragment.type_condition, parent)
                    self.memo[key] = self.unit_cost(fragment.selection_set, narrowed, unwrapped)
                total += self.memo[key]
        return total


@functools.lru_cache(maxsize=8)
def wrapping_depth(schema: GraphQLSchema) -> int:
    """The most list and non-null wrappers around any field's or argument's type (``[Int!]!`` is 3)."""

    def depth(type_: GraphQLType) -> int:
        return 1 + depth(type_.of_type) if isinstance(type_, GraphQLList | GraphQLNonNull) else 0

    deepest = 0
    for named in schema.type_map.values():
        for field in getattr(named, "fields", {}).values():
            deepest = max(deepest, depth(field.type), *(depth(arg.type) for arg in getattr(field, "args", {}).values()))
    return deepest


def _narrow(schema: GraphQLSchema, condition: NamedTypeNode | None, parent: GraphQLNamedType) -> GraphQLNamedType:
    if condition is None:
        return parent
    return schema.get_type(condition.name.value) or parent


class CostLimiter(SchemaExtension):
    """Refuses an operation whose estimated cost passes the maximum, before it executes; else charges the
    cost to its caller's rate-limit bucket (``Context.charge``) and refuses it when the bucket is short."""

    def __init__(self, model: CostModel) -> None:
        self.model = model

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            operation = get_operation_ast(document, context.operation_name)
            if operation is not None:
                cost = estimate_cost(context.schema._schema, document, operation, context.variables or {}, self.model)
                if cost > self.model.max_cost:
                    # A result set here is what strawberry returns instead of executing.
                    error = limit_error(
                        f"the query's estimated cost {cost} exceeds the maximum cost of {self.model.max_cost}",
                        "cost",
                        self.model.max_cost,
                        cost=cost,
                    )
                    context.result = ExecutionResult(data=None, errors=[error])
                else:
                    charge = getattr(context.context, "charge", None)
                    retry_after = await charge(cost) if charge is not None else 0.0
                    if retry_after > 0:
                        # Raised, not set as the result: strawberry would still run a subscription (OperationGuard).
                        raise RateLimited(retry_after)
        yield
