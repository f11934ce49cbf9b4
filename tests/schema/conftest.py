"""Fixtures of the schema tests: the people of the demo organisation that access tests ask about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Principal
from hub.config import Settings
from hub.db.models import Employee
from hub.demo.organisation import SeedSummary
from hub.operations.commands import Caller
from hub.operations.scoring import CycleScore, score_cycle
from resolvers.context import Context
from tests.conftest import TODAY

PORTAL_DOCUMENTS = Path(__file__).parents[2] / "bench" / "documents"
"""The portal's registered documents, as the served benchmark registers them (PERFHUB_PERSISTED_DOCUMENTS)."""


@dataclass(frozen=True)
class Org:
    """The people the matrix asks about, found in the seeded demo."""

    manager_no: str
    manager_id: int
    team: frozenset[int]  # what the manager may see: their reporting line (everyone below them) and themselves
    staff_no: str
    staff_id: int
    outsider_id: int  # outside the manager's scope
    published_cycle: int
    unpublished_cycle: int


def _below(people: Sequence[Any], boss: int) -> set[int]:
    """Everyone under ``boss`` in the manager chain, at any depth."""
    found: set[int] = set()
    frontier = {boss}
    while frontier:
        frontier = {p.id for p in people if p.manager_id in frontier} - found
        found |= frontier
    return found


@pytest.fixture
async def org(sessionmaker: async_sessionmaker[AsyncSession], seeded: SeedSummary) -> Org:
    await score_cycle(sessionmaker, CycleScore(seeded.current_cycle_id), Caller("test"))
    async with sessionmaker() as session:
        people = (
            await session.execute(
                select(Employee.id, Employee.employee_no, Employee.manager_id, Employee.department_id)
            )
        ).all()
        root = next(p for p in people if p.manager_id is None)
        # A section head: reports to the root and has reports of their own.
        heads = [p for p in people if p.manager_id == root.id and any(q.manager_id == p.id for q in people)]
        head = heads[0]
        team = _below(people, head.id) | {head.id}
        staff = next(p for p in people if p.id in team and p.id != head.id)
        outsider = next(p for p in people if p.id not in team)
    return Org(
        head.employee_no,
        head.id,
        frozenset(team),
        staff.employee_no,
        staff.id,
        outsider.id,
        seeded.past_cycle_id,
        seeded.current_cycle_id,
    )


@dataclass(frozen=True)
class Streams:
    """What a test of the result stream through the schema needs: the module's schema, the seeded demo's people,
    and contexts for its principals (each subscriber a context of its own, as each socket has)."""

    schema: strawberry.Schema
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    org: Org

    def context(self, principal: Principal, request_id: str) -> Context:
        return Context(self.settings, self.sessionmaker, TODAY, principal, request_id=request_id)


@pytest.fixture
def streams(
    schema: strawberry.Schema, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], org: Org
) -> Streams:
    """``schema`` is the requesting module's own fixture."""
    return Streams(schema, settings, sessionmaker, org)
