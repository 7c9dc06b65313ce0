"""The state API over gRPC, called as apps call it: the Python SDK's
DaprClient, and the generated stub where the SDK does not reach (DeleteBulkState,
response metadata). The sidecar of the HTTP state tests serves these too; every
test uses its own keys."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator

import grpc
import pytest
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.grpc._state import Concurrency, StateItem, StateOptions
from dapr.proto.common.v1 import common_pb2 as common
from dapr.proto.runtime.v1 import dapr_pb2_grpc
from dapr.proto.runtime.v1 import state_pb2 as pb

from tests.grpc.failures import failure
from tests.state import conftest as state_tests
from tests.state.helpers import new_key as key

pytestmark = pytest.mark.filterwarnings("ignore:The State Store Query API:UserWarning")

# The HTTP state tests' fixtures: their sidecar (stores `sqlite` and `memory`, app id
# `stateapp`), an HTTP client of it, and a test run once per store.
state_sidecar, http, store = state_tests.state_sidecar, state_tests.http, state_tests.store

INVALID, ABORTED, INTERNAL = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ABORTED,
                              grpc.StatusCode.INTERNAL)


@pytest.fixture
def client(state_sidecar, client_for):
    return client_for(state_sidecar)


@pytest.fixture
def stub(state_sidecar) -> Iterator[dapr_pb2_grpc.DaprStub]:
    with grpc.insecure_channel(f"127.0.0.1:{state_sidecar.grpc_port}") as channel:
        yield dapr_pb2_grpc.DaprStub(channel)


def refused(call, *args, **kwargs) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return failure(caught.value)


def test_save_get_bulk_and_delete_with_the_sdk(client, store):
    a, b, missing = key("a"), key("b"), key("missing")
    client.save_state(store, a, "first")
    got = client.get_state(store, a)
    assert (got.data, bool(got.etag)) == (b"first", True)

    client.save_bulk_state(store, [StateItem(key=a, value="one"),
                                   StateItem(key=b, value=b"\x00two")])
    bulk = client.get_bulk_state(store, [b, missing, a]).items
    assert [(i.key, i.data) for i in bulk] == [(b, b"\x00two"), (missing, b""), (a, b"one")]
    assert bulk[0].etag and not bulk[1].etag and bulk[2].etag != got.etag

    client.delete_state(store, a)
    gone = client.get_state(store, a)
    assert (gone.data, gone.etag) == (b"", "")
    assert client.get_bulk_state(store, []).items == []


def test_values_are_kept_byte_for_byte_and_shared_with_http(client, http, store):
    raw, text = key("raw"), key("text")
    blob = bytes(range(256))
    client.save_state(store, raw, blob)
    assert client.get_state(store, raw).data == blob
    # Kept as binary, as Dapr's stores keep []byte: HTTP serves the same bytes.
    over_http = http.get(f"/v1.0/state/{store}/{raw}")
    assert over_http.content == blob
    assert over_http.headers["content-type"] == "application/octet-stream"
    # Saved over HTTP (JSON), read over gRPC: the JSON text as the client wrote it.
    assert http.post(f"/v1.0/state/{store}", content=f'[{{"key":"{text}","value":{{"b": 1}}}}]',
                     headers={"content-type": "application/json"}).status_code == 204
    assert client.get_state(store, text).data == b'{"b": 1}'
    bulk = http.post(f"/v1.0/state/{store}/bulk", json={"keys": [raw]}).json()
    assert bulk[0]["etag"] == client.get_state(store, raw).etag


def test_content_type_json_keeps_the_value_as_json(client, http):
    as_json, as_bytes, city = key("json"), key("bytes"), key("city")
    client.save_state("sqlite", as_json, json.dumps({"city": city, "n": 1}),
                      state_metadata={"contentType": "application/json"})
    client.save_state("sqlite", as_bytes, json.dumps({"city": city, "n": 2}))
    over_http = http.get(f"/v1.0/state/sqlite/{as_json}")
    assert over_http.headers["content-type"].startswith("application/json")
    assert over_http.json() == {"city": city, "n": 1}
    # Queries see JSON values only; the same text saved as bytes stays opaque.
    found = client.query_state("sqlite", json.dumps({"filter": {"EQ": {"city": city}}})).results
    assert [r.key for r in found] == [as_json]
    assert found[0].value == json.dumps({"city": city, "n": 1}).encode()

    code, error, message = refused(client.save_state, "sqlite", key(), "{not json",
                                   state_metadata={"contentType": "application/json"})
    assert (code, error) == (INVALID, "ERR_MALFORMED_REQUEST")
    assert "contentType" in message


def test_etags_and_first_write_concurrency(client, store):
    k = key()
    client.save_state(store, k, "v1")
    first = client.get_state(store, k).etag
    client.save_state(store, k, "v2", etag=first)
    second = client.get_state(store, k).etag
    assert second != first

    code, error, message = refused(client.save_state, store, k, "v3", etag=first)
    assert (code, error) == (ABORTED, "ERR_STATE_SAVE")
    assert "etag mismatch" in message and k in message
    first_write = StateOptions(concurrency=Concurrency.first_write)
    assert refused(client.save_state, store, k, "v3", options=first_write)[:2] == (
        ABORTED, "ERR_STATE_SAVE")
    fresh = key("fresh")
    client.save_state(store, fresh, "new", options=first_write)
    assert client.get_state(store, fresh).data == b"new"

    assert refused(client.delete_state, store, k, etag=first)[:2] == (ABORTED, "ERR_STATE_DELETE")
    client.delete_state(store, k, etag=second)
    assert client.get_state(store, k).data == b""


def test_ttl_in_seconds_and_expire_time(client, stub, store):
    k = key("ttl")
    client.save_state(store, k, "brief", state_metadata={"ttlInSeconds": "1"})
    got = stub.GetState(pb.GetStateRequest(store_name=store, key=k), timeout=10)
    assert got.data == b"brief"
    assert got.metadata["ttlExpireTime"].endswith("Z")
    bulk = stub.GetBulkState(pb.GetBulkStateRequest(store_name=store, keys=[k]), timeout=10)
    assert bulk.items[0].metadata["ttlExpireTime"] == got.metadata["ttlExpireTime"]
    deadline = time.monotonic() + 10
    while client.get_state(store, k).data and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.get_state(store, k).data == b""

    lasting = key("lasting")
    client.save_state(store, lasting, "v", state_metadata={"ttlInSeconds": "-1"})
    assert "ttlExpireTime" not in stub.GetState(
        pb.GetStateRequest(store_name=store, key=lasting), timeout=10).metadata
    code, error, message = refused(client.save_state, store, key(), "v",
                                   state_metadata={"ttlInSeconds": "soon"})
    assert (code, error) == (INTERNAL, "ERR_STATE_SAVE")
    assert "ttlInSeconds" in message


def test_transactions_are_all_or_nothing(client, store):
    a, b, c = key("a"), key("b"), key("c")
    client.save_state(store, c, "to delete")
    client.execute_state_transaction(store, [
        TransactionalStateOperation(key=a, data="A"),
        TransactionalStateOperation(key=b, data=b"B", metadata={"ttlInSeconds": "60"}),
        TransactionalStateOperation(key=c, operation_type=TransactionOperationType.delete),
    ])
    assert [i.data for i in client.get_bulk_state(store, [a, b, c]).items] == [b"A", b"B", b""]

    stale = client.get_state(store, a).etag
    client.save_state(store, a, "A2")
    code, error, message = refused(client.execute_state_transaction, store, [
        TransactionalStateOperation(key=b, data="not kept"),
        TransactionalStateOperation(key=a, data="A3", etag=stale),
    ])
    assert (code, error) == (INTERNAL, "ERR_STATE_TRANSACTION")
    assert f"possible etag mismatch for key {a}" in message
    assert client.get_state(store, b).data == b"B"


def test_transaction_request_checks(stub, store):
    def transact(*operations, **metadata):
        return stub.ExecuteStateTransaction(pb.ExecuteStateTransactionRequest(
            storeName=store, operations=list(operations), metadata=metadata), timeout=10)

    k = key()
    code, error, message = refused(transact, pb.TransactionalStateOperation(
        operationType="merge", request=common.StateItem(key=k, value=b"1")))
    assert (code, error) == (grpc.StatusCode.UNIMPLEMENTED, "ERR_NOT_SUPPORTED_STATE_OPERATION")
    assert message == "operation type merge not supported"
    assert refused(transact, pb.TransactionalStateOperation(
        operationType="upsert", request=common.StateItem(key="a||b", value=b"1")))[:2] == (
        INVALID, "ERR_MALFORMED_REQUEST")
    # The request's metadata applies to every operation; the item's own wins.
    transact(pb.TransactionalStateOperation(operationType="upsert", request=common.StateItem(
        key=k, value=b'{"x":1}', metadata={"ttlInSeconds": "-1"})), contentType="application/json",
        ttlInSeconds="60")
    got = stub.GetState(pb.GetStateRequest(store_name=store, key=k), timeout=10)
    assert (got.data, dict(got.metadata)) == (b'{"x":1}', {})
    transact()  # nothing to do is no error


def test_delete_bulk_state_tries_every_item(stub, client, store):
    a, b, c = key("a"), key("b"), key("c")
    client.save_bulk_state(store, [StateItem(key=k, value="v") for k in (a, b, c)])
    stale = client.get_state(store, b).etag
    client.save_state(store, b, "changed")

    def delete_bulk(*items):
        return stub.DeleteBulkState(pb.DeleteBulkStateRequest(store_name=store, states=list(items)),
                                    timeout=10)

    code, error, message = refused(delete_bulk, common.StateItem(key=a),
                                   common.StateItem(key=b, etag=common.Etag(value=stale)))
    assert (code, error) == (ABORTED, "ERR_STATE_BULK_DELETE")
    assert b in message
    # Like Dapr's BulkDelete, items are independent: a is gone, b (stale etag) is not.
    assert [i.data for i in client.get_bulk_state(store, [a, b]).items] == [b"", b"changed"]
    delete_bulk(common.StateItem(key=b), common.StateItem(key=c, etag=common.Etag(value="")))
    assert [i.data for i in client.get_bulk_state(store, [b, c]).items] == [b"", b""]


def test_query_pages_and_sorts(client, http):
    city = f"city-{uuid.uuid4().hex[:8]}"
    keys = [key(f"q{n}") for n in range(5)]
    for n, k in enumerate(keys):
        client.save_state("sqlite", k, f'{{"city": "{city}", "n": {n}}}',
                          state_metadata={"contentType": "application/json"})
    def query(**page: object) -> str:
        return json.dumps({"filter": {"EQ": {"city": city}},
                           "sort": [{"key": "n", "order": "DESC"}], "page": {"limit": 3, **page}})

    first = client.query_state("sqlite", query())
    assert [r.key for r in first.results] == keys[4:1:-1]
    assert first.results[0].etag == client.get_state("sqlite", keys[4]).etag
    assert first.token
    rest = client.query_state("sqlite", query(token=first.token))
    assert [r.key for r in rest.results] == keys[1::-1]
    assert not rest.token
    # The same query over HTTP finds the same items.
    over_http = http.post("/v1.0-alpha1/state/sqlite/query", content=query()).json()
    assert [r["key"] for r in over_http["results"]] == keys[4:1:-1]
    none = client.query_state("sqlite", '{"filter": {"EQ": {"city": "nowhere-at-all"}}}')
    assert (none.results, none.token) == ([], "")

    code, error, message = refused(client.query_state, "sqlite", "{broken")
    assert (code, error) == (INTERNAL, "ERR_STATE_QUERY")
    assert "failed to parse JSON query body" in message
    code, error, message = refused(client.query_state, "memory", "{}")
    assert (code, error, message) == (INTERNAL, "ERR_STATE_STORE_NOT_SUPPORTED",
                                      "state store does not support querying")


def test_keys_carry_the_app_id_prefix(state_sidecar, client):
    k = key("prefixed")
    client.save_state("sqlite", k, "v")
    db = state_sidecar.log.parent / "s.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key FROM state WHERE key LIKE ?", (f"%{k}",)).fetchall()
    assert rows == [(f"stateapp||{k}",)]
    for call, args in ((client.get_state, ("sqlite", "a||b")),
                       (client.save_state, ("sqlite", "a||b", "v")),
                       (client.delete_state, ("sqlite", "a||b")),
                       (client.get_bulk_state, ("sqlite", ["ok", "a||b"]))):
        code, error, message = refused(call, *args)
        assert (code, error) == (INVALID, "ERR_MALFORMED_REQUEST")
        assert message == "input key/keyPrefix 'a||b' can't contain '||'"
    assert refused(client.save_state, "sqlite", "", "v")[:2] == (INVALID, "ERR_MALFORMED_REQUEST")


def test_unknown_store_and_no_store(spawn, client, client_for):
    calls = [
        lambda c: c.get_state("nope", "k"),
        lambda c: c.get_bulk_state("nope", ["k"]),
        lambda c: c.save_state("nope", "k", "v"),
        lambda c: c.delete_state("nope", "k"),
        lambda c: c.execute_state_transaction("nope", []),
        lambda c: c.query_state("nope", "{}"),
    ]
    for call in calls:
        assert refused(call, client) == (INVALID, "ERR_STATE_STORE_NOT_FOUND",
                                         "state store nope is not found")
    bare = client_for(spawn.sidecar("stateless"))
    for call in calls:
        assert refused(call, bare) == (grpc.StatusCode.FAILED_PRECONDITION,
                                       "ERR_STATE_STORE_NOT_CONFIGURED",
                                       "state store nope is not configured")
