"""gRPC proxying, as Dapr does it: a call to any method that is not Dapr's own,
carrying `dapr-app-id` metadata, goes to that app's sidecar and on to the app
(started with --app-protocol grpc) unchanged. Messages pass as raw bytes in
both directions, so unary and streaming methods of any service work without
their .proto files.

Between sidecars the call travels over the target sidecar's gRPC port with
the edge home's internal token; only a call with that token (or one from this
sidecar's own app to itself) reaches the app, and accessControl decides with
the caller's app id as for HTTP invocation (operation: the method path)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc

from edge.errors import DaprError, Err
from edge.runtime.acl import authorize
from edge.runtime.invocation import CALLER, INTERNAL_TOKEN

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.api.grpc.proxy")

APP_ID = "dapr-app-id"
_OWN_SERVICES = ("/dapr.proto.runtime.v1.Dapr/", "/grpc.health.v1.Health/")
# Metadata that belongs to one hop, not to the call.
_DRAIN_SECONDS = 1.0
_HOP = frozenset({"content-type", "user-agent", "te", "grpc-accept-encoding", "grpc-encoding",
                  "grpc-timeout", ":authority", "host"})


class Proxy(grpc.GenericRpcHandler):
    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self._channels: dict[str, grpc.aio.Channel] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method or ""
        if method.startswith(_OWN_SERVICES):
            return None
        # Bidirectional streaming carries unary calls too; bytes are not decoded.
        return grpc.stream_stream_rpc_method_handler(self._behavior(method))

    def _behavior(self, method: str) -> Any:
        async def proxy(requests: AsyncIterator[bytes],
                        context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            try:
                channel, metadata = await self._route(method, context)
            except DaprError as error:
                # Refusing while the client is still sending makes gRPC report
                # INTERNAL instead of the refusal: let unary and server-streaming
                # calls finish sending first.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(_drain(requests), _DRAIN_SECONDS)
                code = {403: grpc.StatusCode.PERMISSION_DENIED,
                        401: grpc.StatusCode.UNAUTHENTICATED,
                        404: grpc.StatusCode.UNIMPLEMENTED}.get(error.status,
                                                               grpc.StatusCode.UNAVAILABLE)
                await context.abort(code, error.message)
            async for reply in _relay(channel, method, metadata, requests, context):
                yield reply

        return proxy

    async def _route(self, method: str, context: grpc.aio.ServicerContext
                     ) -> tuple[grpc.aio.Channel, list[tuple[str, str]]]:
        sidecar = self.sidecar
        incoming = [(k, v) for k, v in (context.invocation_metadata() or ()) if k not in _HOP]
        found = dict(incoming)
        target = found.get(APP_ID, "")
        if not target:
            raise DaprError(Err.NOT_FOUND, f"unknown method {method} (a call to be proxied "
                            "needs dapr-app-id metadata)")
        from_peer = found.get(INTERNAL_TOKEN) == sidecar.internal_secret
        token = sidecar.options.api_token
        if token and not from_peer and found.get("dapr-api-token") != token:
            raise DaprError(Err.UNAUTHORIZED, "missing or wrong dapr-api-token metadata "
                            "(DAPR_API_TOKEN is set)")
        if target != sidecar.options.app_id:
            return await self._to_sidecar(target, incoming)
        caller = found.get(CALLER, "") if from_peer else sidecar.options.app_id
        authorize(sidecar, caller, "*", method.lstrip("/"))
        if sidecar.app_grpc is None:
            raise DaprError(Err.DIRECT_INVOKE, f"app {target} does not speak gRPC "
                            "(start its sidecar with --app-protocol grpc to proxy gRPC calls)")
        outgoing = [(k, v) for k, v in incoming if k not in (INTERNAL_TOKEN, CALLER)]
        outgoing += sidecar.app_grpc.metadata([(CALLER, caller)])
        return self._channel(sidecar.app_grpc.target), outgoing

    async def _to_sidecar(self, target: str, incoming: list[tuple[str, str]]
                          ) -> tuple[grpc.aio.Channel, list[tuple[str, str]]]:
        sidecar = self.sidecar
        entry = await sidecar.registry.resolve(target)
        if entry is None or not entry.grpc_port:
            raise DaprError(Err.DIRECT_INVOKE, f"couldn't find service: {target} (no running "
                            "sidecar with a gRPC port has registered it)")
        outgoing = [(k, v) for k, v in incoming if k not in (INTERNAL_TOKEN, CALLER)]
        outgoing += [(INTERNAL_TOKEN, sidecar.internal_secret), (CALLER, sidecar.options.app_id)]
        return self._channel(f"{entry.host}:{entry.grpc_port}"), outgoing

    def _channel(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            channel = self._channels[target] = grpc.aio.insecure_channel(target)
        return channel


async def _relay(channel: grpc.aio.Channel, method: str, metadata: list[tuple[str, str]],
                 requests: AsyncIterator[bytes],
                 context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    call = channel.stream_stream(method)(metadata=metadata)

    async def send() -> None:
        # A far end that answers early (a refusal) ends the call while requests
        # are still being written; the call's own status says what happened.
        with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError,
                                 asyncio.InvalidStateError):
            async for request in requests:
                await call.write(request)
            await call.done_writing()

    sending = asyncio.create_task(send())
    failed: grpc.aio.AioRpcError | None = None
    try:
        async for reply in call:
            yield reply
    except grpc.aio.AioRpcError as exc:
        failed = exc
    finally:
        # Nothing may still read the client's requests when the call ends.
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sending
    if failed is not None:
        # The far end's status, as it gave it.
        await context.abort(failed.code(), failed.details() or "")
    trailing = await _trailing(call)
    if trailing:
        context.set_trailing_metadata(trailing)


async def _drain(requests: AsyncIterator[bytes]) -> None:
    async for _ in requests:
        pass


async def _trailing(call: Any) -> list[tuple[str, str]]:
    with contextlib.suppress(Exception):
        return [(k, v) for k, v in (await call.trailing_metadata() or ())
                if not k.startswith("grpc-")]
    return []
