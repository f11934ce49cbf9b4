"""A scheme item's definition, joined in: its indicator version, and the indicator that version is of.

Pinning, the metric imports and scoring each read scheme items together with what defines them (the version's
rule and source, the indicator's code and direction); the joins that get there are the same in each.
"""

from __future__ import annotations

from typing import TypeVarTuple

from sqlalchemy import Select

from hub.db.models import Indicator, IndicatorVersion, SchemeItem

Columns = TypeVarTuple("Columns")


def with_item_definitions(statement: Select[*Columns]) -> Select[*Columns]:
    """``statement``, which reads ``scheme_items``, joined to each item's indicator version and indicator."""
    return statement.join(IndicatorVersion, IndicatorVersion.id == SchemeItem.indicator_version_id).join(
        Indicator, Indicator.id == IndicatorVersion.indicator_id
    )
