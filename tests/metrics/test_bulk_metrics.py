"""Bulk publish and bulk subscribe metrics, with Dapr's names and labels."""

from __future__ import annotations

from tests.harness import wait_until
from tests.metrics.helpers import Scrape, with_metrics
from tests.pubsub.helpers import FAST, Subscriber, in_memory, write_docs


def test_bulk_publish_and_bulk_delivery_are_counted(spawn, tmp_path):
    resources = tmp_path / "resources"
    write_docs(resources / "pubsub.yaml", in_memory("bus", **FAST))
    app = spawn.track(Subscriber(tmp_path, [
        {"pubsubname": "bus", "topic": "readings", "route": "/batch",
         "bulkSubscribe": {"enabled": True, "maxMessagesCount": 10,
                           "maxAwaitDurationMs": 200}}],
        answers={"readings": ["SUCCESS", "RETRY", "DROP"]}))
    sidecar, port = with_metrics(spawn, "meter", resources, app_port=app.port, wait="ready")
    entries = [{"entryId": str(n), "event": {"n": n}, "contentType": "application/json"}
               for n in range(3)]
    with sidecar.client() as http:
        reply = http.post("/v1.0-alpha1/publish/bulk/bus/readings", json=entries)
    assert reply.status_code == 204, reply.text

    events = "dapr_component_pubsub_ingress_bulk_event_count_total"

    def settled() -> Scrape | None:
        # Entry 0 is taken, entry 1 retried then taken, entry 2 dropped.
        scrape = Scrape(port)
        return scrape if scrape.value(events, process_status="success") == 2 else None

    scrape = wait_until(settled, what="every entry settled")
    labels = {"app_id": "meter", "component": "bus", "topic": "readings"}
    assert scrape.value("dapr_component_pubsub_egress_bulk_count_total", success="true",
                        **labels) == 1
    assert scrape.value("dapr_component_pubsub_egress_bulk_event_count_total",
                        success="true", **labels) == 3
    assert scrape.value("dapr_component_pubsub_egress_bulk_latencies_count", **labels) == 1
    assert scrape.value(events, process_status="retry", **labels) == 1
    assert scrape.value(events, process_status="drop", **labels) == 1
    batches = scrape.value("dapr_component_pubsub_ingress_bulk_count_total", **labels)
    assert batches >= 2  # the first batch and the retry
    assert scrape.value("dapr_component_pubsub_ingress_bulk_latencies_count",
                        **labels) == batches
    # Bulk traffic is not counted as single messages.
    assert not scrape.find("dapr_component_pubsub_egress_count_total", topic="readings")
    assert scrape.types()["dapr_component_pubsub_egress_bulk_count"] == "counter"
