"""pubsub.in-memory: topics inside the sidecar process, gone when it stops.

Subscriptions are grouped by (topic filter, consumer id). Each group gets
every message published on a matching topic; within a group the members take
turns. Every member delivers its messages one at a time, in order, and
redelivers a message until its handler takes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, ClassVar

from edge.components.base import ComponentContext
from edge.components.metadata import Field
from edge.components.pubsub.base import (
    COMMON_FIELDS,
    BulkHandler,
    Handler,
    Message,
    PublishError,
    PubSub,
    SubscribeError,
    SubscribeWildcards,
    Subscription,
)
from edge.errors import ConfigError

log = logging.getLogger("edge.components.pubsub.inmemory")

# Redelivery waits: short, since a handler normally retries by itself and
# only fails here when it is being stopped.
_FIRST_WAIT = 0.05
_LONGEST_WAIT = 2.0


def check_filter(topic: str) -> None:
    """Refuse a topic filter that breaks MQTT's wildcard rules."""
    if not topic:
        raise SubscribeError("the topic is empty")
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise SubscribeError(f"topic filter {topic!r}: '#' must be a whole last level")
        if "+" in level and level != "+":
            raise SubscribeError(f"topic filter {topic!r}: '+' must be a whole level")


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT matching: `+` is one level, a last `#` any number (even none)."""
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False  # as in MQTT, wildcards do not reach system topics
    wanted, given = pattern.split("/"), topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(given) or (level != "+" and level != given[index]):
            return False
    return len(wanted) == len(given)


class _Member(Subscription):
    """One subscriber of a group: a queue and the task that drains it."""

    def __init__(self, group: _Group) -> None:
        self.group = group
        self.queue: deque[Message] = deque()
        self.arrived = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.closing = False

    def start(self) -> None:
        self.task = asyncio.create_task(self._drain(), name=f"in-memory {self.group.pattern}")

    def put(self, message: Message) -> None:
        self.queue.append(message)
        self.arrived.set()

    async def _drain(self) -> None:
        while True:
            while not self.queue:
                self.arrived.clear()
                await self.arrived.wait()
            batch = await self._next_batch()
            await self._until_taken(batch)
            for _ in batch:
                self.queue.popleft()

    async def _next_batch(self) -> list[Message]:
        return [self.queue[0]]

    async def _until_taken(self, batch: list[Message]) -> None:
        wait = _FIRST_WAIT
        while True:
            try:
                await self._hand_over(batch)
                return
            except Exception as exc:  # the handler did not take it: redeliver
                if self.closing:
                    raise asyncio.CancelledError from None  # it stays queued, unacknowledged
                level = logging.WARNING if wait == _FIRST_WAIT else logging.DEBUG
                log.log(level, "message on %s not taken (%s: %s); redelivering",
                        batch[0].topic, type(exc).__name__, exc)
            await asyncio.sleep(wait)
            wait = min(wait * 2, _LONGEST_WAIT)

    async def _hand_over(self, batch: list[Message]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self.closing = True
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
        # Whatever this member did not get acknowledged goes to the others.
        self.group.leave(self, list(self.queue))
        self.queue.clear()


class _SingleMember(_Member):
    def __init__(self, group: _Group, handler: Handler) -> None:
        super().__init__(group)
        self.handler = handler

    async def _hand_over(self, batch: list[Message]) -> None:
        await self.handler(batch[0])


class _BulkMember(_Member):
    def __init__(self, group: _Group, handler: BulkHandler, max_messages: int,
                 max_await: float) -> None:
        super().__init__(group)
        self.handler = handler
        self.max_messages = max(1, max_messages)
        self.max_await = max(0.0, max_await)

    async def _next_batch(self) -> list[Message]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_await
        while len(self.queue) < self.max_messages and loop.time() < deadline:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self.arrived.wait()
        return list(self.queue)[: self.max_messages]

    async def _hand_over(self, batch: list[Message]) -> None:
        await self.handler(batch)


class _Group:
    """The subscribers of one topic filter with one consumer id."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.members: list[_Member] = []
        self.turn = 0

    def dispatch(self, message: Message) -> None:
        if self.members:
            self.turn = (self.turn + 1) % len(self.members)
            self.members[self.turn].put(message)

    def leave(self, member: _Member, pending: list[Message]) -> None:
        if member in self.members:
            self.members.remove(member)
        for message in pending:
            self.dispatch(message)


class InMemoryPubSub(PubSub, SubscribeWildcards):
    type_name: ClassVar[str] = "pubsub.in-memory"
    description: ClassVar[str] = ("Topics in the sidecar's memory, for one sidecar and its app; "
                                  "messages are lost on restart. MQTT wildcards in subscriptions.")
    fields: ClassVar[tuple[Field, ...]] = (
        *COMMON_FIELDS,
        Field("maxMessageBytes", "int", default=0,
              description="refuse messages larger than this many bytes (0: no limit)"),
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self._groups: dict[tuple[str, str], _Group] = {}
        self._closed = False

    async def init(self) -> None:
        if int(self.meta.get("maxMessageBytes") or 0) < 0:
            raise ConfigError("must be 0 or more", field="maxMessageBytes")

    async def publish(self, message: Message) -> None:
        if self._closed:
            raise PublishError("the component is closed")
        if "+" in message.topic or "#" in message.topic:
            raise PublishError(f"topic {message.topic!r}: wildcards are for subscribing only")
        limit = int(self.meta.get("maxMessageBytes") or 0)
        if limit and len(message.data) > limit:
            raise PublishError(f"message of {len(message.data)} bytes is larger than "
                               f"maxMessageBytes ({limit})")
        for group in self._groups.values():
            if topic_matches(group.pattern, message.topic):
                # Each group gets its own copy: handlers may change metadata.
                group.dispatch(Message(message.topic, message.data, dict(message.metadata)))

    async def subscribe(self, topic: str, handler: Handler,
                        metadata: dict[str, str]) -> Subscription:
        return self._join(topic, metadata, lambda group: _SingleMember(group, handler))

    async def bulk_subscribe(self, topic: str, handler: BulkHandler, metadata: dict[str, str],
                             max_messages: int, max_await: float) -> Subscription:
        return self._join(topic, metadata,
                          lambda group: _BulkMember(group, handler, max_messages, max_await))

    def _join(self, topic: str, metadata: dict[str, str], make: Any) -> Subscription:
        if self._closed:
            raise RuntimeError("the component is closed")
        check_filter(topic)
        consumer = metadata.get("consumerID") or self.ctx.app_id
        group = self._groups.setdefault((topic, consumer), _Group(topic))
        member: _Member = make(group)
        group.members.append(member)
        member.start()
        return member

    async def close(self) -> None:
        self._closed = True
        for group in list(self._groups.values()):
            for member in list(group.members):
                await member.close()
        self._groups.clear()
