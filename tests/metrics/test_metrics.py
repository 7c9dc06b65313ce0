"""Prometheus metrics of real sidecars: Dapr's names and labels, counts that
match the traffic made, bounded label values, and switching metrics off."""

from __future__ import annotations

import socket

import httpx
import pytest
import yaml

from tests.harness import free_port, wait_until, write_component
from tests.metrics.helpers import Scrape, with_metrics
from tests.pubsub.helpers import FAST, Subscriber, in_memory, write_docs

STATE = "/v1.0/state/{store}"
STATE_KEY = "/v1.0/state/{store}/{key}"
# Values that must never become label values.
SECRET_KEY = "customer-4711-key"
ORDER_ID = "order-938271"


def _state_routes(scrape: Scrape) -> set[str]:
    return {s.labels["path"] for s in scrape.find("dapr_http_server_request_count_total")
            if s.labels["path"].startswith("/v1.0/state")}


def test_state_calls_are_counted_per_route_template(spawn, resources, tmp_path):
    write_component(resources, "files", "bindings.localstorage",
                    {"rootPath": str(tmp_path / "files")})
    write_component(resources, "broken", "state.nosuchstore", ignoreErrors=True)
    sidecar, port = with_metrics(spawn, "metered", resources)
    with sidecar.client() as http:
        for n in range(3):
            assert http.post("/v1.0/state/statestore",
                             json=[{"key": f"{SECRET_KEY}-{n}", "value": n}]).status_code == 204
        for n in range(2):
            assert http.get(f"/v1.0/state/statestore/{SECRET_KEY}-{n}").status_code == 200
        assert http.get("/v1.0/state/statestore/missing-key").status_code == 204
        assert http.get(f"/v1.0/state/nostore/{SECRET_KEY}").status_code == 400
        assert http.post("/v1.0/bindings/files", json={
            "operation": "create", "data": "x", "metadata": {"fileName": "a.txt"}}
        ).status_code == 200
        assert http.post("/v1.0/bindings/files", json={
            "operation": "get", "metadata": {"fileName": "none.txt"}}).status_code == 500
    scrape = Scrape(port)

    assert scrape.content_type.startswith("text/plain; version=0.0.4")
    # The names exactly as Dapr's exporter writes them: no `_total` added to Dapr's counters.
    types = scrape.types()
    assert types["dapr_http_server_request_count"] == "counter"
    assert types["dapr_http_server_latency"] == "histogram"
    assert types["dapr_runtime_component_loaded"] == "counter"
    assert types["dapr_runtime_component_init_total"] == "counter"
    assert types["dapr_component_output_binding_count"] == "counter"

    count = "dapr_http_server_request_count_total"
    common = {"app_id": "metered"}
    assert scrape.value(count, method="POST", path=STATE, status="204", **common) == 3
    assert scrape.value(count, method="GET", path=STATE_KEY, status="200", **common) == 2
    assert scrape.value(count, method="GET", path=STATE_KEY, status="204", **common) == 1
    assert scrape.value(count, method="GET", path=STATE_KEY, status="400", **common) == 1
    assert _state_routes(scrape) == {STATE, STATE_KEY}
    assert scrape.value("dapr_http_server_latency_count", method="POST", path=STATE,
                        status="204") == 3
    assert scrape.value("dapr_http_server_latency_bucket", method="POST", path=STATE,
                        status="204", le="+Inf") == 3
    assert scrape.value("dapr_http_server_request_bytes_count", app_id="metered") >= 8

    assert scrape.value("dapr_runtime_component_loaded_total", app_id="metered") == 2
    assert scrape.value("dapr_runtime_component_init_total", app_id="metered",
                        component="state.sqlite") == 1
    assert scrape.value("dapr_runtime_component_init_total",
                        component="bindings.localstorage") == 1
    assert scrape.value("dapr_runtime_component_init_fail_total", component="state.nosuchstore",
                        reason="init") == 1

    state = "dapr_component_state_count_total"
    assert scrape.value(state, component="statestore", operation="set", success="true") == 3
    assert scrape.value(state, component="statestore", operation="get", success="true") == 3
    assert scrape.value("dapr_component_state_latencies_count", component="statestore") == 6

    out = "dapr_component_output_binding_count_total"
    assert scrape.value(out, component="files", operation="create", success="true") == 1
    assert scrape.value(out, component="files", operation="get", success="false") == 1
    assert scrape.value("dapr_component_output_binding_latencies_count", component="files") == 2

    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                 "process_open_fds"):
        assert scrape.find(name), name
    assert not any(name.endswith("_created") for name in types)
    assert not any(SECRET_KEY in value or "missing-key" in value
                   for value in scrape.label_values())


