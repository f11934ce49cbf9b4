"""A subscription event answered by a projection of its record, without graphql-core's execution, when it can be.

graphql-core resolves a selection field by field: an info object, the field's extensions, the resolver, the
completion of its value, some fifty times for the event shape. A replay of history to one subscriber paid that
for every event (most of the hub's time per event in ``bench.events``, where the bare endpoint builds the same
JSON from the same rows). Most subscriptions select only fields that read the event's record: an attribute, or
a resolver that takes nothing but its parent. Such a selection is compiled once per subscription into a
``Projection`` that calls the same resolvers (``StrawberryField.get_result``, as strawberry's own fast path for
a plain field does) and completes each value with the same type's ``coerce_output_value``, each object of the
selection as one generated function (``schema.projection_code``); the answer is kept
on the event for every subscription with the same selection, as JSON encoded once (``EncodedData``).

Anything else is left to graphql-core, exactly as before: fragments, directives, arguments, a field with an
async resolver, one that asks for ``info``, one with an extension other than a field rule, abstract types. At
the event's own level, a field rule (``employeeNo``'s) is checked for each subscriber as the executor checks
it; where it refuses, or where a value does not complete (null in a non-null field, a value the type does not
serialise), the executor answers that event, with the error it has always given.
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial
from operator import attrgetter
from typing import cast

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    ExecutionResult,
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
)
from graphql.execution import Executor
from strawberry.permission import PermissionExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.types.base_scalars import isoformat
from strawberry.types.field import StrawberryField

from hub.auth import Principal
from resolvers.context import Context
from resolvers.event_results import KEYS_PER_EVENT, EncodedData, SharedEventResults
from resolvers.events import DeliveredEvent
from schema.info import Info
from schema.permissions import AuditedDenial, RuleCheck
from schema.projection_code import (
    ATTRIBUTE_READS,
    Complete,
    Fast,
    Field,
    MemberNames,
    Read,
    Unprojectable,
    object_completion,
    remembered,
)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _reader(field: StrawberryField) -> Read:
    """What ``StrawberryField.get_result`` does for a field without info or arguments, without its indirections."""
    base = field.base_resolver
    if base is None:
        if field.default_resolver is getattr:
            return attrgetter(field.python_name)
        return partial(field.get_result, info=None, args=[], kwargs={})
    function = base.wrapped_func
    if not callable(function):
        raise Unprojectable
    sources = {base.self_parameter, base.root_parameter, base.parent_parameter} - {None}
    parameters = list(base.signature.parameters.values())
    if set(parameters) == sources and all(parameter.kind in _POSITIONAL for parameter in parameters):
        # Every parameter is the parent (as self, root or parent), in any order: passed by position.
        if len(parameters) == 1:
            return cast(Read, function)
        if len(parameters) == 2:  # ``self`` and ``root``, as most of the event's resolvers: no list per call
            return lambda source: function(source, source)
        return lambda source: function(*[source] * len(parameters))
    as_self = base.self_parameter is not None
    names = [parameter.name for parameter in (base.root_parameter, base.parent_parameter) if parameter is not None]
    return lambda source: function(*([source] if as_self else []), **dict.fromkeys(names, source))


@dataclass(frozen=True, slots=True)
class _ContextOnly:
    """What a field rule reads of ``info``: the request's context (``schema.permissions.Rule.allows``)."""

    context: Context


class SelectionKey:
    """One object per distinct selection (as plain values) in the process, hashed and compared by identity: an
    event's kept answers are looked up by it twice per delivery, and hashing the nested tuple each time was a
    thirtieth of a replay's time per event."""

    __slots__ = ("__weakref__", "shape")
    _interned: weakref.WeakValueDictionary[tuple[object, ...], SelectionKey] = weakref.WeakValueDictionary()

    def __init__(self, shape: tuple[object, ...]) -> None:
        self.shape = shape

    @classmethod
    def of(cls, shape: tuple[object, ...]) -> SelectionKey:
        key = cls._interned.get(shape)
        if key is None:
            key = cls._interned[shape] = cls(shape)
        return key


