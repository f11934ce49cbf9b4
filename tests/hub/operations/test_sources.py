"""An indicator version's source checked against what the configured systems offer (issue 13, point 5): a
warning beside the stored version, never a refusal."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.operations import versions
from hub.operations.commands import Caller
from hub.operations.sources import source_warnings
from tests.hub.operations.test_versions import extension


def test_people_rated_versions_have_no_source_to_check() -> None:
    assert source_warnings("MANUAL", None, None) == []
    assert source_warnings("finance", "x", lambda system, metric: True) == []
    assert [w.source_metric for w in source_warnings("finance", "x", lambda system, metric: False)] == ["x"]


async def test_the_operations_ask_the_systems_they_are_given(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    asked: list[tuple[str, str]] = []

    def offers(system: str, metric: str) -> bool:
        asked.append((system, metric))
        return metric == "overtime_hours"

    first = await extension(sessionmaker)
    command = versions.IndicatorVersionCreateInput(
        indicator_id=first.indicator_id,
        rule={"kind": "linear", "floor": 8, "target": 1},
        source_system="TIMESHEETS",
        source_metric="overtime_minutes",
        effective_from=first.effective_from.replace(year=first.effective_from.year + 1),
        change_note="counted in minutes now",
    )
    saved = await versions.create_indicator_version(sessionmaker, command, Caller("hr"), offers=offers)
    assert saved.version.version == 2  # stored despite the warning
    assert [(w.source_system, w.source_metric) for w in saved.warnings] == [("TIMESHEETS", "overtime_minutes")]
    assert asked == [("TIMESHEETS", "overtime_minutes")]
