"""Store-and-forward: publishing while the broker is away succeeds and keeps
the order; the outbox is bounded and survives its process."""

from __future__ import annotations

import asyncio

import pytest

from edge.components.pubsub.base import PublishError
from tests.pubsub.mqtt.helpers import Inbox, msg, wait_until


async def test_broker_outage_while_publishing_delivers_all_once_in_order(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    # A plain subscription: Mosquitto 2.0 restores it with the session after its
    # restart (a shared one it forgets until the subscriber subscribes again).
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("outage", inbox, {})
    expected = [str(n) for n in range(200)]

    async def publish_all() -> None:
        for payload in expected:
            await publisher.publish(msg("outage", payload))
            await asyncio.sleep(0.003)

    publishing = asyncio.create_task(publish_all())
    await inbox.wait_for(40)
    # The broker goes away in mid-stream, with messages on the wire.
    await asyncio.to_thread(broker.stop)
    # Every publish still returns: the messages wait in the outbox.
    await asyncio.wait_for(publishing, 10)
    await wait_until(lambda: not publisher.status()["connected"], what="disconnected")
    assert publisher.status()["outboxDepth"] >= 100
    await asyncio.sleep(0.3)
    assert publisher.status()["outboxOldestAgeSeconds"] >= 0.3
    await asyncio.to_thread(broker.start)
    assert await inbox.wait_for(200, timeout=30) == expected
    assert await inbox.quiet(0.5) == expected
    await wait_until(lambda: publisher.status()["outboxDepth"] == 0, what="outbox emptied")
    assert publisher.status()["connected"] is True


@pytest.mark.parametrize("qos", ["0", "1"])
async def test_sidecar_starting_while_the_broker_is_down(broker, pubsubs, qos):
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("boot", inbox, {})
    await asyncio.to_thread(broker.stop)
    # A gateway booting without its network: the component starts anyway, and
    # even QoS 0 messages wait in the outbox for the broker.
    publisher = await pubsubs(broker.url, home="pub", qos=qos)
    assert publisher.status()["connected"] is False
    for n in range(20):
        await publisher.publish(msg("boot", str(n)))
    assert publisher.status()["outboxDepth"] == 20
    await asyncio.to_thread(broker.start)
    assert await inbox.wait_for(20, timeout=30) == [str(n) for n in range(20)]
    await wait_until(lambda: publisher.status()["outboxDepth"] == 0, what="outbox emptied")


async def test_full_outbox_refuses_instead_of_dropping(broker, pubsubs):
    publisher = await pubsubs(broker.url, outboxMaxMessages=5, outboxMaxBytes=1000)
    await asyncio.to_thread(broker.stop)
    await wait_until(lambda: not publisher.status()["connected"], what="disconnected")
    for n in range(5):
        await publisher.publish(msg("full", str(n)))
    with pytest.raises(PublishError, match="outboxMaxMessages"):
        await publisher.publish(msg("full", "one too many"))
    assert publisher.status()["outboxDepth"] == 5
    await asyncio.to_thread(broker.start)
    await wait_until(lambda: publisher.status()["outboxDepth"] == 0, what="outbox emptied")
    with pytest.raises(PublishError, match="outboxMaxBytes"):
        await publisher.publish(msg("full", "x" * 1000))
    await publisher.publish(msg("full", "fits again"))


async def test_messages_past_max_age_expire_with_a_count(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub", outboxMaxAge="300ms")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("stale", inbox, {})
    await asyncio.to_thread(broker.stop)
    await wait_until(lambda: not publisher.status()["connected"], what="disconnected")
    for n in range(3):
        await publisher.publish(msg("stale", f"old-{n}"))
    await wait_until(lambda: publisher.status()["outboxExpired"] == 3, timeout=5,
                     what="expiry")
    assert publisher.status()["outboxDepth"] == 0
    await asyncio.to_thread(broker.start)
    await wait_until(lambda: publisher.status()["connected"], what="reconnected")
    await publisher.publish(msg("stale", "fresh"))
    assert await inbox.wait_for(1) == ["fresh"]
    assert await inbox.quiet(0.3) == ["fresh"]


async def test_shared_subscription_is_made_again_after_a_broker_restart(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("again", inbox, {})
    await publisher.publish(msg("again", "before"))
    await inbox.wait_for(1)
    await asyncio.to_thread(broker.restart)
    # Mosquitto 2.0 comes back without the group's subscription; the component
    # subscribes again on reconnecting. Probe until it is back, then check order.
    async with asyncio.timeout(30):
        probes = 0
        while len(inbox.messages) == 1:
            await publisher.publish(msg("again", f"probe-{probes}"))
            probes += 1
            await asyncio.sleep(0.1)
    expected = [f"after-{n}" for n in range(20)]
    for payload in expected:
        await publisher.publish(msg("again", payload))
    await wait_until(lambda: expected[-1] in inbox.payloads, what="all after the restart")
    assert [p for p in inbox.payloads if p.startswith("after")] == expected


async def test_outbox_survives_a_clean_restart(broker, pubsubs, tmp_path):
    await asyncio.to_thread(broker.stop)
    first = await pubsubs(broker.url, home="pub")
    for n in range(10):
        await first.publish(msg("kept", str(n)))
    await first.close()
    assert (tmp_path / "pub" / "outbox" / "app-mqtt.db").exists()
    await asyncio.to_thread(broker.start)
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("kept", inbox, {})
    second = await pubsubs(broker.url, home="pub")
    assert await inbox.wait_for(10) == [str(n) for n in range(10)]
    await wait_until(lambda: second.status()["outboxDepth"] == 0, what="outbox emptied")


async def test_two_sidecars_of_one_app_on_one_home_use_separate_outboxes(broker, pubsubs,
                                                                          tmp_path):
    first = await pubsubs(broker.url, home="shared")
    second = await pubsubs(broker.url, home="shared")
    assert first.client_id != second.client_id
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("replicas", inbox, {})
    await first.publish(msg("replicas", "from first"))
    await second.publish(msg("replicas", "from second"))
    assert sorted(await inbox.wait_for(2)) == ["from first", "from second"]
    # Neither kicked the other off the broker.
    assert first.status()["connected"] and second.status()["connected"]
    assert sorted(p.name for p in (tmp_path / "shared" / "outbox").glob("*.db")) == [
        "app-mqtt-2.db", "app-mqtt.db"]
