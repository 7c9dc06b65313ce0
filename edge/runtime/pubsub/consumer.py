"""One running subscription: turns each message the component hands over into
a delivery to its target (the app over HTTP or gRPC, or a streaming
subscription), and returns only once the message is settled (taken by the
subscriber, or dropped, or sent to the dead-letter topic). The component
calls it one message (or batch) at a time, so order is kept; returning
acknowledges the message to the component, raising leaves it unacknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from edge.components.pubsub.base import Message, PubSub, Subscription
from edge.errors import DaprError, Err
from edge.rawjson import RawValue
from edge.runtime import metrics, tracing
from edge.runtime.cloudevents import (
    BULK_EVENT_TYPE,
    CLOUDEVENTS_JSON,
    child_traceparent,
    encode,
    has_expired,
    to_bytes,
    wrap_raw,
)
from edge.runtime.pubsub.access import TopicAccess
from edge.runtime.pubsub.delivery import (
    BulkDelivery,
    BulkItem,
    Delivery,
    Outcome,
    Status,
    Target,
    metadata_headers,
)
from edge.runtime.pubsub.routing import find_route
from edge.runtime.pubsub.subscriptions import SubscriptionSpec
from edge.runtime.resiliency import INBOUND, PUBSUB, BreakerOpen, PolicyTimeout

if TYPE_CHECKING:
    from edge.runtime.pubsub.runtime import PubSubRuntime

log = logging.getLogger("edge.runtime.pubsub")


class Closing(Exception):
    """The subscription is stopping; the message stays unacknowledged."""


@dataclass(frozen=True)
class Backoff:
    """Waits between redeliveries: doubling from `initial` up to `longest`."""

    initial: float
    longest: float
    max_retries: int  # -1: no limit

    def waits(self) -> Iterator[float]:
        wait = self.initial
        while True:
            yield wait
            wait = min(wait * 2, self.longest)

    def exhausted(self, retries: int) -> bool:
        return 0 <= self.max_retries < retries


@dataclass
class PubSubItem:
    """A loaded pub/sub component and how the runtime applies its common metadata."""

    component: PubSub
    access: TopicAccess
    consumer_id: str
    backoff: Backoff


@dataclass
class _Entry:
    """One message of a bulk delivery."""

    id: str
    message: Message
    path: str
    text: str  # the entry as JSON text
    event: dict[str, Any]
    trace: tracing.SpanContext | None = None  # the event's, continued by its delivery span
    failures: int = 0
    retries: int = 0  # failures that count against backOffMaxRetries


def _must_retry(outcome: Outcome) -> int | None:
    # Outcomes carry no HTTP status; a retry is a failure for the policy.
    return 500 if outcome.status is Status.RETRY else None


def _parse_event(data: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return event if isinstance(event, dict) else None


class Consumer:
    def __init__(self, runtime: PubSubRuntime, item: PubSubItem, spec: SubscriptionSpec,
                 target: Target) -> None:
        self.runtime = runtime
        self.item = item
        self.spec = spec
        self.target = target
        self._stopping = asyncio.Event()
        self._handle: Subscription | None = None

    async def start(self) -> None:
        spec = self.spec
        metadata = {**spec.metadata,
                    "consumerID": spec.metadata.get("consumerID") or self.item.consumer_id}
        component = self.item.component
        if spec.bulk.enabled:
            self._handle = await component.bulk_subscribe(
                spec.topic, self.on_batch, metadata, spec.bulk.max_messages,
                spec.bulk.max_await_ms / 1000)
        else:
            self._handle = await component.subscribe(spec.topic, self.on_message, metadata)

    @property
    def stopping(self) -> asyncio.Event:
        """Set once the subscription is stopping (a stream's handler watches it)."""
        return self._stopping

    async def stop(self) -> None:
        self._stopping.set()
        # Taken first: a stream's handler and the runtime may both stop it.
        handle, self._handle = self._handle, None
        if handle is not None:
            await handle.close()

    # -- one message at a time

    async def on_message(self, message: Message) -> None:
        event = self._event(message)
        if event is None:
            await self._set_aside(message, "it is not a CloudEvent (a JSON object); a "
                                  "subscription with rawPayload takes any message")
            return
        path = await self._route(message, event)
        if path is None:
            return
        body = to_bytes(event) if self.spec.raw_payload else message.data
        headers = self._headers(message.metadata, CLOUDEVENTS_JSON)
        self._trace_headers(headers, event)
        span = tracing.start_span(
            f"pubsub/{self.spec.topic}", tracing.CONSUMER,
            tracing.parse_traceparent(event.get("traceparent") or event.get("traceid"),
                                      event.get("tracestate", "")),
            messaging__system="pubsub", messaging__destination__name=self.spec.topic)
        delivery = Delivery(self.spec, message, event, path, body, headers)
        if span is None:
            await self._until_settled(delivery)
            return
        # The app sees the consumer span as its caller.
        span.context.inject(headers)
        try:
            await self._until_settled(delivery)
        finally:
            tracing.finish(span)

    def _event(self, message: Message) -> dict[str, Any] | None:
        if self.spec.raw_payload:
            return wrap_raw(message.data, message.topic, self.spec.pubsub, message.metadata)
        return _parse_event(message.data)

    async def _route(self, message: Message, event: dict[str, Any]) -> str | None:
        """The app path for this event, or None once it has been set aside."""
        if has_expired(event):
            await self._set_aside(message, f"it expired at {event.get('expiration')}")
            return None
        path = find_route(self.spec.rules, event)
        if path is None:
            await self._set_aside(message, "it matches no routing rule", quiet=True)
        return path

    async def _until_settled(self, delivery: Delivery) -> None:
        message = delivery.message
        waits, failures, retries = self.item.backoff.waits(), 0, 0
        while True:
            self._check_stopping()
            start = time.perf_counter()
            outcome = await self._deliver(delivery)
            metrics.pubsub_ingress(self.spec.pubsub, self.spec.topic,
                                   outcome.status.value.lower(), start)
            if outcome.status is Status.SUCCESS:
                if failures:
                    log.info("%s: delivered after %d failed tries", self.spec.label, failures)
                return
            if outcome.status is Status.DROP:
                await self._set_aside(message, outcome.reason)
                return
            failures += 1
            retries += 0 if outcome.unreachable else 1
            if self.item.backoff.exhausted(retries):
                await self._set_aside(message, f"{outcome.reason} (no retries left)")
                return
            self._log_retry(outcome, failures)
            await self._pause(next(waits))

    async def _deliver(self, delivery: Delivery) -> Outcome:
        """One delivery under the subscription's inbound resiliency policy,
        whose retries come before (and on top of) the component's redelivery."""
        sidecar = self.runtime.sidecar
        policy = sidecar.resiliency.component(self.spec.pubsub, PUBSUB, INBOUND)
        try:
            return await policy.run(lambda: self.target.deliver(delivery), _must_retry)
        except PolicyTimeout as exc:
            return Outcome(Status.RETRY, f"the app did not answer in time: {exc}")
        except BreakerOpen as exc:
            # Not sent, so it does not use up the message's retries.
            return Outcome(Status.RETRY, f"not delivered: {exc}", unreachable=True)

    async def _deliver_bulk(self, delivery: BulkDelivery) -> dict[str, Outcome]:
        sidecar = self.runtime.sidecar
        ids = delivery.ids
        # Only a timeout or the breaker act on a batch: retrying it whole would
        # deliver again the entries the app took.
        policy = sidecar.resiliency.component(self.spec.pubsub, PUBSUB, INBOUND)
        try:
            return await policy.run(lambda: self.target.deliver_bulk(delivery),
                                    retryable=lambda exc: False)
        except PolicyTimeout as exc:
            reason = f"the app did not answer in time: {exc}"
            return dict.fromkeys(ids, Outcome(Status.RETRY, reason))
        except BreakerOpen as exc:
            return dict.fromkeys(ids, Outcome(Status.RETRY, f"not delivered: {exc}",
                                              unreachable=True))

    # -- batches

    async def on_batch(self, messages: list[Message]) -> None:
        entries = [entry for message in messages if (entry := await self._entry(message))]
        waits = self.item.backoff.waits()
        while entries:
            self._check_stopping()
            outcomes: dict[str, Outcome] = {}
            for path, group in itertools.groupby(sorted(entries, key=lambda e: e.path),
                                                 key=lambda e: e.path):
                outcomes.update(await self._deliver_batch(path, list(group)))
            entries = await self._settle(entries, outcomes)
            if entries:
                await self._pause(next(waits))

    async def _entry(self, message: Message) -> _Entry | None:
        event = self._event(message)
        if event is None:
            await self._set_aside(message, "it is not a CloudEvent (a JSON object)")
            return None
        path = await self._route(message, event)
        if path is None:
            return None
        if self.spec.raw_payload:
            content: Any = event["data_base64"]
            content_type = "application/octet-stream"
        else:
            content, content_type = RawValue(message.data.decode("utf-8")), CLOUDEVENTS_JSON
        entry_id = str(uuid.uuid4())
        text = encode({"entryId": entry_id, "event": content, "metadata": message.metadata,
                       "contentType": content_type})
        trace = tracing.parse_traceparent(event.get("traceparent") or event.get("traceid"),
                                          event.get("tracestate", ""))
        return _Entry(entry_id, message, path, text, event, trace)

    async def _deliver_batch(self, path: str, group: list[_Entry]) -> dict[str, Outcome]:
        spec = self.spec
        head = encode({"id": str(uuid.uuid4()), "type": BULK_EVENT_TYPE, "topic": spec.topic,
                       "pubsubname": spec.pubsub, "metadata": {"pubsubName": spec.pubsub}})
        body = head[:-1] + ',"entries":[' + ",".join(e.text for e in group) + "]}"
        headers = self._headers({}, "application/json")
        # One request carries entries of many traces: each entry gets a span in
        # its own trace, covering this delivery attempt.
        spans = [tracing.start_span(f"pubsub/{spec.topic}", tracing.CONSUMER, entry.trace,
                                    messaging__system="pubsub",
                                    messaging__destination__name=spec.topic) for entry in group]
        start = time.perf_counter()
        try:
            items = [BulkItem(e.id, e.message, e.event) for e in group]
            outcomes = await self._deliver_bulk(
                BulkDelivery(spec, path, items, body.encode("utf-8"), headers))
        finally:
            for span in spans:
                tracing.finish(span)
        metrics.pubsub_bulk_ingress(spec.pubsub, spec.topic,
                                    [outcomes[e.id].status.value.lower() for e in group], start)
        return outcomes

    async def _settle(self, entries: list[_Entry], outcomes: dict[str, Outcome]) -> list[_Entry]:
        """The entries still to retry; the others are done or set aside."""
        left: list[_Entry] = []
        for entry in entries:
            outcome = outcomes[entry.id]
            if outcome.status is Status.SUCCESS:
                continue
            if outcome.status is Status.DROP:
                await self._set_aside(entry.message, outcome.reason)
                continue
            entry.failures += 1
            entry.retries += 0 if outcome.unreachable else 1
            if self.item.backoff.exhausted(entry.retries):
                await self._set_aside(entry.message, f"{outcome.reason} (no retries left)")
                continue
            left.append(entry)
        if left:
            # One line for the batch, however many entries it has.
            first = min(entry.failures for entry in left)
            self._log_retry(outcomes[left[0].id], first,
                            f" ({len(left)} of {len(entries)} entries)")
        return left

    # -- shared

    def _headers(self, metadata: dict[str, str], content_type: str) -> CIMultiDict[str]:
        headers = metadata_headers(metadata)
        headers["pubsubName"] = self.spec.pubsub
        headers["Content-Type"] = content_type
        return headers

    @staticmethod
    def _trace_headers(headers: CIMultiDict[str], event: dict[str, Any]) -> None:
        parent = child_traceparent(event.get("traceparent") or event.get("traceid"))
        if parent:
            headers["traceparent"] = parent
            if isinstance(event.get("tracestate"), str) and event["tracestate"]:
                headers["tracestate"] = event["tracestate"]

    def _log_retry(self, outcome: Outcome, failures: int, which: str = "") -> None:
        # The first failure is news; the ones after it would flood the log.
        level = logging.WARNING if failures == 1 else logging.DEBUG
        log.log(level, "%s: %s%s; retrying", self.spec.label, outcome.reason, which)

    async def _set_aside(self, message: Message, reason: str, quiet: bool = False) -> None:
        """Send to the dead-letter topic when there is one, else drop."""
        topic = self.spec.dead_letter_topic
        if not topic:
            log.log(logging.DEBUG if quiet else logging.WARNING,
                    "%s: message on %s dropped: %s", self.spec.label, message.topic, reason)
            return
        waits = self.item.backoff.waits()
        while True:
            try:
                await self.runtime.publish(self.spec.pubsub, topic, message.data,
                                           message.metadata)
                log.info("%s: message on %s sent to dead-letter topic %s: %s",
                         self.spec.label, message.topic, topic, reason)
                return
            except DaprError as exc:
                if exc.kind is not Err.PUBSUB_PUBLISH_MESSAGE:
                    log.error("%s: message on %s dropped, the dead-letter topic refused it: %s",
                              self.spec.label, message.topic, exc)
                    return
                log.warning("%s: dead-letter topic %s: %s; retrying", self.spec.label, topic,
                            exc)
            await self._pause(next(waits))

    def _check_stopping(self) -> None:
        if self._stopping.is_set():
            raise Closing(f"{self.spec.label} is stopping")

    async def _pause(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
        # cancellation that arrives as the event is set.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        self._check_stopping()
