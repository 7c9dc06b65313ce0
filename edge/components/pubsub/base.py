"""The pub/sub interface, as components-contrib shapes it: publish, and
subscribe with a handler whose success acknowledges the message."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edge.components.base import Component


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

    def status(self) -> dict[str, Any]:
        """Live facts for /v1.0/metadata (an outbox's depth, a connection's state)."""
        return {}


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
