"""Insider review, bad input: every string argument is checked for NUL, lone surrogates and its length
before it reaches SQL, and a document with several operations must name the one to run.

Found by a curious insider on main: a lone surrogate or NUL in ``nameContains``, ``postFamily``,
``auditLog(subject)``, a comment or a cycle name was an internal error; on SQLite a NUL in ``nameContains``
matched every row in scope; a 50,000-character ``nameContains`` made SQLite work for nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLScalarType,
    get_nullable_type,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.cli import main
from hub.db.models import AuditEntry
from hub.demo.organisation import SeedSummary
from schema import build_schema
from tests.conftest import GraphQLClient

NUL = "a\x00b"
LONE_SURROGATE = "a\ud800b"
TOO_LONG = "x" * 50_000
BAD_STRINGS = {"NUL": NUL, "lone surrogate": LONE_SURROGATE, "50,000 characters": TOO_LONG}


def _cases() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(argument, document, variable holding the string, other variables) for every kind of string argument."""
    return [
        ("nameContains", "query($s: String) { employees(filter: {nameContains: $s}) { totalCount } }", "s", {}),
        ("postFamily", "query($s: String) { employees(filter: {postFamily: $s}) { totalCount } }", "s", {}),
        ("subject", "query($s: String) { auditLog(subject: $s) { totalCount } }", "s", {}),
        ("operation", "query($s: String) { auditLog(operation: $s) { totalCount } }", "s", {}),
        ("after", "query($s: String) { employees(after: $s) { totalCount } }", "s", {}),
        ("id", "query($s: ID!) { employee(id: $s) { id } }", "s", {}),
        (
            "name",
            'mutation($s: String!) { cycleCreate(input: {name: $s, periodStart: "2027-01-01", '
            'periodEnd: "2027-03-31"}) { __typename } }',
            "s",
            {},
        ),
        ("reason", 'mutation($s: String!) { cycleReopen(cycleId: "1", reason: $s) { __typename } }', "s", {}),
        (
            "comment",
            'mutation($s: String) { ratingSubmit(input: {cycleId: "1", rateeId: "1", raterId: "1", '
            'indicatorVersionId: "1", value: 3, comment: $s}) { __typename } }',
            "s",
            {},
        ),
    ]


CASES = _cases()


def beyond_the_audit(statements: list[str]) -> list[str]:
    """The statements that are neither the audit entry of a refused mutation nor the write timeout its
    transaction starts with on PostgreSQL (``SET LOCAL statement_timeout``, hub/db/engine.py)."""
    return [s for s in statements if "audit_entries" not in s and not s.startswith("SET LOCAL statement_timeout")]


async def post(client: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Posts ASCII-escaped JSON, as browsers' JSON.stringify does: a lone surrogate travels as ``\\ud800``."""
    response = await client.http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables or {}}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("kind", sorted(BAD_STRINGS))
@pytest.mark.parametrize(("argument", "document", "variable", "others"), CASES, ids=[case[0] for case in CASES])
async def test_a_bad_string_is_bad_user_input_naming_the_argument_and_runs_no_sql(
    app_client: GraphQLClient, kind: str, argument: str, document: str, variable: str, others: dict[str, Any]
) -> None:
    app_client.sql.reset()
    body = await post(app_client, document, {**others, variable: BAD_STRINGS[kind]})
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["argument"] == argument
    assert argument in error["message"]
    # Nothing but the audit entry of a refused mutation touched the database.
    assert beyond_the_audit(app_client.sql.statements) == []


async def test_a_string_written_in_the_document_is_checked_too(app_client: GraphQLClient) -> None:
    """A literal with a NUL escape is the same string as a variable holding it."""
    body = await app_client.execute('{ employees(filter: {nameContains: "a\\u0000b"}) { totalCount } }')
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "nameContains"}


