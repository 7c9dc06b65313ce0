"""GetSecret and GetBulkSecret over gRPC, with edge.api.secrets' checks,
secret scopes (spec.secrets.scopes of the Configuration) and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.api import secrets
from edge.api.grpc.protos import secret as pb
from edge.api.grpc.server import rpc

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar


@rpc("GetSecret")
async def get_secret(sidecar: Sidecar, request: pb.GetSecretRequest,
                     context: grpc.aio.ServicerContext) -> pb.GetSecretResponse:
    store = secrets.find_store(sidecar, request.store_name)
    values = await secrets.read_secret(sidecar, store, request.key, dict(request.metadata))
    return pb.GetSecretResponse(data=values)


@rpc("GetBulkSecret")
async def get_bulk_secret(sidecar: Sidecar, request: pb.GetBulkSecretRequest,
                          context: grpc.aio.ServicerContext) -> pb.GetBulkSecretResponse:
    store = secrets.find_store(sidecar, request.store_name)
    found = await secrets.read_permitted(sidecar, store, dict(request.metadata))
    return pb.GetBulkSecretResponse(
        data={name: pb.SecretResponse(secrets=values) for name, values in found.items()})
