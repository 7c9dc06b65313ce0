"""Distributed tracing: W3C trace context in and out, spans, and their export
to Zipkin (v2 JSON) and/or the log.

No OpenTelemetry SDK: a gateway sidecar needs only a few pieces of it. Export
never holds up a request: spans wait in a bounded queue that a background
task sends in batches; what does not fit or cannot be sent is counted and
dropped."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from edge.runtime import metrics

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.tracing")
span_log = logging.getLogger("edge.tracing.spans")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
SERVER, CLIENT, PRODUCER, CONSUMER = "SERVER", "CLIENT", "PRODUCER", "CONSUMER"
# The name Dapr gives the sidecar-to-sidecar call (its internal gRPC method).
CALL_LOCAL = "/dapr.proto.internals.v1.ServiceInvocation/CallLocal"
# ... and the one for an actor call sent on to the actor's host.
CALL_ACTOR = "/dapr.proto.internals.v1.ServiceInvocation/CallActor"

BATCH_SIZE = 100
FLUSH_SECONDS = 1.0
QUEUE_LIMIT = 10_000
_EXPORT_TIMEOUT = aiohttp.ClientTimeout(total=5)
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
# W3C: at most 32 list members; Dapr drops a tracestate over 512 characters.
_TRACESTATE_LIMIT = 512


@dataclass(frozen=True)
class SpanContext:
    trace_id: str
    span_id: str
    sampled: bool
    tracestate: str = ""

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def inject(self, headers: Any) -> None:
        """Set traceparent (and tracestate, if any) on a header mapping."""
        headers[TRACEPARENT] = self.traceparent()
        if self.tracestate:
            headers[TRACESTATE] = self.tracestate
        elif TRACESTATE in headers:
            del headers[TRACESTATE]


def parse_traceparent(value: Any, tracestate: Any = "") -> SpanContext | None:
    """The context a traceparent names; None when it is missing or invalid,
    which starts a new trace (W3C trace context, version 00 and later)."""
    if not isinstance(value, str):
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    # ff is forbidden; version 00 has nothing after the flags; later versions may.
    if version == "ff" or (version == "00" and rest) or not int(trace_id, 16) \
            or not int(span_id, 16):
        return None
    state = tracestate.strip() if isinstance(tracestate, str) else ""
    if len(state) > _TRACESTATE_LIMIT:
        state = ""
    return SpanContext(trace_id, span_id, bool(int(flags, 16) & 1), state)


def from_headers(headers: Mapping[str, str]) -> SpanContext | None:
    return parse_traceparent(headers.get(TRACEPARENT), headers.get(TRACESTATE, ""))


def _new_id(size: int) -> str:
    while True:
        value = os.urandom(size).hex()
        if int(value, 16):
            return value


@dataclass
class Span:
    name: str
    kind: str
    context: SpanContext
    parent_id: str | None
    start_us: int = field(default_factory=lambda: time.time_ns() // 1000)
    tags: dict[str, str] = field(default_factory=dict)
    remote_service: str = ""
    _began: int = field(default_factory=time.perf_counter_ns)
    duration_us: int = 0

    def tag(self, **values: Any) -> None:
        self.tags.update({k.replace("__", "."): str(v) for k, v in values.items()})

    def zipkin(self, service: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "traceId": self.context.trace_id, "id": self.context.span_id, "name": self.name,
            "kind": self.kind, "timestamp": self.start_us,
            "duration": max(1, self.duration_us), "localEndpoint": {"serviceName": service},
            "tags": dict(self.tags)}
        if self.parent_id:
            doc["parentId"] = self.parent_id
        if self.remote_service:
            doc["remoteEndpoint"] = {"serviceName": self.remote_service}
        return doc


# The span the current request or task runs in, for code deeper down.
current: contextvars.ContextVar[SpanContext | None] = contextvars.ContextVar(
    "edge_trace_context", default=None)


class Exporter:
    """Sends spans to a Zipkin collector in batches, from its own task."""

    def __init__(self, url: str, limit: int = QUEUE_LIMIT) -> None:
        self.url = url
        self.limit = limit
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=_EXPORT_TIMEOUT)
        self._task = asyncio.create_task(self._run())

    def add(self, span: dict[str, Any]) -> None:
        if len(self._queue) >= self.limit:
            metrics.spans_dropped(1, "queue_full")
            return
        self._queue.append(span)
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # a bad span must not end the export for good
                log.exception("exporting spans failed")

    async def flush(self) -> None:
        while self._queue and self._session is not None:
            batch = [self._queue.popleft() for _ in range(min(BATCH_SIZE, len(self._queue)))]
            try:
                async with self._session.post(self.url, json=batch) as reply:
                    if reply.status // 100 != 2:
                        raise aiohttp.ClientError(f"collector answered {reply.status}")
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                metrics.spans_dropped(len(batch), "export_failed")
                # One line per outage, not one per batch.
                if not self._failing:
                    log.warning("cannot export spans to %s: %s; dropping them until it "
                                "answers", self.url, exc or exc.__class__.__name__)
                self._failing = True
                return
            if self._failing:
                log.info("exporting spans to %s again", self.url)
            self._failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # What the last requests produced, without holding up the shutdown long.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 2.0)
        if self._session is not None:
            await self._session.close()


class Tracer:
    def __init__(self, service: str, rate: float, exporter: Exporter | None,
                 stdout: bool) -> None:
        self.service = service
        self.rate = rate
        self.exporter = exporter
        self.stdout = stdout

    def _sample(self, trace_id: str) -> bool:
        # Deterministic on the trace id, so every sidecar decides a trace alike.
        return int(trace_id[16:], 16) < self.rate * (1 << 64)

    def start(self, name: str, kind: str, parent: SpanContext | None = None,
              **tags: Any) -> Span:
        """A span, child of `parent` or the root of a new trace. As in Dapr
        (parent-based sampling), a parent's sampled flag decides for its children."""
        if parent is None:
            trace_id = _new_id(16)
            context = SpanContext(trace_id, _new_id(8), self._sample(trace_id))
        else:
            context = SpanContext(parent.trace_id, _new_id(8), parent.sampled, parent.tracestate)
        span = Span(name, kind, context, parent.span_id if parent else None)
        span.tag(**tags)
        return span

    def finish(self, span: Span) -> None:
        span.duration_us = (time.perf_counter_ns() - span._began) // 1000
        if not span.context.sampled:
            return
        doc = span.zipkin(self.service)
        if self.stdout:
            span_log.info("span %s", json.dumps(doc, separators=(",", ":")))
        if self.exporter is not None:
            self.exporter.add(doc)


