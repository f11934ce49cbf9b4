"""The demo's training and payroll systems acting on perfhub's results: the closed loop, end to end.

The training system receives ``training.need`` events by webhook (``POST /webhooks/perfhub``, verified with
the Standard Webhooks library like any receiver), asks perfhub's ``trainingNeeds`` which indicators are
weak and whether related training was already taken, and enrols the employee in a related course they
have not completed. The payroll system holds a subscription to ``resultPublished`` (graphql-transport-ws,
the types filter naming ``result.published`` and ``result.revised``) and writes a bonus line per result: its
own bonus component for the employee times its factor for the grade. A correction that changes the grade is
booked the auditable way: a reversal line cancelling the standing one, and a new line at the corrected grade
(nothing is edited or deleted). Each shows what it did through its own API
(``GET /enrolments``, ``GET /bonus-lines``; sandbox views without credentials, like ``/_faults``) and
prints one line per event it handled.

Both wait for ``start`` (``perfhub serve`` hands them the hub's address, their tokens and the webhook secret
once it has registered the endpoint). They are deliberately simple consumers: state in memory, a redelivered
event (same ``webhook-id`` or ``eventId``) is skipped, and a failed call to the hub is retried until it works.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import websockets
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.closedloop.matrix import is_annual
from hub.webhooks.addresses import DEMO_RECEIVER_PATH

WEBHOOK_PATH = DEMO_RECEIVER_PATH
"""The one path the hub exempts from its address rules in demo mode (``hub.webhooks.addresses``)."""
TRAINING_NEED = "training.need"
RESULT_PUBLISHED = "result.published"
RESULT_REVISED = "result.revised"
BONUS_FACTORS = {"S": Decimal("1.5"), "A": Decimal("1.2"), "B": Decimal("1.0"), "C": Decimal("0.6"), "D": Decimal(0)}
"""The demo payroll's own rule: the factor of the annual bonus component per grade."""
YEAR_DAYS = 365
SHARE_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
BATCH = 50

NEEDS = """query($cycle: ID!, $nos: [String!], $first: Int) {
  trainingNeeds(cycleId: $cycle, employeeNos: $nos, first: $first) {
    employee { employeeNo } needs { indicatorCode score threshold courses trainingTaken }
  }
}"""
RESULTS = """subscription($after: String) {
  resultPublished(after: $after, filter: {types: ["result.published", "result.revised"]}) {
    cursor eventId type cycle { id name periodStart periodEnd } employeeNo grade totalScore calibrated
  }
}"""


@dataclass(frozen=True, slots=True)
class ConsumerSetup:
    """What the consumers need from the hub that started them (picklable: it crosses to the systems' process)."""

    hub_url: str
    training_token: str
    payroll_token: str
    webhook_secret: str
    payroll_after: str | None
    """The cursor the payroll subscription starts after: the end of the stream when the hub started."""


def _say(line: str) -> None:
    print(f"perfhub demo: {line}", flush=True)


def _pause(attempt: int) -> float:
    return RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]


def period_share(start: dt.date, end: dt.date) -> tuple[int, Decimal]:
    """The days of a cycle's period (both included) and the share of the annual bonus it pays: 1 for a year
    (``hub.closedloop.matrix.is_annual``'s rule, 364 to 366 days), else days / 365 to four places, so that a
    quarter pays about a quarter of it (91 days: 0.2493) and four quarters about the year's, not four times it."""
    days = (end - start).days + 1
    return days, Decimal(1) if is_annual(start, end) else (Decimal(days) / YEAR_DAYS).quantize(SHARE_PLACES)


