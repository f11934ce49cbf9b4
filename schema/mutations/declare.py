"""One declaration per mutation: the field, its input, its plumbing and its audit derive from it.

A mutation is an ``async def`` decorated with :func:`mutation`::

    @mutation(HR_ONLY, CyclePayload)
    async def cycle_create(context: Context, command: CycleCreateInput, caller: Caller) -> CycleChanged:
        '''Creates a cycle in DRAFT.'''
        return CycleChanged(cycle=await cycles.create_cycle(context.sessionmaker, command, caller))

From that declaration come

- the **field**: named after the handler (``cycleCreate``), described by its docstring;
- the **input**: the GraphQL input type (or, with ``arguments=True``, the field's arguments) is derived
  from the command dataclass the handler's ``command`` parameter names (``hub/operations/commands.py``:
  field names, types, defaults and descriptions; ``IdOf`` fields are ``ID``\\ s; nested dataclasses are
  input types of their own name);
- the **ids it parses**: every ``IdOf`` field is parsed into a key before the handler runs; text that
  cannot be one of ours is ``NOT_FOUND`` naming the input field, without touching the database;
- the **payload**: a union of the handler's success type and the typed errors (``schema/errors.py``);
  every error of the operations' trees (``EXPECTED``) that the handler raises is answered as one
  (``Refused``);
- the **audit**: ``guarded_mutation`` enforces the access rule and audits every call; the operation
  writes its entry with ``caller.audit`` in the transaction of its change;
- the **caller**: who asks (the principal's subject), the audit recorder, the time and the grade bands.

The handler's body is what is particular to the mutation: the operation it calls and the success
record it returns. Strawberry sees an ordinary resolver: the derived signature is set on a function
made here (``inspect.Signature``), which is how strawberry reads any resolver's arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import strawberry
from strawberry.scalars import JSON as JsonScalar
from strawberry.types.field import StrawberryField

from hub.appraisal.errors import AppraisalError
from hub.db.models import utcnow
from hub.operations.commands import JSON, Caller, IdOf
from hub.operations.errors import NotFound, OperationError, Refused
from resolvers.audit import pending
from resolvers.context import Context
from resolvers.errors import parse_id
from schema.info import Info
from schema.permissions import Rule, guarded_mutation

Command = TypeVar("Command")
Success = TypeVar("Success")

Handler = Callable[[Context, Command, Caller], Awaitable[Success]]


@dataclass(frozen=True, slots=True)
class Declared:
    """A declared mutation: its GraphQL name, the strawberry field made from it, and its handler's name."""

    name: str
    field: StrawberryField
    python_name: str


def mutation(
    rule: Rule, payload: object, *, arguments: bool = False
) -> Callable[[Handler[Command, Success]], Declared]:
    """Declares the handler's mutation: see the module's docstring. Its GraphQL name is the handler's in
    camel case (``cycle_open`` is ``cycleOpen``) and its description the handler's docstring. ``payload``
    is its union (:func:`schema.errors.payload`); ``arguments`` takes the command's fields as the field's
    arguments instead of one ``input`` object (the contract's ``cycleOpen(cycleId: ID!)`` style)."""

    def declare(handler: Handler[Command, Success]) -> Declared:
        command_type: type[Command] = typing.get_type_hints(handler)["command"]
        name = _camel(handler.__name__)
        description = " ".join((handler.__doc__ or "").split())

        async def resolve(info: Info, **given: object) -> Success | Refused:
            context = info.context
            try:
                source: object = given if arguments else given["input"]
                command = _build(command_type, source, None)
                caller = Caller(
                    actor=context.principal.subject, audit=pending(), now=utcnow(), bands=context.settings.bands()
                )
                return await handler(context, command, caller)
            except (OperationError, AppraisalError) as error:  # EXPECTED, spelled out for the type checker
                return Refused(error)

        parameters = [inspect.Parameter("info", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Info)]
        if arguments:
            parameters += list(_argument_parameters(command_type))
        else:
            parameters.append(
                inspect.Parameter("input", inspect.Parameter.KEYWORD_ONLY, annotation=input_type(command_type))
            )
        returns = typing.Optional[payload]  # type: ignore[valid-type]  # noqa: UP045 - a value, not an annotation
        resolve.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        resolve.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        resolve.__annotations__["return"] = returns
        resolve.__name__ = resolve.__qualname__ = handler.__name__
        field: StrawberryField = guarded_mutation(rule, name, description=description)(resolve)
        return Declared(name, field, handler.__name__)

    return declare


def declared_in(*modules: types.ModuleType) -> Iterator[Declared]:
    """The mutations declared in ``modules``, in module order and, within one, in declaration order."""
    for module in modules:
        yield from (value for value in vars(module).values() if isinstance(value, Declared))


