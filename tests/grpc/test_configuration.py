"""The configuration API over gRPC: get, and subscriptions as server streams
(the subscription id first, then each change) that end when the client
cancels, when UnsubscribeConfiguration names them, or at shutdown. The Python
SDK for what it covers, the generated stub for the stream itself."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from dapr.proto.runtime.v1 import configuration_pb2 as pb
from dapr.proto.runtime.v1 import dapr_pb2_grpc

from tests.configuration.conftest import write_rows
from tests.grpc.failures import failure
from tests.harness import wait_until


@pytest.fixture
def db(tmp_path: Path, component) -> Path:
    path = tmp_path / "config.db"
    write_rows(path, [("speed", "120", "3", {"unit": "km/h"}), ("mode", "eco", "", {})])
    component("configstore", "configuration.sqlite",
              {"connectionString": str(path), "pollInterval": "100ms"})
    return path


@pytest.fixture
def sidecar(spawn, db, tmp_path):
    # No app port: gRPC subscriptions stream to the caller, they need no app channel.
    return spawn.sidecar("configured", tmp_path / "resources",
                         args=["--dapr-graceful-shutdown-seconds", "30"])


@pytest.fixture
def stub(sidecar) -> Iterator[dapr_pb2_grpc.DaprStub]:
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
        yield dapr_pb2_grpc.DaprStub(channel)


def execute(db: Path, sql: str, *args: Any) -> None:
    """A change made by another process on the gateway."""
    with sqlite3.connect(db) as conn:
        conn.execute(sql, args)
    conn.close()


def subscriptions(sidecar) -> int:
    """How many subscriptions the store has, as GET /v1.0/metadata reports it."""
    with sidecar.client() as http:
        components = http.get("/v1.0/metadata").json()["components"]
    store = next(c for c in components if c["name"] == "configstore")
    return int(store.get("status", {}).get("subscriptions", 0))


def as_dict(items) -> dict[str, tuple[str, str, dict[str, str]]]:
    return {k: (v.value, v.version, dict(v.metadata)) for k, v in items.items()}


def test_get_configuration(sidecar, stub, client_for):
    client = client_for(sidecar)
    assert as_dict(client.get_configuration("configstore", []).items) == {
        "speed": ("120", "3", {"unit": "km/h"}), "mode": ("eco", "", {})}
    assert as_dict(client.get_configuration("configstore", ["speed", "nothere"]).items) == {
        "speed": ("120", "3", {"unit": "km/h"})}
    alpha = stub.GetConfigurationAlpha1(pb.GetConfigurationRequest(
        store_name="configstore", keys=["mode"], metadata={"x": "y"}), timeout=10)
    assert as_dict(alpha.items) == {"mode": ("eco", "", {})}
    assert client.get_configuration("configstore", ["nothere"]).items == {}


def test_sdk_subscription_gets_changes_until_unsubscribed(sidecar, stub, db, client_for):
    client = client_for(sidecar)
    seen: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def handler(subscription_id: str, response) -> None:
        with lock:
            seen.append((subscription_id, as_dict(response.items)))

    sub_id = client.subscribe_configuration("configstore", ["speed"], handler)
    assert sub_id
    # A second subscription (every key), read with the stub, to know when a change is out.
    witness = stub.SubscribeConfiguration(pb.SubscribeConfigurationRequest(
        store_name="configstore"), timeout=60)
    next(witness)
    assert subscriptions(sidecar) == 2

    write_rows(db, [("speed", "80", "4", {"unit": "mph"})])
    wait_until(lambda: seen, timeout=10, what="the SDK's handler to get the change")
    assert seen == [(sub_id, {"speed": ("80", "4", {"unit": "mph"})})]
    execute(db, "UPDATE configuration SET value = 'sport' WHERE key = 'mode'")
    assert as_dict(next(witness).items) == {"speed": ("80", "4", {"unit": "mph"})}
    assert as_dict(next(witness).items) == {"mode": ("sport", "", {})}

    assert client.unsubscribe_configuration("configstore", sub_id) is True
    wait_until(lambda: subscriptions(sidecar) == 1, timeout=10, what="the subscription to end")
    write_rows(db, [("speed", "60", "5", {})])
    assert as_dict(next(witness).items) == {"speed": ("60", "5", {})}
    assert len(seen) == 1
    # Gone already: daprd answers ok false, with no error.
    assert client.unsubscribe_configuration("configstore", sub_id) is False
    witness.cancel()


def test_stream_messages_and_a_cancelled_stream_ends_its_subscription(sidecar, stub, db):
    stream = stub.SubscribeConfigurationAlpha1(pb.SubscribeConfigurationRequest(
        store_name="configstore", keys=["mode", "speed"]), timeout=60)
    first = next(stream)
    assert first.id and not first.items
    execute(db, "DELETE FROM configuration WHERE key = 'speed'")
    deleted = next(stream)
    assert deleted.id == first.id
    # A deleted key's item is empty.
    assert as_dict(deleted.items) == {"speed": ("", "", {})}
    write_rows(db, [("other", "x", "", {})])  # not subscribed: nothing is sent
    write_rows(db, [("mode", "sport", "2", {"by": "ops"})])
    assert as_dict(next(stream).items) == {"mode": ("sport", "2", {"by": "ops"})}

    assert subscriptions(sidecar) == 1
    stream.cancel()
    wait_until(lambda: subscriptions(sidecar) == 0, timeout=10,
               what="the cancelled stream's subscription to end")


def test_unsubscribe_by_id_ends_the_stream(sidecar, stub):
    for unsubscribe in (stub.UnsubscribeConfiguration, stub.UnsubscribeConfigurationAlpha1):
        stream = stub.SubscribeConfiguration(pb.SubscribeConfigurationRequest(
            store_name="configstore"), timeout=60)
        sub_id = next(stream).id
        # As in daprd, the id alone counts; the store name is not looked at.
        answer = unsubscribe(pb.UnsubscribeConfigurationRequest(id=sub_id), timeout=10)
        assert (answer.ok, answer.message) == (True, "")
        assert list(stream) == []
        assert stream.code() == grpc.StatusCode.OK
        wait_until(lambda: subscriptions(sidecar) == 0, timeout=10, what="no subscriptions")
    unknown = stub.UnsubscribeConfiguration(pb.UnsubscribeConfigurationRequest(
        store_name="configstore", id="no-such-id"), timeout=10)
    assert (unknown.ok, unknown.message) == (
        False, "failed to unsubscribe to configuration request no-such-id: "
               "subscription does not exist")


def test_shutdown_ends_open_streams_without_waiting_out_the_grace_period(sidecar, stub):
    stream = stub.SubscribeConfiguration(pb.SubscribeConfigurationRequest(
        store_name="configstore"), timeout=60)
    next(stream)
    started = time.monotonic()
    sidecar.stop()
    # The grace period is 30 s; an open stream would have held the sidecar that long.
    assert time.monotonic() - started < 15
    assert sidecar.proc.returncode == 0
    assert list(stream) == []
    assert stream.code() == grpc.StatusCode.OK


def _refused(method: str, call, store: str) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        if method.startswith("Get"):
            call(pb.GetConfigurationRequest(store_name=store), timeout=10)
        else:  # a stream fails at its first message
            next(call(pb.SubscribeConfigurationRequest(store_name=store), timeout=10))
    return failure(caught.value)


def test_errors(stub, spawn):
    for method in ("GetConfiguration", "GetConfigurationAlpha1", "SubscribeConfiguration",
                   "SubscribeConfigurationAlpha1"):
        assert _refused(method, getattr(stub, method), "nope") == (
            grpc.StatusCode.INVALID_ARGUMENT, "ERR_CONFIGURATION_STORE_NOT_FOUND",
            "configuration store nope not found"), method
    bare = spawn.sidecar("noconfig")
    with grpc.insecure_channel(f"127.0.0.1:{bare.grpc_port}") as channel:
        for method in ("GetConfiguration", "SubscribeConfiguration"):
            call = getattr(dapr_pb2_grpc.DaprStub(channel), method)
            assert _refused(method, call, "configstore") == (
                grpc.StatusCode.FAILED_PRECONDITION, "ERR_CONFIGURATION_STORE_NOT_CONFIGURED",
                "no configuration store is configured"), method
