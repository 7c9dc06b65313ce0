"""pubsub.mqtt3 through real sidecars: an app publishes over HTTP, another
app gets the CloudEvents, across a broker outage and a sidecar kill -9."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.harness import wait_until, write_component
from tests.pubsub.helpers import Subscriber

TOPIC = "e2e/orders"


def mqtt_resources(folder: Path, url: str, **metadata: str) -> Path:
    # A plain subscription: Mosquitto 2.0 forgets shared ones when it restarts.
    write_component(folder, "mqtt", "pubsub.mqtt3",
                    {"url": url, **metadata})
    return folder


SUBSCRIPTIONS = [{"pubsubname": "mqtt", "topic": TOPIC, "route": "/orders"}]


def start_reader(spawn, tmp_path: Path, url: str):
    app = spawn.track(Subscriber(tmp_path / "reader-app", SUBSCRIPTIONS))
    resources = mqtt_resources(tmp_path / "reader-res", url, backOffInitialInterval="50ms",
                               backOffMaxInterval="300ms")
    spawn.sidecar("reader", resources, app_port=app.port, wait="ready")
    return app


def publish(http: httpx.Client, n: int) -> httpx.Response:
    return http.post(f"/v1.0/publish/mqtt/{TOPIC}", content=json.dumps({"n": n}),
                     headers={"content-type": "application/json"})


def numbers(app: Subscriber) -> list[int]:
    return [record["json"]["data"]["n"] for record in app.received(TOPIC)]


def settle(app: Subscriber, count: int, timeout: float = 30.0) -> list[int]:
    """What the app got, once it has `count` and nothing more came for a moment
    (duplicates would show up then)."""
    wait_until(lambda: len(numbers(app)) >= count, timeout,
               lambda: f"{count} deliveries; got {len(numbers(app))}")
    while True:
        before = len(numbers(app))
        time.sleep(0.5)
        if len(numbers(app)) == before:
            return numbers(app)


def test_publishing_while_the_broker_is_down_delivers_all_in_order_once(spawn, brokers,
                                                                         tmp_path):
    broker = brokers()
    app = start_reader(spawn, tmp_path, broker.url)
    writer = spawn.sidecar("writer", mqtt_resources(tmp_path / "writer-res", broker.url))
    with writer.client() as http:
        assert publish(http, 0).status_code == 204
        wait_until(lambda: numbers(app) == [0], 10, lambda: f"the first; got {numbers(app)}")
        broker.stop()
        for n in range(1, 51):
            reply = publish(http, n)
            assert reply.status_code == 204, reply.text
        broker.start()
    assert settle(app, 51) == list(range(51))


def test_sidecar_kill_9_with_a_filled_outbox_delivers_everything(spawn, brokers, tmp_path):
    broker = brokers()
    app = start_reader(spawn, tmp_path, broker.url)
    broker.stop()
    resources = mqtt_resources(tmp_path / "writer-res", broker.url)
    writer = spawn.sidecar("writer", resources)
    with writer.client() as http:
        for n in range(100):
            assert publish(http, n).status_code == 204
    writer.kill()
    broker.start()
    spawn.sidecar("writer", resources)
    got = settle(app, 100)
    duplicates = Counter(got) - Counter(set(got))
    print(f"after kill -9: {len(got)} deliveries, duplicates: {sorted(duplicates.elements())}")
    assert sorted(set(got)) == list(range(100))
    assert list(dict.fromkeys(got)) == list(range(100))


def test_full_outbox_is_an_error_answer(spawn, brokers, tmp_path):
    broker = brokers()
    broker.stop()
    writer = spawn.sidecar("writer", mqtt_resources(tmp_path / "writer-res", broker.url,
                                                    outboxMaxMessages="3"))
    with writer.client() as http:
        for n in range(3):
            assert publish(http, n).status_code == 204
        reply = publish(http, 3)
        assert reply.status_code == 500
        assert reply.json()["errorCode"] == "ERR_PUBSUB_PUBLISH_MESSAGE"
        assert "outboxMaxMessages" in reply.json()["message"]


def test_subscriber_app_down_for_a_while_loses_nothing(spawn, brokers, tmp_path):
    broker = brokers()
    app = start_reader(spawn, tmp_path, broker.url)
    writer = spawn.sidecar("writer", mqtt_resources(tmp_path / "writer-res", broker.url))
    with writer.client() as http:
        assert publish(http, 0).status_code == 204
        wait_until(lambda: numbers(app) == [0], 10, lambda: f"the first; got {numbers(app)}")
        app.stop()
        for n in range(1, 21):
            assert publish(http, n).status_code == 204
    time.sleep(1.0)  # the sidecar keeps offering the first of them meanwhile
    back = spawn.track(Subscriber(tmp_path / "reader-app-2", SUBSCRIPTIONS, port=app.port))
    assert settle(back, 20) == list(range(1, 21))
