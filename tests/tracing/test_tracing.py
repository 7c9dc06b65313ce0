"""W3C trace context and Zipkin export, between real sidecars and apps."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import Spawner
from tests.harness import free_port, wait_until
from tests.pubsub.helpers import Subscriber, in_memory, new_topic, write_docs
from tests.tracing.conftest import Collector, check_zipkin, write_config

CALL_LOCAL = "/dapr.proto.internals.v1.ServiceInvocation/CallLocal"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def _ids(traceparent: str) -> tuple[str, str]:
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16, traceparent
    return trace_id, span_id


def _one(spans: list[dict], service: str, kind: str) -> dict:
    found = [s for s in spans if s["localEndpoint"]["serviceName"] == service
             and s["kind"] == kind]
    assert len(found) == 1, (service, kind, spans)
    return found[0]


def test_invocation_between_sidecars_is_one_trace(spawn: Spawner, tmp_path: Path,
                                                  collector: Collector) -> None:
    config = write_config(tmp_path / "tracing.yaml", "1", collector.url)
    app = spawn.app()
    spawn.sidecar("callee", app_port=app.port, args=["--config", str(config)])
    caller = spawn.sidecar("caller", args=["--config", str(config)])
    with caller.client() as client:
        reply = client.post("/v1.0/invoke/callee/method/orders/7", content=b"x")
    assert reply.status_code == 200, reply.text
    trace_id, api_id = _ids(reply.headers["traceparent"])
    app_trace, app_parent = _ids(reply.json()["headers"]["traceparent"])
    assert app_trace == trace_id

    spans = collector.wait_for(trace_id, 3)
    for span in spans:
        check_zipkin(span)
    api = _one(spans, "caller", "SERVER")
    assert api["id"] == api_id and "parentId" not in api
    assert api["name"] == "CallLocal/callee/orders/7"
    assert api["tags"]["rpc.service"] == "ServiceInvocation"
    assert api["tags"]["net.peer.name"] == "callee"
    assert api["tags"]["dapr.status_code"] == "200"
    sent = _one(spans, "caller", "CLIENT")
    assert sent["parentId"] == api["id"] and sent["name"] == CALL_LOCAL
    assert sent["remoteEndpoint"] == {"serviceName": "callee"}
    received = _one(spans, "callee", "SERVER")
    assert received["parentId"] == sent["id"] and received["name"] == CALL_LOCAL
    # The app is called from the callee sidecar's span.
    assert app_parent == received["id"]


def test_incoming_context_is_continued_and_its_flag_honoured(
        spawn: Spawner, tmp_path: Path, collector: Collector) -> None:
    config = write_config(tmp_path / "tracing.yaml", "1", collector.url)
    app = spawn.app()
    sidecar = spawn.sidecar("traced", app_port=app.port, args=["--config", str(config)])
    with sidecar.client() as client:
        reply = client.get("/v1.0/invoke/traced/method/hello", headers={
            "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "vendor=1"})
        assert reply.status_code == 200
        seen = reply.json()["headers"]
        unsampled = "11111111111111111111111111111111"
        quiet = client.get("/v1.0/invoke/traced/method/hello",
                           headers={"traceparent": f"00-{unsampled}-{PARENT_ID}-00"})
        invalid = client.get("/v1.0/invoke/traced/method/hello",
                             headers={"traceparent": f"00-{'0' * 32}-{PARENT_ID}-01"})
    assert _ids(reply.headers["traceparent"])[0] == TRACE_ID
    assert _ids(seen["traceparent"])[0] == TRACE_ID
    assert seen["tracestate"] == "vendor=1"
    assert quiet.headers["traceparent"].endswith("-00")
    assert _ids(quiet.headers["traceparent"])[0] == unsampled
    # An invalid traceparent starts a new trace.
    new_trace = _ids(invalid.headers["traceparent"])[0]
    assert new_trace not in (TRACE_ID, "0" * 32)

    api = _one(collector.wait_for(TRACE_ID, 1), "traced", "SERVER")
    check_zipkin(api)
    assert api["parentId"] == PARENT_ID
    collector.wait_for(new_trace, 1)
    assert collector.trace(unsampled) == []


def test_publish_and_delivery_share_the_trace(spawn: Spawner, tmp_path: Path,
                                              collector: Collector) -> None:
    config = write_config(tmp_path / "tracing.yaml", "1", collector.url)
    resources = tmp_path / "resources"
    write_docs(resources / "pubsub.yaml", in_memory("bus"))
    topic = new_topic("traced")
    subscriber = spawn.track(Subscriber(tmp_path, [
        {"pubsubname": "bus", "topic": topic, "route": "/orders"}]))
    assert isinstance(subscriber, Subscriber)
    sidecar = spawn.sidecar("shop", resources, app_port=subscriber.port,
                            args=["--config", str(config)])
    wait_until(lambda: httpx.get(sidecar.url + "/v1.0/healthz", timeout=5).status_code == 204)
    with sidecar.client() as client:
        reply = wait_until(lambda: client.post(f"/v1.0/publish/bus/{topic}",
                                               json={"id": 1}), what="a publish")
    assert reply.status_code == 204, reply.text
    trace_id, api_id = _ids(reply.headers["traceparent"])

    delivery = subscriber.wait_for(1, topic)[0]
    delivered_trace, app_parent = _ids(delivery["headers"]["traceparent"])
    assert delivered_trace == trace_id
    event = delivery["json"]
    assert _ids(event["traceparent"])[0] == trace_id
    assert event["traceid"] == event["traceparent"]

    spans = collector.wait_for(trace_id, 3)
    for span in spans:
        check_zipkin(span)
    api = _one(spans, "shop", "SERVER")
    produced = _one(spans, "shop", "PRODUCER")
    consumed = _one(spans, "shop", "CONSUMER")
    assert api["id"] == api_id
    assert api["tags"]["messaging.destination.name"] == topic
    assert produced["parentId"] == api["id"] and produced["name"] == f"pubsub/{topic}"
    assert consumed["parentId"] == produced["id"] and consumed["name"] == f"pubsub/{topic}"
    assert consumed["tags"]["messaging.system"] == "pubsub"
    assert app_parent == consumed["id"]


def test_sampling_rate_zero_exports_nothing(spawn: Spawner, tmp_path: Path,
                                            collector: Collector) -> None:
    config = write_config(tmp_path / "tracing.yaml", "0", collector.url)
    app = spawn.app()
    sidecar = spawn.sidecar("untraced", app_port=app.port, args=["--config", str(config)])
    with sidecar.client() as client:
        for _ in range(3):
            assert client.get("/v1.0/invoke/untraced/method/hello", headers={
                "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}).status_code == 200
    time.sleep(1.5)  # longer than a flush interval
    assert collector.spans == [] and collector.posts == 0


def test_collector_down_neither_fails_nor_slows_requests(spawn: Spawner, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/v2/spans"
    config = write_config(tmp_path / "tracing.yaml", "1", nowhere)
    app = spawn.app()
    metrics_port = free_port()
    sidecar = spawn.sidecar("lonely", app_port=app.port, args=[
        "--config", str(config), "--metrics-port", str(metrics_port)])
    with sidecar.client() as client:
        started = time.monotonic()
        for _ in range(30):
            assert client.get("/v1.0/invoke/lonely/method/hello").status_code == 200
        assert time.monotonic() - started < 5

    def dropped() -> bool:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        return any(line.startswith("edge_tracing_spans_dropped_total")
                   and 'reason="export_failed"' in line and not line.endswith(" 0")
                   for line in text.splitlines())

    wait_until(dropped, 10, "dropped spans counted")
    assert "cannot export spans" in sidecar.output()
