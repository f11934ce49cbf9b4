"""Fault injection for the demo business systems: slow, failing, throttled, garbled or down on demand.

Every demo system runs behind :class:`FaultInjection` with its own :class:`Faults`. Tests and demos
flip the switches either on the object or over HTTP (``GET``/``PUT``/``DELETE /_faults``), so that
the hub's timeouts, retries, circuit breakers and stale cache can be watched against a real server.
Nothing here draws random numbers: an error rate fails an evenly spread, reproducible share of the
requests, so that a test asserting "two of four requests failed" never flakes.
"""

from __future__ import annotations

import asyncio
import enum
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL_PATH = "/_faults"


class Garbage(enum.StrEnum):
    """What a garbled 200 carries instead of the real body."""

    NOT_JSON = "not_json"  # an HTML page, as a proxy or maintenance screen would send
    WRONG_SHAPE = "wrong_shape"  # valid JSON that matches none of the documented shapes


_GARBAGE_BODIES: Mapping[Garbage, tuple[bytes, bytes]] = {
    Garbage.NOT_JSON: (b"text/html; charset=utf-8", b"<html><body><h1>Service maintenance</h1></body></html>"),
    Garbage.WRONG_SHAPE: (b"application/json", b'{"status":"ok","result":"see attachment"}'),
}


@dataclass(slots=True)
class Faults:
    """The fault switches of one demo system; mutate them directly or through :meth:`update`."""

    latency_ms: int = 0  # added to every request (the control endpoint excepted)
    slow_pages_ms: int = 0  # added on top, only to requests for a page after the first
    error_rate: float = 0.0  # share of requests answered 503, spread evenly (0.25: every 4th)
    fail_next: int = 0  # the next N requests are answered 503
    rate_limit_next: int = 0  # the next N requests are answered 429 with Retry-After: 1
    garbage: Garbage | None = None  # successful GETs answer 200 with this garbage instead
    down: bool = False  # every request is answered 503 at once
    requests: int = 0  # requests seen so far (a counter, not a switch: update() refuses it)

    def update(self, changes: Mapping[str, object]) -> None:
        """Sets the named switches; ValueError (and nothing changed) when a name or value is wrong."""
        checked = {name: _checked(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def reset(self) -> None:
        """Turns every fault off and zeroes the request counter."""
        for f in fields(self):
            setattr(self, f.name, f.default)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_COUNTS = ("latency_ms", "slow_pages_ms", "fail_next", "rate_limit_next")


def _checked(name: str, value: object) -> object:
    if name in _COUNTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0")
        return value
    if name == "error_rate":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ValueError("error_rate must be a number between 0 and 1")
        return float(value)
    if name == "down":
        if not isinstance(value, bool):
            raise ValueError("down must be true or false")
        return value
    if name == "garbage":
        if value is None or isinstance(value, Garbage):
            return value
        chosen = next((garbage for garbage in Garbage if garbage.value == value), None)
        if chosen is None:
            raise ValueError(f"garbage must be null or one of: {', '.join(g.value for g in Garbage)}")
        return chosen
    known = ", ".join(f.name for f in fields(Faults) if f.name != "requests")
    raise ValueError(f"unknown fault {name!r}; known: {known}")


def _error_due(faults: Faults) -> bool:
    # The n-th request fails when floor(n * rate) steps up: floor(rate * n) failures after n
    # requests, evenly spread, with no random draws.
    n, rate = faults.requests, faults.error_rate
    return rate > 0 and math.floor(n * rate) > math.floor((n - 1) * rate)


def is_later_page(scope: Scope) -> bool:
    """Whether a request asks for a page after the first, in any paging style the demo systems use."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

    def number(name: str) -> int:
        try:
            return int(query.get(name, ["0"])[0])
        except ValueError:
            return 0

    tokens = ("cursor", "more", "$skiptoken")
    return number("page") > 1 or number("offset") > 0 or number("$skip") > 0 or any(query.get(t) for t in tokens)


def _json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class FaultInjection:
    """ASGI middleware that applies a :class:`Faults` to every HTTP request and serves ``/_faults``."""

    def __init__(self, app: ASGIApp, faults: Faults, *, later_page: Callable[[Scope], bool] = is_later_page) -> None:
        self.app, self.faults, self.later_page = app, faults, later_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == CONTROL_PATH:
            response = await self._control(Request(scope, receive))
            await response(scope, receive, send)
            return
        faults = self.faults
        faults.requests += 1
        if faults.down:
            await _json_error(503, "the system is down (injected fault)")(scope, receive, send)
            return
        delay = faults.latency_ms + (faults.slow_pages_ms if self.later_page(scope) else 0)
        if delay:
            await asyncio.sleep(delay / 1000)
        if faults.rate_limit_next > 0:
            faults.rate_limit_next -= 1
            response = _json_error(429, "too many requests (injected fault)", {"Retry-After": "1"})
            await response(scope, receive, send)
            return
        if faults.fail_next > 0 or _error_due(faults):
            faults.fail_next = max(0, faults.fail_next - 1)
            await _json_error(503, "service unavailable (injected fault)")(scope, receive, send)
            return
        if faults.garbage is not None and scope["method"] == "GET":
            send = _garbling(send, faults.garbage)
        await self.app(scope, receive, send)

    async def _control(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                changes = json.loads(await request.body())
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object of switches")
                self.faults.update(changes)
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                return _json_error(400, str(error))
        elif request.method == "DELETE":
            self.faults.reset()
        elif request.method not in ("GET", "HEAD"):
            return _json_error(405, "use GET, PUT or DELETE", {"Allow": "GET, PUT, DELETE"})
        return JSONResponse(self.faults.as_dict())


def _garbling(send: Send, garbage: Garbage) -> Send:
    """Wraps ``send`` so that a 200 goes out with ``garbage`` as its body; other statuses pass."""
    content_type, body = _GARBAGE_BODIES[garbage]
    garbling = False
    sent = False

    async def wrapped(message: Message) -> None:
        nonlocal garbling, sent
        if message["type"] == "http.response.start" and message["status"] == 200:
            garbling = True
            headers = [
                (key, value)
                for key, value in message.get("headers", [])
                if key.lower() not in (b"content-type", b"content-length", b"link")
            ]
            headers += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
            await send({**message, "headers": headers})
        elif message["type"] == "http.response.body" and garbling:
            # The real body may come in several chunks: the garbage replaces the first, the rest
            # are dropped.
            if not sent:
                sent = True
                await send({"type": "http.response.body", "body": body, "more_body": False})
        else:
            await send(message)

    return wrapped
