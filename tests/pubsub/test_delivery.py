"""How events reach the app: routing rules, wildcards, the app's answers
(RETRY, DROP, 404, errors), dead-letter topics, expiry and ordering."""

from __future__ import annotations

import json
import time

from tests.pubsub.helpers import new_topic


def publish(shared, topic, pubsub="bus", **kwargs):
    reply = shared.http.post(f"/v1.0/publish/{pubsub}/{topic}", **kwargs)
    assert reply.status_code == 204, reply.text
    return reply


def datas(records):
    return [r["json"]["data"] for r in records]


def test_routing_rules_pick_the_path(shared):
    topic = new_topic("routed")
    publish(shared, topic, content=json.dumps({"type": "order.created", "data": {"id": 1}}),
            headers={"content-type": "application/cloudevents+json"})
    publish(shared, topic, json={"priority": 9})
    publish(shared, topic, json={"priority": 9.5})
    publish(shared, topic, json={"priority": 1})
    publish(shared, topic, content=b"just text")  # the rules cannot read it: default path
    got = shared.app.wait_for(5, topic)
    assert [r["path"] for r in got] == ["/created", "/urgent", "/urgent", "/other", "/other"]


def test_event_matching_no_rule_and_no_default_is_not_delivered(shared):
    topic = new_topic("picky")
    publish(shared, topic, json={"n": 1})
    publish(shared, topic, content=json.dumps({"type": "wanted", "data": 2}),
            headers={"content-type": "application/cloudevents+json"})
    [got] = shared.app.wait_for(1, topic)
    assert got["json"]["data"] == 2
    time.sleep(0.2)
    assert len(shared.app.received(topic)) == 1


def test_plus_wildcard_matches_one_level(shared):
    room = new_topic("x").split("/")[1]
    for topic in (f"sensors/{room}/temp", f"sensors/{room}/humidity",
                  f"sensors/{room}/a/temp", f"sensors/{room}-2/temp"):
        publish(shared, topic, json={"topic": topic})
    got = shared.app.wait_for(1, f"sensors/{room}/temp", path="/temp")
    assert got[0]["json"]["data"] == {"topic": f"sensors/{room}/temp"}
    shared.app.wait_for(1, f"sensors/{room}-2/temp", path="/temp")
    assert not shared.app.received(f"sensors/{room}/humidity")
    assert not shared.app.received(f"sensors/{room}/a/temp")


def test_hash_wildcard_matches_deeper_levels(shared):
    topic = new_topic("rt") + "/deeper/still"
    publish(shared, topic, json={"n": 1})
    shared.app.wait_for(1, topic, path="/rt")


def test_retry_and_errors_are_redelivered_in_order(shared):
    topic = new_topic("rt")
    shared.app.answer(topic, "RETRY", "500", "503")
    for n in range(3):
        publish(shared, topic, json=n)
    got = shared.app.wait_for(6, topic)
    assert datas(got) == [0, 0, 0, 0, 1, 2]
    assert [r["answer"] for r in got] == ["RETRY", "500", "503", "SUCCESS", "SUCCESS", "SUCCESS"]
    # Redelivery is the same event, not a new one.
    assert len({r["json"]["id"] for r in got[:4]}) == 1


def test_empty_answer_and_unknown_json_are_success(shared):
    topic = new_topic("rt")
    shared.app.answer(topic, "EMPTY")
    publish(shared, topic, json=1)
    publish(shared, topic, json=2)
    got = shared.app.wait_for(2, topic)
    assert datas(got) == [1, 2]


def test_unknown_status_is_retried(shared):
    topic = new_topic("rt")
    shared.app.answer(topic, "MAYBE")
    publish(shared, topic, json=1)
    got = shared.app.wait_for(2, topic)
    assert [r["answer"] for r in got] == ["MAYBE", "SUCCESS"]


def test_404_drops_the_event(shared):
    topic = new_topic("rt")
    shared.app.answer(topic, "404")
    publish(shared, topic, json=1)
    publish(shared, topic, json=2)
    got = shared.app.wait_for(2, topic)
    assert datas(got) == [1, 2]
    time.sleep(0.2)
    assert len(shared.app.received(topic)) == 2


def test_drop_goes_to_the_dead_letter_topic(shared):
    topic = new_topic("retry")
    shared.app.answer(topic, "DROP")
    publish(shared, topic, json={"n": 1})
    [first] = shared.app.wait_for(1, topic, path="/retry")
    # The dead-letter subscription gets the same event, still naming its topic.
    [dead] = shared.app.wait_for(1, topic, path="/dead")
    assert dead["json"]["id"] == first["json"]["id"]
    assert dead["json"]["data"] == {"n": 1}


