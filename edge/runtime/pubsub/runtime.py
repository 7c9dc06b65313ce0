"""Pub/sub in the sidecar: publishing with the topic checks every component
gets, and the app's subscriptions, declared in files or asked of the app
(GET /dapr/subscribe, or ListTopicSubscriptions for a gRPC app), started once
the app listens and stopped before the components close; and the streaming
subscriptions clients open over gRPC, for as long as their stream lasts."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from edge.components.pubsub.base import (
    COMMON_FIELDS,
    BulkEntry,
    BulkPublisher,
    Message,
    PublishError,
    PubSub,
)
from edge.errors import ConfigError, DaprError, Err
from edge.runtime import metrics
from edge.runtime.channel import ChannelError, Reply
from edge.runtime.pubsub.access import TopicAccess
from edge.runtime.pubsub.consumer import Backoff, Consumer, PubSubItem
from edge.runtime.pubsub.delivery import HttpTarget, Target
from edge.runtime.pubsub.subscriptions import (
    SubscriptionError,
    SubscriptionSpec,
    from_app,
    from_document,
)
from edge.runtime.resiliency import OUTBOUND, PUBSUB, BreakerOpen, Policy, PolicyTimeout

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.runtime.pubsub")

_ASK_TRIES = 3
_ASK_TIMEOUT = 10.0
_SHORTEST_WAIT = 0.001


def _common(component: PubSub) -> dict[str, Any]:
    """The common pub/sub fields, typed, whether or not the component declares them."""
    given = {key.lower(): value for key, value in component.meta.items()}
    values: dict[str, Any] = {}
    for field in COMMON_FIELDS:
        raw = given.get(field.name.lower())
        if raw is None or raw == "":
            values[field.name] = field.default
        elif isinstance(raw, str):
            try:
                values[field.name] = field.parse(raw)
            except ConfigError as exc:
                raise exc.within(component=component.name) from None
        else:
            values[field.name] = raw
    return values


def _item(component: PubSub, app_id: str) -> PubSubItem:
    common = _common(component)
    initial = max(float(common["backOffInitialInterval"]), _SHORTEST_WAIT)
    backoff = Backoff(initial, max(float(common["backOffMaxInterval"]), initial),
                      int(common["backOffMaxRetries"]))
    consumer = str(common["consumerID"] or "").strip() or app_id
    return PubSubItem(component, TopicAccess.from_metadata(common, app_id), consumer, backoff)


class PubSubRuntime:
    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self.items: dict[str, PubSubItem] = {}
        self.declarative: list[SubscriptionSpec] = []
        self.programmatic: list[SubscriptionSpec] = []
        self._consumers: list[Consumer] = []
        self._streams: list[Consumer] = []

    @property
    def app_id(self) -> str:
        return self.sidecar.options.app_id

    def load(self, documents: list[tuple[str, dict[str, Any]]]) -> None:
        """Take the loaded components and the Subscription documents; a
        document that cannot be used stops the sidecar with a ConfigError."""
        self.items = {name: _item(component, self.app_id)
                      for name, component in self.sidecar.components.of(PubSub).items()}
        names: dict[str, str] = {}
        for path, doc in documents:
            spec = from_document(path, doc)
            if spec.name in names:
                raise ConfigError(f"duplicate subscription name (also declared in "
                                  f"{names[spec.name]})", file=path, field="metadata.name")
            names[spec.name] = path
            if spec.scopes and self.app_id not in spec.scopes:
                log.info("%s skipped: app %s is not in its scopes %s", spec.label, self.app_id,
                         spec.scopes)
                continue
            self.declarative.append(spec)

    # -- publishing

    def item(self, name: str) -> PubSubItem:
        item = self.items.get(name)
        if item is None:
            raise DaprError(Err.PUBSUB_NOT_FOUND, f"pubsub {name} is not found")
        return item

    def _check_publish(self, name: str, topic: str) -> PubSubItem:
        item = self.item(name)
        if not item.access.may_publish(topic):
            raise DaprError(Err.PUBSUB_FORBIDDEN,
                            f"topic {topic} is not allowed for app id {self.app_id}")
        return item

    def _outbound(self, name: str) -> Policy:
        return self.sidecar.resiliency.component(name, PUBSUB, OUTBOUND)

    async def publish(self, name: str, topic: str, data: bytes,
                      metadata: dict[str, str]) -> None:
        item = self._check_publish(name, topic)
        start = time.perf_counter()
        try:
            message = Message(topic, data, dict(metadata))
            await self._outbound(name).run(lambda: item.component.publish(message))
            metrics.pubsub_egress(name, topic, True, start)
        except Exception as exc:  # the broker's failure, whatever its kind, is reported
            metrics.pubsub_egress(name, topic, False, start)
            if not isinstance(exc, PublishError | BreakerOpen | PolicyTimeout):
                log.exception("publishing to %s/%s failed", name, topic)
            raise DaprError(Err.PUBSUB_PUBLISH_MESSAGE, f"error when publishing to topic "
                            f"{topic} in pubsub {name}: {exc}") from None

    async def bulk_publish(self, name: str, topic: str,
                           entries: list[BulkEntry]) -> dict[str, str]:
        """Entry id -> error for the entries that were not published."""
        item = self._check_publish(name, topic)
        component = item.component
        if isinstance(component, BulkPublisher):
            try:
                return await self._outbound(name).run(lambda: component.bulk_publish(entries))
            except Exception as exc:  # the whole batch failed
                return {entry.entry_id: str(exc) for entry in entries}
        failed: dict[str, str] = {}
        for entry in entries:  # one by one, so the order is kept
            try:
                await self._outbound(name).run(functools.partial(component.publish, entry.message))
            except Exception as exc:  # reported per entry, as Dapr does
                failed[entry.entry_id] = str(exc)
        return failed

    # -- subscriptions

    def subscriptions(self) -> list[SubscriptionSpec]:
        """One subscription per pubsub and topic: the app's own replaces a declared one."""
        merged: dict[tuple[str, str], SubscriptionSpec] = {}
        for spec in self.declarative:
            merged.setdefault((spec.pubsub, spec.topic), spec)
        for spec in self.programmatic:
            merged[(spec.pubsub, spec.topic)] = spec
        return list(merged.values())

    def describe(self) -> list[dict[str, Any]]:
        return ([spec.describe() for spec in self.subscriptions()]
                + [stream.spec.describe() for stream in self._streams])

    def _app_target(self) -> Target:
        app = self.sidecar.app_grpc
        if app is None:
            return HttpTarget(self.sidecar)
        from edge.runtime.pubsub.grpcapp import GrpcAppTarget

        return GrpcAppTarget(app)

    async def start(self) -> None:
        """Once the app listens: ask it for its subscriptions, then start them all."""
        if not self.items:
            return  # as in Dapr, an app without pub/sub is not asked
        try:
            self.programmatic = await self._ask_app()
        except Exception:  # whatever the app answered, the sidecar must become ready
            log.exception("reading the app's subscriptions failed")
        for spec in self.subscriptions():
            await self._start_one(spec)

    async def _start_one(self, spec: SubscriptionSpec) -> None:
        item = self.items.get(spec.pubsub)
        if item is None:
            log.warning("%s not started: no pub/sub component named %s is loaded", spec.label,
                        spec.pubsub)
            return
        if not item.access.may_subscribe(spec.topic):
            log.warning("%s not started: topic %s is not allowed for app id %s", spec.label,
                        spec.topic, self.app_id)
            return
        consumer = Consumer(self, item, spec, self._app_target())
        try:
            await consumer.start()
        except Exception as exc:  # one bad subscription must not stop the others
            log.error("%s could not start: %s", spec.label, exc)
            return
        self._consumers.append(consumer)
        log.info("app subscribed: %s (%s)", spec.label, spec.kind.lower())

    async def open_stream(self, spec: SubscriptionSpec, target: Target) -> Consumer:
        """Start a streaming subscription; DaprError if it cannot be made."""
        item = self.item(spec.pubsub)
        if not item.access.may_subscribe(spec.topic):
            raise DaprError(Err.PUBSUB_FORBIDDEN,
                            f"topic {spec.topic} is not allowed for app id {self.app_id}")
        consumer = Consumer(self, item, spec, target)
        try:
            await consumer.start()
        except Exception as exc:  # the component refused it: a bad topic filter, a duplicate
            raise DaprError(Err.MALFORMED_REQUEST, f"cannot subscribe to topic {spec.topic} "
                            f"in pubsub {spec.pubsub}: {exc}") from None
        self._streams.append(consumer)
        log.info("stream subscribed: %s", spec.label)
        return consumer

    async def close_stream(self, consumer: Consumer) -> None:
        """End a streaming subscription; what it did not settle stays with the component."""
        if consumer in self._streams:
            self._streams.remove(consumer)
            log.info("stream unsubscribed: %s", consumer.spec.label)
        try:
            await consumer.stop()
        except Exception:  # the stream is gone either way
            log.exception("stopping %s failed", consumer.spec.label)

    async def _ask_app(self) -> list[SubscriptionSpec]:
        if self.sidecar.app_grpc is not None:
            from edge.runtime.pubsub.grpcapp import ask_app

            return await ask_app(self.sidecar.app_grpc)
        reply = await self._get_subscribe()
        if reply is None:
            return []
        if reply.status == 404:
            log.debug("the app has no /dapr/subscribe: no programmatic subscriptions")
            return []
        if reply.status != 200:
            log.error("the app answered %d to GET /dapr/subscribe; no programmatic "
                      "subscriptions", reply.status)
            return []
        return self._parse_subscribe(reply.body)

    async def _get_subscribe(self) -> Reply | None:
        sidecar = self.sidecar
        headers = CIMultiDict({"Content-Type": "application/json", "dapr-app-id": self.app_id})
        headers.update(sidecar.app_headers())
        for attempt in range(1, _ASK_TRIES + 1):
            try:
                return await sidecar.app.request("GET", f"{sidecar.app_url}/dapr/subscribe",
                                                 headers.copy(), b"", timeout=_ASK_TIMEOUT)
            except ChannelError as exc:
                # Only a refused connection is worth another try: the app may
                # be restarting its listener. A slow app must not hold readiness.
                if not exc.unsent or attempt == _ASK_TRIES:
                    log.error("GET /dapr/subscribe failed: %s; no programmatic "
                              "subscriptions", exc)
                    return None
            await asyncio.sleep(0.5)
        return None

    @staticmethod
    def _parse_subscribe(body: bytes) -> list[SubscriptionSpec]:
        try:
            items = json.loads(body) if body.strip() else []
        except ValueError as exc:
            log.error("the app's /dapr/subscribe answer is not JSON (%s); no programmatic "
                      "subscriptions", exc)
            return []
        if not isinstance(items, list):
            log.error("the app's /dapr/subscribe answer is not a JSON list; no programmatic "
                      "subscriptions")
            return []
        found: list[SubscriptionSpec] = []
        for index, raw in enumerate(items):
            topic = raw.get("topic") if isinstance(raw, dict) else None
            try:
                spec = from_app(raw)
            except SubscriptionError as exc:
                where = f" ({exc.where})" if exc.where else ""
                log.error("the app's subscription #%d (topic %r) is skipped%s: %s", index + 1,
                          topic, where, exc)
                continue
            if not spec.rules:
                log.warning("%s skipped: it has no route", spec.label)
                continue
            found.append(spec)
        return found

    async def stop(self) -> None:
        consumers, self._consumers = self._streams + self._consumers, []
        self._streams = []
        for consumer in reversed(consumers):
            try:
                await consumer.stop()
            except Exception:  # stopping the rest matters more
                log.exception("stopping %s failed", consumer.spec.label)
