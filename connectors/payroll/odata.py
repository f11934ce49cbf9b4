"""Compensation records from an OData v2 payroll service shaped like SAP SuccessFactors ``EmpCompensation``.

``GET {entity_set}?$format=json&$filter=(userId eq 'E1' or ...)&$select=...&$expand=empPayCompRecurringNav
&fromDate=...&toDate=...``, following ``d.__next``. Employee ids go ``ids_per_request`` to a ``$filter``
(URLs have limits); the chunks of one batch are fetched concurrently.

Pay components this connector understands (``EmpPayCompRecurring.payComponent``):

- ``BASE``: base salary. Reported per month (the Chinese payroll convention); an ``ANN`` or ``QTR``
  frequency is converted.
- ``BONUS``: performance bonus. Reported per year; a ``MON`` or ``QTR`` frequency is converted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Protocol, TypeVar, Unpack

import httpx

from connectors.base import BadResponse, CompensationRecord, HttpPort, Period, Provenance, RecordBatch
from connectors.paged import PagedSource, PageOptions
from connectors.responses import next_page_url

T = TypeVar("T")

BASE_PAY_COMPONENT = "BASE"
BONUS_PAY_COMPONENT = "BONUS"
NAVIGATION = "empPayCompRecurringNav"
SELECT = ",".join(
    [
        "userId",
        "startDate",
        "seqNumber",
        "eventReason",
        *(f"{NAVIGATION}/{name}" for name in ("payComponent", "paycompvalue", "currencyCode", "frequency")),
    ]
)
# Effective-dated entities answer only the record in force today unless asked for a range; with no
# period we want the whole history.
ALL_TIME = Period(dt.date(1900, 1, 1), dt.date(9999, 12, 31))
NO_CURRENCY = "XXX"
"""ISO 4217's code for "no currency": a record that carries no pay component."""

_PER_YEAR = {"ANN": 1, "QTR": 4, "MON": 12}
_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?:(?P<sign>[+-])(?P<offset>\d{4}))?\)/$")


class ODataSettings(Protocol):
    """What this connector reads from its system's configuration (``connectors.config`` provides it)."""

    @property
    def entity_set(self) -> str: ...

    @property
    def ids_per_request(self) -> int: ...


def odata_string(value: str) -> str:
    """An OData string literal: single quotes around, single quotes inside doubled."""
    return "'" + value.replace("'", "''") + "'"


def user_filter(employee_numbers: Sequence[str]) -> str:
    return "(" + " or ".join(f"userId eq {odata_string(number)}" for number in employee_numbers) + ")"


def parse_odata_date(value: object) -> dt.date:
    """The calendar day of an OData v2 JSON date: ``/Date(ms)/`` or ``/Date(ms+mmmm)/`` (offset in minutes)."""
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    match = _DATE.match(value)
    if match is None:
        return dt.date.fromisoformat(value[:10])  # some services answer ISO 8601 instead
    try:
        moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(match["ms"]))
        if match["offset"]:
            minutes = int(match["offset"])
            moment += dt.timedelta(minutes=minutes if match["sign"] == "+" else -minutes)
    except OverflowError:  # /Date(999999999999999999)/: beyond any calendar
        raise ValueError(f"date out of range: {value!r}") from None
    return moment.date()


def _decimal(value: object) -> Decimal:
    # Edm.Decimal travels as a JSON string in OData v2; some services send a number anyway.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"not a decimal: {value!r}")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return number