async def test_on_sqlite_a_nul_no_longer_matches_every_row(app_client: GraphQLClient) -> None:
    """On main a NUL in nameContains matched every row in scope on SQLite (and failed on PostgreSQL)."""
    manager = app_client.as_principal("hr_admin")
    body = await manager.execute(
        "query($s: String) { employees(filter: {nameContains: $s}) { totalCount } }", {"s": "\x00"}
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["argument"] == "nameContains"


async def test_the_limits_leave_ordinary_strings_alone(app_client: GraphQLClient) -> None:
    """A 200-character filter, a 2,000-character reason and non-ASCII text are accepted."""
    data = await app_client.data(
        "query($s: String) { employees(filter: {nameContains: $s}) { totalCount } }", {"s": "é" * 200}
    )
    assert data["employees"]["totalCount"] == 0
    body = await app_client.execute(
        'mutation($s: String!) { cycleReopen(cycleId: "999", reason: $s) { __typename } }', {"s": "因" * 2000}
    )
    assert "errors" not in body, body
    assert body["data"]["cycleReopen"]["__typename"] == "NotFoundError"


async def test_a_refused_mutation_is_audited_with_the_value_bounded(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary
) -> None:
    """Every mutation call leaves an entry, a refused one too; what it keeps of the value is bounded."""
    body = await app_client.execute(
        'mutation($s: String!) { cycleReopen(cycleId: "1", reason: $s) { __typename } }', {"s": TOO_LONG}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    async with sessionmaker() as session:
        entries = (await session.execute(select(AuditEntry).where(AuditEntry.operation == "cycleReopen"))).scalars()
        [entry] = list(entries)
    assert entry.outcome == "BAD_USER_INPUT"
    assert entry.ids == ["reason:" + "x" * 64 + "...(50000 chars)"]


async def test_several_operations_without_an_operation_name_are_refused(
    app_client: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """strawberry ran the first operation; now the client must say which one it means (HTTP; WebSocket in
    test_tokens' served tests)."""
    async with sessionmaker() as session:
        before = (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    document = (
        'mutation A { cycleCreate(input: {name: "x", periodStart: "2027-01-01", periodEnd: "2027-03-31"}) '
        "{ __typename } } query B { cycles { id } }"
    )
    body = await app_client.execute(document)
    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    assert "A, B" in body["errors"][0]["message"]
    async with sessionmaker() as session:
        after = (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert after == before  # the mutation did not run
    named = await app_client.http.post("/graphql", json={"query": document, "operationName": "B"})
    assert "errors" not in named.json()
    assert named.json()["data"]["cycles"]


# --- CSV numbers and timestamps ------------------------------------------------------------------------

IMPORT = """mutation($cycle: ID!, $csv: String!) { metricValuesImport(cycleId: $cycle, csv: $csv) {
  __typename ... on ImportRejectedError { code problems { line message } } } }"""


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1_0", "is not a number"),
        ("١٢", "is not a number"),  # Arabic-Indic digits: float() reads them as 12
        ("\uff11\uff12", "is not a number"),  # full-width digits
        ("inf", "is not a finite number"),
        ("nan", "is not a finite number"),
        ("1e400", "is not a finite number"),
        ("1e-400", "is too small to store: it would be stored as 0"),  # was stored as 0 (insider review)
    ],
)
async def test_a_csv_value_is_ascii_decimal_notation_only(
    app_client: GraphQLClient, seeded: SeedSummary, cell: str, expected: str
) -> None:
    csv = f"employee_no,indicator,value\nE000001,VOUCHER_ERROR_RATE,{cell}\n"
    data = await app_client.data(IMPORT, {"cycle": str(seeded.current_cycle_id), "csv": csv})
    answer = data["metricValuesImport"]
    assert answer["__typename"] == "ImportRejectedError"
    assert answer["problems"] == [{"line": 2, "message": f"value {cell!r} {expected}"}]


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_a_fetched_at_out_of_range_is_a_row_error(
    app_client: GraphQLClient, seeded: SeedSummary, at: str
) -> None:
    """On main such a time reached the database and failed there: an internal error."""
    csv = f"employee_no,indicator,value,fetched_at\nE000001,VOUCHER_ERROR_RATE,1.5,{at}\n"
    data = await app_client.data(IMPORT, {"cycle": str(seeded.current_cycle_id), "csv": csv})
    [problem] = data["metricValuesImport"]["problems"]
    assert problem == {"line": 2, "message": f"fetched_at {at!r} is out of range"}


# --- The command line ----------------------------------------------------------------------------------


def _one_line_refusal(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_the_cli_refuses_a_missing_file_in_one_line(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.csv"
    line = _one_line_refusal(capsys, ["--database-url", database_url, "import-metrics", str(missing), "--cycle", "2"])
    assert line == f"perfhub import-metrics: {missing}: No such file or directory"


def test_the_cli_refuses_a_file_that_is_not_utf8_in_one_line(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("employee_no,indicator,value\nE000001,VOUCHER_ERROR_RATE,1\nRenée,X,1\n".encode("latin-1"))
    line = _one_line_refusal(capsys, ["--database-url", database_url, "import-metrics", str(latin1), "--cycle", "2"])
    assert line.startswith(f"perfhub import-metrics: {latin1}: not UTF-8 text (byte 0xe9 at offset")


@pytest.mark.parametrize("cycle", ["99999999999", "x", "-1"])
def test_the_cli_refuses_a_cycle_that_is_no_id_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cycle: str
) -> None:
    """A cycle id past 32 bits reached PostgreSQL's driver and failed there with a traceback."""
    csv = tmp_path / "values.csv"
    csv.write_text("employee_no,indicator,value\n", encoding="utf-8")
    line = _one_line_refusal(capsys, ["import-metrics", str(csv), "--cycle", cycle])
    assert line.startswith("perfhub import-metrics: argument --cycle:")


# --- Every string argument of the schema, today's and tomorrow's ---------------------------------------


def _value(kind: GraphQLInputType, bad: str) -> Any:
    """A value of ``kind`` whose every string (String, ID, at any depth of input objects) is ``bad``."""
    nullable = get_nullable_type(kind)
    if isinstance(nullable, GraphQLList):
        return [_value(nullable.of_type, bad)]
    if isinstance(nullable, GraphQLInputObjectType):
        return {name: _value(field.type, bad) for name, field in nullable.fields.items()}
    if isinstance(nullable, GraphQLEnumType):
        return next(iter(nullable.values))
    assert isinstance(nullable, GraphQLScalarType)
    return {"String": bad, "ID": bad, "Int": 1, "Float": 1.0, "Boolean": True, "Date": "2027-01-01"}.get(
        nullable.name, {}
    )


def _has_string(kind: GraphQLInputType) -> bool:
    nullable = get_nullable_type(kind)
    if isinstance(nullable, GraphQLList):
        return _has_string(nullable.of_type)
    if isinstance(nullable, GraphQLInputObjectType):
        return any(_has_string(field.type) for field in nullable.fields.values())
    return isinstance(nullable, GraphQLScalarType) and nullable.name in ("String", "ID")


def _string_fields() -> list[tuple[str, str, dict[str, GraphQLInputType]]]:
    """(operation type, root field, its arguments) for every root field that takes a string somewhere."""
    schema = build_schema()._schema
    found = []
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        assert root is not None
        for name, field in root.fields.items():
            arguments = {argument: spec.type for argument, spec in field.args.items()}
            if any(_has_string(kind) for kind in arguments.values()):
                found.append((operation, name, arguments))
    return found


STRING_FIELDS = _string_fields()


@pytest.mark.parametrize(
    ("operation", "field", "arguments"), STRING_FIELDS, ids=[f"{op}.{field}" for op, field, _ in STRING_FIELDS]
)
async def test_every_string_argument_of_the_schema_refuses_a_nul(
    app_client: GraphQLClient, operation: str, field: str, arguments: dict[str, GraphQLInputType]
) -> None:
    """Walks the schema itself, so an argument added tomorrow is asked about too: a NUL in every string the
    field takes (arguments and input fields at any depth) is BAD_USER_INPUT, and nothing but the audit runs."""
    assert len(STRING_FIELDS) >= 20  # the walk found the schema's fields, not nothing
    declared = ", ".join(f"${name}: {kind}" for name, kind in arguments.items())
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    document = f"{operation}({declared}) {{ {field}({passed}) {{ __typename }} }}"
    app_client.sql.reset()
    body = await post(app_client, document, {name: _value(kind, NUL) for name, kind in arguments.items()})
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert beyond_the_audit(app_client.sql.statements) == []


@pytest.mark.parametrize("actor", ["a" * 201, "tab\there", ""])
def test_the_cli_refuses_an_actor_the_workflow_trail_cannot_hold_in_one_line(
    capsys: pytest.CaptureFixture[str], actor: str
) -> None:
    """`compute --actor` goes into a 200-character column: a longer one failed in PostgreSQL's driver."""
    line = _one_line_refusal(capsys, ["compute", "2", "--actor", actor])
    assert line.startswith("perfhub compute: argument --actor: must be printable text")
