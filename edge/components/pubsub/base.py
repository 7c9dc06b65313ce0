"""The pub/sub interface, as components-contrib shapes it: publish, and
subscribe with a handler whose success acknowledges the message."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from edge.components.base import Component
from edge.components.metadata import Field

# Declared by every pub/sub component (list them in `fields`): the runtime, not
# the component, applies them, the same way for every broker.
COMMON_FIELDS: tuple[Field, ...] = (
    Field("consumerID", description="consumer group: subscribers with the same id share "
          "messages, different ids each get every message (default: the app id)"),
    Field("allowedTopics", description="comma-separated topics; when set, no other topic "
          "may be used"),
    Field("protectedTopics", description="comma-separated topics only the apps named for them "
          "in publishingScopes / subscriptionScopes may use"),
    Field("publishingScopes", description="app1=topic1,topic2;app2=... topics each app may "
          "publish to (app2= : none)"),
    Field("subscriptionScopes", description="app1=topic1,topic2;app2=... topics each app may "
          "subscribe to (app2= : none)"),
    Field("backOffMaxRetries", "int", default=-1,
          description="redeliveries of a message the app did not take before it goes to the "
          "dead-letter topic or is dropped; -1: until the app takes it"),
    Field("backOffInitialInterval", "duration", default=0.5,
          description="wait before the first redelivery; doubles up to backOffMaxInterval"),
    Field("backOffMaxInterval", "duration", default=5.0,
          description="longest wait between redeliveries"),
)


@dataclass(slots=True)
class Message:
    """One message as it travels through a broker."""

    topic: str
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)


# Called once per message, one at a time per subscription (so order is kept).
# Returning acknowledges the message; raising leaves it unacknowledged, and
# the component redelivers it (now or after a reconnect or restart).
Handler = Callable[[Message], Awaitable[None]]

# Called with a batch of messages, one batch at a time per subscription.
# Returning acknowledges every message of the batch; raising none of them.
BulkHandler = Callable[[list[Message]], Awaitable[None]]


class PublishError(Exception):
    """The message was not accepted (broker failure, outbox full); nothing was stored."""


class Subscription:
    """A live subscription; close() stops deliveries."""

    async def close(self) -> None:  # pragma: no cover - trivial default
        pass


class PubSub(Component):
    block: ClassVar[str] = "pubsub"

    @abstractmethod
    async def publish(self, message: Message) -> None:
        """Return once the message is safely accepted; raise PublishError otherwise."""

    @abstractmethod
    async def subscribe(self, topic: str, handler: Handler,
                        metadata: dict[str, str]) -> Subscription:
        """Deliver every message on `topic` (MQTT wildcards allowed where the
        broker has them) to `handler`. Subscribers with the same consumer id
        (metadata `consumerID`, default the app id) share the messages."""

    async def bulk_subscribe(self, topic: str, handler: BulkHandler, metadata: dict[str, str],
                             max_messages: int, max_await: float) -> Subscription:
        """Like subscribe, but deliver batches of up to max_messages, waiting up to
        max_await seconds after a batch's first message for more. This default
        delivers each message as a batch of one; brokers that can gather
        batches override it."""

        async def one(message: Message) -> None:
            await handler([message])

        return await self.subscribe(topic, one, metadata)


@dataclass(slots=True)
class BulkEntry:
    entry_id: str
    message: Message


class BulkPublisher:
    """Publishes many messages in one go; answers the ids that failed."""

    feature: ClassVar[str] = "BULK_PUBLISH"

    @abstractmethod
    async def bulk_publish(self, entries: list[BulkEntry]) -> dict[str, str]:
        """entry id -> error text, for the entries not accepted."""


class SubscribeWildcards:
    """Subscriptions may use MQTT wildcards: `+` for one topic level, `#` for the rest."""

    feature: ClassVar[str] = "SUBSCRIBE_WILDCARDS"


class SubscribeError(Exception):
    """The broker refused the subscription (an invalid filter, an ACL)."""
