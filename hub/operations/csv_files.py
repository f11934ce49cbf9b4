"""What the two CSV imports (metric values, the organisation) check alike: the header, each record's
width and a file without rows, with the same words, so that a mistake reads the same in either file."""

from __future__ import annotations

from collections.abc import Sequence

from hub.operations.errors import RowProblem

NO_ROWS = "the file has a header but no rows"


def header_problems(header: Sequence[str], required: Sequence[str], optional: Sequence[str]) -> list[str]:
    """Missing, unknown and repeated columns of ``header`` (lower-cased names), in that order."""
    found = {
        "missing column(s)": [column for column in required if column not in header],
        # A typo ("fetchedat", "hired") would otherwise be ignored silently.
        "unknown column(s)": [repr(column) for column in header if column not in (*required, *optional)],
        "repeated column(s)": sorted({column for column in header if header.count(column) > 1}),
    }
    return [f"{what} {', '.join(columns)}" for what, columns in found.items() if columns]


def width_problem(line: int, header: Sequence[str], fields: Sequence[str]) -> RowProblem | None:
    """A record with more or fewer fields than the header has columns."""
    if len(fields) == len(header):
        return None
    return RowProblem(line, f"expected {len(header)} fields, found {len(fields)}")
