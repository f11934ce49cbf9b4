"""Records linked to employees from business systems: training (xAPI) and compensation (payroll).

The connectors' own records are the GraphQL types (see ``schema/values.py``): what a connector reads
is what the API shows, field for field, less the employee number the records are grouped by.
"""

from __future__ import annotations

from connectors.base import CompensationRecord, Provenance, TrainingRecord
from schema.values import object_type

object_type(
    Provenance,
    name="RecordProvenance",
    description="Where linked records came from, and whether they are a cached answer.",
    fields={
        "stale": "True when the system was down and a cached answer was served.",
        "retried": "True when the answer needed more than one attempt.",
    },
)
object_type(
    TrainingRecord,
    name="TrainingRecord",
    description="A completed course, from the training system's learning record store.",
    ids={"id"},
    hidden={"employee_number"},
)
object_type(
    CompensationRecord,
    name="CompensationRecord",
    description="A compensation change, from the payroll system.",
    ids={"id"},
    hidden={"employee_number"},
)

__all__ = ["CompensationRecord", "TrainingRecord"]
