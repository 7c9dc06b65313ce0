"""Prometheus metrics with Dapr's names and labels, served on /metrics.

Everything the rest of the sidecar records goes through the functions at the
bottom of this module. Until `start` enables metrics they return at once, so
a sidecar run with `--enable-metrics=false` pays one global lookup per call.

Label values stay bounded: route templates instead of raw paths, names of
loaded components, operations a binding declares, app ids of this edge
home, and pub/sub topics (as Dapr labels them); never state keys, actor ids
or invoked method paths."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.metrics")  # scope dapr.metrics, as in daprd

# Dapr's default latency distribution, in milliseconds.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300,
    400, 500, 650, 800, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
SIZE_BUCKETS: tuple[float, ...] = (
    1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456,
    1073741824, 4294967296)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# A client may send any token as HTTP method; only these become label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class _Count:
    """A counter exposed under exactly its Dapr name. prometheus_client would
    append `_total` to every counter (`dapr_http_server_request_count_total`),
    which no Dapr dashboard queries; Dapr's Go exporter does not."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...]) -> None:
        self.name = name
        self.doc = doc
        self.labels = labels
        self.values: dict[tuple[str, ...], float] = {}
        # Components may record from their own threads (serial, GPIO readers).
        self._lock = threading.Lock()

    def inc(self, *values: str, amount: float = 1.0) -> None:
        with self._lock:
            self.values[values] = self.values.get(values, 0.0) + amount

    def render(self) -> str:
        with self._lock:
            items = sorted(self.values.items())
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} counter"]
        for values, value in items:
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(self.labels, values,
                                                                      strict=True))
            lines.append(f"{self.name}{{{labels}}} {_number(value)}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


class _StatusCollector:
    """Edge's own gauges, read from the components' status() at scrape time so
    that nothing has to be kept up to date between scrapes."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def collect(self) -> Iterator[Metric]:
        from edge.components.bindings.base import Binding
        from edge.components.pubsub.base import PubSub

        app_id = self.recorder.app_id
        labels = ["app_id", "component"]
        connected = {kind: GaugeMetricFamily(f"edge_{kind}_connected",
                                             f"1 while the {kind} component is connected to its "
                                             "device or broker, else 0", labels=labels)
                     for kind in ("binding", "pubsub")}
        depth = {kind: GaugeMetricFamily(f"edge_{kind}_outbox_depth",
                                         "Messages waiting in the component's outbox",
                                         labels=labels) for kind in ("binding", "pubsub")}
        age = {kind: GaugeMetricFamily(f"edge_{kind}_outbox_oldest_age_seconds",
                                       "Age of the oldest message in the component's outbox",
                                       labels=labels) for kind in ("binding", "pubsub")}
        expired = {kind: CounterMetricFamily(f"edge_{kind}_outbox_expired",
                                             "Messages dropped from the outbox as expired",
                                             labels=labels) for kind in ("binding", "pubsub")}
        sidecar = self.recorder.sidecar
        components = dict(sidecar.components.by_name) if sidecar is not None else {}
        for name, component in components.items():
            if isinstance(component, PubSub):
                kind = "pubsub"
            elif isinstance(component, Binding):
                kind = "binding"
            else:
                continue
            try:
                status: dict[str, Any] = component.status()
            except Exception:  # one component's failing status must not break the scrape
                log.debug("status() of %s failed", name, exc_info=True)
                continue
            value = [app_id, name]
            if isinstance(status.get("connected"), bool):
                connected[kind].add_metric(value, 1.0 if status["connected"] else 0.0)
            elif isinstance(status.get("state"), str):  # links that only name their state
                connected[kind].add_metric(value, 1.0 if status["state"] == "connected" else 0.0)
            if "outboxDepth" in status:
                depth[kind].add_metric(value, float(status["outboxDepth"]))
                age[kind].add_metric(value, float(status.get("outboxOldestAgeSeconds", 0.0)))
                expired[kind].add_metric(value, float(status.get("outboxExpired", 0)))
        for family in (*connected.values(), *depth.values(), *age.values(), *expired.values()):
            if family.samples:
                yield family


class Recorder:
    """The metrics of one sidecar, in a registry of their own."""

    def __init__(self, app_id: str, latency_buckets: Iterable[float] = LATENCY_BUCKETS_MS,
                 sidecar: Sidecar | None = None) -> None:
        self.app_id = app_id
        self.sidecar = sidecar
        self.exclude_verbs = False
        self.drop_paths = False
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(_StatusCollector(self))  # type: ignore[arg-type]
        buckets = tuple(latency_buckets)
        self.counts: list[_Count] = []

        def count(name: str, doc: str, *labels: str) -> _Count:
            counter = _Count(name, doc, ("app_id", *labels))
            self.counts.append(counter)
            return counter

        def histogram(name: str, doc: str, *labels: str,
                      bounds: tuple[float, ...] = buckets) -> Histogram:
            return Histogram(name, doc, ["app_id", *labels], buckets=bounds,
                             registry=self.registry)

        # HTTP server (the public API)
        self.http_requests = count("dapr_http_server_request_count",
                                   "HTTP API requests handled by the sidecar.",
                                   "method", "path", "status")
        self.http_latency = histogram("dapr_http_server_latency",
                                      "Time the sidecar took to answer an HTTP API request (ms).",
                                      "method", "path", "status")
        self.http_request_bytes = histogram(
            "dapr_http_server_request_bytes", "HTTP request body size if set as ContentLength "
            "(uncompressed) in server.", bounds=SIZE_BUCKETS)
        self.http_response_bytes = histogram(
            "dapr_http_server_response_bytes", "HTTP response body size (uncompressed) in server.",
            bounds=SIZE_BUCKETS)
        # HTTP client: the app channel. The app's paths are unbounded (invoked
        # methods carry ids), so `path` stays empty, as Dapr's low-cardinality mode has it.
        self.client_completed = count("dapr_http_client_completed_count",
                                      "Calls from the sidecar to its app that got an answer.",
                                      "method", "path", "status")
        self.client_latency = histogram("dapr_http_client_roundtrip_latency",
                                        "Time from a call to the app until its answer (ms).",
                                        "method", "path", "status")
        self.client_sent = histogram("dapr_http_client_sent_bytes",
                                     "Body bytes the sidecar sent to its app per call.",
                                     "method", "path", "status", bounds=SIZE_BUCKETS)
        self.client_received = histogram(
            "dapr_http_client_received_bytes", "Total bytes received in response bodies (not "
            "including headers but including error responses with bodies).",
            bounds=SIZE_BUCKETS)
        # Components
        self.loaded = count("dapr_runtime_component_loaded",
                            "Components this sidecar loaded.")
        self.init_total = count("dapr_runtime_component_init_total",
                                "Component initialisations, by type.", "component")
        self.init_fail = count("dapr_runtime_component_init_fail_total",
                               "Components that failed to initialise, by type and reason.",
                               "component", "reason")
        # Service invocation between sidecars
        self.req_sent = count("dapr_runtime_service_invocation_req_sent_total",
                              "Invocations this sidecar sent to other apps.",
                              "dst_app_id", "type")
        self.req_recv = count("dapr_runtime_service_invocation_req_recv_total",
                              "Invocations this sidecar received for its app.",
                              "src_app_id", "type")
        self.res_sent = count("dapr_runtime_service_invocation_res_sent_total",
                              "Answers to received invocations, sent back to the caller.",
                              "dst_app_id", "status", "type")
        self.res_recv = count("dapr_runtime_service_invocation_res_recv_total",
                              "Answers received for invocations this sidecar sent.",
                              "src_app_id", "status", "type")
        self.res_recv_latency = histogram("dapr_runtime_service_invocation_res_recv_latency_ms",
                                          "Time from sending an invocation to its answer (ms).",
                                          "src_app_id", "status")
        # Pub/sub
        self.ingress = count("dapr_component_pubsub_ingress_count",
                             "Messages delivered to the app from a pub/sub "
                             "component.", "component", "namespace", "process_status", "status",
                             "topic")
        self.ingress_latency = histogram("dapr_component_pubsub_ingress_latencies",
                                         "Time the app took to take a delivered message (ms).",
                                         "component", "namespace", "process_status", "status",
                                         "topic")
        self.egress = count("dapr_component_pubsub_egress_count",
                            "Messages the app published through the sidecar.",
                            "component", "namespace", "success", "topic")
        self.egress_latency = histogram("dapr_component_pubsub_egress_latencies",
                                        "Time a publish took in the pub/sub "
                                        "component (ms).", "component", "namespace", "success",
                                        "topic")
        # State
        self.state = count("dapr_component_state_count",
                           "State store calls made for the app.",
                           "component", "namespace", "operation", "success")
        self.state_latency = histogram("dapr_component_state_latencies",
                                       "Time a state store call took "
                                       "(ms).", "component", "namespace", "operation", "success")
        # Bindings
        self.input = count("dapr_component_input_binding_count",
                           "Events delivered to the app from an input "
                           "binding.", "component", "namespace", "success")
        self.input_latency = histogram("dapr_component_input_binding_latencies",
                                       "Time the app took to take an input binding event (ms).",
                                       "component", "namespace", "success")
        self.output = count("dapr_component_output_binding_count",
                            "Output binding operations the app invoked.",
                            "component", "namespace", "operation", "success")
        self.output_latency = histogram("dapr_component_output_binding_latencies",
                                        "Time an output binding operation "
                                        "took (ms).", "component", "namespace", "operation",
                                        "success")
        # Tracing
        self.spans_dropped = count("edge_tracing_spans_dropped_total",
                                   "Finished spans not exported: the queue was full or the "
                                   "collector did not take them.", "reason")

    @property
    def namespace(self) -> str:
        return self.sidecar.options.namespace if self.sidecar is not None else ""

    def render(self) -> bytes:
        counts = "".join(c.render() for c in self.counts)
        return counts.encode() + generate_latest(self.registry)


_recorder: Recorder | None = None


def enabled() -> bool:
    return _recorder is not None


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _flag(value: Any) -> str:
    return "true" if value else "false"


# -- configuration and the /metrics server


class _Wanted:
    """What the Configuration's spec.metrics asks for."""

    def __init__(self, sidecar: Sidecar) -> None:
        self.enabled = True
        self.buckets = LATENCY_BUCKETS_MS
        self.exclude_verbs = False
        self.drop_paths = False
        parsed = getattr(sidecar.config, "metrics", None)
        if parsed is not None and hasattr(parsed, "enabled"):
            # The Configuration parses spec.metrics itself (edge/runtime/config.py).
            self.enabled = bool(parsed.enabled)
            if getattr(parsed, "latency_distribution_buckets", ()):
                self.buckets = tuple(sorted({float(b)
                                             for b in parsed.latency_distribution_buckets}))
            http = getattr(parsed, "http", None)
            self.exclude_verbs = bool(getattr(http, "exclude_verbs", False))
            # As in Dapr, increasedCardinality: false drops the path label's value.
            self.drop_paths = getattr(http, "increased_cardinality", None) is False
            return
        spec = sidecar.config.spec.get("metrics")
        if isinstance(spec, dict):  # a Configuration that keeps only the raw spec
            self.enabled = str(spec.get("enabled", True)).strip().lower() != "false"


async def _serve(request: web.Request) -> web.Response:
    current = _recorder
    if current is None:
        raise web.HTTPNotFound()
    # Reading /proc for the process metrics takes microseconds: done on the loop.
    return web.Response(body=current.render(), headers={"Content-Type": CONTENT_TYPE})


async def start(sidecar: Sidecar) -> web.AppRunner | None:
    """Enable recording and serve /metrics on 127.0.0.1:--metrics-port. A port
    in use is logged and the sidecar goes on without metrics."""
    global _recorder
    options = sidecar.options
    wanted = _Wanted(sidecar)
    if not options.enable_metrics or not wanted.enabled:
        why = "--enable-metrics=false" if not options.enable_metrics else "spec.metrics.enabled"
        log.info("metrics disabled (%s)", why)
        return None
    disable_created_metrics()  # Dapr exposes no *_created series
    app = web.Application()
    app.router.add_get("/metrics", _serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", options.metrics_port, reuse_address=True)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        log.error("metrics server not started on port %d: %s; the sidecar runs without "
                  "metrics", options.metrics_port, exc)
        return None
    _recorder = Recorder(options.app_id, wanted.buckets, sidecar)
    _recorder.exclude_verbs = wanted.exclude_verbs
    _recorder.drop_paths = wanted.drop_paths
    log.info("metrics on http://127.0.0.1:%d/metrics", options.metrics_port)
    return runner


def stop() -> None:
    global _recorder
    _recorder = None


# -- what the rest of the sidecar records


@web.middleware
async def http_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse:
    start_time = time.perf_counter()
    status = 500
    size = 0
    try:
        response = await handler(request)
        status = response.status
        size = response.content_length or 0
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        current = _recorder
        if current is not None:
            resource = request.match_info.route.resource
            # The route template, never the raw path: keys and ids stay out of labels.
            path = resource.canonical if resource is not None else ""
            method = request.method if request.method in _METHODS else "OTHER"
            if current.drop_paths:
                path = ""
            if current.exclude_verbs:
                method = ""
            labels = (current.app_id, method, path, str(status))
            current.http_requests.inc(*labels)
            current.http_latency.labels(*labels).observe(_ms_since(start_time))
            current.http_request_bytes.labels(current.app_id).observe(
                request.content_length or 0)
            current.http_response_bytes.labels(current.app_id).observe(size)


def app_call(method: str, status: int, sent: int, received: int, start_time: float) -> None:
    """One request to the app that got an answer."""
    current = _recorder
    if current is not None:
        method = method if method in _METHODS else "OTHER"
        labels = (current.app_id, method, "", str(status))
        current.client_completed.inc(*labels)
        current.client_latency.labels(*labels).observe(_ms_since(start_time))
        current.client_sent.labels(*labels).observe(sent)
        current.client_received.labels(current.app_id).observe(received)


def component_loaded(ctype: str) -> None:
    current = _recorder
    if current is not None:
        current.loaded.inc(current.app_id)
        current.init_total.inc(current.app_id, ctype)


def component_init_failed(ctype: str, reason: str = "init") -> None:
    current = _recorder
    if current is not None:
        current.init_fail.inc(current.app_id, ctype, reason)


def invocation_sent(dst_app_id: str) -> float:
    """Count a request to another sidecar; the start time for `invocation_answered`."""
    current = _recorder
    if current is not None:
        current.req_sent.inc(current.app_id, dst_app_id, "unary")
    return time.perf_counter()


def invocation_answered(src_app_id: str, status: int, start_time: float) -> None:
    current = _recorder
    if current is not None:
        current.res_recv.inc(current.app_id, src_app_id, str(status), "unary")
        current.res_recv_latency.labels(current.app_id, src_app_id, str(status)).observe(
            _ms_since(start_time))


def invocation_received(src_app_id: str) -> None:
    current = _recorder
    if current is not None:
        current.req_recv.inc(current.app_id, src_app_id, "unary")


def invocation_responded(dst_app_id: str, status: int) -> None:
    current = _recorder
    if current is not None:
        current.res_sent.inc(current.app_id, dst_app_id, str(status), "unary")


def pubsub_egress(component: str, topic: str, success: bool, start_time: float) -> None:
    current = _recorder
    if current is not None:
        labels = (current.app_id, component, current.namespace, _flag(success), topic)
        current.egress.inc(*labels)
        current.egress_latency.labels(*labels).observe(_ms_since(start_time))


def pubsub_ingress(component: str, topic: str, process_status: str, start_time: float) -> None:
    """One delivery attempt to the app; process_status is success, retry or drop."""
    current = _recorder
    if current is not None:
        labels = (current.app_id, component, current.namespace, process_status, process_status,
                  topic)
        current.ingress.inc(*labels)
        current.ingress_latency.labels(*labels).observe(_ms_since(start_time))


def input_binding(component: str, success: bool, start_time: float) -> None:
    current = _recorder
    if current is not None:
        labels = (current.app_id, component, current.namespace, _flag(success))
        current.input.inc(*labels)
        current.input_latency.labels(*labels).observe(_ms_since(start_time))


def output_binding(component: str, operation: str, success: bool, start_time: float) -> None:
    current = _recorder
    if current is not None:
        labels = (current.app_id, component, current.namespace, operation, _flag(success))
        current.output.inc(*labels)
        current.output_latency.labels(*labels).observe(_ms_since(start_time))


class _StateOp:
    """Times one state store call: `with metrics.state_op(name, "get"): ...`."""

    __slots__ = ("component", "operation", "start")

    def __init__(self, component: str, operation: str) -> None:
        self.component = component
        self.operation = operation
        self.start = time.perf_counter()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        current = _recorder
        if current is not None:
            labels = (current.app_id, self.component, current.namespace, self.operation,
                      _flag(kind is None))
            current.state.inc(*labels)
            current.state_latency.labels(*labels).observe(_ms_since(self.start))


class _Nothing:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


_NOTHING = _Nothing()


def state_op(component: str, operation: str) -> _StateOp | _Nothing:
    """Dapr's operation names: get, set, delete, bulk_get, transaction, query."""
    return _StateOp(component, operation) if _recorder is not None else _NOTHING


def spans_dropped(count: int, reason: str) -> None:
    current = _recorder
    if current is not None:
        current.spans_dropped.inc(current.app_id, reason, amount=count)
