"""GetMetadata, SetMetadata and Shutdown over gRPC: the same facts as
GET /v1.0/metadata (edge.api.metadata.describe_sidecar), in Dapr's messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf import empty_pb2

from edge.api.grpc.protos import metadata as pb
from edge.api.grpc.server import rpc
from edge.api.metadata import describe_sidecar

if TYPE_CHECKING:
    import grpc

    from edge.runtime.sidecar import Sidecar


def _subscription(entry: dict[str, Any]) -> pb.PubsubSubscription:
    rules = [pb.PubsubSubscriptionRule(match=r.get("match", ""), path=r.get("path", ""))
             for r in entry.get("rules", [])]
    kind = str(entry.get("type", "")).upper()
    known = kind in pb.PubsubSubscriptionType.keys()
    return pb.PubsubSubscription(
        pubsub_name=entry["pubsubname"], topic=entry["topic"],
        metadata=entry.get("metadata", {}), rules=pb.PubsubSubscriptionRules(rules=rules),
        dead_letter_topic=entry.get("deadLetterTopic", ""),
        type=pb.PubsubSubscriptionType.Value(kind if known else "UNKNOWN"))


def _app_connection(found: dict[str, Any]) -> pb.AppConnectionProperties:
    return pb.AppConnectionProperties(
        port=found.get("port", 0), protocol=found.get("protocol", ""),
        channel_address=found.get("channelAddress", ""),
        max_concurrency=found.get("maxConcurrency", 0))


def _actor_runtime(found: dict[str, Any]) -> pb.ActorRuntime:
    return pb.ActorRuntime(
        runtime_status=pb.ActorRuntime.ActorRuntimeStatus.Value(found["runtimeStatus"]),
        active_actors=[pb.ActiveActorsCount(type=a["type"], count=a["count"])
                       for a in found.get("activeActors", [])],
        host_ready=found.get("hostReady", False), placement=found.get("placement", ""))


@rpc("GetMetadata")
async def get_metadata(sidecar: Sidecar, request: Any,
                       context: grpc.aio.ServicerContext) -> pb.GetMetadataResponse:
    found = describe_sidecar(sidecar)
    return pb.GetMetadataResponse(
        id=found["id"], runtime_version=found["runtimeVersion"],
        enabled_features=found.get("enabledFeatures", []),
        active_actors_count=[pb.ActiveActorsCount(type=a["type"], count=a["count"])
                             for a in found.get("actors", [])],
        registered_components=[
            pb.RegisteredComponents(name=c["name"], type=c["type"], version=c["version"],
                                    capabilities=c.get("capabilities", []))
            for c in found.get("components", [])],
        extended_metadata=found["extended"],
        subscriptions=[_subscription(s) for s in found.get("subscriptions", [])],
        app_connection_properties=_app_connection(found["appConnectionProperties"]),
        actor_runtime=_actor_runtime(found["actorRuntime"]))


@rpc("SetMetadata")
async def set_metadata(sidecar: Sidecar, request: pb.SetMetadataRequest,
                       context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    sidecar.extended[request.key] = request.value
    return empty_pb2.Empty()


@rpc("Shutdown")
async def shutdown(sidecar: Sidecar, request: Any,
                   context: grpc.aio.ServicerContext) -> empty_pb2.Empty:
    sidecar.request_shutdown()
    return empty_pb2.Empty()
