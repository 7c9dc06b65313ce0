"""Publishing as the API does it, whichever protocol the request came in on:
the checks in Dapr's order, the CloudEvent built around the body, the
producer span, and bulk entries turned into messages. edge.api.pubsub (HTTP)
and edge.api.grpc.pubsub call these, so both answer alike."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.components.pubsub.base import BulkEntry, Message
from edge.errors import DaprError, Err
from edge.runtime import metrics, tracing
from edge.runtime.cloudevents import (
    CloudEventError,
    from_cloudevent,
    is_cloudevent,
    new_event,
    to_bytes,
    trace_context,
)

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}

Trace = tuple[str, str]


@dataclass(frozen=True)
class RawEntry:
    """A bulk entry as the client sent it, its event already read as bytes."""

    entry_id: str
    data: bytes
    content_type: str
    metadata: dict[str, str] | None


def check_target(sidecar: Sidecar, name: str, topic: str) -> None:
    """The pubsub name, then the component, then the topic, as Dapr checks them."""
    if not name:
        raise DaprError(Err.PUBSUB_EMPTY, "pubsub name is empty")
    sidecar.pubsub.item(name)  # ERR_PUBSUB_NOT_FOUND comes before the topic
    if not topic:
        raise DaprError(Err.TOPIC_NAME_EMPTY, f"topic is empty in pubsub {name}")


def raw_payload(metadata: Mapping[str, str]) -> bool:
    value = metadata.get("rawPayload", "")
    if value == "" or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise DaprError(Err.PUBSUB_REQUEST_METADATA, "failed deserializing metadata. Error: "
                    f"rawPayload value must be a valid boolean: actual is '{value}'")


def wrap(sidecar: Sidecar, name: str, topic: str, body: bytes, content_type: str,
         metadata: dict[str, str], trace: Trace) -> bytes:
    """The CloudEvent Dapr would publish for this body."""
    app_id = sidecar.options.app_id
    try:
        if is_cloudevent(content_type):
            event = from_cloudevent(body, source=app_id, topic=topic, pubsub=name, trace=trace,
                                    metadata=metadata)
        else:
            event = new_event(body, content_type, source=app_id, topic=topic, pubsub=name,
                              trace=trace, metadata=metadata)
    except CloudEventError as exc:
        raise DaprError(Err.PUBSUB_CLOUD_EVENTS_SER, f"cannot create cloudevent: {exc}") from None
    return to_bytes(event)


def _producer_span(topic: str) -> tracing.Span | None:
    return tracing.start_span(f"pubsub/{topic}", tracing.PRODUCER, tracing.current.get(),
                              messaging__system="pubsub", messaging__destination__name=topic)


def _trace(span: tracing.Span | None, headers: Mapping[str, str]) -> Trace:
    # The event carries the producer span's context, so delivery continues it;
    # without tracing, the caller's traceparent (or a new trace).
    if span is not None:
        return span.context.traceparent(), span.context.tracestate
    return trace_context(headers)


async def publish(sidecar: Sidecar, name: str, topic: str, body: bytes, content_type: str,
                  metadata: dict[str, str], headers: Mapping[str, str]) -> None:
    """One message, wrapped unless rawPayload; `headers` are the caller's
    (HTTP headers or gRPC metadata), read for its trace context."""
    span = _producer_span(topic)
    status = 500
    try:
        data = body
        if not raw_payload(metadata):
            data = wrap(sidecar, name, topic, body, content_type, metadata,
                        _trace(span, headers))
        await sidecar.pubsub.publish(name, topic, data, metadata)
        status = 204
    finally:
        tracing.finish(span, status)


def _messages(sidecar: Sidecar, name: str, topic: str, entries: Iterable[RawEntry],
              metadata: dict[str, str], trace: Trace) -> list[BulkEntry]:
    raw = raw_payload(metadata)
    seen: set[str] = set()
    messages: list[BulkEntry] = []
    for entry in entries:
        if not entry.entry_id or entry.entry_id in seen:
            raise DaprError(Err.PUBSUB_EVENTS_SER, f"error marshaling events to bytes for topic "
                            f"{topic} pubsub {name}: entryId is duplicated or not present for "
                            "entry")
        seen.add(entry.entry_id)
        # Entry metadata wins over the request's, key by key.
        merged = {**metadata, **(entry.metadata or {})}
        data = entry.data
        if not raw:
            data = wrap(sidecar, name, topic, data, entry.content_type, merged, trace)
        messages.append(BulkEntry(entry.entry_id, Message(topic, data, merged)))
    return messages


async def bulk_publish(sidecar: Sidecar, name: str, topic: str, entries: Iterable[RawEntry],
                       metadata: dict[str, str],
                       headers: Mapping[str, str]) -> tuple[list[BulkEntry], dict[str, str]]:
    """Publish the entries; (the messages, entry id -> error for those that failed).
    `entries` may be a generator that raises for a bad entry: it is read in order."""
    raw_payload(metadata)  # a bad rawPayload is refused before anything else
    span = _producer_span(topic)
    status = 500
    try:
        # Every event of the batch carries the producer span's context.
        messages = _messages(sidecar, name, topic, entries, metadata, _trace(span, headers))
        if span is not None:
            span.tag(messaging__batch__message_count=len(messages))
        start = time.perf_counter()
        failed = await sidecar.pubsub.bulk_publish(name, topic, messages)
        metrics.pubsub_bulk_egress(name, topic, len(messages) - len(failed), len(messages),
                                   start)
        status = 500 if failed else 204
    except DaprError as exc:
        status = exc.status
        raise
    finally:
        tracing.finish(span, status)
    return messages, failed
