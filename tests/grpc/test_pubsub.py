"""Pub/sub over gRPC with the official SDK: PublishEvent and bulk publish,
streaming subscriptions (DaprClient.subscribe / subscribe_with_handler), and
delivery to a gRPC app (`dapr.ext.grpc.App`, tests/grpc/apps/pubsub_app.py).
Real sidecars, a real Mosquitto, real app processes."""

from __future__ import annotations

import base64
import json
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from dapr.clients import BulkPublishEntry
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._response import TopicEventResponse
from dapr.proto.runtime.v1 import dapr_pb2_grpc, metadata_pb2, pubsub_pb2

from tests.brokers import INSTALL_HINT, Mosquitto, mosquitto_binary
from tests.grpc.failures import failure
from tests.harness import Process, accepts, free_port, wait_until
from tests.pubsub.helpers import FAST, Subscriber, in_memory, write_docs
from tests.resiliency.conftest import write_resiliency

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GRPC = ["--app-protocol", "grpc"]
PUBSUB_APP = Path(__file__).parent / "apps" / "pubsub_app.py"


# -- helpers

class PubsubApp(Process):
    """tests/grpc/apps/pubsub_app.py (the SDK's gRPC App) on a free port."""

    def __init__(self, workdir: Path, answers: dict[str, list[str]] | None = None) -> None:
        self.port = free_port()
        self.events = workdir / f"events-{self.port}.jsonl"
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__([sys.executable, str(PUBSUB_APP), str(self.port)],
                         workdir / f"pubsub-app-{self.port}.log",
                         {"EVENTS_FILE": str(self.events), "ANSWERS": json.dumps(answers or {})},
                         cwd=workdir)
        wait_until(lambda: self.proc.poll() is not None or accepts(self.port), timeout=20,
                   what="the gRPC app to listen")
        if self.proc.poll() is not None:
            raise RuntimeError(f"the gRPC app exited:\n{self.output()}")

    def received(self, handler: str | None = None) -> list[dict[str, Any]]:
        if not self.events.exists():
            return []
        found = [json.loads(line) for line in self.events.read_text().splitlines() if line]
        return [e for e in found if handler is None or e["handler"] == handler]

    def wait_for(self, count: int, handler: str | None = None) -> list[dict[str, Any]]:
        wait_until(lambda: len(self.received(handler)) >= count, timeout=15,
                   what=lambda: f"{count} events for {handler}; got {self.received()}")
        return self.received(handler)


def reason(error: DaprGrpcError) -> tuple[grpc.StatusCode, str]:
    code, error_code, _ = failure(error)
    return code, error_code


def data_of(event: dict[str, Any]) -> bytes:
    return base64.b64decode(event["data_base64"])


