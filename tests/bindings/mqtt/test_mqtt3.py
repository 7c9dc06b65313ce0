"""bindings.mqtt3 through a real sidecar and a real Mosquitto: input events
reach the receiver app in order (wildcard topics too), output `create` is read
back by a plain MQTT client, also when the broker was down at the time."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.bindings.conftest import Receiver
from tests.brokers import Mosquitto
from tests.harness import Sidecar, wait_until, write_component

NAME = "mqttbind"


class PlainClient:
    """A plain paho client (no edge): publishes, and keeps what its subscription
    gets. A persistent session, so it misses nothing while the broker restarts."""

    def __init__(self, port: int, topic: str | None = None) -> None:
        self.got: list[paho.MQTTMessage] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"plain-{port}",
                                  clean_session=False)
        self.client.reconnect_delay_set(0.1, 1)
        if topic is not None:
            self.client.on_connect = lambda c, *_: c.subscribe(topic, 1)
            self.client.on_subscribe = lambda *_: self._subscribed.set()
            self.client.on_message = lambda _c, _u, m: self.got.append(m)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if topic is not None:
            assert self._subscribed.wait(5), "no SUBACK"

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    @property
    def payloads(self) -> list[str]:
        return [m.payload.decode() for m in self.got]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_sidecar(spawn: Any, tmp_path: Path, broker: Mosquitto, app_port: int | None = None,
                  **metadata: str) -> Sidecar:
    resources = tmp_path / "resources"
    write_component(resources, NAME, "bindings.mqtt3",
                    {"url": broker.url, "consumerID": "{appID}", **metadata})
    sidecar = spawn.sidecar("mqttapp", resources, app_port=app_port,
                            wait="ready" if app_port else "outbound")
    if app_port is not None:
        # Events published before the subscription exists would not be kept for it.
        wait_until(lambda: f"input binding {NAME} started" in sidecar.output(), 15,
                   "the input binding to start")
    return sidecar


def events(app: Receiver, count: int, timeout: float = 20.0) -> list[tuple[str, str]]:
    """(topic, body) of the events the app took (answered 200), once there are `count`."""
    deadline = time.monotonic() + timeout
    while True:
        taken = [(e["headers"].get("topic", ""), base64.b64decode(e["body_base64"]).decode())
                 for e in app.received()["events"] if e["answer"] == 200]
        if len(taken) >= count or time.monotonic() > deadline:
            return taken
        time.sleep(0.05)


def create(http: Any, data: Any, **metadata: str) -> None:
    reply = http.post(f"/v1.0/bindings/{NAME}",
                      json={"operation": "create", "data": data, "metadata": metadata})
    assert reply.status_code == 204, reply.text


def test_input_events_reach_the_app_in_order_from_a_wildcard_topic(spawn, broker, tmp_path):
    app = spawn.track(Receiver(tmp_path))
    start_sidecar(spawn, tmp_path, broker, app.port, topic="sensors/+/temp",
                  direction="input")
    plain = PlainClient(broker.port)
    try:
        sent = [(f"sensors/{'ab'[n % 2]}/temp", str(n)) for n in range(30)]
        for topic, payload in sent:
            plain.publish(topic, payload)
        plain.publish("sensors/a/humidity", "not matched")
    finally:
        plain.close()
    assert events(app, 30) == sent
    time.sleep(0.5)
    assert len(events(app, 31, timeout=0)) == 30  # nothing outside the filter
    assert all(e["path"] == f"/{NAME}" for e in app.received()["events"])


def test_an_event_the_app_refuses_is_offered_again_and_holds_the_rest(spawn, broker, tmp_path):
    app = spawn.track(Receiver(tmp_path, fail=5))
    start_sidecar(spawn, tmp_path, broker, app.port, topic="in/data", direction="input")
    plain = PlainClient(broker.port)
    try:
        for n in range(5):
            plain.publish("in/data", str(n))
    finally:
        plain.close()
    # The runtime's retries fail, then the component offers the first again:
    # it is acknowledged only once taken, and nothing overtakes it.
    assert [body for _, body in events(app, 5, timeout=30)] == ["0", "1", "2", "3", "4"]
    offered = [base64.b64decode(e["body_base64"]).decode() for e in app.received()["events"]]
    assert offered[:6] == ["0"] * 6


def test_output_create_is_read_back_by_a_plain_subscriber(spawn, broker, tmp_path):
    plain = PlainClient(broker.port, "out/#")
    try:
        sidecar = start_sidecar(spawn, tmp_path, broker, topic="out/default",
                                direction="output")
        with sidecar.client() as http:
            for n in range(10):
                create(http, {"n": n})
            create(http, "elsewhere", topic="out/other")
        wait_until(lambda: len(plain.got) >= 11, 10, "11 messages")
        assert [m.topic for m in plain.got] == ["out/default"] * 10 + ["out/other"]
        assert [json.loads(p) for p in plain.payloads] == [{"n": n} for n in range(10)] + [
            "elsewhere"]
        with sidecar.client() as http:
            wildcard = http.post(f"/v1.0/bindings/{NAME}", json={
                "operation": "create", "data": 1, "metadata": {"topic": "out/+"}})
            [component] = http.get("/v1.0/metadata").json()["components"]
        assert wildcard.status_code == 500
        assert wildcard.json()["errorCode"] == "ERR_INVOKE_OUTPUT_BINDING"
        assert "wildcard" in wildcard.json()["message"]
        assert component["capabilities"] == ["OUTPUT_BINDING"]
        assert component["status"]["state"] == "connected"
        assert component["status"]["outboxDepth"] == 0
    finally:
        plain.close()


def test_output_while_the_broker_is_down_is_answered_and_delivered_later(spawn, broker,
                                                                          tmp_path):
    plain = PlainClient(broker.port, "out/down")
    try:
        sidecar = start_sidecar(spawn, tmp_path, broker, topic="out/down",
                                direction="output")
        broker.stop()
        with sidecar.client() as http:
            for n in range(20):
                create(http, n)  # answered at once: the message is in the outbox
            wait_until(lambda: http.get("/v1.0/metadata").json()["components"][0]["status"]
                       ["state"] == "disconnected", 10, "the link to be seen down")
            status = http.get("/v1.0/metadata").json()["components"][0]["status"]
            assert status["outboxDepth"] == 20
            broker.start()
            wait_until(lambda: len(plain.got) >= 20, 30, "20 messages after the outage")
            time.sleep(0.5)
            assert plain.payloads == [str(n) for n in range(20)]
            status = http.get("/v1.0/metadata").json()["components"][0]["status"]
            assert status["outboxDepth"] == 0 and status["reconnects"] == 1
    finally:
        plain.close()


def test_output_kept_in_the_outbox_survives_a_sidecar_restart(spawn, broker, tmp_path):
    plain = PlainClient(broker.port, "out/kept")
    try:
        first = start_sidecar(spawn, tmp_path, broker, topic="out/kept", direction="output")
        broker.stop()
        with first.client() as http:
            for n in range(10):
                create(http, n)
        first.stop()
        broker.start()
        # The same edge home, so the same outbox: its rows go out on the next start.
        start_sidecar(spawn, tmp_path, broker, topic="out/kept", direction="output")
        wait_until(lambda: len(plain.got) >= 10, 30, "10 messages after the restart")
        time.sleep(0.5)
        assert plain.payloads == [str(n) for n in range(10)]
    finally:
        plain.close()


def test_input_published_while_the_sidecar_is_away_arrives_after_its_restart(spawn, broker,
                                                                            tmp_path):
    app = spawn.track(Receiver(tmp_path))
    first = start_sidecar(spawn, tmp_path, broker, app.port, topic="in/away",
                          direction="input")
    plain = PlainClient(broker.port)
    try:
        plain.publish("in/away", "0")
        assert [body for _, body in events(app, 1)] == ["0"]
        first.stop()
        for n in range(1, 6):  # kept by the broker in the binding's persistent session
            plain.publish("in/away", str(n))
    finally:
        plain.close()
    start_sidecar(spawn, tmp_path, broker, app.port, topic="in/away", direction="input")
    assert [body for _, body in events(app, 6)] == [str(n) for n in range(6)]
