"""Ratings as the ratee reads them: peer and subordinate raters stay anonymous, and are shown only in a crowd."""

from __future__ import annotations

import datetime as dt

import strawberry

from hub.domain import RaterRole
from hub.policy import ANONYMOUS_RATER_ROLES as ANONYMOUS_ROLES
from resolvers.records import RatingRow
from schema import fields
from schema.indicators import IndicatorVersion
from schema.record_fields import Relations
from schema.refs import EmployeeRef


@strawberry.type(description="A rating an employee received in a cycle.")
class ReceivedRating:
    role: RaterRole
    value: float
    comment: str | None

    @fields.field(
        description="When the rating was submitted; null for anonymous raters (peers, subordinates), whose "
        "timing could tell who they are."
    )
    def submitted_at(self, root: strawberry.Parent[RatingRow]) -> dt.datetime | None:
        return None if root.role in ANONYMOUS_ROLES else root.submitted_at

    indicator_version = Relations[RatingRow].load(
        IndicatorVersion, lambda loaders: loaders.indicator_version_by_id, lambda row: row.indicator_version_id
    )

    rater = Relations[RatingRow].load(
        EmployeeRef | None,
        lambda loaders: loaders.employee_by_id,
        lambda row: None if row.role in ANONYMOUS_ROLES else row.rater_id,
        description="Who rated; null for peers and subordinates, whose ratings are anonymous.",
    )


@strawberry.type(
    description="An anonymous rater role (peer or subordinate) whose ratings are withheld from the ratee and "
    "their managers because too few distinct raters of the role rated, or the cycle still takes ratings: "
    "shown, they would identify the rater. The score still counts them."
)
class WithheldRatings:
    role: RaterRole
    raters: int | None = strawberry.field(
        description="How many distinct raters of this role rated the employee; null while the cycle is OPEN, "
        "when every anonymous role is listed whether rated yet or not: a count that grows as ratings arrive "
        "would time each of them."
    )
    minimum_raters: int = strawberry.field(
        description="The fewest raters whose ratings are shown (PERFHUB_MIN_ANONYMOUS_RATERS)."
    )
    reason: str
