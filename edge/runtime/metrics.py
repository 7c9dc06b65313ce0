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
import re
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
    from edge.runtime.config import MetricRule
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


# Label index -> (pattern, replacement) pairs, applied in order.
Rewrites = dict[int, tuple[tuple[re.Pattern[str], str], ...]]


def _compile(rule: MetricRule | None, labels: tuple[str, ...]) -> Rewrites:
    """A Configuration rule (spec.metrics.rules) for one metric, compiled once."""
    if rule is None:
        return {}
    found: Rewrites = {}
    for label in rule.labels:
        if label.name in labels and label.regex:
            # The key is the literal new value: escape what re.sub would read as a group.
            found[labels.index(label.name)] = tuple(
                (re.compile(pattern), replacement.replace("\\", "\\\\"))
                for replacement, pattern in label.regex.items())
    return found


def _rewrite(values: tuple[str, ...], rewrites: Rewrites) -> tuple[str, ...]:
    """Dapr's rule semantics: every match of a pattern in a label value is
    replaced by the rule's key (taken literally); empty values stay empty."""
    if not rewrites:
        return values
    out = list(values)
    for index, pairs in rewrites.items():
        for pattern, replacement in pairs:
            if out[index]:
                out[index] = pattern.sub(replacement, out[index])
    return tuple(out)


class _Histogram:
    """A prometheus_client Histogram whose label values pass the rules first."""

    def __init__(self, histogram: Histogram, rewrites: Rewrites) -> None:
        self.histogram = histogram
        self.rewrites = rewrites

    def labels(self, *values: str) -> Any:
        return self.histogram.labels(*_rewrite(values, self.rewrites))


