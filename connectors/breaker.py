"""A circuit breaker per business system: stop calling a system that keeps failing, try again later.

Closed: calls go through and consecutive failures are counted. After ``failures`` of them the circuit
opens: calls fail at once, without HTTP, so a dead system costs the hub nothing and gets no load.
After ``reset`` seconds the circuit is half-open: exactly one trial call goes through; its success
closes the circuit, its failure opens it for another ``reset`` seconds.

Only signs of an unhealthy system count as failures (timeouts, refused connections, 5xx, 429). A
4xx or a malformed body proves the system is up, so it counts as a success here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from connectors.base import SystemUnavailable


class CircuitOpen(SystemUnavailable):
    """The system failed too often lately; the call was refused without sending anything."""


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts one system's consecutive failures; ``clock`` is monotonic seconds (injectable for tests)."""

    def __init__(self, system: str, *, failures: int, reset: float, clock: Callable[[], float]) -> None:
        self.system = system
        self._threshold = failures
        self._reset = reset
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._trial_in_flight or self._clock() - self._opened_at >= self._reset:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def check(self) -> None:
        """Fails fast when a call could not go through now; changes nothing (callers may still queue)."""
        state = self.state
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._trial_in_flight):
            raise self._refusal()

    def enter(self) -> None:
        """Admits one call, or raises ``CircuitOpen``; a half-open circuit admits only its one trial."""
        self.check()
        if self.state is BreakerState.HALF_OPEN:
            self._trial_in_flight = True

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def failed(self) -> None:
        self._failures += 1
        if self._trial_in_flight or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._trial_in_flight = False

    def abandoned(self) -> None:
        """The admitted call ended without a verdict (cancelled): let another trial through."""
        self._trial_in_flight = False

    def _refusal(self) -> CircuitOpen:
        return CircuitOpen(self.system, f"circuit open after {self._failures} consecutive failures")
