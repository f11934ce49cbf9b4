"""The API's enums: the domain's own enumerations, registered with strawberry under their names.

Registering the domain classes themselves (rather than copies) lets resolvers return domain values
and the schema annotate fields with the same types.
"""

from __future__ import annotations

import strawberry

from hub.domain import (
    CycleState,
    CycleWarningCode,
    Direction,
    EmployeeStatus,
    Grade,
    GroupDimension,
    IndicatorCategory,
    MissingPolicy,
    NominationState,
    RaterRole,
)

__all__ = [
    "CycleState",
    "CycleWarningCode",
    "Direction",
    "EmployeeStatus",
    "Grade",
    "GroupDimension",
    "IndicatorCategory",
    "MissingPolicy",
    "NominationState",
    "RaterRole",
]

# Every enum listed is registered, under its own name.
for _name in __all__:
    strawberry.enum(globals()[_name])
