"""The publish API: one message, or many at once (bulk), with Dapr's paths,
status codes and error codes. Each is wrapped in a CloudEvent unless the
client asks for `metadata.rawPayload=true`.

Requests are checked in Dapr's order: the pubsub name and topic, then the
metadata and body, then the topic against the component's scopes (403),
and last the broker (500)."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from aiohttp import web

from edge.api.server import SIDECAR
from edge.components.pubsub.base import BulkEntry, Message
from edge.errors import DaprError, Err
from edge.rawjson import RawJSONError, loads_keeping
from edge.runtime import metrics, tracing
from edge.runtime.cloudevents import (
    CloudEventError,
    from_cloudevent,
    is_binary,
    is_cloudevent,
    is_json,
    is_text,
    new_event,
    to_bytes,
    trace_context,
)

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_PREFIX = "metadata."


class _Mismatch(ValueError):
    """A bulk entry's event does not fit its content type."""


def _target(request: web.Request) -> tuple[str, str]:
    """(pubsub name, topic) from the path; the topic may contain slashes."""
    name, _, topic = request.match_info["tail"].partition("/")
    if not name:
        raise DaprError(Err.PUBSUB_EMPTY, "pubsub name is empty")
    request.app[SIDECAR].pubsub.item(name)  # ERR_PUBSUB_NOT_FOUND comes before the topic
    if not topic:
        raise DaprError(Err.TOPIC_NAME_EMPTY, f"topic is empty in pubsub {name}")
    return name, topic


def _query_metadata(request: web.Request) -> dict[str, str]:
    meta: dict[str, str] = {}
    for key, value in request.query.items():
        if key.startswith(_PREFIX):
            meta.setdefault(key[len(_PREFIX):], value)  # Dapr keeps the first
    return meta


def _raw_payload(metadata: dict[str, str]) -> bool:
    value = metadata.get("rawPayload", "")
    if value == "" or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise DaprError(Err.PUBSUB_REQUEST_METADATA, "failed deserializing metadata. Error: "
                    f"rawPayload value must be a valid boolean: actual is '{value}'")


def _wrap(request: web.Request, name: str, topic: str, body: bytes, content_type: str,
          metadata: dict[str, str], trace: tuple[str, str] | None = None) -> bytes:
    """The CloudEvent Dapr would publish for this body."""
    app_id = request.app[SIDECAR].options.app_id
    trace = trace or trace_context(request.headers)
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


async def publish(request: web.Request) -> web.Response:
    name, topic = _target(request)
    body = await request.read()
    metadata = _query_metadata(request)
    data = body
    span = tracing.start_span(f"pubsub/{topic}", tracing.PRODUCER, tracing.current.get(),
                              messaging__system="pubsub", messaging__destination__name=topic)
    # The event carries the producer span's context, so delivery continues it.
    trace = (span.context.traceparent(), span.context.tracestate) if span else None
    status = 500
    try:
        if not _raw_payload(metadata):
            data = _wrap(request, name, topic, body, request.headers.get("Content-Type", ""),
                         metadata, trace)
        await request.app[SIDECAR].pubsub.publish(name, topic, data, metadata)
        status = 204
    finally:
        tracing.finish(span, status)
    return web.Response(status=204)


# -- bulk

def _events_error(name: str, topic: str, what: str, reason: Any) -> DaprError:
    return DaprError(Err.PUBSUB_EVENTS_SER, f"{what} for topic {topic} pubsub {name}: {reason}")


def _member(entry: dict[str, Any], name: str) -> Any:
    """A member by name in any case, as Go's JSON decoding (and so Dapr) finds
    it: the JavaScript SDK sends `entryID`."""
    if name in entry:
        return entry[name]
    return next((v for k, v in entry.items() if k.lower() == name.lower()), None)


def _checked_entry(item: Any) -> tuple[str, Any, str, dict[str, str] | None]:
    """(entryId, event, contentType, metadata), or ValueError if a member has the wrong type."""
    if item is None:
        return "", None, "", None
    if not isinstance(item, dict):
        raise ValueError("each entry must be an object")
    entry_id, content_type = _member(item, "entryId"), _member(item, "contentType")
    metadata = _member(item, "metadata")
    if not isinstance(entry_id, str | None) or not isinstance(content_type, str | None):
        raise ValueError("entryId and contentType must be strings")
    if metadata is not None and (not isinstance(metadata, dict)
                                 or not all(isinstance(v, str) for v in metadata.values())):
        raise ValueError("metadata must be a map of strings")
    return entry_id or "", _member(item, "event"), content_type or "", metadata


