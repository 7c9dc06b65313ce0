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
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from edge.api.server import SIDECAR
from edge.errors import DaprError, Err
from edge.rawjson import RawJSONError, loads_keeping
from edge.runtime.cloudevents import is_binary, is_cloudevent, is_json, is_text
from edge.runtime.pubsub import publishing
from edge.runtime.pubsub.publishing import RawEntry

_PREFIX = "metadata."


class _Mismatch(ValueError):
    """A bulk entry's event does not fit its content type."""


def _target(request: web.Request) -> tuple[str, str]:
    """(pubsub name, topic) from the path; the topic may contain slashes."""
    name, _, topic = request.match_info["tail"].partition("/")
    publishing.check_target(request.app[SIDECAR], name, topic)
    return name, topic


def _query_metadata(request: web.Request) -> dict[str, str]:
    meta: dict[str, str] = {}
    for key, value in request.query.items():
        if key.startswith(_PREFIX):
            meta.setdefault(key[len(_PREFIX):], value)  # Dapr keeps the first
    return meta


async def publish(request: web.Request) -> web.Response:
    name, topic = _target(request)
    body = await request.read()
    await publishing.publish(request.app[SIDECAR], name, topic, body,
                             request.headers.get("Content-Type", ""), _query_metadata(request),
                             request.headers)
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


def _raw_entries(body: bytes, name: str, topic: str) -> Iterator[RawEntry]:
    """The entries, each read as it is reached, so errors come in entry order."""
    for entry_id, event, content_type, entry_meta in _entries(body, name, topic):
        try:
            data = _event_bytes(event, content_type)
        except _Mismatch as exc:
            raise _events_error(name, topic, "error when marshalling cloud event envelope",
                                exc) from None
        yield RawEntry(entry_id, data, content_type, entry_meta)


async def bulk_publish(request: web.Request) -> web.Response:
    name, topic = _target(request)
    metadata = _query_metadata(request)
    publishing.raw_payload(metadata)
    body = await request.read()
    entries, failed = await publishing.bulk_publish(
        request.app[SIDECAR], name, topic, _raw_entries(body, name, topic), metadata,
        request.headers)
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
