"""A subscription event answered by projection is what graphql-core's execution answers (``schema.event_projection``).

For every field of ``ResultEvent`` (an object field with every leaf field of its type and ``__typename``), the
whole event shape, and selections the projection must leave to the executor (a fragment, a directive, a field
selected twice), each principal's events are answered both ways, as the subscription's per-event executor answers
them: the data and the errors must be equal, event for event. Where a field rule refuses (``employeeNo`` of
someone a manager does not manage), the executor answers, with its FORBIDDEN error.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

import pytest
import strawberry
from graphql import (
    ExecutionResult,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
    parse,
)
from graphql.execution import Executor
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from hub.auth import Principal
from hub.config import Settings
from hub.websocket import _encoded_once
from resolvers import events as event_stream
from resolvers.context import Context
from resolvers.errors import Forbidden
from resolvers.event_results import EncodedData
from schema import build_schema
from schema.event_projection import ProjectedEventResults, compile_projection
from tests.conftest import TODAY
from tests.schema.conftest import Org
from tests.schema.test_outbox_fanout import principals

EVENTS_PER_PRINCIPAL = 12
SHAPE = (
    "eventId type occurredAt cursor resultId cycle { id name periodStart periodEnd } period { start end } "
    "employeeId employeeNo postId postFamily departmentId totalScore grade calibrated "
    "indicatorScores { indicatorCode indicatorName category version rawValue normalizedScore weight }"
)
LEFT_TO_THE_EXECUTOR = {
    "fragment": "resultPublished { ...own } } fragment own on ResultEvent { eventId grade",
    "directive": "resultPublished { eventId grade @include(if: true) }",
    "twice": "resultPublished { cycle { id } cycle { name } }",
    "an argument": "resultPublished { result { indicatorScores(first: 1) { rawValue } } }",
}


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


def _unwrapped(type_: GraphQLOutputType) -> GraphQLOutputType:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def every_field(schema: strawberry.Schema) -> dict[str, str]:
    """Each field of ResultEvent, an object one with its type's leaf fields that take no argument."""
    event = schema._schema.get_type("ResultEvent")
    assert isinstance(event, GraphQLObjectType)
    selections = {"__typename": "__typename"}
    for name, field in event.fields.items():
        inner = _unwrapped(field.type)
        if is_leaf_type(inner):
            selections[name] = name
        else:
            assert isinstance(inner, GraphQLObjectType)
            leaves = [n for n, f in inner.fields.items() if is_leaf_type(_unwrapped(f.type)) and not f.args]
            selections[name] = f"{name} {{ {' '.join(leaves)} __typename }}"
    return selections


def document(selection: str) -> str:
    return "subscription($after: String) { resultPublished(after: $after) { " + selection + " } }"


async def answered(executor_class: type[Executor[Any]], schema: strawberry.Schema, query: str, context: Context,
                   event: event_stream.DeliveredEvent) -> tuple[Any, list[Any]]:  # fmt: skip
    """The event's answer as the subscription's per-event executor of this class gives it."""
    executor = executor_class.build(schema._schema, parse(query), context_value=context)
    assert isinstance(executor, Executor), executor
    answer = executor.build_per_event_executor(event).execute_operation(False)
    result = await answer if executor.is_awaitable(answer) else answer
    assert isinstance(result, ExecutionResult)
    return result.data, [error.formatted for error in result.errors or ()]


async def events_of(context: Context) -> list[event_stream.DeliveredEvent]:
    try:
        return (await event_stream.result_events(context, None, 500))[:EVENTS_PER_PRINCIPAL]
    except Forbidden:
        return []