# --- Command dataclass -> GraphQL input ---------------------------------------------------------------


def _graphql_annotation(annotation: object) -> object:
    """The GraphQL side of a command field's type: ``IdOf`` -> ID, ``JSON`` -> JSON, tuple -> list,
    a nested command -> its input type; everything else (str, float, dates, domain enums) as it is."""
    base, markers = _unwrap(annotation)
    if any(isinstance(marker, IdOf) for marker in markers):
        return strawberry.ID
    if JSON in markers:
        return JsonScalar
    origin, arguments = typing.get_origin(base), typing.get_args(base)
    if origin in (types.UnionType, typing.Union):
        arms = [_graphql_annotation(arm) for arm in arguments if arm is not type(None)]
        return arms[0] | None if len(arms) == 1 else base  # type: ignore[operator]
    if origin is tuple:
        return list[_graphql_annotation(arguments[0])]  # type: ignore[misc]
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return input_type(base)
    return base


_input_types: dict[type, type] = {}


def input_type(command_type: type) -> type:
    """The strawberry input type of a command dataclass, named like it (``RatingSubmitInput``); one per
    command, however many mutations take it."""
    if command_type not in _input_types:
        _input_types[command_type] = _make_input_type(command_type)
    return _input_types[command_type]


def _make_input_type(command_type: type) -> type:
    hints = _hints(command_type)
    annotations: dict[str, object] = {}
    namespace: dict[str, object] = {"__annotations__": annotations}
    for field in dataclasses.fields(command_type):
        annotations[field.name] = _graphql_annotation(hints[field.name])
        default, default_factory = _default(field)
        namespace[field.name] = strawberry.field(
            description=field.metadata.get("description"), default=default, default_factory=default_factory
        )
    made = type(command_type.__name__, (), namespace)
    return strawberry.input(made, name=command_type.__name__)


def _argument_parameters(command_type: type) -> Iterator[inspect.Parameter]:
    hints = _hints(command_type)
    for field in dataclasses.fields(command_type):
        annotation = _graphql_annotation(hints[field.name])
        description = field.metadata.get("description")
        if description is not None:
            annotation = typing.Annotated[annotation, strawberry.argument(description=description)]
        default = inspect.Parameter.empty if field.default is dataclasses.MISSING else field.default
        yield inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _default(field: dataclasses.Field[object]) -> tuple[object, object]:
    """The input field's default and default factory (``dataclasses.MISSING`` for none, as strawberry takes)."""
    if field.default == ():
        return dataclasses.MISSING, list  # a tuple field is a list in GraphQL; its empty default too
    return field.default, dataclasses.MISSING


_command_hints: dict[type, dict[str, object]] = {}


def _hints(command_type: type) -> dict[str, object]:
    """A command's field types with their markers, read once per command type: every mutation call builds its
    command (and each nested input of a list) from them."""
    if command_type not in _command_hints:
        _command_hints[command_type] = typing.get_type_hints(command_type, include_extras=True)
    return _command_hints[command_type]


def _unwrap(annotation: object) -> tuple[object, tuple[object, ...]]:
    if typing.get_origin(annotation) is typing.Annotated:
        base, *markers = typing.get_args(annotation)
        return base, tuple(markers)
    return annotation, ()


# --- GraphQL input -> command -------------------------------------------------------------------------


def _build(command_type: type[Command], source: object, top_field: str | None) -> Command:
    """The command of an input object or an arguments mapping; ids parsed (NotFound names ``top_field``,
    the input field the caller wrote, for ids inside a list too)."""
    hints = _hints(command_type)
    values: dict[str, object] = {}
    for field in dataclasses.fields(command_type):  # type: ignore[arg-type]
        raw = source.get(field.name) if isinstance(source, Mapping) else getattr(source, field.name)
        values[field.name] = _convert(hints[field.name], raw, top_field or _camel(field.name))
    return command_type(**values)


def _convert(annotation: object, value: object, field_name: str) -> object:
    if value is None:
        return None
    base, markers = _unwrap(annotation)
    for marker in markers:
        if isinstance(marker, IdOf):
            key = parse_id(value) if isinstance(value, str | int) else None
            if key is None:
                raise NotFound(marker.entity, value, field=field_name)
            return key
    origin, arguments = typing.get_origin(base), typing.get_args(base)
    if origin in (types.UnionType, typing.Union):
        (arm,) = (arm for arm in arguments if arm is not type(None))
        return _convert(arm, value, field_name)
    if origin is tuple:
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_convert(arguments[0], item, field_name) for item in items)
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return _build(base, value, field_name)
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
