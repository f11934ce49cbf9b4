"""Peer nominations read for their ratee: whom they proposed in a cycle, and what their manager decided."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, tuple_

from hub.db.models import PeerNomination
from hub.domain import NominationState
from resolvers.loaders.base import SessionLoader
from resolvers.loaders.tasks import people_by_id
from resolvers.records import PersonRow


@dataclass(frozen=True, slots=True)
class Nomination:
    """A peer nomination with its nominee as the ratee knows them (a peer is outside an employee's row scope)."""

    id: int
    cycle_id: int
    nominee: PersonRow
    state: NominationState
    proposed_at: dt.datetime
    decided_at: dt.datetime | None
    reason: str | None


class PeerNominationsByRateeCycleLoader(SessionLoader[tuple[int, int], list[Nomination], Nomination]):
    """A ratee's nominations keyed by (ratee id, cycle id), in the order proposed: two statements a batch."""

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[Nomination]]:
        async with self.sessionmaker() as session:
            statement = (
                select(PeerNomination)
                .where(tuple_(PeerNomination.ratee_id, PeerNomination.cycle_id).in_(set(keys)))
                .order_by(PeerNomination.id)
            )
            rows = (await session.scalars(statement)).all()
            nominees = await people_by_id(session, {row.nominee_id for row in rows})
        found: defaultdict[tuple[int, int], list[Nomination]] = defaultdict(list)
        for row in rows:
            found[(row.ratee_id, row.cycle_id)].append(
                Nomination(
                    row.id,
                    row.cycle_id,
                    nominees[row.nominee_id],
                    row.state,
                    row.proposed_at,
                    row.decided_at,
                    row.reason,
                )
            )
        return [found.get(key, []) for key in keys]
