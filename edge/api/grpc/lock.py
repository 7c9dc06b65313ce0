"""TryLockAlpha1 and UnlockAlpha1 over gRPC, with edge.api.lock's checks (in
daprd's order) and errors; UnlockResponse.status has Dapr's numbers, which
edge's UnlockStatus shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge.api import lock
from edge.api.grpc.protos import lock as pb
from edge.api.grpc.server import rpc

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar


@rpc("TryLockAlpha1")
async def try_lock(sidecar: Sidecar, request: pb.TryLockRequest,
                   context: grpc.aio.ServicerContext) -> pb.TryLockResponse:
    lock.check_expiry(request.expiry_in_seconds, request.store_name)
    store = lock.find_store(sidecar, request.store_name, request.resource_id, request.lock_owner)
    success = await lock.acquire(sidecar, store, request.resource_id, request.lock_owner,
                                 request.expiry_in_seconds)
    return pb.TryLockResponse(success=success)


@rpc("UnlockAlpha1")
async def unlock(sidecar: Sidecar, request: pb.UnlockRequest,
                 context: grpc.aio.ServicerContext) -> pb.UnlockResponse:
    store = lock.find_store(sidecar, request.store_name, request.resource_id, request.lock_owner)
    status = await lock.release(sidecar, store, request.resource_id, request.lock_owner)
    return pb.UnlockResponse(status=int(status))
