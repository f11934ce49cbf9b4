"""Mutations of peer nomination: a ratee proposes peers as raters, their manager approves or declines."""

from __future__ import annotations

import strawberry

from hub import policy
from hub.domain import ErrorKind
from hub.operations import nominations
from hub.operations.commands import Caller
from hub.operations.errors import NotFound
from hub.operations.nominations import (
    Decider,
    PeerNominate,
    PeerNominationDecide,
    PeerNominationRecord,
)
from resolvers.context import Context
from resolvers.loaders.tasks import people_by_id
from resolvers.people import own_employee_id
from resolvers.records import PersonRow
from schema.errors import payload
from schema.mutations.declare import mutation
from schema.nominations import PeerNomination, PeerRaterAssignment
from schema.permissions import DECIDES_NOMINATIONS, NOMINATES_PEERS


@strawberry.type
class PeersNominated:
    nominations: list[PeerNomination]


@strawberry.type
class PeerNominationDecided:
    nomination: PeerNomination
    assignment: PeerRaterAssignment | None = strawberry.field(
        description="The PEER rater assignment an approval made; null when declined."
    )


PeerNominatePayload = payload("PeerNominatePayload", PeersNominated, ErrorKind.NOT_ALLOWED)
PeerNominationDecidePayload = payload("PeerNominationDecidePayload", PeerNominationDecided, ErrorKind.NOT_ALLOWED)


async def _shown(context: Context, records: list[PeerNominationRecord]) -> list[PeerNomination]:
    """The stored nominations as the schema shows them, each nominee as the ratee knows them."""
    async with context.sessionmaker() as session:
        people: dict[int, PersonRow] = await people_by_id(session, {record.nominee_id for record in records})
    return [
        PeerNomination(
            id=strawberry.ID(str(record.id)),
            nominee=people[record.nominee_id],
            state=record.state,
            proposed_at=record.proposed_at,
            decided_at=record.decided_at,
            reason=record.reason,
        )
        for record in records
    ]


@mutation(NOMINATES_PEERS, PeerNominatePayload, arguments=True)
async def peer_nominate(context: Context, command: PeerNominate, caller: Caller) -> PeersNominated:
    """Proposes colleagues as your peer raters in a DRAFT or OPEN cycle; your manager approves or declines."""
    ratee_id = await own_employee_id(context)
    if ratee_id is None:
        raise NotFound("employee", context.principal.employee_number, field=None)
    made = await nominations.nominate_peers(context.sessionmaker, command, caller, ratee_id)
    return PeersNominated(nominations=await _shown(context, made))


@mutation(DECIDES_NOMINATIONS, PeerNominationDecidePayload, arguments=True)
async def peer_nomination_decide(
    context: Context, command: PeerNominationDecide, caller: Caller
) -> PeerNominationDecided:
    """Approves (assigning the nominee as a PEER rater) or declines a proposed peer nomination of one of your
    people."""
    decider = Decider(await own_employee_id(context), policy.decides_any_nomination(context.principal))
    decision = await nominations.decide_peer_nomination(context.sessionmaker, command, caller, decider)
    (shown,) = await _shown(context, [decision.nomination])
    made = decision.assignment
    assignment = (
        None
        if made is None
        else PeerRaterAssignment(id=strawberry.ID(str(made.id)), role=made.role, rater=shown.nominee)
    )
    return PeerNominationDecided(nomination=shown, assignment=assignment)
