"""pubsub.in-memory driven directly: consumer groups, MQTT wildcards,
redelivery and batches. One sidecar holds one subscription per topic, so
competing consumers are only reachable this way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.components.base import ComponentContext
from edge.components.metadata import parse_metadata
from edge.components.pubsub.base import Message, PublishError, SubscribeError
from edge.components.pubsub.inmemory import InMemoryPubSub, topic_matches


async def make(**metadata: str) -> InMemoryPubSub:
    ctx = ComponentContext(app_id="app", namespace="", home=Path("."))
    bus = InMemoryPubSub("bus", parse_metadata(InMemoryPubSub.fields, metadata), ctx)
    await bus.init()
    return bus


class Inbox:
    def __init__(self, fail_first: int = 0) -> None:
        self.got: list[bytes] = []
        self.calls = 0
        self.fail_first = fail_first

    async def __call__(self, message: Message) -> None:
        self.calls += 1
        await asyncio.sleep(0)
        if self.calls <= self.fail_first:
            raise RuntimeError("not now")
        self.got.append(message.data)


async def settle(check, timeout: float = 3.0) -> None:
    """Wait until check() holds, giving the component's tasks their turns."""
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the component did not deliver in time")


async def publish(bus: InMemoryPubSub, topic: str, *datas: bytes) -> None:
    for data in datas:
        await bus.publish(Message(topic, data))


async def test_same_consumer_id_shares_different_ids_each_get_all():
    bus = await make()
    replica_a, replica_b, other_app = Inbox(), Inbox(), Inbox()
    await bus.subscribe("orders", replica_a, {"consumerID": "orders-app"})
    await bus.subscribe("orders", replica_b, {"consumerID": "orders-app"})
    await bus.subscribe("orders", other_app, {"consumerID": "audit-app"})
    await publish(bus, "orders", *[str(n).encode() for n in range(6)])
    await settle(lambda: len(other_app.got) == 6 and len(replica_a.got + replica_b.got) == 6)
    assert other_app.got == [str(n).encode() for n in range(6)]
    assert len(replica_a.got) == len(replica_b.got) == 3
    assert sorted(replica_a.got + replica_b.got) == sorted(other_app.got)
    await bus.close()


async def test_consumer_id_defaults_to_the_app_id():
    bus = await make()
    first, second = Inbox(), Inbox()
    await bus.subscribe("t", first, {})
    await bus.subscribe("t", second, {"consumerID": "app"})
    await publish(bus, "t", b"1", b"2")
    await settle(lambda: len(first.got) + len(second.got) == 2)
    assert len(first.got) == len(second.got) == 1
    await bus.close()


async def test_a_leaving_member_hands_its_backlog_to_the_group():
    bus = await make()
    stuck, healthy = Inbox(fail_first=10**6), Inbox()
    leaving = await bus.subscribe("t", stuck, {"consumerID": "g"})
    await bus.subscribe("t", healthy, {"consumerID": "g"})
    await publish(bus, "t", b"1", b"2", b"3", b"4")
    await settle(lambda: len(healthy.got) == 2)
    await leaving.close()
    await settle(lambda: len(healthy.got) == 4)
    assert sorted(healthy.got) == [b"1", b"2", b"3", b"4"]
    await bus.close()


async def test_failed_handler_gets_the_same_message_again_in_order():
    bus = await make()
    inbox = Inbox(fail_first=3)
    await bus.subscribe("t", inbox, {})
    await publish(bus, "t", b"a", b"b", b"c")
    await settle(lambda: len(inbox.got) == 3)
    assert inbox.got == [b"a", b"b", b"c"]
    assert inbox.calls == 6
    await bus.close()


@pytest.mark.parametrize(("pattern", "topic", "matches"), [
    ("a/+/c", "a/b/c", True), ("a/+/c", "a/b/x/c", False), ("a/+", "a", False),
    ("a/#", "a", True), ("a/#", "a/b/c", True), ("#", "anything/at/all", True),
    ("+/b", "a/b", True), ("#", "$SYS/x", False), ("a/b", "a/b", True), ("a/b", "a/bb", False),
])
def test_mqtt_wildcards(pattern, topic, matches):
    assert topic_matches(pattern, topic) is matches


@pytest.mark.parametrize("pattern", ["a/#/b", "a/b#", "a+/b", ""])
async def test_invalid_filters_are_refused(pattern):
    bus = await make()
    with pytest.raises(SubscribeError):
        await bus.subscribe(pattern, Inbox(), {})
    await bus.close()


async def test_publishing_to_a_wildcard_or_too_much_is_refused():
    bus = await make(maxMessageBytes="4")
    with pytest.raises(PublishError):
        await bus.publish(Message("a/+", b"x"))
    with pytest.raises(PublishError):
        await bus.publish(Message("a", b"12345"))
    await bus.close()
    with pytest.raises(PublishError):
        await bus.publish(Message("a", b"1"))


async def test_bulk_subscriber_gets_batches_up_to_the_limit():
    bus = await make()
    batches: list[list[bytes]] = []

    async def handler(messages: list[Message]) -> None:
        batches.append([m.data for m in messages])

    await bus.bulk_subscribe("t", handler, {}, max_messages=3, max_await=0.2)
    await publish(bus, "t", *[str(n).encode() for n in range(7)])
    await settle(lambda: sum(map(len, batches)) == 7)
    assert batches == [[b"0", b"1", b"2"], [b"3", b"4", b"5"], [b"6"]]
    await bus.close()


async def test_bulk_batch_waits_for_more_then_goes():
    bus = await make()
    batches: list[list[bytes]] = []

    async def handler(messages: list[Message]) -> None:
        batches.append([m.data for m in messages])

    await bus.bulk_subscribe("t", handler, {}, max_messages=10, max_await=0.2)
    await publish(bus, "t", b"1")
    await asyncio.sleep(0.05)
    await publish(bus, "t", b"2")
    await settle(lambda: batches)
    assert batches == [[b"1", b"2"]]
    await bus.close()
