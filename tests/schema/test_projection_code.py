"""The projection's per-event costs, counted: the generated completion calls only what a value needs
(``schema.projection_code``), a field rule is checked per event only for a principal whose roles do not decide
it (``schema.event_projection``), and the stream reads the clock for the token's expiry once a slice, not once
an event (``resolvers.events``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import AsyncIterator
from operator import attrgetter
from typing import Any

import pytest
import strawberry
from graphql import parse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from resolvers import events as event_stream
from resolvers.context import Context
from resolvers.event_results import EncodedData
from resolvers.events import DeliveredEvent
from schema import build_schema
from schema.event_projection import ProjectedEventResults, Projection
from schema.permissions import RuleCheck
from schema.projection_code import Field, MemberNames, Unprojectable, object_completion, reads_attribute
from tests.conftest import TODAY
from tests.schema.conftest import Org, Streams
from tests.schema.test_event_projection import SHAPE, document
from tests.schema.test_outbox_fanout import principals


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@dataclasses.dataclass
class Record:
    name: object
    score: object
    count: object


def counted(calls: list[str], key: str) -> Any:
    def complete(value: object) -> object:
        calls.append(key)
        return f"completed {value}"

    return complete


def fields(calls: list[str]) -> list[Field]:
    return [
        Field("name", attrgetter("name"), counted(calls, "name"), attribute="name", fast=str),
        Field("score", attrgetter("score"), counted(calls, "score"), attribute="score", fast="float"),
        Field("count", attrgetter("count"), counted(calls, "count"), attribute="count", fast="int"),
        Field("__typename", lambda _: "Record", lambda value: value, constant="Record"),
    ]


def test_values_already_of_their_class_are_kept_without_a_call() -> None:
    calls: list[str] = []
    complete = object_completion("Record", fields(calls), non_null=True)
    assert complete(Record("a", 1.5, 2)) == {"name": "a", "score": 1.5, "count": 2, "__typename": "Record"}
    assert calls == []
    # Anything else goes to the field's completion, once: not a str, not a finite float, an int out of range.
    done = complete(Record(7, float("inf"), 2**31))
    assert calls == ["name", "score", "count"]
    assert done == {
        "name": "completed 7",
        "score": "completed inf",
        "count": "completed 2147483648",
        "__typename": "Record",
    }


def test_fields_without_an_attribute_are_read_by_their_reader_in_order() -> None:
    calls: list[str] = []
    reads: list[str] = []

    def reader(key: str) -> Any:
        def read(record: object) -> object:
            reads.append(key)
            return getattr(record, key)

        return read

    complete = object_completion(
        "Record",
        [
            Field("b", reader("score"), counted(calls, "b"), fast="float"),
            Field("a", reader("name"), counted(calls, "a")),
        ],
        non_null=False,
    )
    assert complete(Record("x", 2.0, 0)) == {"b": 2.0, "a": "completed x"}
    assert reads == ["score", "name"] and calls == ["a"]
    assert complete(None) is None


def test_null_where_the_object_is_non_null_and_names_that_are_not_graphql_names_are_unprojectable() -> None:
    complete = object_completion("Record", fields([]), non_null=True)
    with pytest.raises(Unprojectable):
        complete(None)
    with pytest.raises(Unprojectable):
        complete(ValueError("a resolver's error"))
    with pytest.raises(Unprojectable):
        object_completion("Record", [Field("a b", lambda r: r, lambda v: v)], non_null=False)


async def test_a_field_rule_is_checked_per_event_only_where_the_principals_roles_do_not_decide_it(
    schema: strawberry.Schema,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[object] = []
    check = RuleCheck.has_permission

    def counting(self: RuleCheck, source: object, info: Any, **kwargs: object) -> bool:
        checks.append(source)
        return check(self, source, info, **kwargs)

    monkeypatch.setattr(RuleCheck, "has_permission", counting)
    people = principals(org)
    for role, per_event in (("payroll", 0), ("manager", 1)):
        context = Context(settings, sessionmaker, TODAY, people[role], request_id="rules")
        events = await event_stream.result_events(context, None, 50)
        assert events
        executor = ProjectedEventResults.build(schema._schema, parse(document(SHAPE)), context_value=context)
        assert isinstance(executor, ProjectedEventResults)
        checks.clear()
        for event in events:
            fresh = dataclasses.replace(event, answers={}, projected={})
            answer = executor.build_per_event_executor(fresh).execute_operation(False)
            assert not getattr(answer, "errors", None)
        assert len(checks) == per_event * len(events), role


async def test_the_stream_reads_the_clock_for_the_token_once_a_slice(
    schema: strawberry.Schema,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a slice longer than the test, a batch of events costs one check of the token; with slices of no
    length, one an event (what every event cost before)."""
    people = principals(org)
    context = Context(settings, sessionmaker, TODAY, people["hr_admin"], request_id="clock")
    count = len(await event_stream.result_events(context, None, 500))
    assert count > 5
    checked: list[dt.datetime] = []
    check = event_stream._check_principal

    def counting(ctx: Context, now: dt.datetime) -> None:
        checked.append(now)
        check(ctx, now)

    monkeypatch.setattr(event_stream, "_check_principal", counting)
    query = "subscription { resultPublished { eventId } }"
    for slice_seconds, least, most in ((3600.0, 1, 1), (0.0, count, count + 1)):
        monkeypatch.setattr(event_stream, "SLICE_SECONDS", slice_seconds)
        checked.clear()
        subscriber = Context(settings, sessionmaker, TODAY, people["hr_admin"], request_id="clock")
        stream = await schema.subscribe(query, context_value=subscriber)
        assert isinstance(stream, AsyncIterator)
        try:
            for _ in range(count):
                result = await anext(stream)
                assert not result.errors
        finally:
            await stream.aclose()
        assert least <= len(checked) <= most, (slice_seconds, len(checked))


