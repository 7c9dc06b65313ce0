"""InvokeBinding over gRPC: the same output binding call as POST
/v1.0/bindings/{name} (edge.runtime.bindings.BindingsRuntime.invoke).

Unlike the HTTP body's JSON `data`, the gRPC request's data is handed to the
component as the bytes sent. The component's metadata comes back both in the
response and as `metadata.<key>` response metadata, as daprd sends it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.api.grpc.protos import binding as pb
from edge.api.grpc.server import rpc
from edge.runtime.appgrpc import to_metadata

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar

# The trace context of the caller travels to the component, as daprd passes it
# (other call metadata, such as the API token, is kept from components).
_TRACE_KEYS = ("traceparent", "tracestate", "baggage")


@rpc("InvokeBinding")
async def invoke_binding(sidecar: Sidecar, request: pb.InvokeBindingRequest,
                         context: grpc.aio.ServicerContext) -> pb.InvokeBindingResponse:
    metadata = dict(request.metadata)
    for key, value in context.invocation_metadata() or ():
        if key in _TRACE_KEYS and isinstance(value, str):
            metadata.setdefault(key, value)
    answer = await sidecar.bindings.invoke(request.name, request.operation, request.data,
                                           metadata)
    if answer is None:
        return pb.InvokeBindingResponse()
    await context.send_initial_metadata(
        to_metadata(((f"metadata.{k}", v) for k, v in answer.metadata.items()), rename=False))
    return pb.InvokeBindingResponse(data=answer.data, metadata=answer.metadata)
