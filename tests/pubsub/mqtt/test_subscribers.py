"""Subscribers: consumer groups, persistent sessions, apps that fail for a
while, TLS."""

from __future__ import annotations

import asyncio

import pytest

from edge.components.pubsub import mqtt3
from edge.components.pubsub.base import Message, SubscribeError
from edge.errors import ConfigError
from tests.brokers import make_certificates
from tests.pubsub.mqtt.helpers import Inbox, msg, wait_until


async def test_same_consumer_id_shares_different_ids_each_get_all(broker, pubsubs):
    shared = {"sharedSubscriptions": "true"}
    first = await pubsubs(broker.url, home="gw1", app_id="worker", **shared)
    second = await pubsubs(broker.url, home="gw2", app_id="worker", **shared)
    auditor = await pubsubs(broker.url, home="gw3", app_id="auditor", **shared)
    inboxes = Inbox(), Inbox(), Inbox()
    for pubsub, inbox in zip((first, second, auditor), inboxes, strict=True):
        await pubsub.subscribe("jobs", inbox, {})
    expected = [str(n) for n in range(40)]
    for payload in expected:
        await first.publish(msg("jobs", payload))
    assert await inboxes[2].wait_for(40) == expected
    await asyncio.sleep(0.3)
    shares = inboxes[0].payloads, inboxes[1].payloads
    assert sorted(shares[0] + shares[1], key=int) == expected
    assert shares[0] and shares[1], "both members of the group get a share"
    assert not set(shares[0]) & set(shares[1])
    # Each member still sees its own share in publish order.
    assert all(share == sorted(share, key=int) for share in shares)


async def test_one_filter_once_per_component(broker, pubsubs):
    pubsub = await pubsubs(broker.url)
    await pubsub.subscribe("events", Inbox(), {})
    # MQTT 3.1.1 does not say which subscription a message came through.
    with pytest.raises(SubscribeError, match="already subscribed"):
        await pubsub.subscribe("events", Inbox(), {"consumerID": "analytics"})


async def test_subscriber_away_gets_what_was_published_meanwhile(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("while-away", inbox, {})
    await publisher.publish(msg("while-away", "0"))
    await inbox.wait_for(1)
    await subscriber.close()
    expected = [str(n) for n in range(1, 31)]
    for payload in expected:
        await publisher.publish(msg("while-away", payload))
    # Same edge home, same consumer id: the same client id, so the broker's session.
    back = await pubsubs(broker.url, home="sub", app_id="reader")
    assert back.client_id == subscriber.client_id
    later = Inbox()
    await back.subscribe("while-away", later, {})
    assert await later.wait_for(30) == expected
    assert await later.quiet(0.3) == expected


async def test_clean_session_forgets_what_came_while_away(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader", cleanSession="true")
    await subscriber.subscribe("forgotten", Inbox(), {})
    await subscriber.close()
    await publisher.publish(msg("forgotten", "lost on purpose"))
    await asyncio.sleep(0.2)
    back = await pubsubs(broker.url, home="sub", app_id="reader", cleanSession="true")
    inbox = Inbox()
    await back.subscribe("forgotten", inbox, {})
    await publisher.publish(msg("forgotten", "new"))
    assert await inbox.wait_for(1) == ["new"]
    assert await inbox.quiet(0.3) == ["new"]


async def test_failing_handler_gets_the_message_again_and_order_holds(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader",
                               backOffInitialInterval="20ms", backOffMaxInterval="50ms")
    taken: list[str] = []
    refusals = 0

    async def app_down_for_a_while(message: Message) -> None:
        nonlocal refusals
        if message.data == b"3" and refusals < 5:
            refusals += 1
            raise ConnectionError("app not reachable")
        taken.append(message.data.decode())

    await subscriber.subscribe("flaky", app_down_for_a_while, {})
    for n in range(8):
        await publisher.publish(msg("flaky", str(n)))
    await wait_until(lambda: len(taken) == 8, timeout=10, what="all taken")
    assert taken == [str(n) for n in range(8)]
    assert refusals == 5


async def test_unacknowledged_message_comes_back_after_a_restart(broker, pubsubs):
    publisher = await pubsubs(broker.url, home="pub")
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    started = asyncio.Event()

    async def stuck(message: Message) -> None:
        started.set()
        await asyncio.sleep(3600)  # the sidecar stops before the app answers

    await subscriber.subscribe("unfinished", stuck, {})
    await publisher.publish(msg("unfinished", "in progress"))
    await asyncio.wait_for(started.wait(), 10)
    await subscriber.close()
    back = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await back.subscribe("unfinished", inbox, {})
    assert await inbox.wait_for(1) == ["in progress"]


async def test_messages_of_an_old_subscription_do_not_stall_the_session(broker, pubsubs,
                                                                       monkeypatch):
    monkeypatch.setattr(mqtt3, "_PARK_GRACE", 0.3)
    publisher = await pubsubs(broker.url, home="pub")
    before = await pubsubs(broker.url, home="sub", app_id="reader")
    await before.subscribe("retired", Inbox(), {})
    await before.subscribe("kept", Inbox(), {})
    await before.close()
    # More than Mosquitto sends unacknowledged at a time (20), then one wanted.
    for n in range(30):
        await publisher.publish(msg("retired", str(n)))
    await publisher.publish(msg("kept", "wanted"))
    # The app no longer subscribes to "retired"; the broker session still does.
    after = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await after.subscribe("kept", inbox, {})
    assert await inbox.wait_for(1) == ["wanted"]
    await publisher.publish(msg("kept", "more"))
    assert await inbox.wait_for(2) == ["wanted", "more"]


@pytest.fixture
def certificates(tmp_path):
    try:
        return make_certificates(tmp_path / "tls")
    except RuntimeError as exc:
        pytest.fail(str(exc))


async def test_mutual_tls_with_pem_settings(brokers, pubsubs, certificates):
    broker = brokers(tls=certificates)
    pem = {"caCert": certificates.ca_cert.read_text(),
           "clientCert": certificates.client_cert.read_text(),
           "clientKey": certificates.client_key.read_text()}
    pubsub = await pubsubs(f"ssl://127.0.0.1:{broker.tls_port}", **pem)
    inbox = Inbox()
    await pubsub.subscribe("secure", inbox, {})
    await pubsub.publish(msg("secure", "encrypted"))
    assert await inbox.wait_for(1) == ["encrypted"]
    # A broker whose certificate does not chain to caCert is refused at start.
    other = make_certificates(certificates.ca_cert.parent / "other")
    with pytest.raises(ConfigError, match="not trusted"):
        await pubsubs(f"tls://localhost:{broker.tls_port}", home="other",
                      **{**pem, "caCert": other.ca_cert.read_text()})
    with pytest.raises(ConfigError, match="go together"):
        await pubsubs(f"ssl://127.0.0.1:{broker.tls_port}", home="third",
                      caCert=pem["caCert"], clientCert=pem["clientCert"])
