"""Why a figure is withheld: one set of reasons, and one wording of them, for every analytics field.

``scoreStatistics``, ``indicatorStatistics``, ``groupTrainingNeeds``, the trends and the insights all withhold
under the access policy's minimum group size ``m`` (``resolvers.disclosure`` decides which cells); each names its
reason with this enum (``WithheldReason`` in the schema), or, where the field was a string before the enum
existed (``IndicatorStatistics.withheld``), with ``describe``'s text, which starts with the enum's value.
"""

from __future__ import annotations

import enum


class Withheld(enum.StrEnum):
    """Why a figure is null for the caller (the minimum group size)."""

    SMALL_GROUP = "SMALL_GROUP"
    """It is about fewer people than the minimum group size, or a score filter removed fewer than that."""
    SMALL_COMPLEMENT = "SMALL_COMPLEMENT"
    """The other side of the comparison is such a small group, which the whole (released elsewhere) less
    this side would give away."""
    TABLE_TOTALS = "TABLE_TOTALS"
    """A total less the figures shown would leave a group smaller than the minimum."""


WORDING: dict[Withheld, str] = {
    Withheld.SMALL_GROUP: "fewer than {m} people",
    Withheld.SMALL_COMPLEMENT: "the other side of the comparison has fewer than {m} people, which the whole less "
    "this side would give away",
    Withheld.TABLE_TOTALS: "a coarser group (or the whole) less the figures released beside it would leave fewer "
    "than {m} people",
}
"""Each reason in words, ``{m}`` the minimum group size."""

FILTERED = "or a score filter removed some of them, but fewer than {m}"
"""What SMALL_GROUP also covers in a field that takes score filters (``scoreStatistics``)."""


def describe(reason: Withheld, minimum: int, score_filters: bool = False) -> str:
    """``REASON: the reason in words`` for the minimum group size ``minimum``; ``score_filters``: the field takes
    score filters, so SMALL_GROUP also names the filter's case (a field without them never mentions one)."""
    text = WORDING[reason].format(m=minimum)
    if score_filters and reason is Withheld.SMALL_GROUP:
        text = f"{text}, {FILTERED.format(m=minimum)}"
    return f"{reason.value}: {text}"


DESCRIPTION = "Why a figure is null for the caller: " + "; ".join(
    f"{reason.value}: {WORDING[reason].format(m='the minimum group size')}"
    + (f" ({FILTERED.format(m='that')}, in a field with score filters)" if reason is Withheld.SMALL_GROUP else "")
    for reason in Withheld
)
"""The schema's description of the reasons."""
