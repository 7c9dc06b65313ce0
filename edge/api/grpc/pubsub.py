"""Pub/sub over gRPC: PublishEvent, BulkPublishEvent (and its Alpha1 name),
and streaming subscriptions (SubscribeTopicEventsAlpha1). Publishing shares
edge.runtime.pubsub.publishing with the HTTP API; a stream is a Consumer like
any subscription, delivering through a StreamTarget."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from google.protobuf import empty_pb2

from edge.api.grpc.protos import pubsub as pb
from edge.api.grpc.server import rpc
from edge.errors import DaprError, Err
from edge.runtime.pubsub import publishing
from edge.runtime.pubsub.publishing import RawEntry
from edge.runtime.pubsub.streaming import StreamTarget
from edge.runtime.pubsub.subscriptions import SubscriptionError, SubscriptionSpec, streaming

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar

_REQUEST_TYPE = "subscribe_topic_events_request_type"


def _headers(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """The call's metadata, read like HTTP headers (for the caller's traceparent)."""
    return {key: value for key, value in context.invocation_metadata() or ()
            if isinstance(value, str)}


@rpc("PublishEvent")
async def publish_event(sidecar: Sidecar, request: pb.PublishEventRequest,
                        context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    name, topic = request.pubsub_name, request.topic
    publishing.check_target(sidecar, name, topic)
    await publishing.publish(sidecar, name, topic, request.data, request.data_content_type,
                             dict(request.metadata), _headers(context))
    return empty_pb2.Empty()


async def _bulk_publish(sidecar: Sidecar, request: pb.BulkPublishRequest,
                        context: grpc.aio.ServicerContext) -> pb.BulkPublishResponse:
    name, topic = request.pubsub_name, request.topic
    publishing.check_target(sidecar, name, topic)
    entries = [RawEntry(e.entry_id, e.event, e.content_type, dict(e.metadata))
               for e in request.entries]
    _, failed = await publishing.bulk_publish(sidecar, name, topic, entries,
                                              dict(request.metadata), _headers(context))
    # The entries that failed, in request order; the call itself succeeds.
    return pb.BulkPublishResponse(failedEntries=[
        pb.BulkPublishResponseFailedEntry(entry_id=e.entry_id, error=failed[e.entry_id])
        for e in request.entries if e.entry_id in failed])


@rpc("BulkPublishEvent")
async def bulk_publish_event(sidecar: Sidecar, request: pb.BulkPublishRequest,
                             context: grpc.aio.ServicerContext) -> pb.BulkPublishResponse:
    return await _bulk_publish(sidecar, request, context)


@rpc("BulkPublishEventAlpha1")
async def bulk_publish_event_alpha1(sidecar: Sidecar, request: pb.BulkPublishRequest,
                                    context: grpc.aio.ServicerContext) -> pb.BulkPublishResponse:
    return await _bulk_publish(sidecar, request, context)


# -- streaming subscriptions

async def _initial(sidecar: Sidecar, requests: AsyncIterator[Any]) -> SubscriptionSpec | None:
    """The subscription the stream's first request asks for; None if the
    client closed the stream without asking."""
    first = await anext(aiter(requests), None)
    if first is None:
        return None
    if first.WhichOneof(_REQUEST_TYPE) != "initial_request":
        raise DaprError(Err.MALFORMED_REQUEST, "initial request is required")
    ask = first.initial_request
    publishing.check_target(sidecar, ask.pubsub_name, ask.topic)
    try:
        return streaming(ask.pubsub_name, ask.topic, dict(ask.metadata), ask.dead_letter_topic)
    except SubscriptionError as exc:
        raise DaprError(Err.PUBSUB_REQUEST_METADATA,
                        f"failed deserializing metadata. Error: {exc}") from None


async def _read_answers(requests: AsyncIterator[Any], target: StreamTarget) -> None:
    """Hand each event_processed to the target until the client closes its side."""
    async for request in requests:
        if request.WhichOneof(_REQUEST_TYPE) != "event_processed":
            raise DaprError(Err.MALFORMED_REQUEST, "duplicate initial request received")
        target.answered(request.event_processed)


Event = pb.SubscribeTopicEventsResponseAlpha1


async def _next_event(target: StreamTarget, ends: set[asyncio.Future[Any]]) -> Event | None:
    """The next event to send; None once any of `ends` is done."""
    getter = asyncio.ensure_future(target.outgoing.get())
    try:
        done, _ = await asyncio.wait({getter, *ends}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()  # the stream is ending: no task may be left waiting
    return getter.result() if getter in done else None


@rpc("SubscribeTopicEventsAlpha1")
async def subscribe_topic_events(
        sidecar: Sidecar, requests: AsyncIterator[Any],
        context: grpc.aio.ServicerContext) -> AsyncIterator[pb.SubscribeTopicEventsResponseAlpha1]:
    spec = await _initial(sidecar, requests)
    if spec is None:
        return
    target = StreamTarget(spec.label)
    consumer = await sidecar.pubsub.open_stream(spec, target)
    reader = asyncio.ensure_future(_read_answers(requests, target))
    stopping = asyncio.ensure_future(consumer.stopping.wait())  # the sidecar stopping
    try:
        yield pb.SubscribeTopicEventsResponseAlpha1(
            initial_response=pb.SubscribeTopicEventsResponseInitialAlpha1())
        while (event := await _next_event(target, {reader, stopping})) is not None:
            yield event
        error = reader.exception() if reader.done() else None
        if isinstance(error, DaprError):
            raise error
    finally:
        target.close()
        for task in (reader, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Events the client did not answer stay unacknowledged with the component.
        await sidecar.pubsub.close_stream(consumer)
