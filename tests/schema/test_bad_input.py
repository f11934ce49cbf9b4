"""Malformed documents, bad variables and bad arguments get GraphQL errors naming the problem, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import GraphQLClient


async def test_syntax_error_names_the_problem(app_client: GraphQLClient) -> None:
    """A document that does not parse is rejected with the parser's message and location."""
    body = await app_client.execute("{ employees { edges { node { id } }")
    assert body["data"] is None
    assert "Syntax Error" in body["errors"][0]["message"]
    assert body["errors"][0]["locations"]


async def test_unknown_field_is_a_validation_error(app_client: GraphQLClient) -> None:
    """Asking for a field that does not exist names the field."""
    body = await app_client.execute("{ employees { edges { node { salary } } } }")
    assert "Cannot query field 'salary'" in body["errors"][0]["message"]


async def test_wrong_variable_type_is_named(app_client: GraphQLClient) -> None:
    """A variable of the wrong type is rejected before execution."""
    body = await app_client.execute("query($first: Int) { employees(first: $first) { totalCount } }", {"first": "ten"})
    assert "$first" in body["errors"][0]["message"]


@pytest.mark.parametrize("first", [-1, 501, 2**31 - 1])
async def test_page_size_out_of_range_is_bad_user_input(app_client: GraphQLClient, first: int) -> None:
    """`first` outside 0..500 is a BAD_USER_INPUT error on the argument."""
    body = await app_client.execute("query($f: Int) { employees(first: $f) { totalCount } }", {"f": first})
    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first"}
    assert "between 0 and 500" in error["message"]


# A result's cursor; an employee cursor with a number no 64-bit id can hold; a negative one.
@pytest.mark.parametrize(
    "cursor",
    ["garbage", "cmVzdWx0OjE=", "", "💥", "ZW1wbG95ZWU6OTk5OTk5OTk5OTk5OTk5OTk5OTk=", "ZW1wbG95ZWU6LTU="],
)
async def test_foreign_or_garbage_cursor_is_bad_user_input(app_client: GraphQLClient, cursor: str) -> None:
    """A cursor that this API did not hand out for employees is rejected, naming `after`."""
    body = await app_client.execute(
        "query($after: String) { employees(after: $after) { totalCount } }", {"after": cursor}
    )
    assert body["errors"][0]["extensions"]["argument"] == "after"


async def test_get_with_a_mutation_is_refused(app_client: GraphQLClient) -> None:
    """GET serves queries only; anything else is a 4xx, not a 500."""
    response = await app_client.http.get("/graphql", params={"query": "mutation { x }"})
    assert 400 <= response.status_code < 500


async def test_body_that_is_not_json_is_a_client_error(app_client: GraphQLClient) -> None:
    """A request body that is not JSON gets a 400."""
    response = await app_client.http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("id_", ["2147483648", "9007199254740993", "-1", "0x10"])
async def test_an_id_no_key_can_hold_is_an_unknown_id(app_client: GraphQLClient, id_: str) -> None:
    """Keys are 32-bit on PostgreSQL: a larger number names nothing, rather than failing in the driver."""
    data = await app_client.data("query($id: ID!) { employee(id: $id) { id } cycle(id: $id) { id } }", {"id": id_})
    assert data == {"employee": None, "cycle": None}
