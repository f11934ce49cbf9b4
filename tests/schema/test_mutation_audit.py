"""Every mutation's audit entry: a change's entry is written by its operation, in the change's transaction,
exactly once; a refusal's entry is written on its own. Checked over the whole appraisal workflow.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AuditEntry
from hub.demo.organisation import SeedSummary
from hub.operations.audit import OK, AuditRecorder
from tests.conftest import GraphQLClient
from tests.schema import test_appraisal_workflow as workflow

WORKFLOW_CHANGES = {
    "indicatorCreate": 2,
    "schemeVersionPublish": 1,
    "cycleCreate": 1,
    "cycleOpen": 1,
    "raterAssign": 1,
    "ratingSubmit": 9,
    "metricValuesImport": 1,
    "cycleScore": 1,
    "resultCalibrate": 1,
    "cycleCloseCalibration": 1,
    "cyclePublish": 1,
}
"""The successful mutations of ``workflow.test_cycle_from_draft_to_published_through_mutations``."""


@pytest.fixture
def entries_alone(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records which outcomes were written in a transaction of their own; an ``ok`` one fails the test."""
    alone: list[str] = []
    original = AuditRecorder.record_alone

    async def record_alone(self: AuditRecorder, sessionmaker: Any, outcome: str, ids: Any = ()) -> None:
        assert outcome != OK, f"{self.operation}: a change's entry must be written in the change's transaction"
        alone.append(f"{self.operation}:{outcome}")
        await original(self, sessionmaker, outcome, ids)

    monkeypatch.setattr(AuditRecorder, "record_alone", record_alone)
    return alone


async def _entries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Any]:
    async with sessionmaker() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def test_each_change_has_exactly_one_entry_from_its_own_transaction(
    app_client: GraphQLClient,
    seeded: SeedSummary,
    sessionmaker: async_sessionmaker[AsyncSession],
    entries_alone: list[str],
) -> None:
    await workflow.test_cycle_from_draft_to_published_through_mutations(app_client, seeded)
    entries = await _entries(sessionmaker)
    ok = Counter(entry.operation for entry in entries if entry.outcome == OK)
    assert ok == WORKFLOW_CHANGES
    # The two refusals of the workflow (publishing a DRAFT, a rating by a stranger) changed nothing.
    assert sorted(entries_alone) == ["cyclePublish:ILLEGAL_TRANSITION", "ratingSubmit:NOT_A_RATER"]
    assert all(entry.subject == "test-hr-admin" and entry.roles == "hr_admin" for entry in entries)
    # Each entry names what the change wrote, as the success record did before.
    ratings = [entry.ids for entry in entries if entry.operation == "ratingSubmit" and entry.outcome == OK]
    assert all(
        any(i.startswith("rating:") for i in ids) and any(i.startswith("cycle:") for i in ids) for ids in ratings
    )


async def test_the_other_changes_have_their_entry_too(
    app_client: GraphQLClient,
    seeded: SeedSummary,
    sessionmaker: async_sessionmaker[AsyncSession],
    entries_alone: list[str],
) -> None:
    cycle = str(seeded.current_cycle_id)

    async def typename(query: str, variables: dict[str, Any], field: str) -> str:
        payload = (await app_client.data(query, variables))[field]
        assert "code" not in payload, payload
        name: str = payload["__typename"]
        return name

    indicators = await app_client.data(
        "{ indicators(category: EXTENSION) { id currentVersion { rule sourceSystem sourceMetric } } }"
    )
    indicator = indicators["indicators"][0]
    version = indicator["currentVersion"]
    await typename(
        """mutation($input: IndicatorVersionCreateInput!) { indicatorVersionCreate(input: $input) {
             __typename ... on MutationError { code } } }""",
        {
            "input": {
                "indicatorId": indicator["id"],
                "rule": version["rule"],
                "sourceSystem": version["sourceSystem"],
                "sourceMetric": version["sourceMetric"],
                "effectiveFrom": "2030-01-01",
                "changeNote": "the same rule, restated",
            }
        },
        "indicatorVersionCreate",
    )
    collect = "mutation($id: ID!) { cycleCollectMetrics(cycleId: $id) { __typename ... on MutationError { code } } }"
    await typename(collect, {"id": cycle}, "cycleCollectMetrics")
    score = "mutation($id: ID!) { cycleScore(cycleId: $id) { __typename ... on MutationError { code } } }"
    await typename(score, {"id": cycle}, "cycleScore")
    reopen = """mutation($id: ID!) { cycleReopen(cycleId: $id, reason: "late ratings") {
                  __typename ... on MutationError { code } } }"""
    await typename(reopen, {"id": cycle}, "cycleReopen")

    entries = await _entries(sessionmaker)
    assert [(entry.operation, entry.outcome) for entry in entries] == [
        ("indicatorVersionCreate", OK),
        ("cycleCollectMetrics", OK),
        ("cycleScore", OK),
        ("cycleReopen", OK),
    ]
    assert entries_alone == []
    assert all(f"cycle:{cycle}" in entry.ids for entry in entries[1:])
