"""A refused mutation names the input at fault, and an id is read only in its canonical spelling.

Found by the new-user and insider reviews of issue 12: these refusals answered ``field: null``, a grade
listed twice went through, an unknown indicator version was "not in the scheme" instead of not found, and
``" 4 "`` or ``"04"`` named cycle 4 (and were audited as sent).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import AppraisalResult, RaterAssignment, SchemeItem, SchemeVersion
from hub.demo.organisation import SeedSummary
from hub.domain import RaterRole
from tests.conftest import GraphQLClient

REFUSAL = "... on MutationError { __typename code field }"


async def refusal(client: GraphQLClient, mutation: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    data = await client.data(mutation.replace("REFUSAL", REFUSAL), variables)
    (answer,) = data.values()
    assert isinstance(answer, dict)
    return {key: answer.get(key) for key in ("code", "field")}


async def test_scheme_weights_name_the_items(app_client: GraphQLClient, sessionmaker: Any) -> None:
    async with sessionmaker() as session:
        scheme = (await session.scalars(select(SchemeVersion).limit(1))).one()
        versions = list(
            (
                await session.scalars(
                    select(SchemeItem.indicator_version_id).where(SchemeItem.scheme_version_id == scheme.id)
                )
            ).all()
        )
    mutation = """mutation($items: [SchemeItemInput!]!, $post: ID!) { schemeVersionPublish(input: {postId: $post,
      effectiveFrom: "2030-01-01", items: $items, changeNote: "x"}) { REFUSAL } }"""
    for weights, code in (([90.0], "WEIGHTS_DO_NOT_SUM"), ([110.0, -10.0], "NON_POSITIVE_WEIGHT")):
        items = [{"indicatorVersionId": str(v), "weight": w} for v, w in zip(versions, weights, strict=False)]
        answer = await refusal(app_client, mutation, {"items": items, "post": str(scheme.post_id)})
        assert answer == {"code": code, "field": "items"}


async def test_a_step_from_the_wrong_state_names_the_cycle_and_a_missing_reason_the_reason(
    app_client: GraphQLClient, seeded: SeedSummary
) -> None:
    cycle = str(seeded.current_cycle_id)  # OPEN
    assert await refusal(app_client, f'mutation {{ cycleOpen(cycleId: "{cycle}") {{ REFUSAL }} }}') == {
        "code": "ILLEGAL_TRANSITION",
        "field": "cycleId",
    }
    await app_client.data(f'mutation {{ cycleScore(cycleId: "{cycle}") {{ __typename }} }}')
    reopened = f'mutation {{ cycleReopen(cycleId: "{cycle}", reason: "") {{ REFUSAL }} }}'
    assert await refusal(app_client, reopened) == {"code": "REASON_REQUIRED", "field": "reason"}


async def test_ratings_name_the_rater_and_an_unknown_version_is_not_found(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    cycle = seeded.current_cycle_id
    async with sessionmaker() as session:
        own = (
            await session.scalars(
                select(RaterAssignment).where(RaterAssignment.cycle_id == cycle, RaterAssignment.role == RaterRole.SELF)
            )
        ).first()
        assert own is not None
        raters = set(
            (
                await session.scalars(
                    select(RaterAssignment.rater_id).where(
                        RaterAssignment.cycle_id == cycle, RaterAssignment.ratee_id == own.ratee_id
                    )
                )
            ).all()
        )
    mutation = """mutation($i: RatingSubmitInput!) { ratingSubmit(input: $i) { REFUSAL } }"""
    base = {"cycleId": str(cycle), "rateeId": str(own.ratee_id), "value": 3}
    stranger = next(candidate for candidate in range(1, 1000) if candidate not in raters)
    not_a_rater = {**base, "raterId": str(stranger), "indicatorVersionId": "1"}
    assert await refusal(app_client, mutation, {"i": not_a_rater}) == {"code": "NOT_A_RATER", "field": "raterId"}
    unknown = {**base, "raterId": str(own.rater_id), "indicatorVersionId": "99999"}
    assert await refusal(app_client, mutation, {"i": unknown}) == {"code": "NOT_FOUND", "field": "indicatorVersionId"}


async def test_a_grade_listed_twice_in_a_target_distribution_is_refused(
    app_client: GraphQLClient, seeded: SeedSummary, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await app_client.data(f'mutation {{ cycleScore(cycleId: "{seeded.current_cycle_id}") {{ __typename }} }}')
    async with sessionmaker() as session:
        result = await session.scalar(
            select(AppraisalResult.id).where(AppraisalResult.cycle_id == seeded.current_cycle_id).limit(1)
        )
    mutation = """mutation($r: ID!) { resultCalibrate(input: {resultId: $r, reason: "x", grade: S,
      targetDistribution: [{grade: S, maxShare: 0.1}, {grade: S, maxShare: 1.0}]}) { REFUSAL } }"""
    answer = await refusal(app_client, mutation, {"r": str(result)})
    assert answer == {"code": "INVALID_INPUT", "field": "targetDistribution"}


async def test_only_the_canonical_spelling_of_an_id_names_a_row(app_client: GraphQLClient, seeded: SeedSummary) -> None:
    cycle = seeded.past_cycle_id
    for spelling in (f" {cycle} ", f"0{cycle}", f"{cycle} "):
        answer = await refusal(app_client, f'mutation {{ cycleDelete(cycleId: "{spelling}") {{ REFUSAL }} }}')
        assert answer == {"code": "NOT_FOUND", "field": "cycleId"}
    canonical = await refusal(app_client, f'mutation {{ cycleDelete(cycleId: "{cycle}") {{ REFUSAL }} }}')
    assert canonical == {"code": "WRONG_CYCLE_STATE", "field": "cycleId"}
    assert (await app_client.data(f'{{ cycle(id: "0{cycle}") {{ id }} }}'))["cycle"] is None


async def test_a_schemes_audit_entry_names_its_items(app_client: GraphQLClient) -> None:
    """The ids inside a list of input objects are audited too (only the post was)."""
    mutation = """mutation { schemeVersionPublish(input: {postId: "1", effectiveFrom: "2030-01-01", changeNote: "x",
      items: [{indicatorVersionId: "1", weight: 60}, {indicatorVersionId: "2", weight: 30}]}) { REFUSAL } }"""
    assert (await refusal(app_client, mutation))["code"] == "WEIGHTS_DO_NOT_SUM"
    audit = '{ auditLog(first: 1, operation: "schemeVersionPublish") { edges { node { outcome ids } } } }'
    (entry,) = [edge["node"] for edge in (await app_client.data(audit))["auditLog"]["edges"]]
    assert entry["outcome"] == "WEIGHTS_DO_NOT_SUM"
    assert sorted(entry["ids"]) == ["indicator_version:1", "indicator_version:2", "post:1"]
