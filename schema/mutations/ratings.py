"""Mutations of the 360 ratings: who rates whom, and the ratings themselves."""

from __future__ import annotations

import datetime as dt

import strawberry

from hub import policy
from hub.domain import ErrorKind, RaterRole
from hub.operations import assignments, ratings
from hub.operations.assignments import RaterAssignManyInput, RaterUnassignInput
from hub.operations.commands import Caller
from hub.operations.errors import NotYourRating
from hub.operations.ratings import RaterAssignInput, RaterAssignmentRecord, RatingRecord, RatingSubmitInput
from resolvers.context import Context
from resolvers.people import own_employee_id
from schema.errors import payload
from schema.indicators import IndicatorVersion
from schema.mutations.declare import mutation
from schema.organisation import Employee
from schema.permissions import HR_ONLY, RATERS
from schema.record_fields import Relations


@strawberry.type(description="An evaluation relationship: the rater rates the ratee in a role.")
class RaterAssignment:
    role: RaterRole

    ratee = Relations[RaterAssignmentRecord].load(
        Employee, lambda loaders: loaders.employee_by_id, lambda record: record.ratee_id
    )
    rater = Relations[RaterAssignmentRecord].load(
        Employee, lambda loaders: loaders.employee_by_id, lambda record: record.rater_id
    )


@strawberry.type
class RaterAssigned:
    assignment: RaterAssignmentRecord = strawberry.field(graphql_type=RaterAssignment)


@strawberry.type(description="One rater's rating of one core indicator.")
class Rating:
    role: RaterRole
    value: float
    comment: str | None
    submitted_at: dt.datetime

    indicator_version = Relations[RatingRecord].load(
        IndicatorVersion, lambda loaders: loaders.indicator_version_by_id, lambda record: record.indicator_version_id
    )


@strawberry.type
class RatingSubmitted:
    rating: RatingRecord = strawberry.field(graphql_type=Rating)


@strawberry.type(description="Every relationship of a bulk assignment was assigned.")
class RatersAssigned:
    assignments: list[RaterAssignmentRecord] = strawberry.field(
        graphql_type=list[RaterAssignment], description="In the order they were given."
    )


@strawberry.type(description="The evaluation relationship was removed, with the ratings it discarded.")
class RaterUnassigned:
    assignment: RaterAssignmentRecord = strawberry.field(graphql_type=RaterAssignment, description="As it was.")
    discarded_ratings: list[RatingRecord] = strawberry.field(
        graphql_type=list[Rating],
        description="The rater's ratings of the ratee, deleted with discardRatings, as they were; empty otherwise.",
    )


RaterAssignPayload = payload("RaterAssignPayload", RaterAssigned)
RaterUnassignPayload = payload("RaterUnassignPayload", RaterUnassigned)
RaterAssignManyPayload = payload("RaterAssignManyPayload", RatersAssigned, ErrorKind.IMPORT_REJECTED)
RatingSubmitPayload = payload("RatingSubmitPayload", RatingSubmitted, ErrorKind.NOT_ALLOWED)


@mutation(HR_ONLY, RaterAssignPayload)
async def rater_assign(context: Context, command: RaterAssignInput, caller: Caller) -> RaterAssigned:
    """Adds or changes an evaluation relationship (peers, subordinates, ...)."""
    return RaterAssigned(assignment=await ratings.assign_rater(context.sessionmaker, command, caller))


@mutation(HR_ONLY, RaterAssignManyPayload)
async def rater_assign_many(context: Context, command: RaterAssignManyInput, caller: Caller) -> RatersAssigned:
    """Assigns many evaluation relationships of a cycle at once, with raterAssign's checks: all of them, or none
    and every bad item listed by its index (ASSIGNMENTS_REJECTED)."""
    return RatersAssigned(assignments=await assignments.assign_raters(context.sessionmaker, command, caller))


@mutation(HR_ONLY, RaterUnassignPayload)
async def rater_unassign(context: Context, command: RaterUnassignInput, caller: Caller) -> RaterUnassigned:
    """Removes an evaluation relationship of a DRAFT or OPEN cycle. A rater who has submitted ratings for the
    ratee is refused (RATINGS_SUBMITTED) unless discardRatings, with a reason, deletes them too (the audit entry
    keeps their values). SELF is never removed, and MANAGER only once raterAssign has added the new manager
    (RATER_REQUIRED)."""
    removed = await assignments.unassign_rater(context.sessionmaker, command, caller)
    return RaterUnassigned(assignment=removed.assignment, discarded_ratings=removed.discarded)


@mutation(RATERS, RatingSubmitPayload)
async def rating_submit(context: Context, command: RatingSubmitInput, caller: Caller) -> RatingSubmitted:
    """Submits (or, before scoring, replaces) a rating of a core indicator."""
    if not policy.rates_for_anyone(context.principal) and command.rater_id != await own_employee_id(context):
        raise NotYourRating()
    return RatingSubmitted(rating=await ratings.submit_rating(context.sessionmaker, command, caller))
