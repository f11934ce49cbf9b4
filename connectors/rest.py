"""A declarative REST metric source: the systems file says how to ask and how to read, no code per system.

One metric for many employees is one request, or one paginated sequence of them; each body is
mapped by the metric's JMESPath expression to ``{employee, value}`` rows. The mapping is checked:
a system that answers text where it promised numbers gets a ``BadResponse`` naming the metric, not
a silent zero in somebody's appraisal.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import jmespath
from jmespath.parser import ParsedResult

from connectors.base import BadResponse, HttpPort, MetricBatch, Period, Provenance
from connectors.config import RestConfig, RestMetric
from connectors.http import track_retries, utcnow
from connectors.responses import decode_json

Query = dict[str, str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class _Compiled:
    metric: RestMetric
    map: ParsedResult
    has_more: ParsedResult | None
    next: ParsedResult | None


@dataclass(slots=True)
class _Page:
    """Where the walk through a metric's pages is: the next request to make, or ``done``."""

    url: str
    query: Query | None
    number: int
    offset: int = 0
    cursor: str | None = None
    done: bool = False


class RestMetricSource:
    """``MetricSource`` for one REST system, configured by its ``[systems.NAME.metrics.*]`` tables."""

    def __init__(
        self, system: str, port: HttpPort, config: RestConfig, *, now: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.system = system
        self._port = port
        self._now = now
        self._metrics = {
            name: _Compiled(
                metric=metric,
                map=jmespath.compile(metric.map),
                has_more=jmespath.compile(metric.has_more) if metric.has_more else None,
                next=jmespath.compile(metric.page.next) if metric.page.next else None,
            )
            for name, metric in config.metrics.items()
        }

    def metrics(self) -> frozenset[str]:
        return frozenset(self._metrics)

    async def fetch_metric(
        self, metric: str, employee_numbers: Sequence[str], period: Period, *, refresh: bool = False
    ) -> MetricBatch:
        """``refresh`` changes nothing here: every call asks the system (the cache is ``CachedMetricSource``)."""
        compiled = self._metrics.get(metric)
        if compiled is None:
            raise ValueError(f"{self.system} does not measure {metric!r}")
        wanted = list(dict.fromkeys(employee_numbers))
        rejected: dict[str, str] = {}
        with track_retries() as tracker:
            values = await self._collect(compiled, wanted, period, rejected) if wanted else {}
        provenance = Provenance(system=self.system, fetched_at=self._now(), retried=tracker.retried)
        # A row for an employee that another row gave a number is not held against them.
        rejected = {employee: why for employee, why in rejected.items() if employee not in values}
        return MetricBatch(metric=metric, values=values, provenance=provenance, rejected=rejected)

    async def _collect(
        self, compiled: _Compiled, wanted: list[str], period: Period, rejected: dict[str, str]
    ) -> dict[str, float]:
        """The values of the employees asked about; those whose row held no number go into ``rejected``."""
        spec = compiled.metric
        page = spec.page
        query: Query = dict(spec.params)
        query[spec.ids.param] = ",".join(wanted) if spec.ids.style == "csv" else wanted
        if spec.period is not None:
            query[spec.period.start] = period.start.isoformat()
            query[spec.period.end] = period.end.isoformat()
        if page.size_param is not None and page.size is not None:
            query[page.size_param] = str(page.size)
        asked = set(wanted)
        values: dict[str, float] = {}
        state = _Page(url=spec.path, query=query, number=page.start)
        seen_cursors: set[str] = set()
        for _ in range(page.max_pages):
            response = await self._port.get(state.url, params=self._page_query(spec, state))
            body = decode_json(self.system, response)
            rows = self._rows(compiled, body)
            for employee, value in rows:
                if employee not in asked:
                    continue
                if isinstance(value, float):
                    values[employee] = value
                else:
                    rejected[employee] = value
            self._advance(compiled, state, body, len(rows), response.links.get("next", {}).get("url"))
            if state.done:
                return values
            if state.cursor is not None:
                if state.cursor in seen_cursors:
                    raise BadResponse(self.system, f"{spec.name}: the server sent the same cursor twice")
                seen_cursors.add(state.cursor)
            if page.style == "link":
                # A Link target may be relative to the page that named it, not to the base URL.
                state.url = str(response.request.url.join(state.url))
        raise BadResponse(self.system, f"{spec.name}: still more pages after {page.max_pages}; giving up")

    @staticmethod
    def _page_query(spec: RestMetric, state: _Page) -> Query | None:
        page = spec.page
        if state.query is None or page.param is None:
            return state.query
        if page.style == "page":
            return {**state.query, page.param: str(state.number)}
        if page.style == "offset":
            return {**state.query, page.param: str(state.offset)}
        if page.style == "cursor" and state.cursor is not None:
            return {**state.query, page.param: state.cursor}
        return state.query

    def _advance(self, compiled: _Compiled, state: _Page, body: object, rows: int, next_link: str | None) -> None:
        """Decides from one page whether there is another, and moves ``state`` to it."""
        page = compiled.metric.page
        if page.style in {"page", "offset"}:
            state.done = rows == 0 or not self._has_more(compiled, body, rows)
            state.number += 1
            state.offset += rows
        elif page.style == "cursor":
            assert compiled.next is not None
            cursor = compiled.next.search(body)
            if cursor is None or cursor == "":
                state.done = True
            elif isinstance(cursor, str) or (isinstance(cursor, int) and not isinstance(cursor, bool)):
                state.cursor = str(cursor)
            else:
                raise BadResponse(self.system, f"{compiled.metric.name}: the next cursor is not a string")
        elif page.style == "link" and next_link:
            # The next link carries every parameter itself.
            state.url, state.query = next_link, None
        else:
            state.done = True

    def _has_more(self, compiled: _Compiled, body: object, rows: int) -> bool:
        if compiled.has_more is None:
            size = compiled.metric.page.size
            return size is not None and rows >= size
        more = compiled.has_more.search(body)
        if not isinstance(more, bool):
            raise BadResponse(self.system, f"{compiled.metric.name}: has_more did not give true or false")
        return more

    def _rows(self, compiled: _Compiled, body: object) -> list[tuple[str, float | str]]:
        """Each row's employee and value, or, in place of a value that is not a finite number, why not.

        A body or row in the wrong shape, or a row without an employee, fails the whole answer: nothing
        in it can be trusted to belong to anyone. A bad value belongs to its employee alone.
        """
        name = compiled.metric.name
        mapped = compiled.map.search(body)
        if not isinstance(mapped, list):
            raise BadResponse(self.system, f"{name}: the mapping did not give a list of {{employee, value}}")
        rows: list[tuple[str, float | str]] = []
        for item in mapped:
            if not isinstance(item, Mapping):
                raise BadResponse(self.system, f"{name}: the mapping gave a row that is not an object")
            employee = _employee(item.get("employee"))
            if employee is None:
                raise BadResponse(self.system, f"{name}: a row without an employee number")
            raw = item.get("value")
            value = _number(raw)
            rows.append((employee, value if value is not None else f"the value is {_shown(raw)}, not a number"))
        return rows


def _employee(raw: object) -> str | None:
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)  # some systems keep employee numbers as integers
    return None


def _shown(raw: object) -> str:
    """A bad value as a report shows it: its JSON, bounded (a system may send anything)."""
    try:
        text = json.dumps(raw, ensure_ascii=True)
    except (TypeError, ValueError):
        text = type(raw).__name__
    return text if len(text) <= 40 else text[:40] + "..."


def _number(raw: object) -> float | None:
    """A finite number, from a JSON number or a numeric string (decimals often travel as strings)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None