def test_invocation_between_two_sidecars(spawn):
    app = spawn.app()
    _, callee_port = with_metrics(spawn, "callee", app_port=app.port, wait="ready")
    caller, caller_port = with_metrics(spawn, "caller")
    with caller.client() as http:
        for _ in range(2):
            assert http.post(f"/v1.0/invoke/callee/method/orders/{ORDER_ID}").status_code == 200
        assert http.get("/v1.0/invoke/callee/method/status/418").status_code == 418
        # An invocation of the own app id (none here) is not a remote one.
        assert http.get("/v1.0/invoke/caller/method/x").status_code == 500

    sent = Scrape(caller_port)
    assert sent.value("dapr_runtime_service_invocation_req_sent_total", app_id="caller",
                      dst_app_id="callee", type="unary") == 3
    assert not sent.find("dapr_runtime_service_invocation_req_sent_total", dst_app_id="caller")
    received = "dapr_runtime_service_invocation_res_recv_total"
    assert sent.value(received, src_app_id="callee", status="200") == 2
    assert sent.value(received, src_app_id="callee", status="418") == 1
    assert sent.value("dapr_runtime_service_invocation_res_recv_latency_ms_count",
                      src_app_id="callee") == 3
    assert sent.value("dapr_http_server_request_count_total", method="POST",
                      path="/v1.0/invoke/{app_id}/method/{method}", status="200") == 2

    got = Scrape(callee_port)
    assert got.value("dapr_runtime_service_invocation_req_recv_total", app_id="callee",
                     src_app_id="caller") == 3
    responded = "dapr_runtime_service_invocation_res_sent_total"
    assert got.value(responded, dst_app_id="caller", status="200") == 2
    assert got.value(responded, dst_app_id="caller", status="418") == 1
    # The callee's sidecar called its app: Dapr's HTTP client metrics, without the app's path.
    completed = "dapr_http_client_completed_count_total"
    assert got.value(completed, app_id="callee", method="POST", path="", status="200") == 2
    assert got.value(completed, method="GET", path="", status="418") == 1
    assert got.value("dapr_http_client_roundtrip_latency_count", app_id="callee",
                     method="POST") == 2
    assert not sent.find(completed)  # the caller has no app
    for scrape in (sent, got):
        assert not any(ORDER_ID in value for value in scrape.label_values())


def test_pubsub_egress_and_ingress(spawn, tmp_path):
    resources = tmp_path / "resources"
    write_docs(resources / "pubsub.yaml", in_memory("bus", **FAST))
    app = spawn.track(Subscriber(tmp_path, [
        {"pubsubname": "bus", "topic": "orders", "route": "/orders"}],
        answers={"orders": ["RETRY", "404"]}))
    sidecar, port = with_metrics(spawn, "shop", resources, app_port=app.port, wait="ready")
    with sidecar.client() as http:
        for n in range(3):
            assert http.post("/v1.0/publish/bus/orders", json={"n": n}).status_code == 204
        assert http.post("/v1.0/publish/nobus/orders", json={}).status_code == 404
    # RETRY, then a retried SUCCESS; 404 drops the second; the third succeeds.
    app.wait_for(4, "orders")

    def settled() -> Scrape | None:
        scrape = Scrape(port)
        done = scrape.value("dapr_component_pubsub_ingress_count_total", topic="orders")
        return scrape if done >= 4 else None

    scrape = wait_until(settled, what="four delivery attempts counted")
    egress = "dapr_component_pubsub_egress_count_total"
    assert scrape.value(egress, app_id="shop", component="bus", topic="orders",
                        success="true") == 3
    assert not scrape.find(egress, component="nobus")
    assert scrape.value("dapr_component_pubsub_egress_latencies_count", component="bus") == 3
    ingress = "dapr_component_pubsub_ingress_count_total"
    assert scrape.value(ingress, component="bus", topic="orders", process_status="success",
                        status="success") == 2
    assert scrape.value(ingress, component="bus", process_status="retry") == 1
    assert scrape.value(ingress, component="bus", process_status="drop") == 1
    assert scrape.value("dapr_component_pubsub_ingress_latencies_count", component="bus") == 4


