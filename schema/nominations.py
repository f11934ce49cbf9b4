"""Peer nominations as their ratee and the ratee's managers read them."""

from __future__ import annotations

import datetime as dt

import strawberry

from hub.domain import NominationState, RaterRole
from resolvers.records import PersonRow
from schema.tasks import TaskPerson


@strawberry.type(
    description="A colleague the ratee proposed as a peer rater in a cycle, and their manager's decision: an "
    "approval made the colleague a PEER rater."
)
class PeerNomination:
    id: strawberry.ID
    nominee: PersonRow = strawberry.field(graphql_type=TaskPerson)
    state: NominationState
    proposed_at: dt.datetime
    decided_at: dt.datetime | None
    reason: str | None = strawberry.field(description="The decider's reason, if they gave one.")


@strawberry.type(
    description="The rater assignment an approved nomination made: the nominee rates the ratee as a PEER (the "
    "rater shown as the ratee and their managers know them, whatever their row scope)."
)
class PeerRaterAssignment:
    id: strawberry.ID
    role: RaterRole
    rater: PersonRow = strawberry.field(graphql_type=TaskPerson)