class _Count:
    """A counter exposed under exactly its Dapr name. prometheus_client would
    append `_total` to every counter (`dapr_http_server_request_count_total`),
    which no Dapr dashboard queries; Dapr's Go exporter does not."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...],
                 kind: str = "counter") -> None:
        self.name = name
        self.doc = doc
        self.labels = labels
        self.kind = kind
        self.rewrites: Rewrites = {}
        self.values: dict[tuple[str, ...], float] = {}
        # Components may record from their own threads (serial, GPIO readers).
        self._lock = threading.Lock()

    def inc(self, *values: str, amount: float = 1.0) -> None:
        values = _rewrite(values, self.rewrites)
        with self._lock:
            self.values[values] = self.values.get(values, 0.0) + amount

    def set(self, *values: str, value: float) -> None:
        values = _rewrite(values, self.rewrites)
        with self._lock:
            self.values[values] = value

    def render(self) -> str:
        with self._lock:
            items = sorted(self.values.items())
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} {self.kind}"]
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
                 sidecar: Sidecar | None = None, rules: Iterable[MetricRule] = ()) -> None:
        self.app_id = app_id
        self.rules = {rule.name: rule for rule in rules}
        self.names: set[str] = set()
        self.sidecar = sidecar
        self.exclude_verbs = False
        self.drop_paths = False
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(_StatusCollector(self))  # type: ignore[arg-type]
        buckets = tuple(latency_buckets)
        self.counts: list[_Count] = []

        def count(name: str, doc: str, *labels: str, kind: str = "counter") -> _Count:
            counter = _Count(name, doc, ("app_id", *labels), kind)
            counter.rewrites = _compile(self.rules.get(name), counter.labels)
            self.counts.append(counter)
            self.names.add(name)
            return counter

        def histogram(name: str, doc: str, *labels: str,
                      bounds: tuple[float, ...] = buckets) -> _Histogram:
            self.names.add(name)
            return _Histogram(Histogram(name, doc, ["app_id", *labels], buckets=bounds,
                                        registry=self.registry),
                              _compile(self.rules.get(name), ("app_id", *labels)))

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
        self._bulk_pubsub(count, histogram)
        self._actors(count)
        # gRPC API
        self.grpc_completed = count("dapr_grpc_io_server_completed_rpcs",
                                    "gRPC API calls the sidecar answered.",
                                    "grpc_server_method", "grpc_server_status")
        self.grpc_latency = histogram("dapr_grpc_io_server_server_latency",
                                      "Time the sidecar took to answer a gRPC API call (ms).",
                                      "grpc_server_method", "grpc_server_status")
        # Resiliency
        policy_labels = ("name", "policy", "namespace", "flow_direction", "target", "status")
        self.resiliency_loaded = count("dapr_resiliency_loaded",
                                       "Resiliency resources this sidecar loaded.",
                                       "name", "namespace")
        self.resiliency_count = count("dapr_resiliency_count",
                                      "Operations a resiliency policy was applied to.",
                                      *policy_labels)
        self.resiliency_activations = count(
            "dapr_resiliency_activations_total", "Times a resiliency policy acted: a retry "
            "after a failure, a timeout that fired, a circuit breaker that changed state.",
            *policy_labels)
        self.breaker_state = count("dapr_resiliency_cb_state",
                                   "1 for the state a circuit breaker is in, 0 for the others.",
                                   *policy_labels, kind="gauge")
        # Tracing
        self.spans_dropped = count("edge_tracing_spans_dropped_total",
                                   "Finished spans not exported: the queue was full or the "
                                   "collector did not take them.", "reason")

    def _bulk_pubsub(self, count: Callable[..., _Count],
                     histogram: Callable[..., _Histogram]) -> None:
        egress = ("component", "namespace", "success", "topic")
        self.bulk_egress = count("dapr_component_pubsub_egress_bulk_count",
                                 "Bulk publish calls the app made through the sidecar.", *egress)
        self.bulk_egress_events = count("dapr_component_pubsub_egress_bulk_event_count",
                                        "Messages published by bulk publish calls.", *egress)
        self.bulk_egress_latency = histogram("dapr_component_pubsub_egress_bulk_latencies",
                                             "Time a bulk publish took in the pub/sub "
                                             "component (ms).", *egress)
        # As in Dapr, the call count and latency leave process_status empty:
        # a batch's entries each have their own outcome (the event count).
        ingress = ("component", "namespace", "process_status", "topic")
        self.bulk_ingress = count("dapr_component_pubsub_ingress_bulk_count",
                                  "Batches delivered to the app by bulk subscriptions.", *ingress)
        self.bulk_ingress_events = count("dapr_component_pubsub_ingress_bulk_event_count",
                                         "Entries of delivered batches, by the app's verdict.",
                                         *ingress)
        self.bulk_ingress_latency = histogram("dapr_component_pubsub_ingress_bulk_latencies",
                                              "Time the app took to take a batch (ms).",
                                              *ingress)

    def _actors(self, count: Callable[..., _Count]) -> None:
        self.actor_timers = count("dapr_runtime_actor_timers",
                                  "Timers running on this sidecar's actors.", "actor_type",
                                  kind="gauge")
        self.actor_reminders = count("dapr_runtime_actor_reminders",
                                     "Reminders stored for the actor type.", "actor_type",
                                     kind="gauge")
        self.actor_pending = count("dapr_runtime_actor_pending_actor_calls",
                                   "Calls waiting for their actor's turn.", "actor_type",
                                   kind="gauge")
        self.reminders_pending = count("edge_actor_reminders_pending",
                                       "Reminders this sidecar is to fire: those of the "
                                       "actors it hosts.", "actor_type", kind="gauge")
        self.timers_fired = count("dapr_runtime_actor_timers_fired_total",
                                  "Timer callbacks made to the app.", "actor_type", "success")
        self.reminders_fired = count("dapr_runtime_actor_reminders_fired_total",
                                     "Reminder callbacks made to the app.", "actor_type",
                                     "success")
        self.deactivated = count("dapr_runtime_actor_deactivated_total",
                                 "Actors deactivated in the app.", "actor_type")
        self.deactivate_failed = count("dapr_runtime_actor_deactivated_failed_total",
                                       "Deactivations the app did not confirm.", "actor_type")
        self.rebalanced = count("dapr_runtime_actor_rebalanced_total",
                                "Actors let go because another host took them over.",
                                "actor_type")

    def unknown_rules(self) -> list[str]:
        return sorted(set(self.rules) - self.names)

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
        self.rules: tuple[MetricRule, ...] = ()
        parsed = getattr(sidecar.config, "metrics", None)
        if parsed is not None and hasattr(parsed, "enabled"):
            # The Configuration parses spec.metrics itself (edge/runtime/config.py).
            self.enabled = bool(parsed.enabled)
            self.rules = tuple(getattr(parsed, "rules", ()))
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
    _recorder = Recorder(options.app_id, wanted.buckets, sidecar, wanted.rules)
    for name in _recorder.unknown_rules():
        log.warning("spec.metrics.rules: no metric is named %s; its rule does nothing", name)
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


def pubsub_bulk_egress(component: str, topic: str, published: int, total: int,
                       start_time: float) -> None:
    """One bulk publish call; it succeeded when every entry was published."""
    current = _recorder
    if current is not None:
        labels = (current.app_id, component, current.namespace, _flag(published == total),
                  topic)
        current.bulk_egress.inc(*labels)
        current.bulk_egress_latency.labels(*labels).observe(_ms_since(start_time))
        if published:
            current.bulk_egress_events.inc(current.app_id, component, current.namespace,
                                           "true", topic, amount=published)


def pubsub_bulk_ingress(component: str, topic: str, outcomes: Iterable[str],
                        start_time: float) -> None:
    """One batch handed to the app; outcomes are its entries' success, retry or drop."""
    current = _recorder
    if current is not None:
        labels = (current.app_id, component, current.namespace, "", topic)
        current.bulk_ingress.inc(*labels)
        current.bulk_ingress_latency.labels(*labels).observe(_ms_since(start_time))
        for status in outcomes:
            current.bulk_ingress_events.inc(current.app_id, component, current.namespace,
                                            status, topic)


