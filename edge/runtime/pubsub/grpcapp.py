"""Pub/sub for an app started with --app-protocol grpc: its subscriptions come
from ListTopicSubscriptions, events go to OnTopicEvent (batches to
OnBulkTopicEvent, or OnBulkTopicEventAlpha1 for apps that only have that),
and the TopicEventResponse status is the verdict. The CloudEvent travels as
Dapr's TopicEventRequest, which streaming subscriptions use too.

Imported only when gRPC is in use: HTTP apps never load gRPC."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from multidict import CIMultiDict

from edge.api.grpc.protos import appcallback as ac
from edge.runtime.cloudevents import BULK_EVENT_TYPE, CLOUDEVENTS_JSON, media_type
from edge.runtime.pubsub.delivery import SUCCESS, BulkDelivery, Delivery, Outcome, Status
from edge.runtime.pubsub.subscriptions import SubscriptionError, SubscriptionSpec, from_grpc

if TYPE_CHECKING:
    from edge.runtime.appgrpc import GrpcApp

log = logging.getLogger("edge.runtime.pubsub")

# Members TopicEventRequest carries in fields of its own; the rest are extensions.
_CORE = frozenset({"id", "source", "type", "specversion", "datacontenttype", "data",
                   "data_base64"})
_METADATA_KEY = re.compile(r"[0-9a-z_.-]+")
_ASK_TRIES = 3
_ASK_TIMEOUT = 10.0
_STATUS = ac.TopicEventResponse.TopicEventResponseStatus


class EnvelopeError(ValueError):
    """An event that cannot be put in a TopicEventRequest (bad data_base64)."""


def _text(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    return value if isinstance(value, str) else ""


def _is_json(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or kind.endswith("+json")


def event_data(event: Mapping[str, Any]) -> bytes:
    """The event's data as bytes: data_base64 decoded, a string as UTF-8 unless
    the content type is JSON, anything else as its JSON text."""
    encoded = event.get("data_base64")
    if encoded is not None:
        try:
            return base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EnvelopeError(f"data_base64 is not base64: {exc}") from None
    data = event.get("data")
    if data is None:
        return b""
    if isinstance(data, str) and not _is_json(_text(event, "datacontenttype")):
        return data.encode("utf-8")
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def extensions(event: Mapping[str, Any]) -> struct_pb2.Struct:
    found = struct_pb2.Struct()
    try:
        found.update({key: value for key, value in event.items() if key not in _CORE})
    except (ValueError, TypeError, OverflowError) as exc:  # a number no double can hold
        raise EnvelopeError(f"the event's extensions do not fit a protobuf Struct: {exc}") \
            from None
    return found


def topic_event_request(delivery: Delivery) -> ac.TopicEventRequest:
    event = delivery.event
    return ac.TopicEventRequest(
        id=_text(event, "id"), source=_text(event, "source"), type=_text(event, "type"),
        spec_version=_text(event, "specversion"),
        data_content_type=_text(event, "datacontenttype"), data=event_data(event),
        topic=delivery.message.topic, pubsub_name=delivery.spec.pubsub, path=delivery.path,
        extensions=extensions(event))


def _cloud_event(event: Mapping[str, Any]) -> ac.TopicEventCERequest:
    return ac.TopicEventCERequest(
        id=_text(event, "id"), source=_text(event, "source"), type=_text(event, "type"),
        spec_version=_text(event, "specversion"),
        data_content_type=_text(event, "datacontenttype"), data=event_data(event),
        extensions=extensions(event))


def call_metadata(headers: CIMultiDict[str]) -> list[tuple[str, str]]:
    """The delivery's headers as gRPC metadata (lowercase keys, ASCII values,
    none that gRPC reserves), as Dapr passes message metadata to gRPC apps."""
    found: list[tuple[str, str]] = []
    for key, value in headers.items():
        name = key.lower()
        if (not _METADATA_KEY.fullmatch(name) or name == "content-type"
                or name.startswith("grpc-") or name.endswith("-bin")
                or not value.isascii() or not value.isprintable()):
            continue
        found.append((name, value))
    return found


def verdict(status: int) -> Outcome:
    if status == _STATUS.SUCCESS:
        return SUCCESS
    if status == _STATUS.RETRY:
        return Outcome(Status.RETRY, "the app answered RETRY")
    if status == _STATUS.DROP:
        return Outcome(Status.DROP, "the app answered DROP")
    return Outcome(Status.RETRY, f"the app answered an unknown status {status}")


def _failed(exc: grpc.aio.AioRpcError) -> Outcome:
    code = exc.code()
    what = f"the app answered {code.name}: {exc.details()}"
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return Outcome(Status.DROP, what)  # it will never take this event
    # UNAVAILABLE: the app could not be reached, so the attempt is not counted.
    return Outcome(Status.RETRY, what, unreachable=code is grpc.StatusCode.UNAVAILABLE)


class GrpcAppTarget:
    """OnTopicEvent / OnBulkTopicEvent on the app's AppCallback service."""

    def __init__(self, app: GrpcApp) -> None:
        self.app = app

    async def deliver(self, delivery: Delivery) -> Outcome:
        try:
            request = topic_event_request(delivery)
        except EnvelopeError as exc:
            return Outcome(Status.DROP, str(exc))
        try:
            answer = await self.app.callback.OnTopicEvent(
                request, metadata=self.app.metadata(call_metadata(delivery.headers)))
        except grpc.aio.AioRpcError as exc:
            return _failed(exc)
        return verdict(answer.status)

    async def deliver_bulk(self, delivery: BulkDelivery) -> dict[str, Outcome]:
        found: dict[str, Outcome] = {}
        entries = []
        for item in delivery.items:
            entry = ac.TopicEventBulkRequestEntry(entry_id=item.entry_id,
                                                  metadata=item.message.metadata)
            if delivery.spec.raw_payload:
                entry.bytes, entry.content_type = item.message.data, "application/octet-stream"
            else:
                try:
                    entry.cloud_event.CopyFrom(_cloud_event(item.event))
                except EnvelopeError as exc:
                    found[item.entry_id] = Outcome(Status.DROP, str(exc))
                    continue
                entry.content_type = CLOUDEVENTS_JSON
            entries.append(entry)
        request = ac.TopicEventBulkRequest(
            id=str(uuid.uuid4()), entries=entries, metadata={"pubsubName": delivery.spec.pubsub},
            topic=delivery.spec.topic, pubsub_name=delivery.spec.pubsub, type=BULK_EVENT_TYPE,
            path=delivery.path)
        called = await self._bulk_call(request, delivery) if entries else {}
        return {**called, **found}

    async def _bulk_call(self, request: ac.TopicEventBulkRequest,
                         delivery: BulkDelivery) -> dict[str, Outcome]:
        ids = [entry.entry_id for entry in request.entries]
        metadata = self.app.metadata(call_metadata(delivery.headers))
        try:
            try:
                answer = await self.app.callback.OnBulkTopicEvent(request, metadata=metadata)
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.UNIMPLEMENTED:
                    raise
                # Apps built before OnBulkTopicEvent became stable have only the alpha.
                answer = await self.app.alpha.OnBulkTopicEventAlpha1(request, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return dict.fromkeys(ids, _failed(exc))
        missing = Outcome(Status.RETRY, "the app's answer has no status for this entry")
        found = dict.fromkeys(ids, missing)
        for status in answer.statuses:
            if status.entry_id in found:
                found[status.entry_id] = verdict(status.status)
        return found


async def ask_app(app: GrpcApp) -> list[SubscriptionSpec]:
    """The app's subscriptions from ListTopicSubscriptions; none if it has none
    or does not answer."""
    answer = await _list_subscriptions(app)
    if answer is None:
        return []
    found: list[SubscriptionSpec] = []
    for index, item in enumerate(answer.subscriptions):
        try:
            found.append(from_grpc(item))
        except SubscriptionError as exc:
            where = f" ({exc.where})" if exc.where else ""
            log.error("the app's subscription #%d (topic %r) is skipped%s: %s", index + 1,
                      item.topic, where, exc)
    return found


async def _list_subscriptions(app: GrpcApp) -> ac.ListTopicSubscriptionsResponse | None:
    for attempt in range(1, _ASK_TRIES + 1):
        try:
            return await app.callback.ListTopicSubscriptions(
                empty_pb2.Empty(), metadata=app.metadata(), timeout=_ASK_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.UNIMPLEMENTED:
                log.debug("the app has no ListTopicSubscriptions: no programmatic "
                          "subscriptions")
                return None
            # Only an app not listening yet is worth another try.
            if exc.code() is not grpc.StatusCode.UNAVAILABLE or attempt == _ASK_TRIES:
                log.error("ListTopicSubscriptions failed: %s %s; no programmatic "
                          "subscriptions", exc.code().name, exc.details())
                return None
        await asyncio.sleep(0.5)
    return None
