"""Actors over gRPC: calls, state, timers and reminders, on the same actor
runtime as the HTTP API (edge.runtime.actors). Apps host actors over HTTP, as
the SDKs' actor runtimes do; any client may call them over gRPC.

Bytes cross as they are: InvokeActor's data is the method's body and answer;
an actor state upsert stores the Any's value bytes. Reminder and timer data
is JSON where it parses as JSON, else kept as text, since edge stores
reminders as JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from google.protobuf import any_pb2, empty_pb2
from multidict import CIMultiDict

from edge.api.actors import ttl_of
from edge.api.grpc.protos import actors as pb
from edge.api.grpc.server import rpc
from edge.components.state.base import DeleteOp, SetOp
from edge.errors import DaprError, Err

if TYPE_CHECKING:
    import grpc

    from edge.runtime.actors.runtime import ActorRuntime
    from edge.runtime.sidecar import Sidecar


def _names(request: Any) -> tuple[str, str]:
    if not request.actor_type or not request.actor_id:
        raise DaprError(Err.MALFORMED_REQUEST, "actor_type and actor_id are required")
    return request.actor_type, request.actor_id


def _runtime(sidecar: Sidecar) -> ActorRuntime:
    sidecar.actors.need_store()
    return sidecar.actors


def _excerpt(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace")
    return text + ("..." if len(body) > 200 else "")


@rpc("InvokeActor")
async def invoke_actor(sidecar: Sidecar, request: pb.InvokeActorRequest,
                       context: grpc.aio.ServicerContext) -> pb.InvokeActorResponse:
    actor_type, actor_id = _names(request)
    if not request.method:
        raise DaprError(Err.MALFORMED_REQUEST, "method is required")
    headers = CIMultiDict(dict(request.metadata))
    reply = await _runtime(sidecar).invoke(actor_type, actor_id, request.method, "PUT",
                                           headers, request.data)
    if reply.status // 100 != 2:
        # Over gRPC a failed actor method is an error, with the app's answer in it.
        raise DaprError(Err.ACTOR_INVOKE_METHOD, f"error invoke actor method: the actor "
                        f"answered {reply.status}: {_excerpt(reply.body)}")
    return pb.InvokeActorResponse(data=reply.body)


@rpc("GetActorState")
async def get_actor_state(sidecar: Sidecar, request: pb.GetActorStateRequest,
                          context: grpc.aio.ServicerContext) -> pb.GetActorStateResponse:
    actor_type, actor_id = _names(request)
    value = await _runtime(sidecar).get_state(actor_type, actor_id, request.key)
    return pb.GetActorStateResponse(data=value or b"")


def _operation(op: pb.TransactionalActorStateOperation) -> SetOp | DeleteOp:
    if not op.key:
        raise DaprError(Err.MALFORMED_REQUEST, "each operation needs a key")
    kind = op.operationType.lower()
    if kind == "delete":
        return DeleteOp(op.key)
    if kind == "upsert":
        return SetOp(op.key, op.value.value, ttl=ttl_of(dict(op.metadata)))
    raise DaprError(Err.MALFORMED_REQUEST, f"operation type {op.operationType!r} not "
                    "supported (upsert or delete)")


@rpc("ExecuteActorStateTransaction")
async def execute_actor_state_transaction(
        sidecar: Sidecar, request: pb.ExecuteActorStateTransactionRequest,
        context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    actor_type, actor_id = _names(request)
    ops = [_operation(op) for op in request.operations]
    await _runtime(sidecar).transact_state(actor_type, actor_id, ops)
    return empty_pb2.Empty()


def _data(raw: bytes) -> Any:
    """Reminder and timer data as edge keeps it: JSON, or else text."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _spec(request: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"dueTime": request.due_time, "period": request.period,
                            "ttl": request.ttl}
    if request.data:
        spec["data"] = _data(request.data)
    return spec


@rpc("RegisterActorTimer")
async def register_actor_timer(sidecar: Sidecar, request: pb.RegisterActorTimerRequest,
                               context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    actor_type, actor_id = _names(request)
    spec = _spec(request)
    if request.callback:
        spec["callback"] = request.callback
    _runtime(sidecar).create_timer(actor_type, actor_id, request.name, spec)
    return empty_pb2.Empty()


@rpc("UnregisterActorTimer")
async def unregister_actor_timer(sidecar: Sidecar, request: pb.UnregisterActorTimerRequest,
                                 context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    sidecar.actors.delete_timer(*_names(request), request.name)
    return empty_pb2.Empty()


@rpc("RegisterActorReminder")
async def register_actor_reminder(sidecar: Sidecar, request: pb.RegisterActorReminderRequest,
                                  context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    actor_type, actor_id = _names(request)
    await _runtime(sidecar).reminders.create(actor_type, actor_id, request.name, _spec(request))
    return empty_pb2.Empty()


@rpc("UnregisterActorReminder")
async def unregister_actor_reminder(sidecar: Sidecar, request: pb.UnregisterActorReminderRequest,
                                    context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    actor_type, actor_id = _names(request)
    await _runtime(sidecar).reminders.delete(actor_type, actor_id, request.name)
    return empty_pb2.Empty()


@rpc("GetActorReminder")
async def get_actor_reminder(sidecar: Sidecar, request: pb.GetActorReminderRequest,
                             context: grpc.aio.ServicerContext) -> pb.GetActorReminderResponse:
    actor_type, actor_id = _names(request)
    found = await _runtime(sidecar).reminders.get(actor_type, actor_id, request.name)
    if found is None:
        raise DaprError(Err.ACTOR_REMINDER_GET, f"error getting actor reminder: reminder "
                        f"{request.name} of {actor_type}/{actor_id} not found")
    return pb.GetActorReminderResponse(actor_type=actor_type, actor_id=actor_id,
                                       **_reminder_fields(found))


def _reminder_fields(found: dict[str, Any]) -> dict[str, Any]:
    data = any_pb2.Any()
    if "data" in found:
        data.value = json.dumps(found["data"]).encode()
    return {"due_time": found["dueTime"], "period": found["period"],
            "ttl": found.get("ttl", ""), "data": data}


@rpc("ListActorReminders")
async def list_actor_reminders(sidecar: Sidecar, request: pb.ListActorRemindersRequest,
                               context: grpc.aio.ServicerContext
                               ) -> pb.ListActorRemindersResponse:
    actor_type, actor_id = _names(request)
    found = await _runtime(sidecar).reminders.list(actor_type, actor_id)
    return pb.ListActorRemindersResponse(reminders=[
        pb.NamedActorReminder(name=name, reminder=pb.ActorReminder(
            actor_type=actor_type, actor_id=actor_id, **_reminder_fields(entry)))
        for name, entry in sorted(found.items())])


@rpc("UnregisterActorRemindersByType")
async def unregister_reminders_by_type(sidecar: Sidecar,
                                       request: pb.UnregisterActorRemindersByTypeRequest,
                                       context: grpc.aio.ServicerContext
                                       ) -> pb.UnregisterActorRemindersByTypeResponse:
    if not request.actor_type:
        raise DaprError(Err.MALFORMED_REQUEST, "actor_type is required")
    await _runtime(sidecar).reminders.delete_all(request.actor_type, request.actor_id)
    return pb.UnregisterActorRemindersByTypeResponse()
