"""CloudEvents 1.0 envelopes as Dapr builds them around published data.

The envelope is JSON. A JSON body is embedded as the client wrote it (its
text, not a re-encoding), text as a string, bytes as `data_base64`. A body
that already is a CloudEvent keeps its members and gets the missing ones."""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.components.metadata import parse_duration
from edge.rawjson import RawJSONError, RawValue, loads_keeping

CLOUDEVENTS_JSON = "application/cloudevents+json"
EVENT_TYPE = "com.dapr.event.sent"
BULK_EVENT_TYPE = "com.dapr.event.sent.bulk"
SPEC_VERSION = "1.0"
# Dapr's source for events it wraps without knowing their publisher.
UNKNOWN_SOURCE = "Dapr"
_DEFAULT_DATA_TYPE = "text/plain"
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# Members a publisher may set through `metadata.cloudevent.<name>`.
_OVERRIDABLE = ("id", "source", "type", "subject")
_INT = re.compile(r"[+-]?[0-9]+")


class CloudEventError(ValueError):
    """A body declared a CloudEvent that is not a JSON object."""


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_cloudevent(content_type: str) -> bool:
    return media_type(content_type) == CLOUDEVENTS_JSON


def is_json(content_type: str) -> bool:
    return media_type(content_type) == "application/json"


def is_binary(content_type: str) -> bool:
    return media_type(content_type) == "application/octet-stream"


def is_text(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind.startswith("text/") or kind == "application/xml"


def trace_context(headers: Mapping[str, str]) -> tuple[str, str]:
    """(traceparent, tracestate) for an event published by this request: a
    child of the caller's trace when it sent a valid W3C traceparent, else
    the root of a new trace."""
    match = _TRACEPARENT.fullmatch(headers.get("traceparent", "").strip())
    if match and match[1] != "ff" and int(match[2], 16) and int(match[3], 16):
        return f"00-{match[2]}-{os.urandom(8).hex()}-{match[4]}", headers.get("tracestate", "")
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01", ""


def child_traceparent(traceparent: Any) -> str | None:
    """A new span of the event's trace, for the call that delivers it."""
    match = _TRACEPARENT.fullmatch(traceparent) if isinstance(traceparent, str) else None
    if match is None:
        return None
    return f"00-{match[2]}-{os.urandom(8).hex()}-{match[4]}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lookup(metadata: Mapping[str, str], *names: str) -> str:
    wanted = {n.lower() for n in names}
    for key, value in metadata.items():
        if key.lower() in wanted and value:
            return value
    return ""


def message_ttl(metadata: Mapping[str, str]) -> float | None:
    """Seconds from `ttl` / `ttlInSeconds` (whole seconds or a Go duration);
    None when absent or unusable, which Dapr also ignores at this point."""
    raw = _lookup(metadata, "ttl", "ttlInSeconds").strip()
    if not raw:
        return None
    if _INT.fullmatch(raw):
        return float(raw) if int(raw) > 0 else None
    try:
        return max(0.0, parse_duration(raw))
    except ValueError:
        return None


def _apply_ttl(event: dict[str, Any], metadata: Mapping[str, str]) -> None:
    ttl = message_ttl(metadata)
    if ttl is not None:
        event["expiration"] = _rfc3339(datetime.now(UTC) + timedelta(seconds=ttl))


def has_expired(event: Mapping[str, Any]) -> bool:
    expiration = event.get("expiration")
    if not isinstance(expiration, str) or not expiration:
        return False
    try:
        moment = datetime.fromisoformat(expiration)
    except ValueError:
        return False  # Dapr delivers events whose expiration it cannot read
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment < datetime.now(UTC)


def _data_member(body: bytes, content_type: str) -> tuple[str, Any]:
    """("data", value) or ("data_base64", text) for a body of this type."""
    if is_binary(content_type):
        return "data_base64", base64.b64encode(body).decode("ascii")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Dapr would put mangled text in `data`; bytes are kept intact instead.
        return "data_base64", base64.b64encode(body).decode("ascii")
    if is_json(content_type):
        try:
            loads_keeping(text, field=None)
            return "data", RawValue(text.strip())
        except RawJSONError:
            pass  # Dapr sends JSON it cannot parse as a string
    return "data", text


def new_event(body: bytes, content_type: str, *, source: str, topic: str, pubsub: str,
              trace: tuple[str, str], metadata: Mapping[str, str]) -> dict[str, Any]:
    """The envelope Dapr wraps around a body that is not a CloudEvent."""
    content_type = content_type or _DEFAULT_DATA_TYPE
    traceparent, tracestate = trace
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION, "id": str(uuid.uuid4()), "source": source,
        "type": EVENT_TYPE, "datacontenttype": content_type, "topic": topic,
        "pubsubname": pubsub, "time": _rfc3339(datetime.now(UTC)),
    }
    overrides = {key.lower()[len("cloudevent."):]: value for key, value in metadata.items()
                 if key.lower().startswith("cloudevent.")}
    for name in _OVERRIDABLE:
        if overrides.get(name):
            event[name] = overrides[name]
    # As in Dapr, traceid and traceparent carry the same value; an explicit
    # traceparent wins over an explicit traceid.
    parent = overrides.get("traceparent") or overrides.get("traceid") or traceparent
    event["traceid"] = event["traceparent"] = parent
    event["tracestate"] = overrides.get("tracestate") or tracestate
    name, value = _data_member(body, content_type)
    event[name] = value
    _apply_ttl(event, metadata)
    return event


def from_cloudevent(body: bytes, *, source: str, topic: str, pubsub: str,
                    trace: tuple[str, str], metadata: Mapping[str, str]) -> dict[str, Any]:
    """A publisher's own CloudEvent with Dapr's members added where missing;
    topic and pubsubname always name where it was published."""
    try:
        event = loads_keeping(body.decode("utf-8"), field="data")
    except (UnicodeDecodeError, RawJSONError) as exc:
        raise CloudEventError(f"the body is not a JSON CloudEvent: {exc}") from None
    if not isinstance(event, dict):
        raise CloudEventError("the body is not a JSON CloudEvent: not an object")
    traceparent, tracestate = trace
    event.setdefault("id", str(uuid.uuid4()))
    event.setdefault("time", _rfc3339(datetime.now(UTC)))
    if "traceid" not in event:
        event["traceid"] = event["traceparent"] = traceparent
    event.setdefault("tracestate", tracestate)
    event["topic"], event["pubsubname"] = topic, pubsub
    for member, default in (("source", source), ("type", EVENT_TYPE),
                            ("specversion", SPEC_VERSION)):
        if event.get(member) is None:
            event[member] = default
    _apply_ttl(event, metadata)
    return event


def wrap_raw(data: bytes, topic: str, pubsub: str,
             metadata: Mapping[str, str]) -> dict[str, Any]:
    """The CloudEvent a raw-payload subscriber receives around a message."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION, "id": str(uuid.uuid4()), "source": UNKNOWN_SOURCE,
        "type": EVENT_TYPE, "datacontenttype": "application/octet-stream", "topic": topic,
        "pubsubname": pubsub, "data_base64": base64.b64encode(data).decode("ascii"),
    }
    for member in ("traceid", "traceparent", "tracestate"):
        if metadata.get(member):
            event[member] = metadata[member]
    if metadata.get("traceparent"):
        event["traceid"] = metadata["traceparent"]
    return event


def encode(value: Any) -> str:
    """JSON text of a value that may hold RawValue members, which go in as written."""
    if isinstance(value, RawValue):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def to_bytes(event: dict[str, Any]) -> bytes:
    return encode(event).encode("utf-8")
