"""Registering a record class as a GraphQL type (schema/values.py) leaves the record working as before."""

from __future__ import annotations

import dataclasses

import pytest
import strawberry

from schema.values import input_type, object_type


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    id: str
    value: float
    note: str | None = None
    source: str = dataclasses.field(default="", compare=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Narrowing:
    post_id: str | None = None
    family: str | None = None


object_type(Reading, name="Reading", fields={"value": "In points."}, ids={"id"}, hidden={"source"})
input_type(Narrowing, name="Narrowing", ids={"post_id"})


@strawberry.type
class Query:
    reading: Reading

    @strawberry.field
    def narrowed(self, narrowing: Narrowing) -> str:
        return f"{narrowing.post_id}/{narrowing.family}"


SCHEMA = strawberry.Schema(Query)


def test_a_registered_record_keeps_its_constructor_equality_and_frozenness() -> None:
    assert Reading("r1", 2.0) == Reading(id="r1", value=2.0, note=None, source="elsewhere")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Reading("r1", 2.0).value = 3.0  # type: ignore[misc]


def test_registration_says_the_name_descriptions_ids_and_hidden_fields() -> None:
    assert 'type Reading {\n  id: ID!\n\n  """In points."""\n  value: Float!\n  note: String\n}' in str(SCHEMA)


def test_an_input_keeps_the_defaults_a_slotted_record_declares() -> None:
    assert "input Narrowing {\n  postId: ID = null\n  family: String = null\n}" in str(SCHEMA)
    result = SCHEMA.execute_sync('{ narrowed(narrowing: {postId: "7"}) }')
    assert result.data == {"narrowed": "7/None"}


def test_a_field_the_record_does_not_have_is_an_error() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Plain:
        name: str

    with pytest.raises(TypeError, match="Plain has no field nmae"):
        object_type(Plain, name="Plain", fields={"nmae": "A typo."})
