"""Bulk subscriptions on pubsub.mqtt3 against a real Mosquitto: real batches
(up to maxMessagesCount, or what came within maxAwaitDurationMs), in order,
acknowledged to the broker only once the handler took the batch; and one
bulk-subscribing app behind real sidecars."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from edge.components.pubsub.base import BulkEntry
from tests.harness import wait_until as wait_until_sync
from tests.harness import write_component
from tests.pubsub.helpers import Subscriber
from tests.pubsub.mqtt.helpers import Batches, msg, wait_until

# Mosquitto sends a client at most 20 unacknowledged QoS 1 messages by
# default, and a batch is acknowledged only once handled: lift the limit so
# that batches of 100 can form.
NO_INFLIGHT_LIMIT = ("max_inflight_messages 0",)


async def publish_all(pubsub, topic: str, payloads: list[str]) -> None:
    failed = await pubsub.bulk_publish([BulkEntry(p, msg(topic, p)) for p in payloads])
    assert failed == {}


async def test_quick_messages_come_in_batches_of_at_most_max_in_order_once(brokers, pubsubs):
    broker = brokers(extra_config=NO_INFLIGHT_LIMIT)
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    batches = Batches()
    await subscriber.bulk_subscribe("bulk", batches, {}, 100, 1.0)
    expected = [str(n) for n in range(250)]
    await publish_all(publisher, "bulk", expected)
    assert await batches.wait_for(250) == expected
    assert await batches.quiet(0.5) == expected  # nothing twice
    assert max(batches.sizes) == 100, batches.sizes  # real batches, not one by one
    assert len(batches.sizes) <= 5, batches.sizes
    await wait_until(lambda: not subscriber._unacked, what="every message acknowledged")
    # The broker has the acknowledgements: a restart of the subscriber (same
    # persistent session) gets nothing again.
    await subscriber.close()
    again = await pubsubs(broker.url, home="sub", app_id="reader")
    more = Batches()
    await again.bulk_subscribe("bulk", more, {}, 100, 0.2)
    assert await more.quiet(1.0) == []


async def test_default_mosquitto_window_only_makes_batches_smaller(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    batches = Batches()
    await subscriber.bulk_subscribe("window", batches, {}, 100, 0.3)
    expected = [str(n) for n in range(150)]
    await publish_all(publisher, "window", expected)
    assert await batches.wait_for(150) == expected
    assert await batches.quiet(0.5) == expected
    # Mosquitto 2.0.11 sends the first 20 (max_inflight_messages), then the
    # rest once those are acknowledged: [20, 100, 30] here. Whatever the
    # broker's window, no batch is larger than asked and nothing is stuck.
    assert max(batches.sizes) <= 100, batches.sizes
    assert batches.sizes[0] <= 20, batches.sizes


async def test_a_failed_batch_comes_again_whole_and_in_order(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader",
                               backOffInitialInterval="50ms")
    batches = Batches(fail_calls=(1,))
    await subscriber.bulk_subscribe("failing", batches, {}, 5, 2.0)
    expected = [str(n) for n in range(10)]
    await publish_all(publisher, "failing", expected)
    assert await batches.wait_for(10) == expected
    first, second = expected[:5], expected[5:]
    # The first batch was taken; only the failed second one was offered again.
    assert batches.offered == [first, second, second]
    assert await batches.quiet(0.5) == expected
    await wait_until(lambda: not subscriber._unacked, what="every message acknowledged")


async def test_a_batch_not_handled_stays_with_the_broker(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    stuck = Batches(hang_calls=(1,))
    await subscriber.bulk_subscribe("held", stuck, {}, 4, 2.0)
    expected = [str(n) for n in range(10)]
    await publish_all(publisher, "held", expected)
    await stuck.wait_offered(2)
    assert stuck.offered[:2] == [expected[:4], expected[4:8]]
    # Stopped while the handler still has the second batch: the broker sends
    # the rest again, in order. Under load (seen once in about eight loaded
    # suite runs) part of the first, acknowledged batch came again too, the
    # PUBACKs apparently not reaching the broker before the close: at-least-
    # once holds, and the repeats are only ever from that first batch.
    await subscriber.close()
    again = await pubsubs(broker.url, home="sub", app_id="reader")
    batches = Batches()
    await again.bulk_subscribe("held", batches, {}, 4, 0.3)
    await batches.wait_for(6)
    got = await batches.quiet(0.5)
    repeats = got[:len(got) - 6]
    assert got[len(repeats):] == expected[4:]
    assert repeats == expected[4 - len(repeats):4]


async def test_a_lone_message_is_delivered_after_max_await(broker, pubsubs):
    pubsub = await pubsubs(broker.url)
    batches = Batches()
    await pubsub.bulk_subscribe("trickle", batches, {}, 100, 1.0)
    started = time.monotonic()
    await pubsub.publish(msg("trickle", "alone"))
    assert await batches.wait_for(1, timeout=10) == ["alone"]
    waited = time.monotonic() - started
    assert 0.9 <= waited < 5, waited
    assert batches.sizes == [1]
    await pubsub.publish(msg("trickle", "later"))
    assert await batches.wait_for(2, timeout=10) == ["alone", "later"]
    assert batches.sizes == [1, 1]


# -- through real sidecars

BULK_TOPIC = "e2e/bulk"


def test_bulk_subscribing_app_gets_batches_over_mqtt(spawn, brokers, tmp_path: Path):
    broker = brokers()
    subscriptions = [{"pubsubname": "mqtt", "topic": BULK_TOPIC, "route": "/batch",
                      "bulkSubscribe": {"enabled": True, "maxMessagesCount": 10,
                                        "maxAwaitDurationMs": 500}}]
    # Within the first batch the second entry is answered RETRY (it comes again,
    # alone), the others SUCCESS.
    app = spawn.track(Subscriber(tmp_path / "reader-app", subscriptions,
                                 answers={BULK_TOPIC: ["SUCCESS", "RETRY"]}))
    reader_res = tmp_path / "reader-res"
    write_component(reader_res, "mqtt", "pubsub.mqtt3",
                    {"url": broker.url, "backOffInitialInterval": "50ms",
                     "backOffMaxInterval": "300ms"})
    spawn.sidecar("reader", reader_res, app_port=app.port, wait="ready")
    writer_res = tmp_path / "writer-res"
    write_component(writer_res, "mqtt", "pubsub.mqtt3", {"url": broker.url})
    writer = spawn.sidecar("writer", writer_res)
    entries = [{"entryId": str(n), "event": {"n": n}, "contentType": "application/json"}
               for n in range(25)]
    with writer.client() as http:
        reply = http.post(f"/v1.0-alpha1/publish/bulk/mqtt/{BULK_TOPIC}", json=entries)
        assert reply.status_code == 204, reply.text

    def deliveries() -> list[list[int]]:
        return [[e["event"]["data"]["n"] for e in record["json"]["entries"]]
                for record in app.received(BULK_TOPIC) if record["path"] == "/batch"]

    def taken() -> list[int]:
        return [n for batch in deliveries() for n in batch]

    wait_until_sync(lambda: set(taken()) == set(range(25)), 30,
                    lambda: f"all 25; got {deliveries()}")
    time.sleep(1.0)  # duplicates would show up now
    got = deliveries()
    assert all(record["bulk"] for record in app.received(BULK_TOPIC))
    assert all(1 <= len(batch) <= 10 for batch in got), got
    assert max(len(batch) for batch in got) > 1, got  # real batches
    # Everything once, in order, except the entry answered RETRY, once more.
    assert list(dict.fromkeys(taken())) == list(range(25)), got
    assert Counter(taken()) == Counter({**dict.fromkeys(range(25), 1), 1: 2}), got
    assert [1] in got[1:], got
    first = app.received(BULK_TOPIC)[0]
    assert first["json"]["type"] == "com.dapr.event.sent.bulk"
    assert first["json"]["pubsubname"] == "mqtt"
    assert first["json"]["entries"][0]["event"]["topic"] == BULK_TOPIC
