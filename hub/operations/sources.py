"""An indicator's source checked against the configured business systems when a version is created.

The operations do not import connectors: the caller passes in :data:`Offers`, a question the configured
systems answer (the API asks its ``Context.systems``, as collect asks it for sources). An unknown source is a
warning, not a refusal: the values of a system the hub does not reach can still come in by CSV import
(``metricValuesImport``), as a team with a spreadsheet-only system brings them, and a systems file may gain the
metric after the indicator is defined. What the warning prevents is finding out at collect time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.domain import MANUAL_SOURCE

Offers = Callable[[str, str], bool]
"""Whether a configured business system named the first argument offers the metric named the second."""


@dataclass(frozen=True, slots=True)
class SourceWarning:
    """A version's source that no configured business system offers: collect cannot fetch its values."""

    source_system: str
    source_metric: str
    why: str


def source_warnings(system: str, metric: str | None, offers: Offers | None) -> list[SourceWarning]:
    """The warning, if any, of a version measured by ``metric`` of ``system``; ``offers`` None: no systems are
    configured. People-rated (MANUAL) versions have no source to check."""
    if system == MANUAL_SOURCE or metric is None:
        return []
    if offers is None:
        reason = "no business systems are configured"
    elif not offers(system, metric):
        reason = f"no configured business system named {system!r} offers the metric {metric!r}"
    else:
        return []
    why = f"{reason}: collecting cannot fetch its values, which must come by CSV import (metricValuesImport)"
    return [SourceWarning(system, metric, why)]