def actor_gauge(which: str, actor_type: str, value: float) -> None:
    """which: timers, reminders, pending (calls) or reminders_pending."""
    current = _recorder
    if current is not None:
        gauge = {"timers": current.actor_timers, "reminders": current.actor_reminders,
                 "pending": current.actor_pending,
                 "reminders_pending": current.reminders_pending}[which]
        gauge.set(current.app_id, actor_type, value=float(value))


def actor_fired(kind: str, actor_type: str, success: bool) -> None:
    """A timer or reminder callback to the app; kind is timer or reminder."""
    current = _recorder
    if current is not None:
        counter = current.timers_fired if kind == "timer" else current.reminders_fired
        counter.inc(current.app_id, actor_type, _flag(success))


def actor_deactivated(actor_type: str, success: bool) -> None:
    """An activation dropped; success when the app confirmed it (2xx)."""
    current = _recorder
    if current is not None:
        counter = current.deactivated if success else current.deactivate_failed
        counter.inc(current.app_id, actor_type)


def actor_rebalanced(actor_type: str) -> None:
    current = _recorder
    if current is not None:
        current.rebalanced.inc(current.app_id, actor_type)


def spans_dropped(count: int, reason: str) -> None:
    current = _recorder
    if current is not None:
        current.spans_dropped.inc(current.app_id, reason, amount=count)


# Resiliency. `policy` is timeout, retry or circuitbreaker; `target` is
# app_<id>, actor_<type> or <kind>_<component>, as Dapr labels them.
BREAKER_STATES = ("unknown", "closed", "half-open", "open")


def resiliency_loaded(name: str) -> None:
    current = _recorder
    if current is not None:
        current.resiliency_loaded.inc(current.app_id, name, current.namespace)


def resiliency_executed(name: str, policy: str, direction: str, target: str,
                        status: str = "") -> None:
    current = _recorder
    if current is not None:
        current.resiliency_count.inc(current.app_id, name, policy, current.namespace, direction,
                                     target, status)


def resiliency_activated(name: str, policy: str, direction: str, target: str,
                         status: str = "") -> None:
    current = _recorder
    if current is not None:
        current.resiliency_activations.inc(current.app_id, name, policy, current.namespace,
                                           direction, target, status)


def breaker_state(name: str, direction: str, target: str, state: str) -> None:
    current = _recorder
    if current is not None:
        for each in BREAKER_STATES:
            current.breaker_state.set(current.app_id, name, "circuitbreaker", current.namespace,
                                      direction, target, each, value=1.0 if each == state else 0.0)


def grpc_served(method: str, status: str, start_time: float) -> None:
    """One gRPC API call; `method` is the full name (/dapr.proto.runtime.v1.Dapr/GetState)."""
    current = _recorder
    if current is not None:
        labels = (current.app_id, method, status)
        current.grpc_completed.inc(*labels)
        current.grpc_latency.labels(*labels).observe(_ms_since(start_time))