def test_404_goes_to_the_dead_letter_topic_when_there_is_one(shared):
    topic = new_topic("retry")
    shared.app.answer(topic, "404")
    publish(shared, topic, json={"n": 2})
    shared.app.wait_for(1, topic, path="/dead")


def test_exhausted_retries_go_to_the_dead_letter_topic(shared):
    topic = new_topic("lim")
    shared.app.answer(topic, "500", "500", "500")
    publish(shared, topic, json=1, pubsub="limited")
    publish(shared, topic, json=2, pubsub="limited")
    # backOffMaxRetries 2: the first try and two retries, then the dead-letter topic.
    [dead] = shared.app.wait_for(1, topic, path="/dead-lim")
    assert dead["json"]["data"] == 1
    tries = shared.app.wait_for(4, topic, path="/lim")
    assert datas(tries) == [1, 1, 1, 2]
    assert [r["answer"] for r in tries] == ["500", "500", "500", "SUCCESS"]


def test_expired_event_is_not_delivered(shared):
    topic = new_topic("rt")
    # The first event is refused until the second has expired behind it.
    shared.app.answer(topic, *["RETRY"] * 12)
    publish(shared, topic, json="first")
    publish(shared, topic, json="expires", params={"metadata.ttlInSeconds": "1"})
    publish(shared, topic, json="last")
    got = shared.app.wait_for(14, topic, timeout=15)
    assert datas(got)[-2:] == ["first", "last"]
    assert "expires" not in datas(got)


def test_bulk_subscriber_gets_batches_and_answers_per_entry(shared):
    topic = new_topic("bulk")
    shared.app.answer(topic, "SUCCESS", "RETRY", "DROP")
    entries = [{"entryId": str(n), "event": {"n": n}, "contentType": "application/json"}
               for n in range(5)]
    reply = shared.http.post(f"/v1.0-alpha1/publish/bulk/bus/{topic}", json=entries)
    assert reply.status_code == 204, reply.text
    first = shared.app.wait_for(1, topic, path="/bulk")[0]
    envelope = first["json"]
    assert first["headers"]["content-type"] == "application/json"
    assert envelope["type"] == "com.dapr.event.sent.bulk"
    assert envelope["topic"] == "bulk/#" and envelope["pubsubname"] == "bus"
    assert [e["event"]["data"] for e in envelope["entries"]] == [{"n": n} for n in range(5)]
    for entry in envelope["entries"]:
        assert entry["contentType"] == "application/cloudevents+json"
        assert entry["entryId"] and entry["event"]["topic"] == topic
    # The entry answered RETRY comes again, alone; the dropped one goes to "dead".
    second = shared.app.wait_for(2, topic, path="/bulk")[1]["json"]
    assert [e["event"]["data"] for e in second["entries"]] == [{"n": 1}]
    assert second["entries"][0]["entryId"] == envelope["entries"][1]["entryId"]
    [dead] = shared.app.wait_for(1, topic, path="/dead")
    assert dead["json"]["data"] == {"n": 2}


def test_bulk_subscriber_with_raw_payload_gets_base64_entries(shared):
    topic = new_topic("rawbulk")
    reply = shared.http.post(f"/v1.0/publish/{'bus'}/{topic}", content=b"\x00\x01raw",
                             params={"metadata.rawPayload": "true"})
    assert reply.status_code == 204
    [got] = shared.app.wait_for(1, "rawbulk/#", path="/rawbulk")
    [entry] = got["json"]["entries"]
    assert entry["contentType"] == "application/octet-stream"
    assert entry["event"] == "AAFyYXc="


def test_metadata_lists_the_subscriptions(shared):
    meta = shared.http.get("/v1.0/metadata").json()
    subs = {(s["pubsubname"], s["topic"]): s for s in meta["subscriptions"]}
    routed = subs[("bus", "routed/#")]
    assert routed["type"] == "PROGRAMMATIC"
    assert routed["rules"] == [{"match": 'event.type == "order.created"', "path": "/created"},
                               {"match": "event.data.priority > 5", "path": "/urgent"},
                               {"path": "/other"}]
    assert routed["deadLetterTopic"] == ""
    assert subs[("bus", "retry/#")]["deadLetterTopic"] == "dead"
    assert subs[("bus", "raw/#")]["metadata"] == {"rawPayload": "true"}
    components = {c["name"]: c for c in meta["components"]}
    assert components["bus"]["type"] == "pubsub.in-memory"
    assert components["bus"]["capabilities"] == ["SUBSCRIBE_WILDCARDS"]
