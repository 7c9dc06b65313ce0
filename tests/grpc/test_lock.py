"""Distributed locks over gRPC with the Python SDK: the same locks as over
HTTP, Dapr's unlock statuses, and Dapr's checks and errors."""

from __future__ import annotations

import uuid

import grpc
import pytest
from dapr.clients.grpc._response import UnlockResponseStatus as Status
from dapr.proto.runtime.v1 import dapr_pb2_grpc
from dapr.proto.runtime.v1 import lock_pb2 as pb

from tests.grpc.failures import failure
from tests.lock.helpers import lock as http_lock
from tests.lock.helpers import poll

pytestmark = pytest.mark.filterwarnings("ignore:The Distributed Lock API:UserWarning")

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def sidecar(spawn, component, tmp_path):
    component("locks", "lock.sqlite", {"connectionString": str(tmp_path / "locks.db")})
    component("memlocks", "lock.in-memory")
    return spawn.sidecar("locker", tmp_path / "resources")


def resource() -> str:
    return f"res-{uuid.uuid4().hex[:10]}"


def test_lock_unlock_statuses_and_http_sharing(sidecar, client_for):
    client = client_for(sidecar)
    for store in ("locks", "memlocks"):
        res = resource()
        assert client.try_lock(store, res, "alice", 30).success
        assert not client.try_lock(store, res, "bob", 30).success
        # Over HTTP, the same lock is held.
        with sidecar.client() as http:
            assert http_lock(http, store, res, "bob").json() == {"success": False}
        # Dapr's numbers: the SDK reads them into its own enum.
        assert client.unlock(store, res, "bob").status == Status.lock_belongs_to_others
        assert client.unlock(store, res, "alice").status == Status.success
        assert client.unlock(store, res, "alice").status == Status.lock_does_not_exist
        # The SDK's with-statement unlocks at its end.
        with client.try_lock(store, res, "carol", 30) as held:
            assert held
            assert not client.try_lock(store, res, "dave", 30)
        assert client.try_lock(store, res, "dave", 30)


def test_a_lock_expires(sidecar, client_for):
    client = client_for(sidecar)
    res = resource()
    assert client.try_lock("locks", res, "alice", 1).success
    assert poll(lambda: client.try_lock("locks", res, "bob", 1).success, timeout=10)


def _refused(call, request) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=10)
    return failure(caught.value)


def test_requests_are_checked_in_daprs_order(sidecar, spawn):
    def try_lock(store="locks", res="r", owner="o", expiry=10):
        return _refused(stub.TryLockAlpha1, pb.TryLockRequest(
            store_name=store, resource_id=res, lock_owner=owner, expiry_in_seconds=expiry))

    def unlock(store="locks", res="r", owner="o"):
        return _refused(stub.UnlockAlpha1, pb.UnlockRequest(
            store_name=store, resource_id=res, lock_owner=owner))

    channel = grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}")
    stub = dapr_pb2_grpc.DaprStub(channel)
    # The expiry comes first, even before the store.
    assert try_lock(store="nope", res="", expiry=0) == (
        INVALID, "ERR_MALFORMED_REQUEST", "ExpiryInSeconds is not positive in lock store nope")
    assert try_lock(res="", expiry=-5)[2] == "ExpiryInSeconds is not positive in lock store locks"
    for call in (try_lock, unlock):
        assert call(store="nope", res="") == (
            INVALID, "ERR_MALFORMED_REQUEST", "ResourceId is empty in lock store nope")
        assert call(owner="") == (INVALID, "ERR_MALFORMED_REQUEST",
                                  "LockOwner is empty in lock store locks")
        assert call(store="nope") == (INVALID, "ERR_LOCK_STORE_NOT_FOUND",
                                      "lock store nope not found")
    code, error, message = try_lock(res="a||b")
    assert (code, error) == (grpc.StatusCode.INTERNAL, "ERR_TRY_LOCK")
    assert message.startswith("failed to try acquiring lock: ")
    assert unlock(res="a||b")[:2] == (grpc.StatusCode.INTERNAL, "ERR_UNLOCK")
    channel.close()

    # A sidecar with no lock store: the calls above now meet this one.
    channel = grpc.insecure_channel(f"127.0.0.1:{spawn.sidecar('nolocks').grpc_port}")
    stub = dapr_pb2_grpc.DaprStub(channel)
    for call in (try_lock, unlock):
        assert call() == (grpc.StatusCode.FAILED_PRECONDITION,
                          "ERR_LOCK_STORE_NOT_CONFIGURED", "lock store is not configured")
    channel.close()
