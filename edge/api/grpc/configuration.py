"""GetConfiguration, SubscribeConfiguration and UnsubscribeConfiguration over
gRPC, and their Alpha1 twins, which Dapr serves the same way.

A subscription is a server stream: its first message carries the
subscription id and no items; then each change in the store comes as one
message with the changed items (a deleted key's item is empty). The stream,
and the store's subscription with it, ends when the client cancels the call,
when UnsubscribeConfiguration names its id (daprd's deprecated way), or when
the sidecar shuts down. Store lookup, resiliency and errors are
edge.api.configuration's, shared with HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from edge.api import configuration
from edge.api.grpc.protos import common
from edge.api.grpc.protos import configuration as pb
from edge.api.grpc.server import rpc
from edge.components.configuration.base import Changes, ConfigurationItem, SubscriptionNotFound

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar

# The open streams, by subscription id: each one's queue of changes; None ends it.
_STREAMS: dict[str, asyncio.Queue[Changes | None]] = {}


def _items(items: Mapping[str, ConfigurationItem | None]) -> dict[str, common.ConfigurationItem]:
    return {key: common.ConfigurationItem(value=item.value, version=item.version,
                                          metadata=item.metadata)
            if item is not None else common.ConfigurationItem()
            for key, item in items.items()}


@rpc("GetConfiguration")
async def get_configuration(sidecar: Sidecar, request: pb.GetConfigurationRequest,
                            context: grpc.aio.ServicerContext) -> pb.GetConfigurationResponse:
    store = configuration.find_store(sidecar, request.store_name)
    items = await configuration.get_items(sidecar, store, list(request.keys),
                                          dict(request.metadata))
    return pb.GetConfigurationResponse(items=_items(items))


async def _end_at_shutdown(sidecar: Sidecar, updates: asyncio.Queue[Changes | None]) -> None:
    await sidecar.stop_requested.wait()
    updates.put_nowait(None)


@rpc("SubscribeConfiguration")
async def subscribe_configuration(
        sidecar: Sidecar, request: pb.SubscribeConfigurationRequest,
        context: grpc.aio.ServicerContext) -> AsyncIterator[pb.SubscribeConfigurationResponse]:
    store = configuration.find_store(sidecar, request.store_name)
    updates: asyncio.Queue[Changes | None] = asyncio.Queue()

    async def push(subscription_id: str, changes: Changes) -> None:
        updates.put_nowait(changes)  # never waits: a slow client holds up no one

    subscription_id = await configuration.subscribe(sidecar, store, list(request.keys),
                                                     dict(request.metadata), push)
    _STREAMS[subscription_id] = updates
    shutdown = asyncio.create_task(_end_at_shutdown(sidecar, updates))
    try:
        yield pb.SubscribeConfigurationResponse(id=subscription_id)
        while (changes := await updates.get()) is not None:
            yield pb.SubscribeConfigurationResponse(id=subscription_id, items=_items(changes))
    finally:
        shutdown.cancel()
        del _STREAMS[subscription_id]
        # Already gone if the HTTP API's unsubscribe named this id.
        with contextlib.suppress(SubscriptionNotFound):
            await store.unsubscribe(subscription_id)


@rpc("UnsubscribeConfiguration")
async def unsubscribe_configuration(
        sidecar: Sidecar, request: pb.UnsubscribeConfigurationRequest,
        context: grpc.aio.ServicerContext) -> pb.UnsubscribeConfigurationResponse:
    # As in daprd, the id alone names the stream; store_name is not looked at.
    updates = _STREAMS.get(request.id)
    if updates is None:
        return pb.UnsubscribeConfigurationResponse(
            ok=False, message=f"failed to unsubscribe to configuration request {request.id}: "
                              "subscription does not exist")
    # Changes not yet sent are dropped, as daprd stops sending at once.
    while not updates.empty():
        updates.get_nowait()
    updates.put_nowait(None)
    return pb.UnsubscribeConfigurationResponse(ok=True)


rpc("GetConfigurationAlpha1")(get_configuration)
rpc("SubscribeConfigurationAlpha1")(subscribe_configuration)
rpc("UnsubscribeConfigurationAlpha1")(unsubscribe_configuration)
