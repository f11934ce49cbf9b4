"""What every operation's input passes before it executes: one operation chosen, and sane strings.

Checked here, once for the whole document, rather than in each resolver, so that an argument added
tomorrow is covered too:

* A document with several operations must name the one to run (``operationName``): strawberry ran the
  first one, so a client that forgot the name got an answer to a question it may not have meant.
* Every string that reaches an argument or an input field, written in the document or sent as a
  variable, is free of NUL and of lone surrogates and within a length for its kind
  (:data:`MAX_LENGTHS`). A NUL reached SQL and failed there (PostgreSQL) or, on SQLite, matched every
  row in scope; a lone surrogate could not be encoded for the driver; a 50,000-character filter made
  SQLite work for nothing. Refused as ``BAD_USER_INPUT`` naming the argument, before any SQL.

A refused mutation is still audited (one entry per mutation field, the offending value bounded), since
every mutation call, allowed or not, leaves an entry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping

from graphql import (
    ArgumentNode,
    DefinitionNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_operation_ast,
)
from graphql.language import Visitor, visit
from strawberry.extensions import SchemaExtension

from resolvers.audit import bounded
from resolvers.context import Context
from resolvers.errors import BadUserInput

DEFAULT_MAX_LENGTH = 200
"""Names, codes, filters, ids, cursors: what a person types in a field or a client copies from an answer."""
LONG_TEXT = 2000
"""Free text a person writes: a rating's comment, a calibration's reason, a change note."""
MAX_LENGTHS: Mapping[str, int | None] = {
    "comment": LONG_TEXT,
    "reason": LONG_TEXT,
    "changeNote": LONG_TEXT,
    "csv": None,  # a whole file: bounded by the request body limit (PERFHUB_MAX_BODY_BYTES)
    # Narrower columns: longer values could never match or be stored.
    "code": 64,
    "employeeNo": 64,
    "sourceSystem": 64,
    "postFamily": 64,
    "unit": 32,
    "sourceMetric": 128,
}
"""The longest string an argument or input field of this name takes; :data:`DEFAULT_MAX_LENGTH` otherwise."""
BAD_USER_INPUT = "BAD_USER_INPUT"


class OperationNameRequired(GraphQLError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(
            f"the document holds {len(names)} operations ({', '.join(names)}): name the one to run in operationName",
            extensions={"code": "OPERATION_NAME_REQUIRED"},
        )


def string_problem(value: str, max_length: int | None) -> str | None:
    """What is wrong with a string argument, or None: NUL, a lone surrogate, or too many characters."""
    if max_length is not None and len(value) > max_length:
        return f"is {len(value)} characters long; at most {max_length} are accepted"
    if "\x00" in value:
        return "contains a NUL character"
    try:
        # A decoded str holds a surrogate code point only when it is lone (a pair decodes to one character);
        # encoding finds it at C speed, which matters for a CSV body of a megabyte.
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    return None


def refusal(name: str, value: str) -> BadUserInput | None:
    """The BAD_USER_INPUT error naming ``name`` when ``value`` is not a string the hub accepts there."""
    problem = string_problem(value, MAX_LENGTHS.get(name, DEFAULT_MAX_LENGTH))
    return None if problem is None else BadUserInput(f"argument {name} {problem}", argument=name)


def _variable_strings(name: str, value: object) -> Iterator[tuple[str, str]]:
    """Every string inside a variable's value, with the name of the argument or input field it fills."""
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, Mapping):
        for field, inner in value.items():
            yield from _variable_strings(str(field), inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _variable_strings(name, inner)


class _Strings(Visitor):
    """Collects (argument name, string) for every string a document's arguments receive."""

    def __init__(self, variables: Mapping[str, object]) -> None:
        super().__init__()
        self.variables = variables
        self.found: list[tuple[str, str]] = []

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        self._value(node.name.value, node.value)

    def _value(self, name: str, node: ValueNode) -> None:
        if isinstance(node, StringValueNode):
            self.found.append((name, node.value))
        elif isinstance(node, VariableNode):
            self.found.extend(_variable_strings(name, self.variables.get(node.name.value)))
        elif isinstance(node, ListValueNode):
            for item in node.values:
                self._value(name, item)
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                self._value(field.name.value, field.value)


def argument_strings(document: DocumentNode, variables: Mapping[str, object]) -> list[tuple[str, str]]:
    """Every (argument or input field name, string) the document's arguments receive, variables included.

    Variables that no argument uses reach no resolver; they are checked too (under their own name), since
    a default value or a directive could still hand them on.
    """
    visitor = _Strings(variables)
    visit(document, visitor)
    # graphql-core's visitor keeps its bound methods in a map of its own: a cycle the collector would free,
    # once for every request. Emptied, the visitor goes by reference counting.
    visitor.enter_leave_map.clear()
    used = {name for definition in document.definitions for name in _variable_names(definition)}
    for name, value in variables.items():
        if name not in used:
            visitor.found.extend(_variable_strings(name, value))
    return visitor.found


def _variable_names(node: DefinitionNode) -> Iterator[str]:
    # Operations declare variables, and fragments may (graphql-core's legacy fragment variables).
    for definition in getattr(node, "variable_definitions", None) or ():
        yield definition.variable.name.value


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [definition for definition in document.definitions if isinstance(definition, OperationDefinitionNode)]


class InputChecks(SchemaExtension):
    """Refuses, before execution, a document with several operations and no operationName, and strings an
    argument must not receive. Runs after validation, so the document is known to be well-formed."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None:
            operations = _operations(document)
            provided: str | None = execution._provided_operation_name  # None: the client named no operation
            if len(operations) > 1 and provided is None:
                raise OperationNameRequired([op.name.value if op.name else "(anonymous)" for op in operations])
            for name, value in argument_strings(document, execution.variables or {}):
                error = refusal(name, value)
                if error is not None:
                    operation = get_operation_ast(document, provided)
                    await _audit_refused_mutation(execution.context, operation, name, value)
                    raise error
        yield


async def _audit_refused_mutation(
    context: object, operation: OperationDefinitionNode | None, argument: str, value: str
) -> None:
    """A mutation refused for its input changed nothing but is a call all the same: each of its fields gets
    an entry naming the argument and, bounded, what it was sent."""
    if operation is None or operation.operation is not OperationType.MUTATION or not isinstance(context, Context):
        return
    selections = operation.selection_set.selections
    for field in [selection.name.value for selection in selections if isinstance(selection, FieldNode)]:
        await context.audit(field, [f"{argument}:{bounded(value)}"], BAD_USER_INPUT)
