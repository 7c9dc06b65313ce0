"""pubsub.mqtt3 against a real Mosquitto: round trips, wildcards, order,
websockets, credentials and the settings an operator gets wrong."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import pytest

from edge.components.pubsub.base import PublishError, SubscribeError
from edge.errors import ConfigError
from tests.pubsub.mqtt.helpers import Inbox, msg, plain_receive, wait_until


async def test_publish_subscribe_round_trip(broker, pubsubs):
    pubsub = await pubsubs(broker.url)
    inbox = Inbox()
    await pubsub.subscribe("orders", inbox, {})
    await pubsub.publish(msg("orders", "first"))
    assert await inbox.wait_for(1) == ["first"]
    assert inbox.messages[0].topic == "orders"
    assert inbox.messages[0].metadata == {"retained": "false"}
    await wait_until(lambda: pubsub.status()["outboxDepth"] == 0, what="outbox emptied")
    status = pubsub.status()
    assert status["connected"] is True
    assert status["outboxOldestAgeSeconds"] == 0


async def test_wildcards_plus_and_hash(broker, pubsubs):
    pubsub = await pubsubs(broker.url)
    temps, logs = Inbox(), Inbox()
    await pubsub.subscribe("sensors/+/temp", temps, {})
    await pubsub.subscribe("logs/#", logs, {})
    for topic in ("sensors/a/temp", "sensors/a/humidity", "sensors/b/temp", "sensors/a/b/temp",
                  "logs", "logs/gw", "logs/gw/disk", "other"):
        await pubsub.publish(msg(topic, topic))
    assert await temps.wait_for(2) == ["sensors/a/temp", "sensors/b/temp"]
    assert await logs.wait_for(3) == ["logs", "logs/gw", "logs/gw/disk"]
    assert [m.topic for m in logs.messages] == ["logs", "logs/gw", "logs/gw/disk"]
    assert await temps.quiet(0.3) == ["sensors/a/temp", "sensors/b/temp"]
    assert "SUBSCRIBE_WILDCARDS" in pubsub.features()


async def test_qos1_keeps_publish_order(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("ordered", inbox, {})
    expected = [str(n) for n in range(500)]
    for payload in expected:
        await publisher.publish(msg("ordered", payload))
    assert await inbox.wait_for(500) == expected
    assert await inbox.quiet(0.3) == expected


@pytest.mark.parametrize("qos", ["0", "2"])
async def test_other_qos_levels_keep_order_too(broker, pubsubs, qos):
    publisher = await pubsubs(broker.url, home="pub", qos=qos)
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader", qos=qos)
    inbox = Inbox()
    await subscriber.subscribe("levels", inbox, {})
    expected = [str(n) for n in range(100)]
    for payload in expected:
        await publisher.publish(msg("levels", payload))
    assert await inbox.wait_for(100) == expected


async def test_qos2_stays_within_the_brokers_inflight_limit(broker, pubsubs):
    """Mosquitto drops a client's incoming QoS 2 messages beyond max_inflight_messages
    (20) that wait for their PUBREL, and an MQTT 3.1.1 client is not told: the
    flow completes and the outbox deletes the row. A publisher slow to answer
    PUBRECs (a loaded machine) used to lose messages that way."""
    publisher = await pubsubs(broker.url, home="pub", qos="2")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader", qos="2")
    client = publisher._client
    assert client is not None
    send_pubrel = client._send_pubrel

    def slow_pubrel(mid: int) -> Any:  # paho's thread, as under load
        time.sleep(0.005)
        return send_pubrel(mid)

    client._send_pubrel = slow_pubrel  # type: ignore[method-assign]
    inbox = Inbox()
    await subscriber.subscribe("levels", inbox, {})
    expected = [str(n) for n in range(100)]
    await asyncio.gather(*(publisher.publish(msg("levels", payload)) for payload in expected))
    assert await inbox.wait_for(100) == expected
    assert await inbox.quiet(0.3) == expected


async def test_websocket_listener(brokers, pubsubs):
    broker = brokers(websockets=True)
    pubsub = await pubsubs(f"ws://127.0.0.1:{broker.ws_port}")
    inbox = Inbox()
    await pubsub.subscribe("ws/topic", inbox, {})
    await pubsub.publish(msg("ws/topic", "over websockets"))
    assert await inbox.wait_for(1) == ["over websockets"]


@pytest.fixture
def passwords(tmp_path):
    """A Mosquitto password file with user gateway, password s3cr@t/pw."""
    path = tmp_path / "passwords"
    path.write_text("gateway:s3cr@t/pw\n")
    subprocess.run(["mosquitto_passwd", "-U", str(path)], check=True, timeout=30)
    return path


async def test_credentials_in_the_url(brokers, pubsubs, passwords):
    broker = brokers(extra_config=("allow_anonymous false", f"password_file {passwords}"))
    pubsub = await pubsubs(f"tcp://gateway:s3cr%40t%2Fpw@127.0.0.1:{broker.port}")
    inbox = Inbox()
    await pubsub.subscribe("private", inbox, {})
    await pubsub.publish(msg("private", "for members"))
    assert await inbox.wait_for(1) == ["for members"]
    with pytest.raises(ConfigError, match="refused the connection"):
        await pubsubs(f"tcp://gateway:wrong@127.0.0.1:{broker.port}", home="other")


async def test_retain_per_message_reaches_plain_mqtt_clients(broker, pubsubs):
    pubsub = await pubsubs(broker.url)
    await pubsub.publish(msg("state/door", "open", retain="true"))
    await pubsub.publish(msg("state/window", "shut"))
    await wait_until(lambda: pubsub.status()["outboxDepth"] == 0, what="outbox emptied")
    door = await asyncio.to_thread(plain_receive, broker.port, "state/door")
    assert [(m.payload, m.retain) for m in door] == [(b"open", True)]
    assert await asyncio.to_thread(plain_receive, broker.port, "state/window", 0.3) == []
    with pytest.raises(PublishError, match="retain"):
        await pubsub.publish(msg("state/door", "x", retain="maybe"))


@pytest.mark.parametrize("topic", ["", "a/+", "a/#", "$SYS/x"])
async def test_unpublishable_topics_are_refused(broker, pubsubs, topic):
    pubsub = await pubsubs(broker.url)
    with pytest.raises(PublishError):
        await pubsub.publish(msg(topic, "x"))
    assert pubsub.status()["outboxDepth"] == 0


@pytest.mark.parametrize("topic", ["a/b#", "a/#/b", "a+/b", ""])
async def test_invalid_filters_are_refused(broker, pubsubs, topic):
    pubsub = await pubsubs(broker.url)
    with pytest.raises(SubscribeError):
        await pubsub.subscribe(topic, Inbox(), {})


@pytest.mark.parametrize(("metadata", "field"), [
    ({"url": "http://127.0.0.1:1883"}, "url"),
    ({"url": "tcp://:1883"}, "url"),
    ({"url": "tcp://127.0.0.1:99999"}, "url"),
    ({"qos": "3"}, "qos"),
    ({"consumerID": "a/b"}, "consumerID"),
    ({"outboxMaxMessages": "0"}, "outboxMaxMessages"),
    ({"caCert": "-----BEGIN CERTIFICATE-----"}, "url"),
])
async def test_settings_that_cannot_work_name_their_field(broker, pubsubs, metadata, field):
    settings = {"url": broker.url, **metadata}
    url = settings.pop("url")
    with pytest.raises(ConfigError) as caught:
        await pubsubs(url, **settings)
    assert caught.value.field == field
