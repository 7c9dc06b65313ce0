"""Bindings in the sidecar: output invocations for the API, and input
bindings started once the app listens (after asking it, with OPTIONS, whether
it serves the binding's route) and stopped before the components close.

Each input event is POSTed to the app; a 2xx answer acknowledges it. Other
answers, or none, are retried with a bounded backoff, and only then reported
to the component as not taken. Events of one binding go one at a time.

A gRPC app (--app-protocol grpc) is asked once for the bindings it takes
(ListInputBindings) and gets each event as OnBindingEvent; an OK answer
acknowledges it, and the answer's `to` bindings get its `data` ("create")."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

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
from edge.runtime.appgrpc import http_status_of
from edge.runtime.channel import ChannelError
from edge.runtime.resiliency import BINDING, INBOUND, OUTBOUND, BreakerOpen, Policy, PolicyTimeout
from edge.runtime.resiliency.spec import EXPONENTIAL, RetrySpec

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.runtime.bindings")

# Dapr leaves input retries to resiliency policies; without one, edge still
# tries an event a few times, bounded so one bad event cannot hold a binding forever.
_INPUT_RETRIES = Policy(retry=RetrySpec("edge-input-binding", EXPONENTIAL, initial_interval=0.5,
                                        max_interval=5.0, multiplier=2.0, randomization=0.0,
                                        max_retries=3))
_PROBE_TIMEOUT = 10.0


class AppRefused(Exception):
    """The app did not take an input event."""


def _refused(status: int) -> int | None:
    return None if status // 100 == 2 else status


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
        # A gRPC app's ListInputBindings, asked once per start as daprd does.
        self._listed: list[str] | None = None

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
        except (BindingError, BreakerOpen, PolicyTimeout) as exc:
            metrics.output_binding(name, operation, False, start)
            raise _invoke_error(name, str(exc)) from None
        except Exception as exc:  # a component's own failure must not become a 500 crash
            metrics.output_binding(name, operation, False, start)
            log.exception("output binding %s failed on %s", name, operation)
            raise _invoke_error(name, f"{type(exc).__name__}: {exc}") from None
        metrics.output_binding(name, operation, True, start)
        return answer

    async def _traced(self, binding: OutputBinding, span: tracing.Span | None, operation: str,
                      data: bytes, metadata: dict[str, str]) -> InvokeResponse | None:
        status = 500
        try:
            policy = self.sidecar.resiliency.component(binding.name, BINDING, OUTBOUND)
            answer = await policy.run(lambda: binding.invoke(operation, data, metadata))
            status = 200
            return answer
        finally:
            tracing.finish(span, status)

    # -- input

    async def start(self) -> None:
        """Once the app listens: start every input binding the app serves."""
        self._listed = None
        for name, binding in self._bindings().items():
            if isinstance(binding, InputBinding) and INPUT in binding.directions():
                await self._start_one(name, binding)

    async def _start_one(self, name: str, binding: InputBinding) -> None:
        explicit = INPUT in (directions(binding.meta) or set())
        if not explicit and self.sidecar.app_grpc is not None:
            if not await self._app_lists(name):
                log.info("app has not subscribed to binding %s (its ListInputBindings does "
                         "not name it); not started", name)
                return
        elif not explicit and not await self._app_serves(route_of(binding)):
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

    async def _app_lists(self, name: str) -> bool:
        app = self.sidecar.app_grpc
        assert app is not None
        if self._listed is None:
            self._listed = await app.input_bindings(_PROBE_TIMEOUT)
        return name in self._listed

    def _handler(self, binding: InputBinding) -> InputHandler:
        lock = asyncio.Lock()  # one event at a time, even if a component calls concurrently

        async def deliver(data: bytes, metadata: dict[str, str]) -> None:
            async with lock:
                await self._deliver(binding, data, metadata)

        return deliver

    async def _deliver(self, binding: InputBinding, data: bytes,
                       metadata: dict[str, str]) -> None:
        policy = self.sidecar.resiliency.component(binding.name, BINDING, INBOUND)
        if policy.empty:
            policy = _INPUT_RETRIES
        answers: list[Any] = []  # a gRPC app's BindingEventResponse

        def send() -> Any:
            if self.sidecar.app_grpc is not None:
                return self._post_grpc(binding, data, metadata, answers)
            return self._post(binding, data, metadata)

        try:
            status = await policy.run(send, _refused)
        except (AppRefused, PolicyTimeout, BreakerOpen) as exc:
            log.error("event of binding %s not taken: %s", binding.name, exc)
            raise AppRefused(str(exc)) from None
        if _refused(status):
            log.error("event of binding %s not taken: the app answered %d", binding.name, status)
            raise AppRefused(f"the app answered {status}")
        if answers:
            await self._follow(binding.name, answers[-1])

    async def _post(self, binding: InputBinding, data: bytes, metadata: dict[str, str]) -> int:
        """One try; the app's status, or AppRefused when it did not answer."""
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
            log.warning("event of binding %s not taken: the app answered %d", binding.name,
                        reply.status)
        return reply.status

    async def _post_grpc(self, binding: InputBinding, data: bytes, metadata: dict[str, str],
                         answers: list[Any]) -> int:
        """One try as OnBindingEvent; the HTTP status daprd would see for its answer."""
        import grpc

        app = self.sidecar.app_grpc
        assert app is not None
        extra: dict[str, str] = {}
        span = tracing.start_span(f"bindings/{binding.name}", tracing.CLIENT,
                                  db__system="bindings", db__name=binding.name)
        if span is not None:
            span.context.inject(extra)
        start = time.perf_counter()
        try:
            answer = await app.binding_event(binding.name, data, metadata, list(extra.items()))
        except grpc.aio.AioRpcError as exc:
            status = http_status_of(exc.code().value[0])
            tracing.finish(span, status)
            metrics.input_binding(binding.name, False, start)
            log.warning("event of binding %s not taken: the app answered %s %s", binding.name,
                        exc.code().name, exc.details())
            return status
        tracing.finish(span, 200)
        metrics.input_binding(binding.name, True, start)
        answers.append(answer)
        return 200

    async def _follow(self, name: str, answer: Any) -> None:
        """What a gRPC app's answer asks for: its data sent to the `to` bindings
        ("create"), in order or all at once (`concurrency`), as daprd does."""
        from edge.api.grpc.protos import appcallback

        if answer.states:
            log.warning("the app's answer to an event of binding %s asks to save state; "
                        "edge does not support that and saves nothing", name)
        if not answer.to:
            return
        try:
            payload = json.dumps(json.loads(answer.data) if answer.data else None,
                                 separators=(",", ":")).encode()
        except ValueError:  # daprd sends data that is not JSON as null
            payload = b"null"
        parallel = answer.concurrency == appcallback.BindingEventResponse.PARALLEL
        for failure in await self._send_on(list(answer.to), payload, parallel):
            log.error("passing on the answer to an event of binding %s failed: %s",
                      name, failure)

    async def _send_on(self, targets: list[str], payload: bytes,
                       parallel: bool) -> list[BaseException]:
        """`create` on each target; the failures (in order, the first one ends it)."""
        sends = [self.invoke(target, "create", payload, {}) for target in targets]
        if parallel:
            outcomes = await asyncio.gather(*sends, return_exceptions=True)
            return [o for o in outcomes if isinstance(o, BaseException)]
        failures: list[BaseException] = []
        for send in sends:
            try:
                await send
            except DaprError as exc:
                failures.append(exc)
                break
        for send in sends:
            send.close()  # those after a failure stay unsent
        return failures

    async def stop(self) -> None:
        started, self._started = self._started, []
        for binding in reversed(started):
            try:
                await binding.stop_reading()
            except Exception:  # stopping the rest matters more
                log.exception("stopping input binding %s failed", binding.name)
