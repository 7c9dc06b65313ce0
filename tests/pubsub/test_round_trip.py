"""Publishing JSON, text, bytes, CloudEvents and raw payloads, and what the
subscriber app gets: Dapr's CloudEvent envelope around the data."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime

from tests.pubsub.conftest import APP_ID
from tests.pubsub.helpers import new_topic

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def publish(shared, topic, pubsub="bus", **kwargs):
    return shared.http.post(f"/v1.0/publish/{pubsub}/{topic}", **kwargs)


def test_json_is_wrapped_in_a_cloudevent(shared):
    topic = new_topic("rt")
    reply = publish(shared, topic, content=b'{"orderId": 7, "price": 1.10}',
                    headers={"content-type": "application/json"})
    assert reply.status_code == 204, reply.text
    [got] = shared.app.wait_for(1, topic)
    event = got["json"]
    assert got["path"] == "/rt"
    assert got["headers"]["content-type"] == "application/cloudevents+json"
    assert event["data"] == {"orderId": 7, "price": 1.10}
    # The data is embedded as the client wrote it, not re-encoded.
    assert b'"data":{"orderId": 7, "price": 1.10}' in base64.b64decode(got["body_base64"])
    assert event["datacontenttype"] == "application/json"
    assert event["specversion"] == "1.0"
    assert event["type"] == "com.dapr.event.sent"
    assert event["source"] == APP_ID
    assert event["topic"] == topic and event["pubsubname"] == "bus"
    assert UUID.fullmatch(event["id"])
    assert TRACEPARENT.fullmatch(event["traceparent"]) and event["traceid"] == event["traceparent"]
    sent = datetime.fromisoformat(event["time"])
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 60
    assert got["headers"]["pubsubname"] == "bus"


def test_text_travels_as_a_string(shared):
    topic = new_topic("rt")
    assert publish(shared, topic, content="héllo wörld".encode(),
                   headers={"content-type": "text/plain"}).status_code == 204
    [got] = shared.app.wait_for(1, topic)
    assert got["json"]["data"] == "héllo wörld"
    assert got["json"]["datacontenttype"] == "text/plain"


def test_body_without_content_type_is_text(shared):
    topic = new_topic("rt")
    assert publish(shared, topic, content=b"plain").status_code == 204
    [got] = shared.app.wait_for(1, topic)
    assert got["json"]["data"] == "plain"
    assert got["json"]["datacontenttype"] == "text/plain"


def test_bytes_travel_as_data_base64(shared):
    topic = new_topic("rt")
    payload = bytes(range(256))
    assert publish(shared, topic, content=payload,
                   headers={"content-type": "application/octet-stream"}).status_code == 204
    [got] = shared.app.wait_for(1, topic)
    event = got["json"]
    assert "data" not in event
    assert base64.b64decode(event["data_base64"]) == payload
    assert event["datacontenttype"] == "application/octet-stream"


def test_invalid_json_body_is_sent_as_a_string(shared):
    topic = new_topic("rt")
    assert publish(shared, topic, content=b"{not json",
                   headers={"content-type": "application/json"}).status_code == 204
    [got] = shared.app.wait_for(1, topic)
    assert got["json"]["data"] == "{not json"


def test_own_cloudevent_keeps_its_fields_and_gets_the_missing_ones(shared):
    topic = new_topic("rt")
    mine = {"specversion": "1.0", "id": "reading-42", "source": "thermometer-3",
            "type": "temperature.read", "datacontenttype": "application/json",
            "subject": "kitchen", "building": "b7", "data": {"celsius": 21.5},
            "topic": "ignored", "pubsubname": "ignored"}
    reply = publish(shared, topic, content=json.dumps(mine).encode(),
                    headers={"content-type": "application/cloudevents+json"})
    assert reply.status_code == 204, reply.text
    [got] = shared.app.wait_for(1, topic)
    event = got["json"]
    for key in ("id", "source", "type", "subject", "building", "data", "datacontenttype"):
        assert event[key] == mine[key]
    # Where it was published is always the truth.
    assert event["topic"] == topic and event["pubsubname"] == "bus"
    assert "time" in event and TRACEPARENT.fullmatch(event["traceparent"])


def test_cloudevent_without_id_or_source_gets_them(shared):
    topic = new_topic("rt")
    reply = publish(shared, topic, json={"data": "x"},
                    headers={"content-type": "application/cloudevents+json"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, topic)
    event = got["json"]
    assert UUID.fullmatch(event["id"])
    assert event["source"] == APP_ID
    assert event["type"] == "com.dapr.event.sent" and event["specversion"] == "1.0"


def test_caller_trace_is_continued(shared):
    topic = new_topic("rt")
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{'1' * 16}-01"
    reply = publish(shared, topic, json={"n": 1},
                    headers={"traceparent": parent, "tracestate": "vendor=1"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, topic)
    event = got["json"]
    assert TRACEPARENT.fullmatch(event["traceparent"])[1] == trace_id
    assert event["traceparent"] != parent  # a span of its own
    assert event["tracestate"] == "vendor=1"
    assert TRACEPARENT.fullmatch(got["headers"]["traceparent"])[1] == trace_id


def test_cloudevent_members_can_be_set_through_metadata(shared):
    topic = new_topic("rt")
    reply = publish(shared, topic, json={"n": 1},
                    params={"metadata.cloudevent.id": "fixed-id",
                            "metadata.cloudevent.type": "custom.type"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, topic)
    assert got["json"]["id"] == "fixed-id" and got["json"]["type"] == "custom.type"


def test_ttl_sets_the_expiration(shared):
    topic = new_topic("rt")
    reply = publish(shared, topic, json={"n": 1}, params={"metadata.ttlInSeconds": "120"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, topic)
    expires = datetime.fromisoformat(got["json"]["expiration"])
    assert 100 < (expires - datetime.now(UTC)).total_seconds() <= 121


def test_raw_payload_reaches_a_raw_subscriber_wrapped(shared):
    topic = new_topic("raw")
    payload = b'{"legacy": true}'
    reply = publish(shared, topic, content=payload, params={"metadata.rawPayload": "true"},
                    headers={"content-type": "application/json"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, topic)
    event = got["json"]
    assert got["path"] == "/raw"
    assert base64.b64decode(event["data_base64"]) == payload
    assert event["datacontenttype"] == "application/octet-stream"
    assert event["topic"] == topic and event["pubsubname"] == "bus"


def test_raw_subscriber_gets_cloudevents_as_bytes_too(shared):
    topic = new_topic("raw")
    assert publish(shared, topic, json={"n": 1}).status_code == 204
    [got] = shared.app.wait_for(1, topic)
    inner = json.loads(base64.b64decode(got["json"]["data_base64"]))
    assert inner["data"] == {"n": 1} and inner["topic"] == topic


def test_raw_json_object_reaches_a_cloudevent_subscriber_as_is(shared):
    topic = new_topic("rt")
    body = {"topic": topic, "reading": 3}
    reply = publish(shared, topic, json=body, params={"metadata.rawPayload": "true"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, topic)
    assert got["json"] == body


def test_message_metadata_reaches_the_app_as_headers(shared):
    topic = new_topic("rt")
    assert publish(shared, topic, json={"n": 1},
                   params={"metadata.priority": "high"}).status_code == 204
    [got] = shared.app.wait_for(1, topic)
    assert got["headers"]["priority"] == "high"


def test_put_publishes_too(shared):
    topic = new_topic("rt")
    assert shared.http.put(f"/v1.0/publish/bus/{topic}", json={"n": 1}).status_code == 204
    shared.app.wait_for(1, topic)
