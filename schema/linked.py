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
# A linked record is shown without the employee number the connector groups it by: it hangs off its employee.
for record, description in (
    (TrainingRecord, "A completed course, from the training system's learning record store."),
    (CompensationRecord, "A compensation change, from the payroll system."),
):
    object_type(record, name=record.__name__, description=description, ids={"id"}, hidden={"employee_number"})

__all__ = ["CompensationRecord", "TrainingRecord"]