_tracer: Tracer | None = None


def tracer() -> Tracer | None:
    """The sidecar's tracer, or None when tracing is off (samplingRate 0)."""
    return _tracer


def start_span(name: str, kind: str, parent: SpanContext | None = None,
               **tags: Any) -> Span | None:
    return _tracer.start(name, kind, parent, **tags) if _tracer is not None else None


def finish(span: Span | None, status: int | None = None) -> None:
    if span is None or _tracer is None:
        return
    if status is not None:
        span.tag(dapr__status_code=status)
        if status >= 400:
            span.tag(error=str(status))
    _tracer.finish(span)


def start(sidecar: Sidecar) -> None:
    """Tracing as the sidecar's Configuration sets it. Call within the loop."""
    global _tracer
    spec = sidecar.config.tracing
    if spec.sampling_rate <= 0:
        # As in Dapr: a rate of 0 (the default) turns tracing off.
        return
    exporter = None
    if spec.zipkin.endpoint_address:
        exporter = Exporter(spec.zipkin.endpoint_address)
        exporter.start()
    _tracer = Tracer(sidecar.options.app_id, spec.sampling_rate, exporter, spec.stdout)
    log.info("tracing on: sampling rate %g%s%s", spec.sampling_rate,
             f", zipkin {spec.zipkin.endpoint_address}" if exporter else "",
             ", spans logged" if spec.stdout else "")


async def stop() -> None:
    global _tracer
    active, _tracer = _tracer, None
    if active is not None and active.exporter is not None:
        await active.exporter.close()


# -- the HTTP servers

def actor_tags(actor_type: str, actor_id: str) -> dict[str, str]:
    """Dapr's attributes of an actor call (the actor as `type.id`)."""
    actor = f"{actor_type}.{actor_id}"
    return {"rpc__service": "ServiceInvocation", "net__peer__name": actor, "dapr__actor": actor}


def _template(request: web.Request) -> str:
    """The route template: keys, ids and names in a URL must not reach the
    collector (they can be secret, and span names are indexed)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def _api_span(request: web.Request, span: Span) -> None:
    """Dapr's name and attributes for a call of its HTTP API."""
    path = request.path
    parts = path.split("/")
    span.tag(dapr__api=f"{request.method} {_template(request)}", dapr__protocol="http")
    app_id = request.headers.get("dapr-app-id", "")
    method = ""
    if len(parts) >= 4 and parts[2] == "invoke":
        app_id = app_id or parts[3]
        method = "/".join(parts[5:]) if len(parts) > 5 else ""
    elif app_id:
        method = path.lstrip("/")
    if app_id:
        span.name = f"CallLocal/{app_id}/{method}"
        span.tag(rpc__service="ServiceInvocation", net__peer__name=app_id,
                 dapr__invoke_method=method)
        return
    block = parts[2] if len(parts) > 3 else ""
    if block == "actors" and len(parts) > 6 and parts[5] == "method":
        span.name = f"CallActor/{parts[3]}/{'/'.join(parts[6:])}"
        span.tag(**actor_tags(parts[3], parts[4]))
    elif block == "actors" and len(parts) > 5 and parts[5] == "state":
        span.tag(db__system="state", db__name="actor")
    elif block in ("state", "secrets", "bindings"):
        span.tag(db__system=block, db__name=parts[3])
    elif block == "publish" and len(parts) > 4:
        span.tag(messaging__system="pubsub", messaging__destination__name="/".join(parts[4:]))


def _internal_name(request: web.Request) -> str:
    """Dapr's name for a call between sidecars: its internal gRPC method."""
    return CALL_ACTOR if request.path.startswith("/v1.0-internal/actors/") else CALL_LOCAL


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def http_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Continue the caller's trace (or start one) with a SERVER span, and
    hand its context to the handler and back to the caller."""
    active = _tracer
    if active is None or "/healthz" in request.path:
        return await handler(request)
    internal = request.path.startswith("/v1.0-internal/")
    span = active.start(_internal_name(request) if internal
                        else f"{request.method} {_template(request)}",
                        SERVER, from_headers(request.headers))
    if internal:
        span.tag(rpc__service="ServiceInvocation", dapr__protocol="http")
        if span.name == CALL_ACTOR:
            info = request.match_info
            span.tag(**actor_tags(info.get("type", ""), info.get("id", "")))
    else:
        _api_span(request, span)
    token = current.set(span.context)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        # The public API answers with its span (Dapr does); the internal port
        # must not, or the callee's span would reach the client in its stead.
        if not internal and not response.prepared and TRACEPARENT not in response.headers:
            span.context.inject(response.headers)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        current.reset(token)
        finish(span, status)
