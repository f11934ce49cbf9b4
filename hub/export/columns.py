"""What each export holds: its columns, their Arrow types and units, as both formats state them."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

SCORE = "points 0-100"
"""The unit of every score on the common scale (a total, an indicator's normalised score)."""
PERCENT = "percent"
PERCENTILE = "percentile rank 0-100"


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: CSV writes ``header`` (the name and its unit), Parquet the name with the unit and
    the description as field metadata."""

    name: str
    type: pa.DataType
    description: str
    unit: str | None = None
    rounded: bool = False
    """Shown rounded half-up to two decimals, as the API shows it (the database keeps it exact)."""

    @property
    def header(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def field(self) -> pa.Field[pa.DataType]:
        metadata = {"description": self.description, **({"unit": self.unit} if self.unit else {})}
        return pa.field(self.name, self.type, nullable=True, metadata=metadata)


def _text(name: str, description: str) -> Column:
    return Column(name, pa.string(), description)


def _score(name: str, description: str, unit: str = SCORE) -> Column:
    return Column(
        name, pa.float64(), description + " Rounded half-up to two decimals, as the API shows it.", unit, True
    )


_WITHHELD = "Empty for an analyst without the names grant where fewer than the minimum group size were scored in "
_RANK = (
    _WITHHELD + "the result's department and post, or in any department and post of the group ranked; empty for "
    "a result scored without any rating."
)

RESULTS: tuple[Column, ...] = (
    _text(
        "result_id",
        "The result's id as the API gives it to this caller (a keyed pseudonym for an analyst "
        "without the names grant).",
    ),
    _text("cycle_id", "The cycle's id."),
    _text("cycle_name", "The cycle's name."),
    _text("employee_id", "The employee's id as the API gives it to this caller (a pseudonym, as result_id)."),
    _text("employee_no", "The employee number; empty where the API would not show it to this caller."),
    _text("employee_name", "The employee's name; empty where the API would not show it to this caller."),
    _text("department_code", "The department the result was scored in. " + _WITHHELD + "it."),
    _text("department_name", "The department the result was scored in. " + _WITHHELD + "it."),
    _text("post_code", "The post the result was scored in. " + _WITHHELD + "its department and post."),
    _text("post_name", "The post the result was scored in. " + _WITHHELD + "its department and post."),
    _text("post_family", "The post's family. " + _WITHHELD + "its department and post."),
    _score("total_score", "The total, calibrated if it was."),
    _text("grade", "The grade (S, A, B, C, D), calibrated if it was."),
    _score("computed_total", "The total the engine computed, before calibration."),
    _text("computed_grade", "The grade the engine computed, before calibration."),
    Column("calibrated", pa.bool_(), "Whether calibration changed the engine's total or grade."),
    Column("rank_in_post", pa.int32(), "Rank among the complete results of the post (1 is best). " + _RANK, "rank"),
    _score("percentile_in_post", "Percentile rank within the post. " + _RANK, PERCENTILE),
    Column("rank_in_department", pa.int32(), "Rank within the department (1 is best). " + _RANK, "rank"),
    _score("percentile_in_department", "Percentile rank within the department. " + _RANK, PERCENTILE),
)

INDICATOR_SCORES: tuple[Column, ...] = (
    _text("result_id", "The result the score is part of (result_id of the results export)."),
    _text("cycle_id", "The cycle's id."),
    _text("indicator_code", "The indicator's code."),
    _text("indicator_name", "The indicator's name."),
    _text("indicator_category", "CORE (rated by people) or EXTENSION (measured by a business system)."),
    Column("indicator_version", pa.int32(), "The indicator version the result was scored on."),
    _text("unit", "The unit of raw_value (the indicator's unit; empty for a rating)."),
    Column("raw_value", pa.float64(), "The value as measured or rated, exactly as stored.", "see unit"),
    _score("normalized_score", "The raw value on the common scale."),
    Column("weight", pa.float64(), "The indicator's weight in the scheme.", PERCENT),
    _score("effective_weight", "The weight applied after re-weighting for missing data; empty when left out.", PERCENT),
    _score("weighted_score", "The indicator's part of the total.", "points of the total"),
)

DATASETS: dict[str, tuple[Column, ...]] = {"results": RESULTS, "indicator-scores": INDICATOR_SCORES}
"""Each export by the name of its path (``/export/<name>.csv``)."""