@dataclass(frozen=True, slots=True)
class Projection:
    """A subscription's selection compiled: the event's data from the event record, or ``Unprojectable``."""

    root_key: str
    complete: Complete
    rules: tuple[RuleCheck, ...]
    """The field rules of the event's own fields in the selection, checked per subscriber on the event."""
    shape: SelectionKey
    """The selection's key: what subscriptions with the same answers share it under."""

    def admits(self, event: DeliveredEvent, context: Context) -> bool:
        info = cast(Info, _ContextOnly(context))
        return all(rule.has_permission(event, info) for rule in self.rules)

    def admits_every_event(self, principal: Principal) -> bool:
        """Whether every rule admits the principal whatever the event (its roles decide): then no event needs
        ``admits``. Decided once per subscription, not per event (a fortieth of a replay's time per event)."""
        return all(rule.rule.field_rule.admits_every_row(principal) for rule in self.rules)

    def data(self, event: DeliveredEvent) -> EncodedData:
        return EncodedData({self.root_key: self.complete(event)})


_EXACT: dict[GraphQLScalarType, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}
"""Built-in scalars whose ``coerce_output_value`` returns a value of this very class as it is."""


def _leaf(type_: GraphQLScalarType | GraphQLEnumType, non_null: bool) -> Complete:
    serialise = type_.coerce_output_value

    def complete(value: object) -> object:
        if value is None:
            if non_null:
                raise Unprojectable
            return None
        try:
            done = serialise(value)
        except Exception as error:
            raise Unprojectable from error  # the executor gives the error
        if done is None or done is Undefined:
            raise Unprojectable
        return done

    # The values a built-in scalar returns as they are, decided without a call (the rest go through ``complete``).
    exact = _EXACT.get(type_) if isinstance(type_, GraphQLScalarType) else None
    if exact is not None:
        return lambda value: value if value.__class__ is exact else complete(value)
    if type_ is GraphQLFloat:
        return lambda value: value if value.__class__ is float and math.isfinite(value) else complete(value)
    if isinstance(type_, GraphQLEnumType):
        return remembered(complete)
    if type_ is GraphQLInt:
        low, high = GRAPHQL_MIN_INT, GRAPHQL_MAX_INT
        return lambda value: value if value.__class__ is int and low <= value <= high else complete(value)
    return complete


def _list(inner: Complete, non_null: bool) -> Complete:
    def complete(value: object) -> object:
        if value is None:
            if non_null:
                raise Unprojectable
            return None
        if not isinstance(value, list | tuple):
            raise Unprojectable
        return [inner(item) for item in value]

    return complete


def _completion(
    type_: GraphQLOutputType, selection: SelectionSetNode | None, rules: list[RuleCheck] | None, non_null: bool = False
) -> Complete:
    """How a value of the type completes (``non_null``: null is the executor's error)."""
    if isinstance(type_, GraphQLNonNull):
        return _completion(type_.of_type, selection, rules, non_null=True)
    if isinstance(type_, GraphQLList):
        return _list(_completion(type_.of_type, selection, None), non_null)
    if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
        if selection is not None:
            raise Unprojectable
        return _leaf(type_, non_null)
    if not isinstance(type_, GraphQLObjectType) or type_.is_type_of is not None or selection is None:
        raise Unprojectable  # an interface or a union: the executor resolves the runtime type
    return object_completion(type_.name, _fields(type_, selection, rules), non_null)