class Inbox:
    """A subscribe_with_handler handler: keeps each message and answers as scripted."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.messages: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, message: Any) -> TopicEventResponse | None:
        with self.lock:
            self.messages.append(message)
            answer = self.answers.pop(0) if self.answers else "success"
        return None if answer == "none" else TopicEventResponse(answer)

    def wait_for(self, count: int) -> list[Any]:
        wait_until(lambda: len(self.messages) >= count, timeout=15,
                   what=lambda: f"{count} messages; got {len(self.messages)}")
        return self.messages


def _subscriptions(sidecar: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{sidecar.url}/v1.0/metadata", timeout=5).json().get("subscriptions", [])


@pytest.fixture
def bus(tmp_path: Path) -> Path:
    """Resources: in-memory `bus` (quick redeliveries), and `small` refusing big messages."""
    folder = tmp_path / "resources"
    write_docs(folder / "pubsub.yaml", in_memory("bus", **FAST),
               in_memory("small", maxMessageBytes=600))
    return folder


# -- publishing to an HTTP subscriber

HTTP_SUBSCRIPTIONS = [
    {"pubsubname": "bus", "topic": "orders", "route": "/orders"},
    {"pubsubname": "bus", "topic": "raw", "route": "/raw", "metadata": {"rawPayload": "true"}},
    {"pubsubname": "bus", "topic": "many", "route": "/many"},
]


@pytest.fixture
def http_subscriber(spawn, bus):
    app = spawn.track(Subscriber(spawn.workdir, HTTP_SUBSCRIPTIONS))
    sidecar = spawn.sidecar("shop", bus, app_port=app.port, wait="ready")
    return app, sidecar


def test_publish_event_reaches_an_http_subscriber_as_a_cloudevent(http_subscriber, client_for):
    app, sidecar = http_subscriber
    client = client_for(sidecar)
    client.publish_event("bus", "orders", json.dumps({"id": 7, "total": 9.5}),
                         data_content_type="application/json",
                         publish_metadata={"cloudevent.type": "order.created",
                                           "ttlInSeconds": "60"})
    [got] = app.wait_for(1, "orders")
    event = got["json"]
    assert event["data"] == {"id": 7, "total": 9.5}
    assert event["type"] == "order.created"
    assert event["source"] == "shop"
    assert (event["topic"], event["pubsubname"]) == ("orders", "bus")
    assert event["datacontenttype"] == "application/json"
    assert "expiration" in event
    assert got["headers"]["content-type"] == "application/cloudevents+json"


def test_raw_payload_and_text_are_published_as_given(http_subscriber, client_for):
    app, sidecar = http_subscriber
    client = client_for(sidecar)
    client.publish_event("bus", "raw", b"\x00\x01binary", publish_metadata={"rawPayload": "true"})
    client.publish_event("bus", "orders", "plain words")
    [raw] = app.wait_for(1, path="/raw")
    assert base64.b64decode(raw["json"]["data_base64"]) == b"\x00\x01binary"
    [text] = app.wait_for(1, "orders")
    assert text["json"]["data"] == "plain words"
    assert text["json"]["datacontenttype"] == "text/plain"


def test_publish_events_in_bulk(http_subscriber, client_for):
    app, sidecar = http_subscriber
    response = client_for(sidecar).publish_events("bus", "many", [
        "one", b"two", BulkPublishEntry(event='{"n": 3}', content_type="application/json",
                                        metadata={"cloudevent.type": "third"})])
    assert response.failed_entries == []
    one, two, three = [r["json"] for r in app.wait_for(3, "many")]
    assert (one["data"], one["datacontenttype"]) == ("one", "text/plain")
    # The SDK sends bytes as application/octet-stream: they travel base64-encoded.
    assert base64.b64decode(two["data_base64"]) == b"two"
    assert (three["data"], three["type"]) == ({"n": 3}, "third")


def test_bulk_publish_lists_the_entries_that_failed(spawn, bus, client_for):
    sidecar = spawn.sidecar("pub", bus)
    small = BulkPublishEntry(event="small")
    big = BulkPublishEntry(event="x" * 2000)
    response = client_for(sidecar).publish_events("small", "t", [small, big])
    assert [e.entry_id for e in response.failed_entries] == [big.entry_id]
    assert "maxMessageBytes" in response.failed_entries[0].error


def test_bad_publish_requests_get_daprs_statuses(spawn, bus, client_for):
    sidecar = spawn.sidecar("pub", bus)
    client = client_for(sidecar)
    cases = [
        (lambda: client.publish_event("nope", "t", "x"),
         (grpc.StatusCode.INVALID_ARGUMENT, "ERR_PUBSUB_NOT_FOUND")),
        (lambda: client.publish_event("bus", "", "x"),
         (grpc.StatusCode.INVALID_ARGUMENT, "ERR_TOPIC_NAME_EMPTY")),
        (lambda: client.publish_event("", "t", "x"),
         (grpc.StatusCode.INVALID_ARGUMENT, "ERR_PUBSUB_EMPTY")),
        (lambda: client.publish_event("bus", "t", "x", publish_metadata={"rawPayload": "maybe"}),
         (grpc.StatusCode.INVALID_ARGUMENT, "ERR_PUBSUB_REQUEST_METADATA")),
        (lambda: client.publish_event("bus", "t", "{not json",
                                      data_content_type="application/cloudevents+json"),
         (grpc.StatusCode.INVALID_ARGUMENT, "ERR_PUBSUB_CLOUD_EVENTS_SER")),
        (lambda: client.publish_event("small", "t", "x" * 2000),
         (grpc.StatusCode.INTERNAL, "ERR_PUBSUB_PUBLISH_MESSAGE")),
        (lambda: client.publish_events("nope", "t", ["x"]),
         (grpc.StatusCode.INVALID_ARGUMENT, "ERR_PUBSUB_NOT_FOUND")),
    ]
    for call, expected in cases:
        with pytest.raises(DaprGrpcError) as refused:
            call()
        assert reason(refused.value) == expected, refused.value.details()
    entry = BulkPublishEntry(event="twice")
    with pytest.raises(DaprGrpcError) as refused:
        client.publish_events("bus", "t", [entry, entry])
    assert reason(refused.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ERR_PUBSUB_EVENTS_SER")
    # Larger than --max-request-size-mb (4 MiB): refused by gRPC itself.
    with pytest.raises(DaprGrpcError) as refused:
        client.publish_event("bus", "t", b"x" * (5 * 1024 * 1024))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    client.publish_event("bus", "t", "still serving")


# -- streaming subscriptions

def test_streaming_subscription_receives_and_acknowledges(spawn, bus, client_for):
    sidecar = spawn.sidecar("streamer", bus)
    client = client_for(sidecar)
    subscription = client.subscribe("bus", "news")
    try:
        client.publish_event("bus", "news", json.dumps({"n": 1}),
                             data_content_type="application/json")
        message = subscription.next_message()
        assert message.data() == {"n": 1}
        assert (message.topic(), message.pubsub_name()) == ("news", "bus")
        assert (message.source(), message.type()) == ("streamer", "com.dapr.event.sent")
        assert message.spec_version() == "1.0"
        assert message.extensions()["traceparent"]
        subscription.respond_success(message)
        listed = [s for s in _subscriptions(sidecar) if s["topic"] == "news"]
        assert listed == [{"pubsubname": "bus", "topic": "news", "rules": [{"path": "/"}],
                           "deadLetterTopic": "", "type": "STREAMING"}]
        with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
            found = dapr_pb2_grpc.DaprStub(channel).GetMetadata(
                metadata_pb2.GetMetadataRequest(), timeout=5)
        assert [(s.topic, metadata_pb2.PubsubSubscriptionType.Name(s.type))
                for s in found.subscriptions] == [("news", "STREAMING")]
        client.publish_event("bus", "news", "second")
        assert subscription.next_message().data() == "second"
    finally:
        subscription.close()
    wait_until(lambda: not _subscriptions(sidecar), what="the stream to be unlisted")


def test_streaming_retry_redelivers_and_drop_goes_to_the_dead_letter_topic(spawn, bus,
                                                                          client_for):
    sidecar = spawn.sidecar("streamer", bus)
    client = client_for(sidecar)
    inbox, dead = Inbox("retry", "success", "drop"), Inbox()
    close_dead = client.subscribe_with_handler("bus", "dead-jobs", dead)
    close = client.subscribe_with_handler("bus", "jobs", inbox, dead_letter_topic="dead-jobs")
    try:
        wait_until(lambda: len(_subscriptions(sidecar)) == 2, what="two streams")
        client.publish_event("bus", "jobs", "first")
        first, again = inbox.wait_for(2)[:2]
        assert first.id() == again.id() and again.data() == "first"
        client.publish_event("bus", "jobs", "doomed")
        assert inbox.wait_for(3)[2].data() == "doomed"
        [buried] = dead.wait_for(1)
        assert buried.data() == "doomed"
        assert buried.topic() == "dead-jobs"
    finally:
        close()
        close_dead()


def test_an_unanswered_event_is_delivered_again(spawn, bus, client_for):
    write_resiliency(bus, {"policies": {"timeouts": {"quick": "1s"}},
                           "targets": {"components": {"bus": {"inbound": {"timeout": "quick"}}}}})
    sidecar = spawn.sidecar("streamer", bus)
    client = client_for(sidecar)
    inbox = Inbox("none")
    close = client.subscribe_with_handler("bus", "slow", inbox)
    try:
        wait_until(lambda: _subscriptions(sidecar), what="the stream")
        client.publish_event("bus", "slow", "answer me")
        first, again = inbox.wait_for(2)[:2]
        assert first.id() == again.id()
    finally:
        close()


def test_closing_a_stream_leaves_its_unanswered_event_to_the_broker(spawn, bus, client_for):
    # Two streams of one app share the topic's events (one consumer group):
    # the event one stream did not answer goes to the other when it closes.
    sidecar = spawn.sidecar("streamer", bus)
    client = client_for(sidecar)
    quitter = client.subscribe("bus", "shared")
    stayer = Inbox()
    close = client.subscribe_with_handler("bus", "shared", stayer)
    try:
        wait_until(lambda: len(_subscriptions(sidecar)) == 2, what="two streams")
        for n in range(4):
            client.publish_event("bus", "shared", f"m{n}")
        quitter.next_message()  # taken, never answered
        quitter.close()
        # Every event reaches the stream that stayed, the unanswered one too.
        wait_until(lambda: {m.data() for m in stayer.messages} == {"m0", "m1", "m2", "m3"},
                   what=lambda: f"every event; got {[m.data() for m in stayer.messages]}")
    finally:
        close()


def test_stopping_the_sidecar_ends_open_streams(spawn, bus, client_for):
    sidecar = spawn.sidecar("streamer", bus)
    client = client_for(sidecar)
    subscription = client.subscribe("bus", "news")
    try:
        client.publish_event("bus", "news", "unanswered")
        assert subscription.next_message().data() == "unanswered"
        assert sidecar.stop() == 0
        assert "Traceback" not in sidecar.output()
    finally:
        subscription.close()


def test_bad_streaming_subscriptions_are_refused(spawn, bus, client_for):
    sidecar = spawn.sidecar("streamer", bus)
    client = client_for(sidecar)
    for pubsub, topic, needle in (("nope", "t", "pubsub nope is not found"),
                                  ("bus", "", "topic is empty in pubsub bus"),
                                  ("bus", "a/#/b", "cannot subscribe to topic a/#/b")):
        with pytest.raises(Exception, match="Error while initializing stream") as refused:
            client.subscribe(pubsub, topic)
        assert needle in str(refused.value)
    assert not _subscriptions(sidecar)
    client.publish_event("bus", "t", "still serving")


def test_the_stream_protocol_is_enforced(spawn, bus):
    sidecar = spawn.sidecar("streamer", bus)
    initial = pubsub_pb2.SubscribeTopicEventsRequestAlpha1(
        initial_request=pubsub_pb2.SubscribeTopicEventsRequestInitialAlpha1(
            pubsub_name="bus", topic="proto"))
    stray = pubsub_pb2.SubscribeTopicEventsRequestAlpha1(
        event_processed=pubsub_pb2.SubscribeTopicEventsRequestProcessedAlpha1(id="nobody"))
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
        stub = dapr_pb2_grpc.DaprStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.SubscribeTopicEventsAlpha1(iter([stray]), timeout=10))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "initial request is required" in refused.value.details()
        # An answer for an id nobody waits for is ignored; a second initial request ends it.
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.SubscribeTopicEventsAlpha1(iter([initial, stray, initial]), timeout=10))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "duplicate initial request" in refused.value.details()
    assert "awaiting an answer" in sidecar.output()
    wait_until(lambda: not _subscriptions(sidecar), what="the stream to be unlisted")


# -- a gRPC app

@pytest.fixture
def grpc_subscriber(spawn, bus):
    def start(answers: dict[str, list[str]] | None = None) -> tuple[PubsubApp, Any]:
        app = spawn.track(PubsubApp(spawn.workdir, answers))
        sidecar = spawn.sidecar("grpcsub", bus, app_port=app.port, args=GRPC, wait="ready")
        return app, sidecar

    return start


def test_grpc_app_subscriptions_come_from_list_topic_subscriptions(grpc_subscriber):
    _, sidecar = grpc_subscriber()
    found = {s["topic"]: s for s in _subscriptions(sidecar)}
    assert set(found) == {"orders", "orders-dead", "raw", "routed", "batched"}
    assert found["orders"]["deadLetterTopic"] == "orders-dead"
    assert found["orders"]["type"] == "PROGRAMMATIC"
    assert found["routed"]["rules"] == [
        {"match": 'event.type == "order.created"', "path": "created"},
        {"match": "event.data.priority > 5", "path": "urgent"}]


def test_grpc_app_receives_topic_events(grpc_subscriber, client_for):
    app, sidecar = grpc_subscriber()
    client = client_for(sidecar)
    client.publish_event("bus", "orders", json.dumps({"item": "bolt"}),
                         data_content_type="application/json",
                         publish_metadata={"cloudevent.subject": "s-1"})
    client.publish_event("bus", "raw", b"\xff\x00", publish_metadata={"rawPayload": "true"})
    [event] = app.wait_for(1, "orders")
    assert json.loads(data_of(event)) == {"item": "bolt"}
    assert event["data_content_type"] == "application/json"
    assert (event["source"], event["type"], event["spec_version"]) == (
        "grpcsub", "com.dapr.event.sent", "1.0")
    assert (event["topic"], event["pubsub_name"]) == ("orders", "bus")
    assert event["extensions"]["subject"] == "s-1"
    assert event["extensions"]["pubsubname"] == "bus"
    assert event["metadata"]["pubsubname"] == "bus"
    [raw] = app.wait_for(1, "raw")
    assert data_of(raw) == b"\xff\x00"


def test_grpc_app_answers_decide_redelivery_and_dead_letters(grpc_subscriber, client_for):
    app, sidecar = grpc_subscriber({"orders": ["RETRY", "RAISE", "SUCCESS", "DROP"]})
    client = client_for(sidecar)
    client.publish_event("bus", "orders", "kept")
    tries = app.wait_for(3, "orders")
    assert [t["answer"] for t in tries] == ["RETRY", "RAISE", "SUCCESS"]
    assert len({t["id"] for t in tries}) == 1
    client.publish_event("bus", "orders", "dropped")
    [dead] = app.wait_for(1, "orders_dead")
    assert data_of(dead) == b"dropped"


def test_grpc_app_routing_rules(grpc_subscriber, client_for):
    app, sidecar = grpc_subscriber()
    client = client_for(sidecar)
    client.publish_event("bus", "routed", json.dumps({"priority": 1}),
                         data_content_type="application/json",
                         publish_metadata={"cloudevent.type": "order.created"})
    client.publish_event("bus", "routed", json.dumps({"priority": 9}),
                         data_content_type="application/json")
    client.publish_event("bus", "routed", json.dumps({"priority": 2}),
                         data_content_type="application/json")
    [created] = app.wait_for(1, "created")
    [urgent] = app.wait_for(1, "urgent")
    assert json.loads(data_of(created)) == {"priority": 1}
    assert json.loads(data_of(urgent)) == {"priority": 9}
    # The third matches no rule and the app has no default route: not delivered.
    client.publish_event("bus", "orders", "marker")
    app.wait_for(1, "orders")
    assert len(app.received("created")) + len(app.received("urgent")) == 2


def test_grpc_app_bulk_subscription(grpc_subscriber, client_for):
    app, sidecar = grpc_subscriber({"batched": ["SUCCESS", "RETRY"]})
    client = client_for(sidecar)
    client.publish_events("bus", "batched", [f"b{n}" for n in range(5)])
    events = app.wait_for(6, "batched")
    assert sorted({data_of(e) for e in events}) == [f"b{n}".encode() for n in range(5)]
    retried = [e for e in events if e["answer"] == "RETRY"]
    assert len(retried) == 1
    assert sum(e["id"] == retried[0]["id"] for e in events) == 2


# -- MQTT

@pytest.fixture
def mosquitto(tmp_path: Path):
    if mosquitto_binary() is None:
        pytest.fail(INSTALL_HINT)
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.stop()


def _mqtt(folder: Path, broker: Mosquitto) -> Path:
    write_docs(folder / "mqtt.yaml", {
        "apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "mqtt"},
        "spec": {"type": "pubsub.mqtt3", "version": "v1", "metadata": [
            {"name": "url", "value": broker.url}, {"name": "qos", "value": "1"},
            *[{"name": k, "value": v} for k, v in FAST.items()]]}})
    return folder


def test_mqtt_publish_and_streaming_subscription(spawn, tmp_path, mosquitto, client_for):
    sidecar = spawn.sidecar("plant", _mqtt(tmp_path / "resources", mosquitto))
    client = client_for(sidecar)
    inbox = Inbox()
    close = client.subscribe_with_handler("mqtt", "line/+/temp", inbox)
    try:
        wait_until(lambda: _subscriptions(sidecar), what="the stream")
        client.publish_event("mqtt", "line/1/temp", json.dumps({"c": 21}),
                             data_content_type="application/json")
        response = client.publish_events("mqtt", "line/2/temp", ["a", "b", "c"])
        assert response.failed_entries == []
        got = inbox.wait_for(4)
        assert got[0].data() == {"c": 21}
        assert [m.data() for m in got[1:]] == ["a", "b", "c"]
        assert {m.topic() for m in got} == {"line/1/temp", "line/2/temp"}
    finally:
        close()


def test_mqtt_unanswered_event_stays_with_the_broker(spawn, tmp_path, mosquitto, client_for):
    resources = _mqtt(tmp_path / "resources", mosquitto)
    sidecar = spawn.sidecar("plant", resources)
    client = client_for(sidecar)
    subscription = client.subscribe("mqtt", "alarms")
    client.publish_event("mqtt", "alarms", "fire")
    assert subscription.next_message().data() == "fire"
    subscription.close()  # never answered
    sidecar.stop()
    # The same app again (same edge home, so the same broker session).
    again = spawn.sidecar("plant", resources)
    inbox = Inbox()
    close = client_for(again).subscribe_with_handler("mqtt", "alarms", inbox)
    try:
        assert inbox.wait_for(1)[0].data() == "fire"
    finally:
        close()


def test_http_subscriber_gets_what_a_grpc_client_published_over_mqtt(spawn, tmp_path,
                                                                     mosquitto, client_for):
    resources = _mqtt(tmp_path / "resources", mosquitto)
    app = spawn.track(Subscriber(spawn.workdir, [
        {"pubsubname": "mqtt", "topic": "cmd/#", "route": "/cmd"}]))
    subscriber = spawn.sidecar("actuator", resources, app_port=app.port, wait="ready")
    publisher = spawn.sidecar("console", resources)
    client_for(publisher).publish_event("mqtt", "cmd/valve", json.dumps({"open": True}),
                                        data_content_type="application/json")
    [got] = app.wait_for(1, "cmd/valve")
    assert got["json"]["data"] == {"open": True}
    assert got["json"]["source"] == "console"
    assert subscriber.proc.poll() is None
