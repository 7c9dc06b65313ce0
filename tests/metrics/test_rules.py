"""spec.metrics.rules: label values rewritten by regular expressions before
they are recorded, as Dapr's Configuration has them."""

from __future__ import annotations

import pytest
import yaml

from edge.errors import ConfigError
from edge.runtime.config import parse_configuration
from tests.metrics.helpers import Scrape, with_metrics
from tests.pubsub.helpers import in_memory, write_docs


def _rule(metric: str, label: str, regex: dict[str, str]) -> dict:
    return {"name": metric, "labels": [{"name": label, "regex": regex}]}


def test_rules_rewrite_label_values_of_counters_and_histograms(spawn, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
        "metadata": {"name": "rules"},
        "spec": {"metrics": {"rules": [
            _rule("dapr_runtime_service_invocation_req_sent_total", "dst_app_id",
                  {"sensor-": "^sensor-.+$"}),
            _rule("dapr_component_pubsub_egress_count", "topic", {"readings/": r"readings/\d+"}),
            _rule("dapr_component_pubsub_egress_latencies", "topic",
                  {"readings/": r"readings/\d+"}),
        ]}}}))
    resources = tmp_path / "resources"
    write_docs(resources / "pubsub.yaml", in_memory("bus"))
    app = spawn.app()
    with_metrics(spawn, "sensor-17", app_port=app.port, wait="ready")
    gateway, port = with_metrics(spawn, "gateway", resources, args=["--config", str(config)])
    with gateway.client() as http:
        assert http.get("/v1.0/invoke/sensor-17/method/status").status_code == 200
        for room in (1, 2, 3):
            assert http.post(f"/v1.0/publish/bus/readings/{room}", json={}).status_code == 204
        assert http.post("/v1.0/publish/bus/alarms", json={}).status_code == 204

    scrape = Scrape(port)
    sent = "dapr_runtime_service_invocation_req_sent_total"
    assert scrape.value(sent, dst_app_id="sensor-") == 1
    assert not scrape.find(sent, dst_app_id="sensor-17")
    # Other metrics with the same label are left alone.
    assert scrape.value("dapr_runtime_service_invocation_res_recv_total",
                        src_app_id="sensor-17") == 1
    egress = "dapr_component_pubsub_egress_count_total"
    assert scrape.value(egress, topic="readings/") == 3
    assert scrape.value(egress, topic="alarms") == 1
    assert {s.labels["topic"] for s in scrape.find(egress)} == {"readings/", "alarms"}
    latencies = "dapr_component_pubsub_egress_latencies_count"
    assert scrape.value(latencies, topic="readings/") == 3
    assert {s.labels["topic"] for s in scrape.find(latencies)} == {"readings/", "alarms"}


def test_a_rule_with_a_broken_pattern_names_its_field():
    doc = {"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
           "metadata": {"name": "rules"},
           "spec": {"metrics": {"rules": [_rule("dapr_http_server_request_count", "path",
                                                {"x": "([unclosed"})]}}}
    with pytest.raises(ConfigError) as caught:
        parse_configuration(doc, "config.yaml")
    assert "spec.metrics.rules[0].labels[0].regex.x" in str(caught.value)
    assert "regular expression" in str(caught.value)