async def test_every_selection_is_answered_alike_by_projection_and_by_execution_for_every_role(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> None:
    selections = {**every_field(schema), "the event shape": SHAPE, "aliases": "a: grade b: grade n: employeeNo"}
    projected: set[str] = set()
    compared = 0
    for role, principal in principals(org).items():
        context = Context(settings, sessionmaker, TODAY, principal, request_id="projection")
        events = await events_of(context)
        for name, selection in selections.items():
            query = document(selection)
            executor = ProjectedEventResults.build(schema._schema, parse(query))
            assert isinstance(executor, ProjectedEventResults)
            projection = compile_projection(executor)
            for kept in events:
                event = dataclasses.replace(kept, answers={}, projected={})  # at most 8 selections are kept per event
                base = await answered(StrawberryGraphQLCoreExecutionContext, schema, query, context, event)
                mine = await answered(ProjectedEventResults, schema, query, context, event)
                assert mine == base, (role, name, event.id)
                compared += 1
                if projection is not None and projection.shape in event.projected:
                    projected.add(name)
                    assert isinstance(mine[0], EncodedData) and not mine[1]
    assert compared > 1000
    # Every field but the result (whose fields take arguments, read loaders and follow rules of their own).
    assert set(selections) - projected == {"result"}


async def test_a_field_rule_that_refuses_leaves_the_event_to_the_executor(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> None:
    """A manager reading an event of someone outside their reporting line (made up: the stream would not carry
    it) as not managed: employeeNo is refused with the executor's FORBIDDEN error, the rest answered."""
    people = principals(org)
    hr = Context(settings, sessionmaker, TODAY, people["hr_admin"], request_id="projection")
    manager = Context(settings, sessionmaker, TODAY, people["manager"], request_id="projection")
    event = next(e for e in await event_stream.result_events(hr, None, 500) if e.employee_no != org.manager_no)
    event = dataclasses.replace(event, managed=False, answers={}, projected={})
    query = document(SHAPE)
    base = await answered(StrawberryGraphQLCoreExecutionContext, schema, query, manager, event)
    mine = await answered(ProjectedEventResults, schema, query, manager, event)
    assert mine == base
    assert base[0]["resultPublished"]["employeeNo"] is None
    assert [error["extensions"]["code"] for error in base[1]] == ["FORBIDDEN"]
    assert not event.projected
    mine = await answered(ProjectedEventResults, schema, query, hr, event)  # hr_admin may: projected
    assert event.projected and not mine[1] and mine[0]["resultPublished"]["employeeNo"] == event.employee_no


@pytest.mark.parametrize("name", sorted(LEFT_TO_THE_EXECUTOR))
def test_what_the_projection_does_not_handle_is_left_to_the_executor(schema: strawberry.Schema, name: str) -> None:
    query = "subscription { " + LEFT_TO_THE_EXECUTOR[name] + " }"
    executor = ProjectedEventResults.build(schema._schema, parse(query))
    assert isinstance(executor, ProjectedEventResults)
    assert compile_projection(executor) is None
    shaped = ProjectedEventResults.build(schema._schema, parse(document(SHAPE)))
    assert isinstance(shaped, ProjectedEventResults) and compile_projection(shaped) is not None


async def test_subscribers_with_the_same_selection_share_one_answer_encoded_once(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> None:
    """Two documents that differ only in their variables and the principal's role: one answer, one encoding;
    the message sent is the JSON of the same message."""
    people = principals(org)
    event = (await events_of(Context(settings, sessionmaker, TODAY, people["hr_admin"], request_id="p")))[0]
    answers = []
    other = "subscription { resultPublished { " + SHAPE + " } }"
    for role, query in (("payroll", document(SHAPE)), ("training", other)):
        principal: Principal = people[role]
        context = Context(settings, sessionmaker, TODAY, principal, request_id="p")
        executor = ProjectedEventResults.build(schema._schema, parse(query), context_value=context)
        assert isinstance(executor, ProjectedEventResults)
        answers.append(executor.build_per_event_executor(event).execute_operation(False))
    assert answers[0] is answers[1] and len(event.projected) == 1
    assert isinstance(answers[0], ExecutionResult)
    data = answers[0].data
    assert isinstance(data, EncodedData) and data.json() is data.json()
    message = {"id": "7", "type": "next", "payload": {"data": data}}
    # Strawberry's compact JSON, but for characters outside ASCII, written as UTF-8 rather than escaped.
    assert _encoded_once(message) == json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    assert _encoded_once({"id": "7", "type": "next", "payload": {"data": dict(data)}}) is None


async def test_an_executed_answer_is_shared_by_one_token_never_between_two(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> None:
    """A selection the projection leaves to graphql-core (``result { ... }``) is executed once per event for alike
    subscribers: alike meant the same roles, grants and employee number, so a second payroll token got the first
    one's answer and its reads were never audited under its own subject (review finding 2)."""
    people = principals(org)
    event = (await events_of(Context(settings, sessionmaker, TODAY, people["hr_admin"], request_id="p")))[0]
    # One parsed document, as the hub's parser cache gives every subscription of the same text.
    parsed = parse(document("type result { totalScore employee { employeeNo } }"))
    payroll = people["payroll"]
    tokens = (payroll, payroll, dataclasses.replace(payroll, subject=payroll.subject + "-other"))
    answers = []
    for principal in tokens:
        context = Context(settings, sessionmaker, TODAY, principal, request_id="p")
        executor = ProjectedEventResults.build(schema._schema, parsed, context_value=context)
        assert isinstance(executor, ProjectedEventResults)
        answer = executor.build_per_event_executor(event).execute_operation(False)
        answers.append(await answer if inspect.isawaitable(answer) else answer)
    assert answers[0] is answers[1], "one token's subscriptions share the event's answer"
    assert answers[2] is not answers[0], "another token's answer is its own"
    first, other = answers[0], answers[2]
    assert isinstance(first, ExecutionResult) and isinstance(other, ExecutionResult)
    assert other.data == first.data
