"""The state API over gRPC: GetState, GetBulkState, SaveState, DeleteState,
DeleteBulkState, ExecuteStateTransaction and QueryStateAlpha1.

Everything but reading Dapr's messages is edge.api.state's, shared with HTTP:
the store lookup, key prefixes, etags and first-write concurrency, ttl, the
resiliency policy, and the errors. What gRPC adds is the value's form: it
comes as bytes and, as Dapr's stores keep []byte, is kept as binary (served
back byte for byte, not seen by queries) unless its metadata says
contentType application/json; then it must be JSON and is kept as JSON, as
a value saved over HTTP is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from google.protobuf import empty_pb2

from edge.api import state
from edge.api.grpc.protos import common
from edge.api.grpc.protos import state as pb
from edge.api.grpc.server import rpc
from edge.components.state.base import DeleteOp, SetOp, StateStore, StoredItem
from edge.rawjson import RawJSONError, check

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar

_FIRST_WRITE = common.StateOptions.CONCURRENCY_FIRST_WRITE
_JSON = "application/json"


def _etag(item: common.StateItem | pb.DeleteStateRequest) -> str | None:
    # An etag message with an empty value is no etag, as in Dapr's stores.
    return item.etag.value or None


def _first_write(item: common.StateItem | pb.DeleteStateRequest) -> bool:
    # The enums hold nothing the HTTP API would refuse; consistency is always strong here.
    return item.HasField("options") and item.options.concurrency == _FIRST_WRITE


def _is_binary(item: common.StateItem, meta: Mapping[str, str]) -> bool:
    """Whether the value is kept as bytes: unless contentType says JSON, which it must be."""
    if meta.get("contentType") != _JSON:
        return True
    try:
        check(item.value.decode("utf-8"))
    except (UnicodeDecodeError, RawJSONError) as exc:
        raise state.malformed(f"the value of key {item.key} is not JSON, though its metadata "
                              f"contentType is {_JSON}: {exc}") from None
    return False


def _set_op(store: StateStore, item: common.StateItem,
            shared: Mapping[str, str] | None = None) -> SetOp:
    meta = {**(shared or {}), **item.metadata}  # the item's own metadata wins
    # Malformed requests (400) are found before what the store would refuse (ttl: 500).
    key, binary = state.full_key(store, item.key), _is_binary(item, meta)
    return SetOp(key=key, value=item.value, etag=_etag(item), first_write=_first_write(item),
                 ttl=state.ttl_of(meta), is_binary=binary, projection=state.is_projection(meta))


def _delete_op(store: StateStore, item: common.StateItem | pb.DeleteStateRequest) -> DeleteOp:
    return DeleteOp(state.full_key(store, item.key), _etag(item), _first_write(item))


def _metadata(item: StoredItem) -> dict[str, str]:
    expire = state.expire_time(item)
    return {"ttlExpireTime": expire} if expire else {}


@rpc("GetState")
async def get_state(sidecar: Sidecar, request: pb.GetStateRequest,
                    context: grpc.aio.ServicerContext) -> pb.GetStateResponse:
    store = state.find_store(sidecar, request.store_name)
    item = await state.get_item(sidecar, store, request.key)
    if item is None:
        return pb.GetStateResponse()
    return pb.GetStateResponse(data=item.value, etag=item.etag, metadata=_metadata(item))


@rpc("GetBulkState")
async def get_bulk_state(sidecar: Sidecar, request: pb.GetBulkStateRequest,
                         context: grpc.aio.ServicerContext) -> pb.GetBulkStateResponse:
    store = state.find_store(sidecar, request.store_name)
    found = await state.get_items(sidecar, store, list(request.keys))
    return pb.GetBulkStateResponse(items=[
        pb.BulkStateItem(key=key, data=item.value, etag=item.etag, metadata=_metadata(item))
        if item is not None else pb.BulkStateItem(key=key)
        for key, item in found])


@rpc("SaveState")
async def save_state(sidecar: Sidecar, request: pb.SaveStateRequest,
                     context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    store = state.find_store(sidecar, request.store_name)
    try:
        ops = state.parse_all(request.states, lambda item: _set_op(store, item))
    except state.BadOption as exc:
        raise state.save_refused(store, exc) from None
    await state.save_items(sidecar, store, ops)
    return empty_pb2.Empty()


@rpc("DeleteState")
async def delete_state(sidecar: Sidecar, request: pb.DeleteStateRequest,
                       context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    store = state.find_store(sidecar, request.store_name)
    await state.delete_item(sidecar, store, request.key, _delete_op(store, request))
    return empty_pb2.Empty()


@rpc("DeleteBulkState")
async def delete_bulk_state(sidecar: Sidecar, request: pb.DeleteBulkStateRequest,
                            context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    store = state.find_store(sidecar, request.store_name)
    await state.delete_items(sidecar, store, [_delete_op(store, item) for item in request.states])
    return empty_pb2.Empty()


def _transaction_op(store: StateStore, entry: pb.TransactionalStateOperation,
                    shared: Mapping[str, str]) -> SetOp | DeleteOp:
    if entry.operationType == "upsert":
        return _set_op(store, entry.request, shared)
    if entry.operationType == "delete":
        return _delete_op(store, entry.request)
    raise state.operation_not_supported(entry.operationType)


@rpc("ExecuteStateTransaction")
async def execute_state_transaction(sidecar: Sidecar, request: pb.ExecuteStateTransactionRequest,
                                    context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    store = state.find_store(sidecar, request.storeName)
    state.check_transactional(store)
    shared = dict(request.metadata)
    try:
        ops = state.parse_all(request.operations,
                              lambda entry: _transaction_op(store, entry, shared))
    except state.BadOption as exc:
        raise state.transaction_refused(exc) from None
    await state.run_transaction(sidecar, store, ops)
    return empty_pb2.Empty()


@rpc("QueryStateAlpha1")
async def query_state(sidecar: Sidecar, request: pb.QueryStateRequest,
                      context: grpc.aio.ServicerContext) -> pb.QueryStateResponse:
    store = state.find_store(sidecar, request.store_name)
    result = await state.run_query(sidecar, store, request.query.encode("utf-8"))
    return pb.QueryStateResponse(
        results=[pb.QueryStateItem(key=key, data=item.value, etag=item.etag)
                 for key, item in result.items],
        token=result.token or "")