def _entries(body: bytes, name: str, topic: str) -> list[tuple[str, Any, str, Any]]:
    try:
        items = loads_keeping(body.decode("utf-8"), field=None)
        if not isinstance(items, list | None):
            raise ValueError("the body must be a JSON array of entries")
        return [_checked_entry(item) for item in items or []]
    except (UnicodeDecodeError, RawJSONError, ValueError) as exc:
        raise _events_error(name, topic, "error when unmarshaling the request", exc) from None


def _event_bytes(event: Any, content_type: str) -> bytes:
    """The bytes an entry's event stands for, read by its content type as Dapr does."""
    if is_binary(content_type):
        if not isinstance(event, str):
            raise _Mismatch("mismatch between contentType and event")
        try:
            return base64.b64decode(event, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _Mismatch(f"unable to decode base64 application/octet-stream data: "
                            f"{exc}") from None
    if is_text(content_type):
        if not isinstance(event, str):
            raise _Mismatch("mismatch between contentType and event")
        return event.encode("utf-8", "replace")
    if is_json(content_type) or is_cloudevent(content_type):
        return json.dumps(event, separators=(",", ":")).encode("utf-8")
    raise _Mismatch("mismatch between contentType and event")


def _bulk_messages(request: web.Request, name: str, topic: str, body: bytes,
                   metadata: dict[str, str], raw: bool,
                   trace: tuple[str, str] | None = None) -> list[BulkEntry]:
    seen: set[str] = set()
    messages: list[BulkEntry] = []
    for entry_id, event, content_type, entry_meta in _entries(body, name, topic):
        try:
            data = _event_bytes(event, content_type)
        except _Mismatch as exc:
            raise _events_error(name, topic, "error when marshalling cloud event envelope",
                                exc) from None
        if not entry_id or entry_id in seen:
            raise _events_error(name, topic, "error marshaling events to bytes",
                                "entryId is duplicated or not present for entry")
        seen.add(entry_id)
        # Entry metadata wins over the request's, key by key.
        merged = {**metadata, **(entry_meta or {})}
        if not raw:
            data = _wrap(request, name, topic, data, content_type, merged, trace)
        messages.append(BulkEntry(entry_id, Message(topic, data, merged)))
    return messages


async def bulk_publish(request: web.Request) -> web.Response:
    name, topic = _target(request)
    metadata = _query_metadata(request)
    raw = _raw_payload(metadata)
    span = tracing.start_span(f"pubsub/{topic}", tracing.PRODUCER, tracing.current.get(),
                              messaging__system="pubsub", messaging__destination__name=topic)
    # Every event of the batch carries the producer span's context.
    trace = (span.context.traceparent(), span.context.tracestate) if span else None
    status = 500
    try:
        entries = _bulk_messages(request, name, topic, await request.read(), metadata, raw,
                                 trace)
        if span is not None:
            span.tag(messaging__batch__message_count=len(entries))
        start = time.perf_counter()
        failed = await request.app[SIDECAR].pubsub.bulk_publish(name, topic, entries)
        metrics.pubsub_bulk_egress(name, topic, len(entries) - len(failed), len(entries), start)
        status = 500 if failed else 204
    except DaprError as exc:
        status = exc.status
        raise
    finally:
        tracing.finish(span, status)
    if failed:
        listed = [{"entryId": e.entry_id, "error": failed[e.entry_id]}
                  for e in entries if e.entry_id in failed]
        raise DaprError(Err.PUBSUB_PUBLISH_MESSAGE,
                        f"error when publishing to topic {topic} in pubsub {name}: "
                        f"{len(listed)} of {len(entries)} entries failed",
                        details={"failedEntries": listed})
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    # Bulk first: in Dapr's router too, /publish/bulk/... is never a pubsub named "bulk".
    for version in ("v1.0-alpha1", "v1.0"):
        router.add_post(f"/{version}/publish/bulk/{{tail:.*}}", bulk_publish)
        router.add_put(f"/{version}/publish/bulk/{{tail:.*}}", bulk_publish)
    router.add_post("/v1.0/publish/{tail:.*}", publish)
    router.add_put("/v1.0/publish/{tail:.*}", publish)
