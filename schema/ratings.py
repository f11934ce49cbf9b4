"""Ratings as the ratee reads them: peer raters stay anonymous."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from hub.domain import RaterRole
from hub.operations.ratings import ANONYMOUS_ROLES
from resolvers.loaders.base import Record
from schema.indicators import IndicatorVersion
from schema.info import Info

if TYPE_CHECKING:
    from schema.organisation import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("schema.organisation")]


@strawberry.type(description="A rating an employee received in a cycle.")
class ReceivedRating:
    role: RaterRole
    value: float
    comment: str | None
    submitted_at: dt.datetime

    @strawberry.field
    async def indicator_version(self, root: strawberry.Parent[Record], info: Info) -> IndicatorVersion:
        return await info.context.loaders.indicator_version_by_id.load(root.indicator_version_id)

    @strawberry.field(description="Who rated; null for peers, whose ratings are anonymous.")
    async def rater(self, root: strawberry.Parent[Record], info: Info) -> EmployeeRef | None:
        if root.role in ANONYMOUS_ROLES:
            return None
        return await info.context.loaders.employee_by_id.load(root.rater_id)
