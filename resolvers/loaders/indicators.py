"""Loaders for indicators and their versions."""

from __future__ import annotations

from hub.db.models import Indicator, IndicatorVersion
from resolvers.loaders.base import RowByKeyLoader, RowsByKeyLoader, VersionInForceLoader
from resolvers.records import IndicatorRow, IndicatorVersionRow


class IndicatorByIdLoader(RowByKeyLoader[int, IndicatorRow]):
    key_column = Indicator.id


class IndicatorVersionByIdLoader(RowByKeyLoader[int, IndicatorVersionRow]):
    key_column = IndicatorVersion.id


class IndicatorVersionsByIndicatorLoader(RowsByKeyLoader[int, IndicatorVersionRow]):
    key_column = IndicatorVersion.indicator_id
    order_by = (IndicatorVersion.version,)


class CurrentIndicatorVersionByIndicatorLoader(VersionInForceLoader[IndicatorVersionRow]):
    """The version of an indicator in force on ``today``."""

    key_column = IndicatorVersion.indicator_id
    versions = IndicatorVersion
