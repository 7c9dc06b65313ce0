"""Resiliency policies on components: outbound (the sidecar calling a
component) and inbound (a component's events going to the app)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Spawner
from tests.harness import wait_until, write_component
from tests.metrics.helpers import Scrape, with_metrics
from tests.resiliency.conftest import write_resiliency

RETRY3 = {"policy": "constant", "duration": "10ms", "maxRetries": 3}


def _flaky_with_webhook(spawn: Spawner, tmp_path: Path, spec: dict) -> tuple[str, int, str]:
    """A sidecar whose output binding `webhook` points at the flaky app."""
    app = spawn.app("flaky_app.py")
    folder = tmp_path / "resources"
    write_component(folder, "webhook", "bindings.http", {"url": app.url})
    write_resiliency(folder, spec)
    sidecar, port = with_metrics(spawn, "caller", folder)
    return sidecar.url, port, app.url


def _call(url: str, path: str) -> httpx.Response:
    return httpx.post(f"{url}/v1.0/bindings/webhook", timeout=30,
                      json={"operation": "get", "metadata": {"path": path}})


def _calls(app_url: str, path: str) -> int:
    return int(httpx.get(f"{app_url}/calls", params={"path": path}).json()["calls"])


def test_output_binding_retry(spawn, tmp_path):
    url, port, _ = _flaky_with_webhook(spawn, tmp_path, {
        "policies": {"retries": {"retry3": RETRY3}},
        "targets": {"components": {"webhook": {"outbound": {"retry": "retry3"}}}}})
    response = _call(url, "/fail/2/a")
    assert response.status_code == 200, response.text
    assert response.json() == {"calls": 3}
    assert Scrape(port).value("dapr_resiliency_activations_total", policy="retry",
                        target="Binding_webhook", flow_direction="outbound") == 2


def test_output_binding_breaker_stops_calls_to_a_failing_endpoint(spawn, tmp_path):
    url, port, app = _flaky_with_webhook(spawn, tmp_path, {
        "policies": {"circuitBreakers": {"cb": {"trip": "consecutiveFailures >= 2",
                                                "timeout": "60s"}}},
        "targets": {"components": {"webhook": {"outbound": {"circuitBreaker": "cb"}}}}})
    assert _call(url, "/switch/b").status_code == 500
    assert _call(url, "/switch/b").status_code == 500
    refused = _call(url, "/switch/b")
    assert refused.status_code == 500
    assert refused.json()["errorCode"] == "ERR_INVOKE_OUTPUT_BINDING"
    assert "circuit breaker is open" in refused.json()["message"]
    assert _calls(app, "/switch/b") == 2
    assert Scrape(port).value("dapr_resiliency_cb_state", status="open",
                        target="Binding_webhook") == 1


def test_default_component_policy_by_kind(spawn, tmp_path):
    # A default for output bindings applies to webhook; one for state stores does not.
    url, _, app = _flaky_with_webhook(spawn, tmp_path, {
        "policies": {"retries": {"DefaultBindingComponentOutboundRetryPolicy": RETRY3,
                                 "DefaultStatestoreComponentOutboundRetryPolicy":
                                     {**RETRY3, "maxRetries": 0}}}})
    assert _call(url, "/fail/1/c").status_code == 200
    assert _calls(app, "/fail/1/c") == 2


def test_pubsub_inbound_retry_delivers_before_the_component_redelivers(spawn, tmp_path):
    app = spawn.app("flaky_app.py")
    folder = tmp_path / "resources"
    write_component(folder, "pubsub", "pubsub.in-memory")
    write_resiliency(folder, {
        "policies": {"retries": {"retry5": {**RETRY3, "maxRetries": 5}}},
        "targets": {"components": {"pubsub": {"inbound": {"retry": "retry5"}}}}})
    # Ready (not only outbound): subscribed before the event is published.
    sidecar, port = with_metrics(spawn, "orders", folder, app_port=app.port, wait="ready")
    response = httpx.post(f"{sidecar.url}/v1.0/publish/pubsub/orders", json={"fails": 2})
    assert response.status_code == 204, response.text

    def taken() -> list[str]:
        return httpx.get(f"{app.url}/received").json()

    wait_until(lambda: len(taken()) == 1, timeout=10)
    scrape = Scrape(port)
    assert scrape.value("dapr_resiliency_activations_total", policy="retry",
                        target="Pubsub_pubsub", flow_direction="inbound") == 2
    assert scrape.value("dapr_resiliency_count_total", policy="retry",
                        target="Pubsub_pubsub", flow_direction="inbound") == 1


def test_state_store_outbound_policy_is_applied(spawn, tmp_path, resources):
    write_resiliency(resources, {
        "policies": {"timeouts": {"DefaultStatestoreComponentOutboundTimeoutPolicy": "5s"}}})
    sidecar, port = with_metrics(spawn, "app", resources)
    saved = httpx.post(f"{sidecar.url}/v1.0/state/statestore",
                       json=[{"key": "k", "value": "v"}])
    assert saved.status_code == 204
    assert httpx.get(f"{sidecar.url}/v1.0/state/statestore/k").json() == "v"
    assert Scrape(port).value("dapr_resiliency_count_total", policy="timeout",
                        target="Statestore_statestore", flow_direction="outbound",
                        name="myresiliency") == 2


def test_input_binding_inbound_retry(spawn, tmp_path):
    app = spawn.app("flaky_app.py")
    folder = tmp_path / "resources"
    write_component(folder, "tick", "bindings.cron", {"schedule": "@every 1s",
                                                      "direction": "input"})
    write_resiliency(folder, {
        "policies": {"retries": {"retry3": RETRY3}},
        "targets": {"components": {"tick": {"inbound": {"retry": "retry3"}}}}})
    _, port = with_metrics(spawn, "ticker", folder, app_port=app.port)
    # The first event fails twice and is taken on the third try.
    wait_until(lambda: _calls(app.url, "/tick") >= 3, timeout=15)
    assert Scrape(port).value("dapr_resiliency_activations_total", policy="retry",
                        target="Binding_tick", flow_direction="inbound") == 2