def _fields(parent: GraphQLObjectType, selection: SelectionSetNode, rules: list[RuleCheck] | None) -> list[Field]:
    """The selection's fields; ``rules`` collects the field rules where they may be checked (the event's own level)."""
    fields: list[Field] = []
    keys: set[str] = set()
    for node in selection.selections:
        if not isinstance(node, FieldNode) or node.directives or node.arguments:
            raise Unprojectable
        key = node.alias.value if node.alias else node.name.value
        if key in keys:
            raise Unprojectable  # merged selections: the executor merges them
        keys.add(key)
        if node.name.value == "__typename":
            if node.selection_set is not None:
                raise Unprojectable
            fields.append(Field(key, lambda _: parent.name, lambda value: value, constant=parent.name))
            continue
        definition = parent.fields.get(node.name.value)
        if definition is None:
            raise Unprojectable
        field = _strawberry_field(definition)
        _check_resolver(field, rules)
        complete = _completion(definition.type, node.selection_set, None)
        attribute = _attribute_read(field)
        fields.append(Field(key, _reader(field), complete, attribute, _fast(definition.type)))
    return fields


def _attribute_read(field: StrawberryField) -> str | None:
    """The attribute (or path) the field's value is, when reading it needs no call: its default resolver's
    attribute, or the path its resolver registered (``reads_attribute``)."""
    base = field.base_resolver
    if base is None:
        return field.python_name if field.default_resolver is getattr else None
    function = base.wrapped_func
    return ATTRIBUTE_READS.get(function) if callable(function) else None


def _fast(type_: GraphQLOutputType) -> Fast:
    """How a leaf's value is kept without a call (the checks ``_leaf`` makes first), for the generated code."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if type_ is GraphQLFloat:
        return "float"
    if type_ is GraphQLInt:
        return "int"
    if type_ is GraphQLID:
        return "id"
    if isinstance(type_, GraphQLEnumType):
        return _member_names(type_)
    if isinstance(type_, GraphQLScalarType) and type_.coerce_output_value is isoformat:
        return "isoformat"
    return _EXACT.get(type_) if isinstance(type_, GraphQLScalarType) else None


def _member_names(type_: GraphQLEnumType) -> MemberNames | None:
    """The members of the Python enum a strawberry enum wraps, with the names its serialiser writes for them
    (asked of it, once); None for any other enum type (its values are completed as before)."""
    wrapped = getattr(type_, "wrapped_cls", None)  # strawberry's CustomGraphQLEnumType
    if not isinstance(wrapped, type) or not issubclass(wrapped, Enum):
        return None
    try:
        names = {member: type_.coerce_output_value(member) for member in wrapped}
    except (ValueError, TypeError):
        return None
    if not all(isinstance(name, str) for name in names.values()):
        return None
    return MemberNames(wrapped, names)


def _strawberry_field(definition: GraphQLField) -> StrawberryField:
    field = (definition.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or definition.args:
        raise Unprojectable
    return field


def _check_resolver(field: StrawberryField, rules: list[RuleCheck] | None) -> None:
    """Refuses a field whose value needs more than its parent (info, arguments, awaiting), or an extension other
    than a field rule; a field rule is collected where it may be checked, and refuses the field elsewhere."""
    base = field.base_resolver
    if base is not None and (base.is_async or base.info_parameter is not None or base.arguments):
        raise Unprojectable
    for extension in field.extensions:
        if isinstance(extension, AuditedDenial):
            continue  # it acts on a refusal, which the executor answers
        if not isinstance(extension, PermissionExtension) or rules is None or extension.fail_silently:
            raise Unprojectable
        for permission in extension.permissions:
            if not isinstance(permission, RuleCheck):
                raise Unprojectable
            rules.append(permission)


def _shape(selection: SelectionSetNode) -> tuple[object, ...]:
    # A compiled selection has plain fields only (anything else is unprojectable).
    return tuple(
        (
            node.alias.value if node.alias else None,
            node.name.value,
            _shape(node.selection_set) if node.selection_set else (),
        )
        for node in selection.selections
        if isinstance(node, FieldNode)
    )


def compile_projection(executor: SharedEventResults) -> Projection | None:
    """The projection of the executor's subscription selection; None where the executor must answer."""
    return compile_selection(executor.operation, executor.schema)


