"""Loaders for scheme versions, their items and rater-role weights."""

from __future__ import annotations

from hub.db.models import SchemeItem, SchemeRaterWeight, SchemeVersion
from resolvers.loaders.base import RowByKeyLoader, RowsByKeyLoader, VersionInForceLoader
from resolvers.records import RaterWeightRow, SchemeItemRow, SchemeVersionRow


class SchemeVersionByIdLoader(RowByKeyLoader[int, SchemeVersionRow]):
    key_column = SchemeVersion.id


class SchemeVersionsByPostLoader(RowsByKeyLoader[int, SchemeVersionRow]):
    key_column = SchemeVersion.post_id
    order_by = (SchemeVersion.version,)


class CurrentSchemeByPostLoader(VersionInForceLoader[SchemeVersionRow]):
    """The scheme version in force for a post on ``today``."""

    key_column = SchemeVersion.post_id
    versions = SchemeVersion


class SchemeItemsBySchemeLoader(RowsByKeyLoader[int, SchemeItemRow]):
    key_column = SchemeItem.scheme_version_id
    order_by = (SchemeItem.position, SchemeItem.id)


class RaterWeightsBySchemeLoader(RowsByKeyLoader[int, RaterWeightRow]):
    key_column = SchemeRaterWeight.scheme_version_id
    order_by = (SchemeRaterWeight.id,)
