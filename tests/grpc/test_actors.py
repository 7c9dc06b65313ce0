"""Actors over gRPC, called with the generated stub as the Go, Java and .NET
SDKs call them (the Python SDK's actor client speaks HTTP)."""

from __future__ import annotations

import json

import grpc
import pytest
from dapr.proto.runtime.v1 import actors_pb2 as pb
from dapr.proto.runtime.v1 import dapr_pb2_grpc
from google.protobuf import any_pb2

from tests.harness import wait_until


def _stub(sidecar) -> dapr_pb2_grpc.DaprStub:
    channel = grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}")
    return dapr_pb2_grpc.DaprStub(channel)


def test_invoke_state_timer_and_reminder(host):
    h = host("Device")
    stub = _stub(h.sidecar)
    answer = stub.InvokeActor(pb.InvokeActorRequest(actor_type="Device", actor_id="d1",
                                                    method="ping", data=b'{"a":1}'), timeout=10)
    assert json.loads(answer.data)["id"] == "d1"
    assert h.events("call")[-1]["method"] == "ping"

    value = any_pb2.Any(value=b'{"celsius":21.5}')
    stub.ExecuteActorStateTransaction(pb.ExecuteActorStateTransactionRequest(
        actor_type="Device", actor_id="d1", operations=[
            pb.TransactionalActorStateOperation(operationType="upsert", key="temp",
                                                value=value),
            pb.TransactionalActorStateOperation(operationType="delete", key="gone")]),
        timeout=10)
    got = stub.GetActorState(pb.GetActorStateRequest(actor_type="Device", actor_id="d1",
                                                     key="temp"), timeout=10)
    assert json.loads(got.data) == {"celsius": 21.5}
    # The same state over HTTP: one actor runtime behind both APIs.
    assert h.http.get("/v1.0/actors/Device/d1/state/temp").json() == {"celsius": 21.5}

    stub.RegisterActorTimer(pb.RegisterActorTimerRequest(
        actor_type="Device", actor_id="d1", name="t1", due_time="0s", period="",
        callback="tick", data=b'"x"'), timeout=10)
    wait_until(lambda: any(e["name"] == "t1" for e in h.events("timer")), timeout=10)

    stub.RegisterActorReminder(pb.RegisterActorReminderRequest(
        actor_type="Device", actor_id="d1", name="r1", due_time="1h", period="PT1H",
        data=b'{"n":1}'), timeout=10)
    found = stub.GetActorReminder(pb.GetActorReminderRequest(
        actor_type="Device", actor_id="d1", name="r1"), timeout=10)
    assert (found.due_time, found.period, json.loads(found.data.value)) == ("1h", "PT1H",
                                                                            {"n": 1})
    stub.UnregisterActorReminder(pb.UnregisterActorReminderRequest(
        actor_type="Device", actor_id="d1", name="r1"), timeout=10)
    with pytest.raises(grpc.RpcError) as missing:
        stub.GetActorReminder(pb.GetActorReminderRequest(actor_type="Device", actor_id="d1",
                                                         name="r1"), timeout=10)
    assert missing.value.code() == grpc.StatusCode.INTERNAL
    assert "not found" in missing.value.details()


def test_bad_actor_calls_get_clear_statuses(host, spawn):
    h = host("Device")
    stub = _stub(h.sidecar)
    with pytest.raises(grpc.RpcError) as empty:
        stub.InvokeActor(pb.InvokeActorRequest(actor_type="", actor_id="x", method="m"),
                         timeout=10)
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as op:
        stub.ExecuteActorStateTransaction(pb.ExecuteActorStateTransactionRequest(
            actor_type="Device", actor_id="d1", operations=[
                pb.TransactionalActorStateOperation(operationType="merge", key="k")]),
            timeout=10)
    assert op.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as unknown:
        stub.InvokeActor(pb.InvokeActorRequest(actor_type="Nobody", actor_id="x", method="m"),
                         timeout=10)
    assert unknown.value.code() == grpc.StatusCode.INTERNAL
    assert "no running app hosts actor type Nobody" in unknown.value.details()
    # Without an actor state store there is no actor runtime.
    bare = spawn.sidecar("bare")
    with pytest.raises(grpc.RpcError) as off:
        _stub(bare).GetActorState(pb.GetActorStateRequest(actor_type="A", actor_id="1",
                                                          key="k"), timeout=10)
    assert off.value.code() == grpc.StatusCode.INTERNAL
    assert "actorStateStore" in off.value.details()
    # The sidecar answers on.
    assert stub.InvokeActor(pb.InvokeActorRequest(actor_type="Device", actor_id="d2",
                                                  method="ping"), timeout=10).data


def test_list_reminders_and_remove_them_by_type(host):
    h = host("Device")
    stub = _stub(h.sidecar)
    for actor_id, name in (("d1", "a"), ("d1", "b"), ("d2", "c")):
        stub.RegisterActorReminder(pb.RegisterActorReminderRequest(
            actor_type="Device", actor_id=actor_id, name=name, due_time="1h", period="1h",
            data=b'"x"'), timeout=10)

    def names(actor_id: str) -> list[str]:
        found = stub.ListActorReminders(pb.ListActorRemindersRequest(
            actor_type="Device", actor_id=actor_id), timeout=10)
        return [r.name for r in found.reminders]

    assert names("d1") == ["a", "b"]
    listed = stub.ListActorReminders(pb.ListActorRemindersRequest(actor_type="Device",
                                                                  actor_id="d2"), timeout=10)
    assert listed.reminders[0].reminder.due_time == "1h"
    assert json.loads(listed.reminders[0].reminder.data.value) == "x"
    stub.UnregisterActorRemindersByType(pb.UnregisterActorRemindersByTypeRequest(
        actor_type="Device", actor_id="d1"), timeout=10)
    assert (names("d1"), names("d2")) == ([], ["c"])
    stub.UnregisterActorRemindersByType(pb.UnregisterActorRemindersByTypeRequest(
        actor_type="Device"), timeout=10)
    assert names("d2") == []
