"""Bindings in the sidecar: output invocations for the API, and input
bindings started once the app listens (after asking it, with OPTIONS, whether
it serves the binding's route) and stopped before the components close.

Each input event is POSTed to the app; a 2xx answer acknowledges it. Other
answers, or none, are retried with a bounded backoff, and only then reported
to the component as not taken. Events of one binding go one at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from multidict import CIMultiDict

from edge.components.bindings.base import (
    INPUT,
    OUTPUT,
    Binding,
    BindingError,
    InputBinding,
    InputHandler,
    InvokeResponse,
    OutputBinding,
    directions,
)
from edge.errors import DaprError, Err
from edge.runtime import metrics, tracing
from edge.runtime.channel import ChannelError

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.runtime.bindings")

# Dapr leaves input retries to resiliency policies, which edge does not have
# yet; these bound them so one bad event cannot hold a binding forever.
RETRIES = 3
FIRST_WAIT = 0.5
LONGEST_WAIT = 5.0
_PROBE_TIMEOUT = 10.0


class AppRefused(Exception):
    """The app did not take an input event."""


def _invoke_error(name: str, reason: str) -> DaprError:
    return DaprError(Err.INVOKE_OUTPUT_BINDING, f"error invoking output binding {name}: {reason}")


def route_of(binding: Binding) -> str:
    """The app path, without its leading slash, that receives the binding's events."""
    route = next((v for k, v in binding.meta.items() if k.lower() == "route"), None)
    if isinstance(route, str) and route.strip():
        return route.strip().lstrip("/")
    return binding.name


class BindingsRuntime:
    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self._started: list[InputBinding] = []

    def _bindings(self) -> dict[str, Binding]:
        return self.sidecar.components.of(Binding)

    # -- output

    def output(self, name: str) -> OutputBinding:
        binding = self._bindings().get(name)
        if not isinstance(binding, OutputBinding) or OUTPUT not in binding.directions():
            raise _invoke_error(name, f"couldn't find output binding {name}")
        return binding

    async def invoke(self, name: str, operation: str, data: bytes,
                     metadata: dict[str, str]) -> InvokeResponse | None:
        if not operation:
            raise _invoke_error(name, "operation field is missing from request")
        binding = self.output(name)
        supported = binding.operations()
        if operation not in supported:
            raise _invoke_error(name, f"binding {name} does not support operation {operation}. "
                                f"supported operations:{' '.join(supported)}")
        start = time.perf_counter()
        span = tracing.start_span(f"bindings/{name}", tracing.CLIENT, tracing.current.get(),
                                  db__system="bindings", db__name=name, db__statement=operation)
        try:
            answer = await self._traced(binding, span, operation, data, metadata)
        except BindingError as exc:
            metrics.output_binding(name, operation, False, start)
            raise _invoke_error(name, str(exc)) from None
        except Exception as exc:  # a component's own failure must not become a 500 crash
            metrics.output_binding(name, operation, False, start)
            log.exception("output binding %s failed on %s", name, operation)
            raise _invoke_error(name, f"{type(exc).__name__}: {exc}") from None
        metrics.output_binding(name, operation, True, start)
        return answer

    @staticmethod
    async def _traced(binding: OutputBinding, span: tracing.Span | None, operation: str,
                      data: bytes, metadata: dict[str, str]) -> InvokeResponse | None:
        status = 500
        try:
            answer = await binding.invoke(operation, data, metadata)
            status = 200
            return answer
        finally:
            tracing.finish(span, status)

    # -- input

    async def start(self) -> None:
        """Once the app listens: start every input binding the app serves."""
        for name, binding in self._bindings().items():
            if isinstance(binding, InputBinding) and INPUT in binding.directions():
                await self._start_one(name, binding)

    async def _start_one(self, name: str, binding: InputBinding) -> None:
        explicit = INPUT in (directions(binding.meta) or set())
        if not explicit and not await self._app_serves(route_of(binding)):
            log.info("app has not subscribed to binding %s (OPTIONS /%s was not answered "
                     "with 2xx or 405); not started", name, route_of(binding))
            return
        try:
            await binding.read(self._handler(binding))
        except Exception as exc:  # one failing binding must not stop the others
            log.error("input binding %s could not start: %s", name, exc)
            return
        self._started.append(binding)
        log.info("input binding %s started; events go to /%s", name, route_of(binding))

    async def _app_serves(self, route: str) -> bool:
        # As in Dapr: 2xx or 405 means the app has the route (405: it only takes POST).
        sidecar = self.sidecar
        headers = CIMultiDict({"Content-Type": "application/json", **sidecar.app_headers()})
        try:
            reply = await sidecar.app.request("OPTIONS", f"{sidecar.app_url}/{route}", headers,
                                              b"", timeout=_PROBE_TIMEOUT)
        except ChannelError as exc:
            log.error("OPTIONS /%s failed: %s", route, exc)
            return False
        return reply.status // 100 == 2 or reply.status == 405

    def _handler(self, binding: InputBinding) -> InputHandler:
        lock = asyncio.Lock()  # one event at a time, even if a component calls concurrently

        async def deliver(data: bytes, metadata: dict[str, str]) -> None:
            async with lock:
                await self._deliver(binding, data, metadata)

        return deliver

    async def _deliver(self, binding: InputBinding, data: bytes,
                       metadata: dict[str, str]) -> None:
        wait = FIRST_WAIT
        for attempt in range(RETRIES + 1):
            try:
                await self._post(binding, data, metadata)
                return
            except AppRefused as exc:
                if attempt == RETRIES:
                    log.error("event of binding %s not taken after %d tries: %s", binding.name,
                              attempt + 1, exc)
                    raise
                log.warning("event of binding %s not taken (%s); retrying in %gs", binding.name,
                            exc, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)

    async def _post(self, binding: InputBinding, data: bytes, metadata: dict[str, str]) -> None:
        sidecar = self.sidecar
        headers = CIMultiDict({"Content-Type": "application/json"})
        headers.update(metadata)  # event metadata travels as headers, as in Dapr
        headers.update(sidecar.app_headers())
        url = f"{sidecar.app_url}/{route_of(binding)}"
        # Each event starts a trace of its own, as in Dapr.
        span = tracing.start_span(f"bindings/{binding.name}", tracing.CLIENT,
                                  db__system="bindings", db__name=binding.name)
        if span is not None:
            span.context.inject(headers)
        start = time.perf_counter()
        try:
            reply = await sidecar.app.request("POST", url, headers, data)
        except ChannelError as exc:
            metrics.input_binding(binding.name, False, start)
            tracing.finish(span)
            raise AppRefused(f"the app did not answer: {exc}") from None
        tracing.finish(span, reply.status)
        metrics.input_binding(binding.name, reply.status // 100 == 2, start)
        if reply.status // 100 != 2:
            raise AppRefused(f"the app answered {reply.status}")

    async def stop(self) -> None:
        started, self._started = self._started, []
        for binding in reversed(started):
            try:
                await binding.stop_reading()
            except Exception:  # stopping the rest matters more
                log.exception("stopping input binding %s failed", binding.name)
