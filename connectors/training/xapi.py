"""Training records from an xAPI 1.0.3 Learning Record Store (the statements resource, read-only).

One batch of employees is one paginated sequence: ``GET statements?verb=...&limit=...`` (plus
``since``/``until`` for a period), following ``more`` until it is empty or leads back to a page already
read. A batch of one employee is asked for by ``agent`` instead, once per form the learner may be stored
under. Learners are account agents ``{"account": {"homePage": <configured>, "name": <employee no>}}``
and/or ``mbox`` agents whose address the configuration builds from the employee number (a domain rule,
a template, or both), also recognised by their ``mbox_sha1sum``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

import httpx

from connectors.base import BadResponse, Period, Provenance, RecordBatch, TrainingRecord
from connectors.paged import PagedSource
from connectors.responses import next_page_url

XAPI_VERSION = "1.0.3"
VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"
# A batch follows at most ``max_pages`` links (``connectors.paged``; 1000 unless told), which is plenty: xAPI
# cannot filter by several agents at once, so a batch reads every learner's statements of the verb (and
# period), but an organisation of 5,000 with ~3 courses each is ~170 pages of 100.

Identity = tuple[str, ...]
"""How an actor is compared: ("account", homePage, name), ("mbox", lower-case IRI) or ("mbox_sha1sum", hex)."""

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?(?:(?P<weeks>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?!$)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class XapiSettings(Protocol):
    """What this connector reads from its system's configuration (``connectors.config`` provides it)."""

    @property
    def verb(self) -> str: ...

    @property
    def account_home_page(self) -> str | None: ...

    @property
    def page_size(self) -> int: ...

    @property
    def verb_filter(self) -> str: ...

    @property
    def mbox_domain(self) -> str | None: ...

    @property
    def mbox_template(self) -> str | None: ...