def compile_selection(operation: OperationDefinitionNode, schema: GraphQLSchema) -> Projection | None:
    """The projection of a subscription operation's selection; None where graphql-core's executor must answer."""
    root_type = schema.subscription_type
    selections = operation.selection_set.selections
    if operation.operation != OperationType.SUBSCRIPTION or root_type is None or len(selections) != 1:
        return None
    root = selections[0]
    if not isinstance(root, FieldNode) or root.directives or root.selection_set is None:
        return None
    definition = root_type.fields.get(root.name.value)
    if definition is None:
        return None
    rules: list[RuleCheck] = []
    try:
        complete = _completion(definition.type, root.selection_set, rules)
    except Unprojectable:
        return None
    key = root.alias.value if root.alias else root.name.value
    return Projection(key, complete, tuple(rules), SelectionKey.of((key, _shape(root.selection_set))))


_NOT_COMPILED = object()


class ProjectedEventResults(SharedEventResults):
    """Strawberry's executor, answering a subscription event by its projection where the selection allows it,
    else as ``SharedEventResults`` does (one execution per event for subscriptions that ask alike)."""

    _projection: object = _NOT_COMPILED
    _admitted: Principal | None = None
    """The principal the projection's rules admit on every event (``Projection.admits_every_event``), once known."""

    def build_per_event_executor(self, payload: object) -> Executor[Context]:
        # Called on the subscription's own executor, once per event; the projection is compiled on the first.
        if isinstance(payload, DeliveredEvent) and isinstance(self.context_value, Context):
            if self._projection is _NOT_COMPILED:
                self._projection = compile_projection(self)
            projection = self._projection
            if isinstance(projection, Projection) and self._admits(projection, payload, self.context_value):
                answer = _answer(projection, payload)
                if answer is not None:
                    # What graphql-core asks of a per-event executor is its execute_operation.
                    return cast(Executor[Context], _Answered(answer))
        return super().build_per_event_executor(payload)

    def _admits(self, projection: Projection, event: DeliveredEvent, context: Context) -> bool:
        principal = context.principal
        if self._admitted is principal:
            return True
        if projection.admits_every_event(principal):
            self._admitted = principal
            return True
        return projection.admits(event, context)


@dataclass(frozen=True, slots=True)
class _Answered:
    answer: object

    def execute_operation(self, serially: bool | None = None) -> object:
        return self.answer


def _answer(projection: Projection, event: DeliveredEvent) -> ExecutionResult | None:
    kept = event.projected.get(projection.shape)
    if kept is not None:
        return kept
    try:
        answer = ExecutionResult(projection.data(event))
    except Unprojectable:
        return None
    if len(event.projected) < KEYS_PER_EVENT:
        event.projected[projection.shape] = answer
    return answer


@dataclass(frozen=True, slots=True)
class Preparation:
    """A subscription's answers made ahead, a run of events at a time, before the stream sends them.

    Projecting an event and sending it, one after the other, each evicted the other's working set from the
    processor's caches: the deflate of a frame cost the hub half again what it cost the bare endpoint, which
    encodes a whole page before it sends (``py-spy`` on ``bench.events``). Made here first, the answers are
    kept on the events (``_answer``, as the first subscriber to deliver each would keep them) with their JSON,
    and the executor then finds each one made. Only the events the projection's rules admit are prepared; the
    rest are left to the executor as before.
    """

    projection: Projection
    context: Context

    def __call__(self, events: Sequence[DeliveredEvent]) -> None:
        every = self.projection.admits_every_event(self.context.principal)
        for event in events:
            if every or self.projection.admits(event, self.context):
                answer = _answer(self.projection, event)
                if answer is not None and isinstance(answer.data, EncodedData):
                    answer.data.json()


def preparation(info: Info) -> Preparation | None:
    """How a subscription's answers are made ahead, where its selection is a projection; None where it is not."""
    raw = info._raw_info  # strawberry keeps graphql-core's info here: the operation and the schema it runs on
    projection = compile_selection(raw.operation, raw.schema)
    return None if projection is None else Preparation(projection, info.context)
