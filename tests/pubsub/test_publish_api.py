"""The publish API's answers: bulk publish, and Dapr's errors for what a
client can get wrong. None of it may take the sidecar down."""

from __future__ import annotations

import base64

import pytest

from tests.pubsub.helpers import new_topic

BULK = "/v1.0-alpha1/publish/bulk"


def error(reply, status, code):
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["errorCode"] == code, body
    return body


def test_bulk_publish_delivers_every_kind_of_entry(shared):
    topic = new_topic("rt")
    entries = [
        {"entryId": "json", "event": {"n": 1}, "contentType": "application/json"},
        {"entryId": "text", "event": "hello", "contentType": "text/plain"},
        {"entryId": "bytes", "event": base64.b64encode(b"\x00\xff").decode(),
         "contentType": "application/octet-stream"},
        {"entryId": "ce", "event": {"specversion": "1.0", "id": "own-id", "source": "s",
                                    "type": "t", "data": {"n": 4}},
         "contentType": "application/cloudevents+json"},
        {"entryId": "meta", "event": {"n": 5}, "contentType": "application/json",
         "metadata": {"cloudevent.type": "from.entry"}},
    ]
    reply = shared.http.post(f"{BULK}/bus/{topic}", json=entries)
    assert reply.status_code == 204, reply.text
    got = [r["json"] for r in shared.app.wait_for(5, topic)]
    assert got[0]["data"] == {"n": 1} and got[0]["datacontenttype"] == "application/json"
    assert got[1]["data"] == "hello"
    assert base64.b64decode(got[2]["data_base64"]) == b"\x00\xff"
    assert got[3]["id"] == "own-id" and got[3]["data"] == {"n": 4}
    assert got[4]["type"] == "from.entry"
    assert len({event["id"] for event in got}) == 5


def test_bulk_publish_accepts_the_js_sdk_spelling_and_v1_path(shared):
    topic = new_topic("rt")
    entries = [{"entryID": "a", "event": "x", "contentType": "text/plain"}]
    assert shared.http.post(f"/v1.0/publish/bulk/bus/{topic}", json=entries).status_code == 204
    shared.app.wait_for(1, topic)