@dataclasses.dataclass
class Dated:
    key: object
    day: object
    inner: Record


def test_ids_and_iso_dates_are_written_without_a_call_and_attribute_paths_are_read_as_one() -> None:
    calls: list[str] = []
    complete = object_completion(
        "Dated",
        [
            Field("key", attrgetter("key"), counted(calls, "key"), attribute="key", fast="id"),
            Field("day", attrgetter("day"), counted(calls, "day"), attribute="day", fast="isoformat"),
            Field("name", attrgetter("inner.name"), counted(calls, "name"), attribute="inner.name", fast=str),
        ],
        non_null=True,
    )
    moment = dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC)
    # As graphql-core's ID and strawberry's Date and DateTime write them: an int as its digits, a date as ISO.
    assert complete(Dated(12, dt.date(2026, 7, 1), Record("a", 0, 0))) == {
        "key": "12",
        "day": "2026-07-01",
        "name": "a",
    }
    assert complete(Dated("E1", moment, Record("b", 0, 0))) == {"key": "E1", "day": moment.isoformat(), "name": "b"}
    assert calls == []
    # Anything else still goes to the field's own completion: a float id, a string where a date belongs.
    assert complete(Dated(1.5, "2026-07-01", Record(3, 0, 0))) == {
        "key": "completed 1.5",
        "day": "completed 2026-07-01",
        "name": "completed 3",
    }
    assert calls == ["key", "day", "name"]


def test_an_attribute_path_is_made_of_names_only() -> None:
    with pytest.raises(ValueError, match="not an attribute path"):
        reads_attribute("contents.__class__; import os")
    with pytest.raises(ValueError, match="not an attribute path"):
        reads_attribute("contents.class")
    # A path with a name that is not one is not written into the source: the field's reader reads it.
    complete = object_completion("Record", [Field("a", attrgetter("name"), str, attribute="a.b c")], non_null=False)
    assert complete(Record("x", 0, 0)) == {"a": "x"}


async def test_a_streams_answers_are_made_a_run_ahead_and_each_once(
    streams: Streams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the first event of a run is sent, the answers of the whole run are made (``Preparation``), so that
    projecting and sending do not take turns event by event; no answer is made twice."""
    hr_admin = principals(streams.org)["hr_admin"]
    context = streams.context(hr_admin, request_id="ahead")
    count = len(await event_stream.result_events(context, None, 500))
    run = 4
    assert count > run + 1
    monkeypatch.setattr(event_stream, "PREPARED_AHEAD", run)
    made: list[int] = []
    data = Projection.data

    def counting(projection: Projection, event: DeliveredEvent) -> EncodedData:
        made.append(event.id)
        return data(projection, event)

    monkeypatch.setattr(Projection, "data", counting)
    subscriber = streams.context(hr_admin, request_id="ahead")
    stream = await streams.schema.subscribe(document(SHAPE), context_value=subscriber)
    assert isinstance(stream, AsyncIterator)
    try:
        first = await anext(stream)
        assert not first.errors
        assert len(made) == run  # the first run's answers, before the first was sent
        for _ in range(count - 1):
            assert not (await anext(stream)).errors
    finally:
        await stream.aclose()
    assert len(made) == len(set(made)) == count


class Shade(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


def test_an_enum_member_is_written_as_its_name_without_a_call() -> None:
    calls: list[str] = []
    names = MemberNames(Shade, {Shade.LIGHT: "LIGHT", Shade.DARK: "DARK"})
    complete = object_completion(
        "Record", [Field("shade", attrgetter("name"), counted(calls, "shade"), attribute="name", fast=names)], True
    )
    assert complete(Record(Shade.DARK, 0, 0)) == {"shade": "DARK"}
    assert calls == []
    # Not a member of the class (its value, another enum's member): the field's own completion.
    assert complete(Record("dark", 0, 0)) == {"shade": "completed dark"}
    assert calls == ["shade"]
