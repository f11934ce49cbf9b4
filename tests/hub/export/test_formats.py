"""The export's pure parts: scores rounded exactly as the API shows them, and the API's filters as parameters."""

from __future__ import annotations

import dataclasses
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.appraisal.shown import shown_cents
from hub.export.columns import RESULTS
from hub.export.endpoint import ExportRefused
from hub.export.formats import two_decimals
from resolvers.errors import BadUserInput
from resolvers.export import FILTER_PARAMETERS, _parameter, parameters
from resolvers.filters import ResultFilter


@given(st.lists(st.one_of(st.none(), st.floats(min_value=-1000, max_value=1000)), max_size=50))
def test_a_column_is_rounded_to_the_value_the_api_shows(values: list[float | None]) -> None:
    """Vectorised rounding gives, value for value, the API's half-up rounding of the shortest repr."""
    rounded = two_decimals(pa.array(values, pa.float64())).to_pylist()
    assert rounded == [None if value is None else float(shown_cents(value)) for value in values]


def test_values_on_a_half_cent_round_up_as_people_read_them() -> None:
    """2.675 is 2.67499999... in binary: the API shows 2.68, and so does the export."""
    assert two_decimals(pa.array([2.675, 1.005, 42.50000000000001, 0.125], pa.float64())).to_pylist() == [
        2.68,
        1.01,
        42.5,
        0.13,
    ]


def test_every_field_of_the_apis_result_filter_is_an_export_parameter() -> None:
    """A filter the results query takes is a query parameter of the export, by the same GraphQL name."""
    names = {field.name for field in dataclasses.fields(ResultFilter)}
    assert {field for field, _ in FILTER_PARAMETERS.values()} == names
    cycle, filter_ = parameters({"cycleId": ["3"], "postFamily": ["FINANCE"], "minScore": ["70.5"], "grade": ["A"]})
    assert (cycle, filter_.post_family, filter_.min_score, filter_.grade) == (3, "FINANCE", 70.5, "A")


@pytest.mark.parametrize(
    ("given_parameters", "named"),
    [
        ({"cycleId": ["1", "2"]}, "cycleId"),
        ({"cycleId": ["1"], "grade": ["A", "B"]}, "grade"),
        ({"cycleId": ["1"], "maxScore": ["inf"]}, "maxScore"),
        ({"cycleId": ["1"], "departmentid": ["2"]}, "departmentid"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(given_parameters: dict[str, list[str]], named: str) -> None:
    """A parameter given twice, not finite, or unknown (names are case-sensitive, as in GraphQL) is 400 naming it."""
    with pytest.raises(ExportRefused) as refused:
        parameters(given_parameters)
    assert (refused.value.status, refused.value.parameter) == (400, named)


@pytest.mark.parametrize(
    ("given_parameters", "message"),
    [
        ({}, "'cycleId' is required: a cycle's id, as the API gives it"),
        ({"cycleId": ["1", "2"]}, "'cycleId' is given 2 times; it is required once"),
        ({"cycleId": ["abc"]}, "'cycleId' is not a cycle id: 'abc'"),
        ({"cycleId": ["99999999999"]}, "'cycleId' is not a cycle id: '99999999999'"),
    ],
)
def test_a_bad_cycle_id_is_refused_saying_what_is_wrong_with_it(
    given_parameters: dict[str, list[str]], message: str
) -> None:
    """Missing, repeated and malformed are three mistakes, each said as it is."""
    with pytest.raises(ExportRefused) as refused:
        parameters(given_parameters)
    assert (refused.value.status, refused.value.parameter, refused.value.message) == (400, "cycleId", message)


def test_a_refusal_of_a_filter_field_names_its_parameter() -> None:
    """The API refuses the ``filter`` argument naming the field ('filter.minScore'): the export names the
    parameter; a refusal of the filter as a whole still names the filter parameters."""
    threshold = BadUserInput("'filter.minScore' is not for analysts without the names grant", argument="filter")
    assert _parameter(threshold) == "minScore"
    whole = BadUserInput("'filter' selects fewer people than the minimum group size", argument="filter")
    assert _parameter(whole) == "the filter parameters"
    assert _parameter(BadUserInput("no", argument="cycleId")) == "cycleId"


def test_parquet_fields_carry_their_unit_and_description() -> None:
    """Each exported column's unit is field metadata that a Parquet reader finds."""
    schema = pa.schema([column.field() for column in RESULTS])
    sink = io.BytesIO()
    pq.write_table(schema.empty_table(), sink)
    read = pq.read_schema(io.BytesIO(sink.getvalue()))
    assert (read.field("total_score").metadata or {})[b"unit"] == b"points 0-100"
    assert b"unit" not in (read.field("grade").metadata or {})