def test_bulk_publish_raw_payload(shared):
    topic = new_topic("rt")
    entries = [{"entryId": "1", "event": {"topic": topic, "raw": True},
                "contentType": "application/json"}]
    reply = shared.http.post(f"{BULK}/bus/{topic}", json=entries,
                             params={"metadata.rawPayload": "true"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, topic)
    assert got["json"] == {"topic": topic, "raw": True}


def test_bulk_publish_reports_failed_entries(shared):
    topic = new_topic("rt")
    entries = [{"entryId": "small", "event": "x", "contentType": "text/plain"},
               {"entryId": "large", "event": "x" * 1000, "contentType": "text/plain"},
               {"entryId": "small-too", "event": "y", "contentType": "text/plain"}]
    body = error(shared.http.post(f"{BULK}/small/{topic}", json=entries), 500,
                 "ERR_PUBSUB_PUBLISH_MESSAGE")
    [failed] = body["failedEntries"]
    assert failed["entryId"] == "large"
    assert "maxMessageBytes" in failed["error"]


@pytest.mark.parametrize("entries", [
    [{"entryId": "a", "event": "x", "contentType": "text/plain"},
     {"entryId": "a", "event": "y", "contentType": "text/plain"}],
    [{"event": "x", "contentType": "text/plain"}],
    [{"entryId": "", "event": "x", "contentType": "text/plain"}],
], ids=["duplicate-id", "missing-id", "empty-id"])
def test_bulk_publish_rejects_bad_entry_ids(shared, entries):
    body = error(shared.http.post(f"{BULK}/bus/{new_topic('rt')}", json=entries), 400,
                 "ERR_PUBSUB_EVENTS_SER")
    assert "entryId is duplicated or not present" in body["message"]


@pytest.mark.parametrize("entry", [
    {"entryId": "a", "event": {"n": 1}, "contentType": "text/plain"},
    {"entryId": "a", "event": "not base64!", "contentType": "application/octet-stream"},
    {"entryId": "a", "event": "x"},
    {"entryId": "a", "event": "x", "contentType": "image/png"},
], ids=["object-as-text", "bad-base64", "no-content-type", "unknown-content-type"])
def test_bulk_publish_rejects_events_that_do_not_fit_their_type(shared, entry):
    error(shared.http.post(f"{BULK}/bus/{new_topic('rt')}", json=[entry]), 400,
          "ERR_PUBSUB_EVENTS_SER")


@pytest.mark.parametrize("body", [b"{not json", b'{"entryId": "a"}', b"[1, 2]",
                                  b'[{"entryId": 5}]', b'[{"entryId": "a", "metadata": [1]}]',
                                  b"\xff\xfe"])
def test_bulk_publish_rejects_malformed_bodies(shared, body):
    reply = shared.http.post(f"{BULK}/bus/{new_topic('rt')}", content=body,
                             headers={"content-type": "application/json"})
    error(reply, 400, "ERR_PUBSUB_EVENTS_SER")


def test_bulk_publish_of_nothing_succeeds(shared):
    assert shared.http.post(f"{BULK}/bus/{new_topic('rt')}", json=[]).status_code == 204


def test_bulk_cloudevent_entry_must_be_an_object(shared):
    entries = [{"entryId": "a", "event": [1, 2], "contentType": "application/cloudevents+json"}]
    error(shared.http.post(f"{BULK}/bus/{new_topic('rt')}", json=entries), 500,
          "ERR_PUBSUB_CLOUD_EVENTS_SER")


def test_unknown_pubsub(shared):
    body = error(shared.http.post("/v1.0/publish/nosuch/topic", json=1), 404,
                 "ERR_PUBSUB_NOT_FOUND")
    assert "nosuch" in body["message"]
    error(shared.http.post(f"{BULK}/nosuch/topic", json=[]), 404, "ERR_PUBSUB_NOT_FOUND")


@pytest.mark.parametrize("path", ["/v1.0/publish/bus/", "/v1.0/publish/bus",
                                  f"{BULK}/bus/", f"{BULK}/bus"])
def test_empty_topic(shared, path):
    error(shared.http.post(path, json=1), 404, "ERR_TOPIC_NAME_EMPTY")


def test_empty_pubsub_name(shared):
    error(shared.http.post("/v1.0/publish//topic", json=1), 404, "ERR_PUBSUB_EMPTY")


def test_bad_raw_payload_flag(shared):
    reply = shared.http.post(f"/v1.0/publish/bus/{new_topic('rt')}", json=1,
                             params={"metadata.rawPayload": "perhaps"})
    error(reply, 400, "ERR_PUBSUB_REQUEST_METADATA")


@pytest.mark.parametrize("body", [b"{broken", b"[1]", b'"text"', b"\xff"])
def test_malformed_cloudevent(shared, body):
    reply = shared.http.post(f"/v1.0/publish/bus/{new_topic('rt')}", content=body,
                             headers={"content-type": "application/cloudevents+json"})
    error(reply, 500, "ERR_PUBSUB_CLOUD_EVENTS_SER")


def test_broker_refusal_is_a_publish_error(shared):
    reply = shared.http.post("/v1.0/publish/bus/sensors/+/temp", json=1)
    body = error(reply, 500, "ERR_PUBSUB_PUBLISH_MESSAGE")
    assert "wildcards" in body["message"]
    large = shared.http.post(f"/v1.0/publish/small/{new_topic('rt')}", content=b"x" * 2000)
    error(large, 500, "ERR_PUBSUB_PUBLISH_MESSAGE")


def test_topic_may_contain_slashes_and_escapes(shared):
    topic = new_topic("rt") + "/a%20b"
    assert shared.http.post(f"/v1.0/publish/bus/{topic}", json=1).status_code == 204
    [got] = shared.app.wait_for(1, topic.replace("%20", " "))
    assert got["json"]["topic"].endswith("/a b")


def test_sidecar_is_still_healthy(shared):
    assert shared.http.get("/v1.0/healthz").status_code == 204