def test_input_binding_events_are_counted(spawn, tmp_path):
    resources = tmp_path / "resources"
    write_component(resources, "tick", "bindings.cron", {"schedule": "@every 1s"})
    app = spawn.app()
    _, port = with_metrics(spawn, "ticker", resources, app_port=app.port, wait="ready")
    scrape = wait_until(lambda: (s := Scrape(port)).find(
        "dapr_component_input_binding_count_total", component="tick", success="true") and s,
        what="an input binding event counted")
    assert scrape.find("dapr_component_input_binding_latencies_count", component="tick")


def test_outbox_and_connection_of_a_broker_that_is_down(spawn, tmp_path):
    resources = tmp_path / "resources"
    closed = free_port()  # nothing listens there: the broker is down
    write_component(resources, "mqtt", "pubsub.mqtt3", {"url": f"tcp://127.0.0.1:{closed}"})
    sidecar, port = with_metrics(spawn, "gateway", resources)
    with sidecar.client() as http:
        for n in range(2):
            assert http.post("/v1.0/publish/mqtt/telemetry", json={"n": n}).status_code == 204
    scrape = Scrape(port)
    assert scrape.value("edge_pubsub_outbox_depth", app_id="gateway", component="mqtt") == 2
    assert scrape.value("edge_pubsub_outbox_oldest_age_seconds", component="mqtt") > 0
    assert scrape.value("edge_pubsub_connected", component="mqtt") == 0
    assert scrape.types()["edge_pubsub_outbox_depth"] == "gauge"


def _refused(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except httpx.ConnectError:
        return True
    return False


def test_enable_metrics_false_serves_nothing(spawn, resources):
    port = free_port()
    sidecar = spawn.sidecar("quiet", resources,
                            args=["--enable-metrics=false", "--metrics-port", str(port)])
    with sidecar.client() as http:
        assert http.get("/v1.0/state/statestore/k").status_code == 204
    assert _refused(port)


def test_configuration_can_switch_metrics_off(spawn, resources, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
        "metadata": {"name": "nometrics"}, "spec": {"metrics": {"enabled": False}}}))
    port = free_port()
    spawn.sidecar("quiet", resources, args=["--config", str(config), "--metrics-port", str(port)])
    assert _refused(port)


def test_a_metrics_port_in_use_does_not_stop_the_sidecar(spawn, resources):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sidecar = spawn.sidecar("crowded", resources, args=["--metrics-port", str(port)])
        with sidecar.client() as http:
            assert http.get("/v1.0/healthz").status_code == 204
            assert http.get("/v1.0/state/statestore/k").status_code == 204
    assert "metrics server not started" in sidecar.output()


@pytest.mark.parametrize("value", ["true", "false"])
def test_flags_parse_like_daprd(value):
    from edge.cli import _parser, sidecar_options

    args = _parser().parse_args(["sidecar", "--app-id", "a", f"--enable-metrics={value}"])
    options = sidecar_options(args)
    assert options.enable_metrics is (value == "true")
    assert options.metrics_port == 9090
    run = _parser().parse_args(["run", "--metrics-port", "9999"])
    assert run.enable_metrics is True and run.metrics_port == 9999


def test_edge_run_gives_each_sidecar_a_metrics_port_of_its_own():
    from edge.runtime.launcher import assign_ports, sidecar_command
    from edge.runtime.runfile import AppSpec

    specs = [AppSpec("a"), AppSpec("b"), AppSpec("c", metrics_port=9191),
             AppSpec("d", enable_metrics=False)]
    assign_ports(specs)
    a, b, c, d = specs
    assert a.metrics_port and b.metrics_port and a.metrics_port != b.metrics_port
    assert c.metrics_port == 9191 and d.metrics_port is None
    command = sidecar_command(a)
    assert command[command.index("--metrics-port") + 1] == str(a.metrics_port)
    assert "--enable-metrics=false" in sidecar_command(d)
    assert "--metrics-port" not in sidecar_command(d)
