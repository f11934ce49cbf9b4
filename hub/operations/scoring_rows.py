"""Scoring's rows, built one slice of participants at a time, as tuples in their table's column order.

A cycle of 100,000 employees x 10 indicators is a million indicator-score rows: built all at once they took
about a gigabyte before the first was written (issue 16). Their results cannot be written before every total is
known (ranks and percentiles compare each total with the whole post and department), so the indicator scores
of each slice wait on disk (:class:`ScoreSpool`, pickled, a slice at a time) while the next slices are read
and scored, and are read back a slice at a time once their results are written. Tuples, not dicts: PostgreSQL's
COPY takes them as they are, and the SQLite path makes its dicts a chunk at a time.
"""

from __future__ import annotations

import datetime as dt
import pickle
import tempfile
from collections.abc import Sequence
from typing import IO, TypeAlias

from hub.appraisal import EmployeeScore, Placement, Standing
from hub.domain import Grade, RaterRole
from hub.operations.scoring_inputs import MeasuredValue

RESULT_COLUMNS = (
    "cycle_id",
    "employee_id",
    "post_id",
    "department_id",
    "scheme_version_id",
    "total_score",
    "grade",
    "rank_in_post",
    "percentile_in_post",
    "rank_in_department",
    "percentile_in_department",
    "calibrated",
    "computed_total",
    "computed_grade",
    "computed_at",
)
SCORE_COLUMNS = (
    "result_id",
    "indicator_version_id",
    "raw_value",
    "normalized_score",
    "weight",
    "effective_weight",
    "weighted_score",
    "provenance_system",
    "provenance_metric",
    "provenance_fetched_at",
    "provenance_stale",
    "provenance_checksum",
    "inputs",
)

ResultTuple: TypeAlias = tuple[
    int, int, int, int, int, float, Grade, int | None, float | None, int | None, float | None, bool, float, Grade,
    dt.datetime,
]  # fmt: skip
"""An ``appraisal_results`` row in :data:`RESULT_COLUMNS` order (its id is given when it is written)."""
ScoreTuple: TypeAlias = tuple[
    int, int, float | None, float | None, float, float | None, float | None, str | None, str | None,
    dt.datetime | None, bool, str | None, dict[str, float] | None,
]  # fmt: skip
"""An ``indicator_scores`` row in :data:`SCORE_COLUMNS` order, but for its first column: the employee's id until
their result is written and has an id (:meth:`ScoreSpool.slices` puts the result's id in its place)."""


def rating_inputs(by_role: dict[RaterRole, float] | None) -> dict[str, float] | None:
    """The ``inputs`` of a people-rated item: the mean rating per rater role, by the role's value."""
    return None if by_role is None else {role.value: mean for role, mean in by_role.items()}


def result_rows(
    cycle_id: int,
    placements: Sequence[Placement],
    standings: dict[int, Standing],
    pins: dict[int, int],
    computed_at: dt.datetime,
) -> list[ResultTuple]:
    """The appraisal_results rows of ``placements`` (a slice of them), one per scored participant."""
    rows: list[ResultTuple] = []
    for placement in placements:
        standing = standings[placement.employee_id]
        rows.append(
            (
                cycle_id,
                placement.employee_id,
                placement.post_id,
                placement.department_id,
                pins[placement.post_id],
                placement.total,
                standing.grade,
                standing.rank_in_post,
                standing.percentile_in_post,
                standing.rank_in_department,
                standing.percentile_in_department,
                False,
                placement.total,
                standing.grade,
                computed_at,
            )
        )
    return rows


def score_rows(
    scores: dict[int, EmployeeScore],
    weights_of: dict[int, tuple[float, ...]],
    metrics: dict[tuple[int, int], MeasuredValue],
    rated: dict[tuple[int, int], dict[RaterRole, float]],
) -> list[ScoreTuple]:
    """The indicator_scores rows of a slice: each item of each result (``scores``, by employee id; ``weights_of``
    the weights of each one's scheme), with its weights and provenance (``metrics``), or the rating means per role
    it combined (``rated``)."""
    rows: list[ScoreTuple] = []
    for employee_id, outcome in scores.items():
        for item, weight in zip(outcome.items(), weights_of[employee_id], strict=True):
            key = (employee_id, item.indicator_version_id)
            metric = metrics.get(key)
            kept = item.normalized is not None
            rows.append(
                (
                    employee_id,
                    item.indicator_version_id,
                    item.raw,
                    item.normalized,
                    weight,
                    item.effective_weight if kept else None,
                    item.weighted if kept else None,
                    metric.system if metric else None,
                    metric.metric if metric else None,
                    metric.fetched_at if metric else None,
                    bool(metric.stale) if metric else False,
                    metric.checksum if metric else None,
                    rating_inputs(rated.get(key)),
                )
            )
    return rows


class ScoreSpool:
    """The indicator-score rows of every slice, pickled to an anonymous temporary file, a slice per record.

    The file is deleted by the system when closed (also when the process dies). Written and read in worker
    threads (:func:`asyncio.to_thread`): pickling a slice of 50,000 rows is tens of milliseconds."""

    def __init__(self) -> None:
        # closed by close(), which scoring calls in a finally
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="perfhub-scores-")  # noqa: SIM115
        self.slices = 0
        self.rows = 0

    def add(self, rows: list[ScoreTuple]) -> None:
        pickle.dump(rows, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.slices += 1
        self.rows += len(rows)

    def rewind(self) -> None:
        self._file.seek(0)

    def next_slice(self, result_ids: dict[int, int]) -> list[ScoreTuple]:
        """The next slice written, each row's employee id replaced by the id of their result."""
        rows: list[ScoreTuple] = pickle.load(self._file)  # our own file, written by add()
        return [(result_ids[row[0]], *row[1:]) for row in rows]

    def close(self) -> None:
        self._file.close()