@dataclass(slots=True)
class TrainingDesk:
    """The training system's webhook receiver, its enrolments and the task that makes them."""

    enrolments: list[dict[str, object]] = field(default_factory=list)
    setup: ConsumerSetup | None = None
    _seen: set[str] = field(default_factory=set)
    _queue: asyncio.Queue[tuple[str, str, str]] = field(default_factory=asyncio.Queue)

    async def receive(self, request: Request) -> Response:
        if self.setup is None:
            return JSONResponse({"error": "not subscribed yet"}, status_code=503, headers={"Retry-After": "1"})
        body = await request.body()
        try:
            event = Webhook(self.setup.webhook_secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event_id = str(event.get("id", ""))
        data = event.get("data")
        if event.get("type") != TRAINING_NEED or event_id in self._seen or not isinstance(data, dict):
            return Response(status_code=204)  # another type, or a redelivery already taken
        self._seen.add(event_id)
        self._queue.put_nowait((event_id, str(data["cycle"]["id"]), str(data["employeeNo"])))
        return Response(status_code=202)

    async def shown(self, request: Request) -> Response:
        wanted = request.query_params.get("employee")
        shown = [item for item in self.enrolments if wanted is None or item["employeeNo"] == wanted]
        return JSONResponse({"enrolments": shown})

    async def run(self, http: httpx.AsyncClient) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            attempt = 0
            while not await self._handle(http, batch):
                await asyncio.sleep(_pause(attempt))
                attempt += 1

    async def _handle(self, http: httpx.AsyncClient, batch: list[tuple[str, str, str]]) -> bool:
        """Asks perfhub for the batch's needs, one query per cycle; False to try again later."""
        assert self.setup is not None
        by_cycle: dict[str, list[tuple[str, str]]] = {}
        for event_id, cycle, number in batch:
            by_cycle.setdefault(cycle, []).append((event_id, number))
        answers: dict[str, Mapping[str, list[dict[str, object]]]] = {}
        for cycle, events in by_cycle.items():
            numbers = sorted({number for _, number in events})
            variables = {"cycle": cycle, "nos": numbers, "first": len(numbers)}
            try:
                response = await http.post(
                    f"{self.setup.hub_url}/graphql",
                    json={"query": NEEDS, "variables": variables},
                    headers={"Authorization": f"Bearer {self.setup.training_token}"},
                )
                body = response.json()
            except (httpx.HTTPError, ValueError):
                return False
            items = (body.get("data") or {}).get("trainingNeeds")
            if items is None or body.get("errors"):
                return False  # the training system or the hub failed: nothing is guessed, ask again later
            answers[cycle] = {item["employee"]["employeeNo"]: item["needs"] for item in items}
        for event_id, cycle, number in batch:
            self._enrol(event_id, cycle, number, answers[cycle].get(number, []))
        return True

    def _enrol(self, event_id: str, cycle: str, number: str, needs: list[dict[str, object]]) -> None:
        made, taken = [], []
        for need in needs:
            courses = need["courses"]
            assert isinstance(courses, list)
            if need["trainingTaken"] or not courses:
                taken.append(str(need["indicatorCode"]))
                continue
            enrolment: dict[str, object] = {
                "employeeNo": number,
                "course": courses[0],
                "indicator": need["indicatorCode"],
                "score": need["score"],
                "threshold": need["threshold"],
                "cycleId": cycle,
                "eventId": event_id,
                "enrolledAt": dt.datetime.now(dt.UTC).isoformat(),
            }
            self.enrolments.append(enrolment)
            made.append(f"{courses[0]!r} ({need['indicatorCode']} {need['score']} < {need['threshold']})")
        told = f"enrolled {number} in {', '.join(made)}" if made else f"no enrolment for {number}"
        if taken:
            told += f"; related training already taken or none related for {', '.join(taken)}"
        _say(f"training: {told} [training.need {event_id}]")


@dataclass(slots=True)
class PayrollDesk:
    """The payroll system's subscription to published and corrected results, and the bonus lines it writes.

    A bonus line pays ``annualBonus x factor x periodShare`` (to the cent): the employee's annual bonus component,
    the grade's factor (``BONUS_FACTORS``) and the share of a year the cycle's period covers (``period_share``).
    An employee without a bonus component gets no line (nothing to pay; the log says so). Every line carries both
    ``corrects`` and ``reverses``, at most one of them set: a ``reversal`` line ``reverses`` the ``lineId`` it
    cancels (its amount negated, ``corrects`` null); the ``bonus`` line booked at a corrected grade ``corrects``
    the ``lineId`` it replaces (``reverses`` null); a first bonus line has both null.
    """

    bonus_of: Callable[[str], Decimal | None]
    """The employee's annual bonus component in the payroll system's own records (None: they have none)."""
    bonus_lines: list[dict[str, object]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    async def shown(self, request: Request) -> Response:
        wanted = request.query_params.get("employee")
        shown = [line for line in self.bonus_lines if wanted is None or line["employeeNo"] == wanted]
        return JSONResponse({"bonusLines": shown})

    async def run(self, setup: ConsumerSetup) -> None:
        after, attempt = setup.payroll_after, 0
        ws_url = "ws" + setup.hub_url.removeprefix("http") + "/graphql"
        while True:
            try:
                async with websockets.connect(
                    ws_url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
                ) as ws:
                    after = await self._follow(ws, setup.payroll_token, after)
                    attempt = 0
            except (OSError, websockets.WebSocketException, TimeoutError, ValueError):
                pass  # the hub not up yet, restarting, or the stream ended: resume from the cursor
            await asyncio.sleep(_pause(attempt))
            attempt += 1

    async def _follow(self, ws: websockets.ClientConnection, token: str, after: str | None) -> str | None:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        query = {"query": RESULTS, "variables": {"after": after}}
        await ws.send(json.dumps({"id": "results", "type": "subscribe", "payload": query}))
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message.get("type") == "next":
                event = (message["payload"].get("data") or {}).get("resultPublished")
                if event is None:
                    return after  # delivered with errors: resume from the last event handled
                self._book(event)
                after = event["cursor"]
            elif message.get("type") in ("error", "complete"):
                return after
        return after

    def _book(self, event: dict[str, object]) -> None:
        event_id = str(event["eventId"])
        if event_id in self._seen:
            return
        self._seen.add(event_id)
        # The event's own figures, as of the moment it was written (not its nested result, which is the result as
        # it is now): three quick corrections are three grades, and each reversal cancels the line it replaces.
        result, cycle = event, event["cycle"]
        assert isinstance(cycle, dict)
        number, grade = str(result["employeeNo"]), str(result["grade"])
        if event.get("type") == RESULT_REVISED:
            _say(f"payroll: {self._correct(number, grade, cycle, result, event_id)} [result.revised {event_id}]")
            return
        line = self._line(number, grade, cycle, result, event_id)
        if line is None:
            told = f"no bonus line for {number}, grade {grade} in {cycle['name']}: no bonus component in payroll"
        else:
            told = f"bonus line for {number}, grade {grade} in {cycle['name']}: {_reckoning(line)}"
        _say(f"payroll: {told} [result.published {event_id}]")

    def _line(
        self, number: str, grade: str, cycle: dict[str, str], result: dict[str, object], event_id: str
    ) -> dict[str, object] | None:
        """Writes the bonus line of a result at ``grade``: the annual bonus component times the grade's factor times
        the cycle's share of a year; none (None) for an employee without a bonus component."""
        bonus = self.bonus_of(number)
        if bonus is None:
            return None
        factor = BONUS_FACTORS.get(grade, Decimal(0))
        days, share = period_share(
            dt.date.fromisoformat(cycle["periodStart"]), dt.date.fromisoformat(cycle["periodEnd"])
        )
        amount = (bonus * factor * share).quantize(CENTS)
        line: dict[str, object] = {
            "lineId": len(self.bonus_lines) + 1,
            "kind": "bonus",
            "employeeNo": number,
            "cycleId": cycle["id"],
            "cycle": cycle["name"],
            "grade": grade,
            "calibrated": result["calibrated"],
            "periodStart": cycle["periodStart"],
            "periodEnd": cycle["periodEnd"],
            "periodDays": days,
            "annualBonus": str(bonus),
            "factor": str(factor),
            "periodShare": str(share),
            "amount": str(amount),
            "currency": "CNY",
            "corrects": None,
            "reverses": None,
            "eventId": event_id,
        }
        self.bonus_lines.append(line)
        return line

    def _correct(self, number: str, grade: str, cycle: dict[str, str], result: dict[str, object], event_id: str) -> str:
        """Books a correction: the standing bonus line reversed and a new one at the corrected grade; what it did."""
        reversed_ids = {line["reverses"] for line in self.bonus_lines if line["kind"] == "reversal"}
        standing = [
            line
            for line in self.bonus_lines
            if line["kind"] == "bonus"
            and (line["employeeNo"], line["cycleId"]) == (number, cycle["id"])
            and line["lineId"] not in reversed_ids
        ]
        if not standing:  # no bonus component, or published before this payroll subscribed: no line was booked
            return f"correction for {number} in {cycle['name']}: no bonus line of that cycle to correct"
        old = standing[-1]  # one at most: each correction reverses the one it replaces
        if old["grade"] == grade:  # the bonus follows the grade only: a corrected total changes nothing here
            return f"correction for {number} in {cycle['name']}: grade {grade} unchanged, line {old['lineId']} stands"
        reversal = {
            **old,
            "lineId": len(self.bonus_lines) + 1,
            "kind": "reversal",
            "amount": str(0 - Decimal(str(old["amount"]))),  # 0 - x: no "-0.00"
            "corrects": None,  # the line reversed may itself have corrected another: that is its own field
            "reverses": old["lineId"],
            "eventId": event_id,
        }
        self.bonus_lines.append(reversal)
        told = (
            f"correction for {number} in {cycle['name']}: grade {old['grade']} -> {grade}, line {old['lineId']} "
            f"reversed ({reversal['amount']} CNY)"
        )
        new = self._line(number, grade, cycle, result, event_id)
        if new is None:  # the bonus component is gone from payroll since: nothing to book in its place
            return f"{told}, no new line: no bonus component in payroll"
        new["corrects"] = old["lineId"]
        return f"{told}, line {new['lineId']}: {_reckoning(new)}"


def _reckoning(line: dict[str, object]) -> str:
    return (
        f"{line['amount']} CNY ({line['annualBonus']} x {line['factor']} x {line['periodShare']}, "
        f"{line['periodDays']} days of a year's bonus)"
    )


@dataclass(slots=True)
class DemoConsumers:
    """The two desks, idle until ``start``; their routes go into the training and payroll apps."""

    training: TrainingDesk
    payroll: PayrollDesk
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _http: httpx.AsyncClient | None = None

    @classmethod
    def of(cls, bonus_of: Callable[[str], Decimal | None]) -> DemoConsumers:
        return cls(TrainingDesk(), PayrollDesk(bonus_of))

    def training_routes(self) -> list[Route]:
        return [
            Route(WEBHOOK_PATH, self.training.receive, methods=["POST"]),
            Route("/enrolments", self.training.shown, methods=["GET"]),
        ]

    def payroll_routes(self) -> list[Route]:
        return [Route("/bonus-lines", self.payroll.shown, methods=["GET"])]

    def start(self, setup: ConsumerSetup) -> None:
        """Starts consuming (in the running loop): a second call is ignored."""
        if self._tasks:
            return
        self.training.setup = setup
        self._http = httpx.AsyncClient(timeout=30.0)
        self._tasks = [
            asyncio.create_task(self.training.run(self._http), name="demo-training-consumer"),
            asyncio.create_task(self.payroll.run(setup), name="demo-payroll-consumer"),
        ]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.aclose()
