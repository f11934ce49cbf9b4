"""The words fields and refusals say: each names only what the field takes, and works its arithmetic out."""

from __future__ import annotations

from graphql import GraphQLObjectType, build_schema

from hub.analytics.withheld import Withheld, describe
from schema import print_schema
from schema.permissions import ATTRITION_SIGNALS, RuleCheck


def field_description(type_name: str, field: str) -> str:
    found = build_schema(print_schema()).get_type(type_name)
    assert isinstance(found, GraphQLObjectType)
    description = found.fields[field].description
    assert isinstance(description, str)
    return description


def test_fields_without_a_filter_argument_say_nothing_of_filters() -> None:
    """groupTrainingNeeds and the trends take no filter: their text names neither score filters nor
    filter.departmentId (scoreStatistics, which takes both, still does)."""
    for field in ("groupTrainingNeeds", "scoreTrends", "cycleComparison", "postComparison"):
        text = field_description("Query", field)
        assert "filter" not in text, (field, text)
        assert "minimum group size" in text, field
    assert "filter.departmentId" in field_description("Query", "scoreStatistics")


def test_the_small_group_reason_has_its_arithmetic_worked_out() -> None:
    """indicatorStatistics.withheld takes describe's text: no score filter (the field takes none), no '5 - 1'."""
    assert describe(Withheld.SMALL_GROUP, 5) == "SMALL_GROUP: fewer than 5 people"
    filtered = describe(Withheld.SMALL_GROUP, 5, score_filters=True)
    assert filtered == "SMALL_GROUP: fewer than 5 people, or a score filter removed some of them, but fewer than 5"
    assert all(" - 1" not in describe(reason, 5, True) for reason in Withheld)


def test_the_attrition_refusal_says_or() -> None:
    message = str(RuleCheck(ATTRITION_SIGNALS, "attritionSignals").message)
    assert message.startswith("not allowed: attritionSignals requires hr_admin (every employee) or a manager ("), (
        message
    )
