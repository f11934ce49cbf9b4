"""An indicator's source checked against the configured systems when a version is created (issue 13, point 5):
a source no configured system offers is stored with a typed warning, found then rather than at collect time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.db.models import IndicatorVersion
from tests.conftest import GraphQLClient, serving
from tests.hub.operations.test_collect_faults import finance_config

CREATE = """
mutation($i: IndicatorCreateInput!) {
  indicatorCreate(input: $i) {
    __typename
    ... on IndicatorVersionSaved { indicatorVersion { id indicator { id } } warnings { sourceSystem sourceMetric why } }
  }
}
"""
NEXT = """
mutation($i: IndicatorVersionCreateInput!) {
  indicatorVersionCreate(input: $i) { ... on IndicatorVersionSaved { warnings { sourceSystem sourceMetric } } }
}
"""


@pytest.fixture
async def with_finance(settings: Settings) -> AsyncIterator[GraphQLClient]:
    """The hub with one configured system, finance (voucher_error_rate, reimbursement_cycle_days); never called."""
    async with serving(settings, finance_config("http://127.0.0.1:9")) as client:
        yield client


def indicator(code: str, system: str, metric: str | None) -> dict[str, Any]:
    rule = {"kind": "linear", "floor": 10, "target": 1} if metric else {"kind": "rating", "min": 1, "max": 5}
    return {
        "code": code,
        "name": code.title(),
        "category": "EXTENSION" if metric else "CORE",
        "direction": "LOWER_IS_BETTER" if metric else "HIGHER_IS_BETTER",
        "rule": rule,
        "sourceSystem": system,
        "sourceMetric": metric,
        "effectiveFrom": "2027-01-01",
    }


async def created(client: GraphQLClient, code: str, system: str, metric: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = (await client.data(CREATE, {"i": indicator(code, system, metric)}))["indicatorCreate"]
    assert answer["__typename"] == "IndicatorVersionSaved"  # stored, warned or not
    return answer


async def test_a_source_no_configured_system_offers_is_stored_with_a_warning(
    with_finance: GraphQLClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        before = await session.scalar(select(func.count()).select_from(IndicatorVersion))
    assert (await created(with_finance, "REIMBURSEMENT_SPEED", "finance", "reimbursement_cycle_days"))["warnings"] == []
    assert (await created(with_finance, "TEAM_SPIRIT", "MANUAL", None))["warnings"] == []
    typo = await created(with_finance, "VOUCHER_ERRORS", "finanse", "voucher_error_rate")
    (warning,) = typo["warnings"]
    assert (warning["sourceSystem"], warning["sourceMetric"]) == ("finanse", "voucher_error_rate")
    assert "no configured business system named 'finanse'" in warning["why"] and "metricValuesImport" in warning["why"]
    unknown = await created(with_finance, "CHANGE_SUCCESS", "finance", "change_success_rate")
    assert [w["sourceMetric"] for w in unknown["warnings"]] == ["change_success_rate"]
    # A next version is checked the same way.
    later = {
        "indicatorId": unknown["indicatorVersion"]["indicator"]["id"],
        "rule": {"kind": "linear", "floor": 10, "target": 2},
        "sourceSystem": "finance",
        "sourceMetric": "voucher_error_rate",
        "effectiveFrom": "2027-07-01",
        "changeNote": "the system measures it after all",
    }
    assert (await with_finance.data(NEXT, {"i": later}))["indicatorVersionCreate"]["warnings"] == []
    stray = {**later, "sourceMetric": "change_rate", "effectiveFrom": "2028-01-01"}
    assert (await with_finance.data(NEXT, {"i": stray}))["indicatorVersionCreate"]["warnings"] == [
        {"sourceSystem": "finance", "sourceMetric": "change_rate"}
    ]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(IndicatorVersion)) == (before or 0) + 6


async def test_without_configured_systems_every_measured_source_is_warned(app_client: GraphQLClient) -> None:
    (warning,) = (await created(app_client, "OVERTIME", "finance", "voucher_error_rate"))["warnings"]
    assert warning["why"].startswith("no business systems are configured")
