"""Running one operation under a timeout, a retry and a circuit breaker, as
Dapr composes them: each attempt passes the breaker, then runs under the
timeout; a failed attempt is retried after the retry's back-off unless the
breaker refused it or the failure is the caller's own (a bad request, an
etag mismatch)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from edge.errors import DaprError
from edge.runtime import metrics
from edge.runtime.resiliency.breaker import BreakerOpen, CircuitBreaker
from edge.runtime.resiliency.spec import CONSTANT, RetrySpec

T = TypeVar("T")
# A result that is a failure all the same (an app's 503), as its HTTP status.
Failed = Callable[[T], "int | None"]


class PolicyTimeout(TimeoutError):
    """The attempt ran longer than the timeout policy allows."""


def transient(exc: BaseException) -> bool:
    """Whether trying again may help: not for the caller's own mistakes."""
    if isinstance(exc, DaprError):
        return exc.status >= 500
    if getattr(exc, "permanent", False):
        return False
    return not isinstance(exc, ValueError | LookupError | PermissionError | TypeError
                          | NotImplementedError)


def http_failure(status: int) -> int | None:
    """Dapr counts an answer outside 200-399 from an app as a failure."""
    return None if 200 <= status < 400 else status


def backoff(spec: RetrySpec) -> Iterator[float]:
    """The waits before each retry; ends when maxRetries are spent."""
    count = 0
    interval = spec.initial_interval
    while spec.max_retries < 0 or count < spec.max_retries:
        count += 1
        if spec.policy == CONSTANT:
            yield spec.duration
            continue
        spread = spec.randomization
        yield min(interval * random.uniform(1 - spread, 1 + spread), spec.max_interval)
        interval = min(interval * spec.multiplier, spec.max_interval)


@dataclass(frozen=True)
class Labels:
    """Where a policy's metrics go: resource name, direction and target."""

    resource: str
    direction: str
    target: str


class Policy:
    def __init__(self, labels: Labels | None = None, timeout: float = 0.0,
                 retry: RetrySpec | None = None, breaker: CircuitBreaker | None = None) -> None:
        self.labels = labels
        self.timeout = timeout
        self.retry = retry
        self.breaker = breaker

    @property
    def empty(self) -> bool:
        return not (self.timeout or self.retry or self.breaker)

    async def run(self, op: Callable[[], Awaitable[T]], failed: Failed[T] | None = None,
                  retryable: Callable[[BaseException], bool] = transient) -> T:
        """The result of op, tried as the policy says. A result `failed`
        marks is returned as it is once retries are spent; an exception is
        raised as it is (PolicyTimeout and BreakerOpen for the policy's own)."""
        if self.empty:
            return await op()
        self._executed()
        waits = backoff(self.retry) if self.retry else iter(())
        started = time.monotonic()
        while True:
            try:
                result, status = await self._attempt(op, failed)
            except BreakerOpen:
                raise
            except Exception as exc:
                if not retryable(exc) or not await self._wait(waits, started):
                    raise
                continue
            if status is None or not self._retries_status(status) \
                    or not await self._wait(waits, started):
                return result

    async def _attempt(self, op: Callable[[], Awaitable[T]],
                       failed: Failed[T] | None) -> tuple[T, int | None]:
        """One try through the breaker: its result, and the status that makes it a failure."""
        breaker = self.breaker
        if breaker is not None:
            breaker.before()
        try:
            result = await self._timed(op)
        except BaseException as exc:
            # A cancelled attempt counts too, or a half-open breaker would wait for
            # it forever; the caller's own mistakes (an etag mismatch) do not.
            if breaker is not None:
                if isinstance(exc, Exception) and not transient(exc):
                    breaker.success()
                else:
                    breaker.failure()
            raise
        status = failed(result) if failed is not None else None
        if breaker is not None:
            if status is not None:
                breaker.failure()
            else:
                breaker.success()
        return result, status

    async def _timed(self, op: Callable[[], Awaitable[T]]) -> T:
        if not self.timeout:
            return await op()
        try:
            async with asyncio.timeout(self.timeout) as scope:
                return await op()
        except TimeoutError:
            if not scope.expired():
                raise  # the operation's own timeout, not this policy's
            self._activated("timeout")
            raise PolicyTimeout(f"timed out after {self.timeout:g}s (resiliency timeout "
                                "policy)") from None

    def _retries_status(self, status: int) -> bool:
        codes = self.retry.http_codes if self.retry is not None else None
        return codes is None or status in codes

    async def _wait(self, waits: Iterator[float], started: float) -> bool:
        """Sleep before the next attempt; False when no retry is left."""
        delay = next(waits, None)
        if delay is None:
            return False
        limit = self.retry.max_elapsed if self.retry is not None else 0.0
        if limit and time.monotonic() - started + delay > limit:
            return False
        self._activated("retry")
        await asyncio.sleep(delay)
        return True

    def _executed(self) -> None:
        labels = self.labels
        if labels is None:
            return
        args = (labels.resource, labels.direction, labels.target)
        if self.timeout:
            metrics.resiliency_executed(args[0], "timeout", *args[1:])
        if self.retry is not None:
            metrics.resiliency_executed(args[0], "retry", *args[1:])
        if self.breaker is not None:
            metrics.resiliency_executed(args[0], "circuitbreaker", *args[1:],
                                        status=self.breaker.current())

    def _activated(self, policy: str) -> None:
        labels = self.labels
        if labels is not None:
            metrics.resiliency_activated(labels.resource, policy, labels.direction, labels.target)


NO_POLICY = Policy()