class XapiTrainingSource(PagedSource[XapiSettings]):
    """A ``TrainingSource`` over an LRS: completed courses (the configured verb) per employee."""

    def agents(self, employee_number: str) -> list[dict[str, object]]:
        """Every xAPI agent that may stand for an employee in this LRS, in the forms the configuration names."""
        home = self._config.account_home_page
        agents: list[dict[str, object]] = []
        if home is not None:
            agents.append({"objectType": "Agent", "account": {"homePage": home, "name": employee_number}})
        for address in self._addresses(employee_number):
            agents.append({"objectType": "Agent", "mbox": address})
            agents.append({"objectType": "Agent", "mbox_sha1sum": _sha1(address)})
        return agents

    def _addresses(self, employee_number: str) -> list[str]:
        """An employee's mailto IRIs as the rules build them and in lower case, the form LRSs often store."""
        built = []
        if self._config.mbox_template is not None:
            built.append(self._config.mbox_template.replace("{employee_no}", employee_number))
        if self._config.mbox_domain is not None:
            built.append(f"mailto:{employee_number}@{self._config.mbox_domain.lower()}")
        return list(dict.fromkeys(form for address in built for form in (address, address.lower())))

    def _identities(self, employee_number: str) -> set[Identity]:
        home = self._config.account_home_page
        found: set[Identity] = set() if home is None else {("account", home, employee_number)}
        for address in self._addresses(employee_number):
            found |= {("mbox", address.lower()), ("mbox_sha1sum", _sha1(address))}
        return found

    async def fetch_training(
        self, employee_numbers: Sequence[str], period: Period | None = None
    ) -> RecordBatch[TrainingRecord]:
        wanted = list(dict.fromkeys(employee_numbers))
        found: dict[str, list[TrainingRecord]] = {number: [] for number in wanted}
        statements = await self._read(wanted, period) if wanted else []
        provenance = Provenance(system=self.system, fetched_at=self._clock())
        learners = {identity: number for number in wanted for identity in self._identities(number)}
        for record in self._records(statements, learners, period, provenance):
            found[record.employee_number].append(record)
        for records in found.values():
            records.sort(key=lambda r: (r.completed_on or dt.date.min, r.id))
        return RecordBatch(records=found, provenance=provenance)

    async def _read(self, wanted: Sequence[str], period: Period | None) -> list[object]:
        if len(wanted) > 1:
            return await self._statements(self._query(period, None))
        # The LRS filters by agent itself: one learner's statements instead of everyone's. It compares an
        # agent's one identifier exactly, so each form the learner may be stored under is its own (small)
        # query; asking for fewer would find less for one employee than a batch finds for the same one.
        statements: list[object] = []
        for agent in self.agents(wanted[0]):
            statements += await self._statements(self._query(period, agent))
        return statements

    def _query(self, period: Period | None, agent: Mapping[str, object] | None) -> dict[str, str]:
        # limit=0 (the default) asks for the server's largest page (xAPI 1.0.3, 2.1.3): the `more` links must
        # be followed one after another, so fewer, larger pages are what keeps a page of employees fast. A
        # configured page size is for LRSs whose largest page is too slow to answer or that mishandle 0.
        params = {"limit": str(self._config.page_size)}
        if self._config.verb_filter != "local":
            params["verb"] = self._config.verb
        if agent is not None:
            params["agent"] = json.dumps(agent, separators=(",", ":"))
        if period is not None:
            # since/until bound the *stored* time, which follows the completion: a course finished on the
            # period's last day but synced after it is missed. The completion day is checked again on our
            # side (see _records), so nothing stored in the period but finished outside it slips in.
            params["since"] = f"{period.start.isoformat()}T00:00:00Z"
            params["until"] = f"{(period.end + dt.timedelta(days=1)).isoformat()}T00:00:00Z"
        return params

    async def _statements(self, params: Mapping[str, str]) -> list[object]:
        """Every statement of the query, following ``more`` links."""
        headers = {"X-Experience-API-Version": XAPI_VERSION}
        url: str = "statements"
        query: Mapping[str, str] | None = params
        statements: list[object] = []
        visited: set[tuple[str, ...]] = set()
        for _ in range(self._max_pages):
            response = await self._port.get(url, params=query, headers=headers)
            visited.add(_page_key(_requested(response, url)))
            page, more = self._page(response)
            statements.extend(page)
            # An empty page ends the sequence whatever its `more` says: some LRSs answer limit=0 with an
            # empty page whose `more` is that page again, others keep minting links past the end.
            if not more or not page:
                return statements
            url = next_page_url(self.system, response, more, "'more' leaves the LRS")
            if _page_key(url) in visited:
                # A link back to a page already read would only repeat its answer.
                return statements
            query = None  # the more link carries the whole query
        raise BadResponse(self.system, f"still sending 'more' after {self._max_pages} pages")

    def _page(self, response: httpx.Response) -> tuple[list[object], str]:
        try:
            body: object = response.json()
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
            raise BadResponse(self.system, f"statements: the body is not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise BadResponse(self.system, "statements: the body is not a StatementResult object")
        statements = body.get("statements")
        more = body.get("more", "")
        if not isinstance(statements, list):
            raise BadResponse(self.system, "statements: 'statements' is not a list")
        if more is None:
            more = ""
        if not isinstance(more, str):
            raise BadResponse(self.system, "statements: 'more' is not a string")
        return statements, more

    def _records(
        self, statements: list[object], learners: Mapping[Identity, str], period: Period | None, provenance: Provenance
    ) -> list[TrainingRecord]:
        records: dict[str, TrainingRecord] = {}
        voided: set[str] = set()
        for statement in statements:
            if not isinstance(statement, dict):
                raise BadResponse(self.system, "statements: a statement is not an object")
            verb = _get(statement, "verb", "id")
            if verb == VOIDED_VERB:
                # An LRS never returns a voided statement in a query, but it does return the voiding one (a
                # verb filter applies to its target); drop the target anyway in case this LRS is less careful.
                target = statement.get("object")
                if isinstance(target, dict) and target.get("objectType") == "StatementRef":
                    voided.add(str(target.get("id")))
                continue
            if statement.get("voided") is True:
                continue  # not an xAPI property, but some LRSs expose their storage's flag: withdrawn
            if verb != self._config.verb:
                # With verb_filter = "local" this is the filter. With "lrs" it is kept on purpose: a conformant
                # LRS also answers statements that merely refer to a matching one (a StatementRef), and one
                # that ignores `verb` sends attempts too; none of them is a completed course, so dropping them
                # never loses a record, while keeping them would count attempts as courses.
                continue
            number = self._employee(statement, learners)
            if number is None:
                continue  # a learner we were not asked about, or one we cannot name: not an error
            record = self._record(statement, number, provenance)
            day = record.completed_on
            if period is not None and day is not None and not period.start <= day <= period.end:
                continue
            records.setdefault(record.id, record)  # a statement repeated across pages counts once
        return [record for key, record in records.items() if key not in voided]

    def _employee(self, statement: Mapping[str, object], learners: Mapping[Identity, str]) -> str | None:
        for identity in _actor_identities(statement.get("actor")):
            number = learners.get(identity)
            if number is not None:
                return number
        return None

    def _record(self, statement: Mapping[str, object], number: str, provenance: Provenance) -> TrainingRecord:
        statement_id = statement.get("id")
        if not isinstance(statement_id, str) or not statement_id:
            raise BadResponse(self.system, "statements: a statement has no id")
        target = statement.get("object")
        if not isinstance(target, dict):
            raise BadResponse(self.system, f"statement {statement_id}: 'object' is not an object")
        result = statement.get("result")
        if result is not None and not isinstance(result, dict):
            raise BadResponse(self.system, f"statement {statement_id}: 'result' is not an object")
        return TrainingRecord(
            id=statement_id,
            employee_number=number,
            course=self._course(target, statement_id),
            completed_on=self._completed_on(statement.get("timestamp"), statement_id),
            hours=self._hours(_get(result, "duration"), statement_id),
            score=self._score(_get(result, "score"), statement_id),
            source=self.system,
            provenance=provenance,
        )

    def _course(self, target: Mapping[str, object], statement_id: str) -> str:
        name = _get(target, "definition", "name")
        if isinstance(name, dict) and name:
            text = name.get("en-US", next(iter(name.values())))
            if isinstance(text, str) and text:
                return text
        activity = target.get("id")
        if isinstance(activity, str) and activity:
            return activity  # an activity without a display name is still a course
        raise BadResponse(self.system, f"statement {statement_id}: the activity has neither a name nor an id")

    def _completed_on(self, timestamp: object, statement_id: str) -> dt.date | None:
        if timestamp is None:
            return None
        bad = BadResponse(self.system, f"statement {statement_id}: bad timestamp {timestamp!r}")
        if not isinstance(timestamp, str):
            raise bad
        try:
            # The learner's own calendar day: the offset the timestamp was recorded with.
            return dt.datetime.fromisoformat(timestamp).date()
        except ValueError:
            raise bad from None

    def _hours(self, duration: object, statement_id: str) -> float | None:
        if duration is None:
            return None
        match = _DURATION.match(duration) if isinstance(duration, str) else None
        if match is None:
            raise BadResponse(self.system, f"statement {statement_id}: bad duration {duration!r}")
        parts = {key: float(value) for key, value in match.groupdict().items() if value is not None}
        if "years" in parts or "months" in parts:
            return None  # calendar years and months have no fixed length in hours
        hours = (
            parts.get("weeks", 0.0) * 168
            + parts.get("days", 0.0) * 24
            + parts.get("hours", 0.0)
            + parts.get("minutes", 0.0) / 60
            + parts.get("seconds", 0.0) / 3600
        )
        return round(hours, 4)

    def _score(self, score: object, statement_id: str) -> float | None:
        if score is None:
            return None
        if not isinstance(score, dict):
            raise BadResponse(self.system, f"statement {statement_id}: 'score' is not an object")
        values = {key: score.get(key) for key in ("scaled", "raw", "min", "max")}
        for key, value in values.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise BadResponse(self.system, f"statement {statement_id}: score.{key} is not a number")
        scaled, raw, low, high = values["scaled"], values["raw"], values["min"], values["max"]
        if scaled is not None:
            return round(float(scaled) * 100, 4)
        if raw is not None and low is not None and high is not None and high > low:
            return round((float(raw) - float(low)) / (float(high) - float(low)) * 100, 4)
        return None if raw is None else float(raw)


def _actor_identities(actor: object) -> list[Identity]:
    """What an actor can be recognised by. E-mail is compared without regard to letter case, as mail is."""
    if not isinstance(actor, dict):
        return []
    found: list[Identity] = []
    home, name = _get(actor, "account", "homePage"), _get(actor, "account", "name")
    if isinstance(home, str) and isinstance(name, str):
        found.append(("account", home, name))
    if isinstance(actor.get("mbox"), str):
        found.append(("mbox", actor["mbox"].lower()))
    if isinstance(actor.get("mbox_sha1sum"), str):
        found.append(("mbox_sha1sum", actor["mbox_sha1sum"].lower()))
    return found


def _sha1(address: str) -> str:
    """An mbox_sha1sum: the hex SHA-1 of the mailto IRI (xAPI 1.0.3, 2.4.2.3)."""
    return hashlib.sha1(address.encode(), usedforsecurity=False).hexdigest()


def _requested(response: httpx.Response, url: str) -> str:
    try:
        return str(response.url)
    except RuntimeError:  # a response built without a request: the URL we asked for is all there is
        return url


def _page_key(url: str) -> tuple[str, ...]:
    """A page's address; its query parameters in any order (or percent-encoding) name the same page."""
    parsed = httpx.URL(url)
    params = sorted(f"{key}={value}" for key, value in parsed.params.multi_items())
    return (parsed.scheme, parsed.host, str(parsed.port), parsed.path, *params)


def _get(value: object, *path: str) -> object:
    """A nested member, or None where any step is missing or not an object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
