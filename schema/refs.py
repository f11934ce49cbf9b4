"""References to the object types that refer to each other across modules, defined once.

An employee has results and a result has an employee; a post has scheme versions and a scheme version a
post. Each module imports the other's types through these lazy references, which strawberry resolves when
the schema is built (every module is loaded by then), so no two modules import each other at load time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from schema.indicators import IndicatorVersion, SchemeVersion
    from schema.organisation import Department, Employee, Post
    from schema.ratings import ReceivedRating, WithheldRatings
    from schema.results import AppraisalResult
    from schema.trends import EmployeeTrendPoint

DepartmentRef = Annotated["Department", strawberry.lazy("schema.organisation")]
EmployeeRef = Annotated["Employee", strawberry.lazy("schema.organisation")]
PostRef = Annotated["Post", strawberry.lazy("schema.organisation")]
IndicatorVersionRef = Annotated["IndicatorVersion", strawberry.lazy("schema.indicators")]
SchemeVersionRef = Annotated["SchemeVersion", strawberry.lazy("schema.indicators")]
AppraisalResultRef = Annotated["AppraisalResult", strawberry.lazy("schema.results")]
ReceivedRatingRef = Annotated["ReceivedRating", strawberry.lazy("schema.ratings")]
WithheldRatingsRef = Annotated["WithheldRatings", strawberry.lazy("schema.ratings")]
EmployeeTrendPointRef = Annotated["EmployeeTrendPoint", strawberry.lazy("schema.trends")]