class ODataCompensationSource(PagedSource[ODataSettings]):
    """A ``CompensationSource`` over an OData v2 ``EmpCompensation`` entity set."""

    def __init__(self, system: str, port: HttpPort, config: ODataSettings, **options: Unpack[PageOptions]) -> None:
        if config.ids_per_request < 1:
            raise ValueError("ids_per_request must be at least 1")
        super().__init__(system, port, config, **options)

    async def fetch_compensation(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[CompensationRecord]:
        wanted = list(dict.fromkeys(employee_numbers))
        size = self._config.ids_per_request
        chunks = [wanted[i : i + size] for i in range(0, len(wanted), size)]
        pages = await _gather([self._entities(chunk, period or ALL_TIME) for chunk in chunks])
        provenance = Provenance(system=self.system, fetched_at=self._clock())
        found: dict[str, dict[str, CompensationRecord]] = {number: {} for number in wanted}
        for entities in pages:
            for entity in entities:
                record = self._record(entity, provenance)
                if record.employee_number in found:  # the service may answer more than we asked for
                    found[record.employee_number].setdefault(record.id, record)
        records = {
            number: sorted(by_id.values(), key=lambda r: (r.effective_date, r.id)) for number, by_id in found.items()
        }
        return RecordBatch(records=records, provenance=provenance)

    async def _entities(self, chunk: Sequence[str], period: Period) -> list[object]:
        """Every entity for one chunk of ids, following ``__next``."""
        url = self._config.entity_set
        query: Mapping[str, str] | None = {
            "$format": "json",
            "$filter": user_filter(chunk),
            "$select": SELECT,
            "$expand": NAVIGATION,
            "fromDate": period.start.isoformat(),
            "toDate": period.end.isoformat(),
        }
        entities: list[object] = []
        visited: set[str] = set()
        for _ in range(self._max_pages):
            response = await self._port.get(url, params=query, headers={"Accept": "application/json"})
            results, next_link = self._page(response)
            entities.extend(results)
            if not next_link:
                return entities
            url = next_page_url(self.system, response, next_link, "__next leaves the service")
            if url in visited:
                raise BadResponse(self.system, f"__next points back to a page already read: {next_link}")
            visited.add(url)
            query = None  # the next link carries the whole query and the skip token
        raise BadResponse(self.system, f"still sending __next after {self._max_pages} pages")

    def _page(self, response: httpx.Response) -> tuple[list[object], str | None]:
        try:
            body: object = response.json()
        except ValueError as exc:
            raise BadResponse(self.system, f"{self._config.entity_set}: the body is not JSON ({exc})") from None
        data = body.get("d") if isinstance(body, dict) else None
        if isinstance(data, list):  # OData v1 style: the collection itself, never paged
            return data, None
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise BadResponse(self.system, f"{self._config.entity_set}: the body has no d.results list")
        results, next_link = data["results"], data.get("__next")
        if next_link is not None and not isinstance(next_link, str):
            raise BadResponse(self.system, f"{self._config.entity_set}: d.__next is not a string")
        return results, next_link

    def _record(self, entity: object, provenance: Provenance) -> CompensationRecord:
        if not isinstance(entity, dict):
            raise BadResponse(self.system, f"{self._config.entity_set}: an entity is not an object")
        user = entity.get("userId")
        if not isinstance(user, str) or not user:
            raise BadResponse(self.system, f"{self._config.entity_set}: an entity has no userId")
        try:
            start = parse_odata_date(entity.get("startDate"))
            sequence = int(_decimal(entity.get("seqNumber", "1")))
            components = self._components(entity.get(NAVIGATION))
        except (ValueError, InvalidOperation) as exc:
            raise BadResponse(self.system, f"{self._config.entity_set} of {user}: {exc}") from None
        reason = entity.get("eventReason")
        base = components.get(BASE_PAY_COMPONENT)
        bonus = components.get(BONUS_PAY_COMPONENT)
        currency = next((c for c in (base, bonus, *components.values()) if c is not None), None)
        return CompensationRecord(
            id=f"{user}:{start.isoformat()}:{sequence}",
            employee_number=user,
            effective_date=start,
            base_salary=None if base is None else _per(base, 12),
            bonus=None if bonus is None else _per(bonus, 1),
            currency=currency[2] if currency is not None else NO_CURRENCY,
            reason=reason if isinstance(reason, str) and reason else None,
            provenance=provenance,
        )

    def _components(self, navigation: object) -> dict[str, tuple[Decimal, str | None, str]]:
        """Pay component id -> (amount, frequency, currency)."""
        if navigation is None or (isinstance(navigation, dict) and "__deferred" in navigation):
            return {}  # not expanded: the amounts are unknown, not zero
        items = navigation.get("results") if isinstance(navigation, dict) else navigation
        if not isinstance(items, list):
            raise ValueError(f"{NAVIGATION} is not a collection")
        components: dict[str, tuple[Decimal, str | None, str]] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("payComponent"), str):
                raise ValueError(f"{NAVIGATION}: an item has no payComponent")
            frequency, currency = item.get("frequency"), item.get("currencyCode")
            if frequency is not None and not isinstance(frequency, str):
                raise ValueError(f"{NAVIGATION}: frequency is not a string")
            if not isinstance(currency, str) or not currency:
                raise ValueError(f"{NAVIGATION}: an item has no currencyCode")
            components[item["payComponent"]] = (_decimal(item.get("paycompvalue")), frequency, currency)
        return components


def _per(component: tuple[Decimal, str | None, str], periods_per_year: int) -> float | None:
    """A component's amount per month (12) or per year (1); None when its frequency is one we cannot convert."""
    amount, frequency, _currency = component
    if frequency is None:
        return float(amount)  # the service states no frequency: take the amount as meant
    per_year = _PER_YEAR.get(frequency)
    if per_year is None:
        return None
    return round(float(amount * per_year / periods_per_year), 2)


async def _gather(calls: Sequence[Awaitable[T]]) -> list[T]:
    """Runs the chunks concurrently; the first failure cancels the others and is raised as it is."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
