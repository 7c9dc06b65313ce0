"""bindings.mqtt3: Dapr's MQTT 3.1.1 binding, on the machinery of pubsub.mqtt3.

The binding owns one pubsub.mqtt3 connection (see edge/components/pubsub/mqtt3.py)
rather than a second MQTT client of its own, so it has the same guarantees:

- Input: `topic` (wildcards + and # allowed) is subscribed at QoS 1; each
  message becomes one event (body: the payload, metadata `topic`). Events go
  to the runtime one at a time in arrival order, and a message is acknowledged
  to the broker (manual ack) only once the runtime's handler returned. When the
  app does not take an event (after the runtime's retries), it is offered again
  after a pause and the ones after it wait: nothing is skipped or reordered.
  With cleanSession=false the broker keeps the session, so messages that arrive
  while the sidecar is away are delivered when it is back.
- Output: `create` publishes the request's data (as the API hands it: JSON
  encoded, as Dapr does) to `topic`, or the request's `topic` metadata, through
  the durable SQLite outbox: it answers once the message is on disk, keeps
  the order, survives a broker outage and a sidecar restart, and fails when
  the outbox is full.

The client id is `{consumerID}-{suffix}`, the suffix kept in the outbox file,
as pubsub.mqtt3 does."""

from __future__ import annotations

from typing import Any, ClassVar

from paho.mqtt.reasoncodes import ReasonCode

from edge.components.base import ComponentContext
from edge.components.bindings.base import (
    COMMON_FIELDS,
    INPUT,
    BindingError,
    InputBinding,
    InputHandler,
    LinkStatus,
    OutputBinding,
)
from edge.components.metadata import Field
from edge.components.pubsub.base import Message, PublishError, SubscribeError, Subscription
from edge.components.pubsub.mqtt3 import FIELDS as PUBSUB_FIELDS
from edge.components.pubsub.mqtt3 import MqttPubSub, check_filter
from edge.errors import ConfigError

_CREATE = "create"
# Taken over from pubsub.mqtt3 as they are: connection, TLS, outbox and its limits.
_SHARED = ("url", "retain", "cleanSession", "caCert", "clientCert", "clientKey", "keepAlive",
           "outboxPath", "outboxMaxMessages", "outboxMaxBytes", "outboxMaxAge",
           "maxInflightMessages")


def _shared_fields() -> tuple[Field, ...]:
    by_name = {f.name: f for f in PUBSUB_FIELDS}
    # Its own default file: a pub/sub component may have the same name.
    by_name["outboxPath"] = Field("outboxPath", description="the outbox's SQLite file "
                                  "(default: <edge home>/outbox/<app id>-binding-<name>.db)")
    return tuple(by_name[name] for name in _SHARED)


class _Connection(MqttPubSub):
    """pubsub.mqtt3's connection, also keeping the binding's LinkStatus: its
    connection callbacks are the only place that sees every change."""

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext,
                 link: LinkStatus) -> None:
        super().__init__(name, meta, ctx)
        self.link = link

    def _on_connect(self, session_present: bool, reason: ReasonCode) -> None:
        super()._on_connect(session_present, reason)
        if not self._closing:
            if reason.is_failure:
                self.link.set("refused", str(reason))
            else:
                self.link.set("connected")

    def _on_connect_fail(self) -> None:
        super()._on_connect_fail()
        if not self._closing:
            self.link.set("disconnected", "broker not reachable")

    def _on_disconnect(self, reason: ReasonCode) -> None:
        super()._on_disconnect(reason)
        if not self._closing:
            self.link.set("disconnected", str(reason))


class MqttBinding(InputBinding, OutputBinding):
    type_name: ClassVar[str] = "bindings.mqtt3"
    description: ClassVar[str] = (
        "MQTT 3.1.1 binding: input events from a topic (wildcards allowed), acknowledged once "
        "the app took them; output `create` through a durable outbox.")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("topic", required=True, description="the topic (filter, for input: + and # "
              "allowed) to listen on, and the default topic of `create`"),
        Field("consumerID", required=True, description="the MQTT client id's prefix "
              "(`{consumerID}-{suffix}`); templates {appID}, {namespace}, {podName}, {uuid}"),
        Field("backOffMaxRetries", "int", default=0,
              description="accepted for Dapr compatibility; edge never gives up on an input "
              "event (it is acknowledged only once the app took it), it is offered again "
              "after a pause"),
        *_shared_fields(),
        *COMMON_FIELDS,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self.link = LinkStatus()
        self.topic = str(meta["topic"]).strip()
        self._mqtt = _Connection(f"binding {name}", self._pubsub_meta(), ctx, self.link)
        self._subscription: Subscription | None = None

    def _pubsub_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {f.name: f.default for f in PUBSUB_FIELDS}
        meta.update({name: self.meta[name] for name in _SHARED})
        meta.update({
            "consumerID": self.meta["consumerID"],
            # QoS 1 both ways, as Dapr's binding; a plain subscription, so every
            # sidecar gets every message (and a broker restart drops nothing).
            "qos": 1, "sharedSubscriptions": False,
        })
        if not meta["outboxPath"]:
            meta["outboxPath"] = str(self.ctx.home / "outbox"
                                     / f"{self.ctx.app_id}-binding-{self.name}.db")
        return meta

    async def init(self) -> None:
        if not self.topic:
            raise ConfigError("required metadata is missing", field="topic")
        if INPUT in self.directions():
            try:
                check_filter(self.topic)
            except SubscribeError as exc:  # a filter that can never work: fail the start
                raise ConfigError(str(exc), field="topic") from None
        await self._mqtt.init()

    # -- input

    async def read(self, handler: InputHandler) -> None:
        async def take(message: Message) -> None:
            # Returning acknowledges the message; raising leaves it to be offered again.
            await handler(message.data, {"topic": message.topic})

        self._subscription = await self._mqtt.subscribe(self.topic, take, {})

    async def stop_reading(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            # Unhandled messages stay unacknowledged; a persistent session keeps them.
            await subscription.close()

    # -- output

    def operations(self) -> list[str]:
        return [_CREATE]

    async def invoke(self, operation: str, data: bytes, metadata: dict[str, str]) -> None:
        if operation != _CREATE:
            raise BindingError(f"unsupported operation {operation}")
        topic = metadata.get("topic") or self.topic
        try:
            await self._mqtt.publish(Message(topic, data, dict(metadata)))
        except PublishError as exc:
            raise BindingError(str(exc)) from None

    # -- the rest

    def status(self) -> dict[str, Any]:
        found = self.link.describe()
        outbox = self._mqtt.status()
        found.update({k: v for k, v in outbox.items() if k.startswith("outbox")})
        return found

    async def close(self) -> None:
        await self.stop_reading()
        await self._mqtt.close()
