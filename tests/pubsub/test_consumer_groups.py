"""Several sidecars on one broker: different app ids each get every message,
replicas of one app id share them. pubsub.in-memory lives inside one
sidecar, so this takes a real broker (Mosquitto, through pubsub.mqtt3)."""

from __future__ import annotations

import pytest

from tests.brokers import INSTALL_HINT, Mosquitto, mosquitto_binary
from tests.harness import Sidecar, wait_until
from tests.pubsub.helpers import FAST, Subscriber, write_docs


def component(url: str) -> dict:
    # Replicas compete only with shared subscriptions, which are opt-in.
    metadata = {"url": url, "sharedSubscriptions": "true", **FAST}
    return {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "bus"},
            "spec": {"type": "pubsub.mqtt3", "version": "v1",
                     "metadata": [{"name": k, "value": v} for k, v in metadata.items()]}}


def test_app_ids_each_get_all_and_replicas_share(spawn, tmp_path):
    if mosquitto_binary() is None:
        pytest.fail(INSTALL_HINT)
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        resources = write_docs(tmp_path / "resources" / "bus.yaml", component(broker.url)).parent
        subscriptions = [{"pubsubname": "bus", "topic": "jobs", "route": "/jobs"}]
        apps = {}
        for name, app_id in (("audit", "audit"), ("worker-1", "workers"),
                             ("worker-2", "workers")):
            # Each sidecar has a home of its own, as on separate machines.
            folder = tmp_path / name
            app = spawn.track(Subscriber(folder, subscriptions))
            spawn.track(Sidecar(folder, app_id, resources, app_port=app.port, wait="ready"))
            apps[name] = app
        publisher = spawn.sidecar("publisher", resources)
        with publisher.client() as http:
            for n in range(10):
                assert http.post("/v1.0/publish/bus/jobs", json=n).status_code == 204

        def data(name):
            return [r["json"]["data"] for r in apps[name].received("jobs")]

        wait_until(lambda: len(data("audit")) == 10 and
                   len(data("worker-1")) + len(data("worker-2")) == 10,
                   what=lambda: f"deliveries: { {name: data(name) for name in apps} }")
        assert data("audit") == list(range(10))
        assert sorted(data("worker-1") + data("worker-2")) == list(range(10))
        assert data("worker-1") and data("worker-2")
    finally:
        broker.stop()
