"""A circuit breaker with Dapr's settings: closed until its trip expression
holds after a failure, then open for `timeout`, then half-open letting
`maxRequests` calls through; that many successes close it, one failure opens
it again. In the closed state the counts start afresh every `interval`
(never when it is 0)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import celpy
from celpy import celtypes

from edge.runtime.resiliency.spec import BreakerSpec

log = logging.getLogger("edge.runtime.resiliency")

CLOSED, HALF_OPEN, OPEN = "closed", "half-open", "open"


class BreakerOpen(Exception):
    """The call was not made: the breaker is open, or half-open and full."""


@dataclass
class Counts:
    requests: int = 0
    total_successes: int = 0
    total_failures: int = 0
    consecutive_successes: int = 0
    consecutive_failures: int = 0

    def activation(self) -> dict[str, celtypes.IntType]:
        return {"requests": celtypes.IntType(self.requests),
                "totalSuccesses": celtypes.IntType(self.total_successes),
                "totalFailures": celtypes.IntType(self.total_failures),
                "consecutiveSuccesses": celtypes.IntType(self.consecutive_successes),
                "consecutiveFailures": celtypes.IntType(self.consecutive_failures)}


class CircuitBreaker:
    def __init__(self, spec: BreakerSpec, key: str,
                 on_change: Callable[[str], None] = lambda state: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.key = key
        self.on_change = on_change
        self.clock = clock
        self.state = CLOSED
        self.counts = Counts()
        self._expiry = self._next_expiry()

    def _next_expiry(self) -> float:
        if self.state == OPEN:
            return self.clock() + self.spec.timeout
        if self.state == CLOSED and self.spec.interval > 0:
            return self.clock() + self.spec.interval
        return 0.0

    def current(self) -> str:
        """The state now, moving on from open or a spent interval first."""
        if self._expiry and self.clock() >= self._expiry:
            if self.state == OPEN:
                self._set(HALF_OPEN)
            else:
                self.counts = Counts()
                self._expiry = self._next_expiry()
        return self.state

    def before(self) -> None:
        state = self.current()
        if state == OPEN:
            raise BreakerOpen("circuit breaker is open")
        if state == HALF_OPEN and self.counts.requests >= self.spec.max_requests:
            raise BreakerOpen("too many requests")
        self.counts.requests += 1

    def success(self) -> None:
        state = self.current()
        counts = self.counts
        counts.total_successes += 1
        counts.consecutive_successes += 1
        counts.consecutive_failures = 0
        if state == HALF_OPEN and counts.consecutive_successes >= self.spec.max_requests:
            self._set(CLOSED)

    def failure(self) -> None:
        state = self.current()
        counts = self.counts
        counts.total_failures += 1
        counts.consecutive_failures += 1
        counts.consecutive_successes = 0
        if state == HALF_OPEN or (state == CLOSED and self._trips()):
            self._set(OPEN)

    def _trips(self) -> bool:
        try:
            result = self.spec.program.evaluate(self.counts.activation())
        except celpy.CELEvalError as exc:
            log.warning("circuit breaker %s: trip %r cannot be evaluated: %s", self.spec.name,
                        self.spec.trip, exc)
            return False
        return bool(result) if isinstance(result, celtypes.BoolType) else False

    def _set(self, state: str) -> None:
        if state == self.state:
            return
        log.info("circuit breaker %s (%s): %s -> %s", self.spec.name, self.key, self.state, state)
        self.state = state
        self.counts = Counts()
        self._expiry = self._next_expiry()
        self.on_change(state)
